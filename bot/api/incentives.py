"""Incentives over the API: the points shop, the wish wall, the service menu, points review,
and property companies' published lists, vetoes and 物业超市. Same rules as chat (models)."""

from flask_smorest import Blueprint

from bot.api import errors, listing
from bot.api.auth import auth_required, current_user
from bot.api.incentive_schemas import (
    BookSchema,
    CatalogueSchema,
    ConfirmSchema,
    FlagListSchema,
    FlagSchema,
    ListsArgs,
    ListsSchema,
    MarketSchema,
    OfferCreateSchema,
    OfferListSchema,
    OfferSchema,
    RedemptionPageSchema,
    RedemptionSchema,
    ReviewSchema,
    VetoCreateSchema,
    VetoSchema,
    WishForSchema,
    WishSchema,
)
from bot.api.schemas import PageArgs, TicketDetailSchema, TicketPageSchema
from bot.api.serialize import ticket_payload, utc
from bot.api.tickets import detail
from models import gaming, property_lists, shop, wishes
from models.enums import ASSIGNEE_ROLES, STAFF_ROLES, Role
from models.errors import TicketError
from models.lifecycle import wishes as wish_flow
from models.org import Compound
from models.shop import Redemption

blp = Blueprint(
    "incentives", __name__, url_prefix="/api/v1",
    description="激励：积分商城、微心愿、服务菜单、积分复核、物业红黑榜与物业超市",
)  # fmt: skip
errors.install(blp)

RESIDENT_SIDE = (Role.RESIDENT, Role.VOLUNTEER, Role.WORKER)


# -- payloads ------------------------------------------------------------------------------


def _redemption(row: Redemption, balance: int | None = None) -> dict:
    body = {
        "id": row.id, "item": row.item.name, "shop": row.item.shop.name, "points": row.points,
        "code": row.code, "state": row.state, "created_at": utc(row.created_at),
        "confirmed_at": utc(row.confirmed_at) if row.confirmed_at else None,
    }  # fmt: skip
    if balance is not None:
        body["balance"] = balance
    return body


def _offer(row) -> dict:
    return {
        "id": row.id, "title": row.title, "times": row.times, "category": row.category,
        "volunteer": row.volunteer.display_name(),
    }  # fmt: skip


def _compound(compound_id: int) -> Compound:
    found = Compound.get_or_none(Compound.id == compound_id)
    if found is None:
        raise TicketError("没有找到这个小区。", "invalid")
    return found


# -- the points shop -----------------------------------------------------------------------


@blp.route("/shop/items", methods=["GET"])
@auth_required(*ASSIGNEE_ROLES)
@blp.response(200, CatalogueSchema)
def catalogue():
    """积分商城: items on offer near me (cheapest first) and my balance."""
    user = current_user()
    items = [
        {
            "id": i.id,
            "name": i.name,
            "kind": i.kind,
            "price": i.price,
            "stock": i.stock,
            "shop": i.shop.name,
            "shop_address": i.shop.address,
            "valid_until": utc(i.valid_until) if i.valid_until else None,
        }  # fmt: skip
        for i in shop.catalogue(user, limit=50)
    ]
    return {"balance": shop.balance(user), "items": items}


@blp.route("/shop/items/<int:item_id>/redeem", methods=["POST"])
@auth_required(*ASSIGNEE_ROLES)
@blp.response(201, RedemptionSchema)
def redeem(item_id):
    """兑换: points debited, one taken from stock, a one-use code returned (409 if short)."""
    user = current_user()
    row = shop.redeem(user, item_id)
    return _redemption(row, shop.balance(user))


@blp.route("/shop/redemptions", methods=["GET"])
@auth_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, RedemptionPageSchema)
def my_redemptions(args):
    """我的兑换, newest first."""
    query = Redemption.select().where(Redemption.user == current_user())
    return listing.page_of(query.order_by(Redemption.id.desc()), args, _redemption)


@blp.route("/shop/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@auth_required()
@blp.response(200, RedemptionSchema)
def cancel_redemption(redemption_id):
    """取消兑换 before it is confirmed: the points come back (a credit), the stock too."""
    user = current_user()
    return _redemption(shop.refund(redemption_id, user), shop.balance(user))


@blp.route("/shop/confirm", methods=["POST"])
@auth_required()
@blp.arguments(ConfirmSchema)
@blp.response(200, RedemptionSchema)
def confirm(body):
    """核销: a shop's staff confirm a code once; a shop never confirms its own staff's."""
    return _redemption(shop.confirm(body["code"], current_user()))


# -- wishes --------------------------------------------------------------------------------


@blp.route("/wishes", methods=["POST"])
@auth_required(*RESIDENT_SIDE)
@blp.arguments(WishSchema)
@blp.response(201, TicketDetailSchema)
def post_wish(body):
    """微心愿: a small wish from my compound; a grid worker reviews it before it is published."""
    return detail(wish_flow.post_wish(current_user(), body["text"], channel="miniapp"))


@blp.route("/wishes/on-behalf", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(WishForSchema)
@blp.response(201, TicketDetailSchema)
def post_wish_for(body):
    """代办心愿: a grid worker posts for someone without WeChat; published at once."""
    ticket = wish_flow.post_wish_for(
        current_user(), body["name"], body["text"], _compound(body["compound_id"]),
        building=body["building"], room=body["room"], phone=body["phone"],
    )  # fmt: skip
    return detail(ticket)


@blp.route("/wishes", methods=["GET"])
@auth_required(Role.VOLUNTEER)
@blp.response(200, TicketPageSchema)
def wish_wall():
    """心愿墙: wishes I could claim, best skill fit then nearest."""
    user = current_user()
    found = wish_flow.wish_wall(user, limit=50)
    items = [ticket_payload(m.ticket, user, m.distance_m) for m in found]
    return {"items": items, "limit": 50, "offset": 0, "next_offset": None}


@blp.route("/wishes/<int:ticket_id>/claim", methods=["POST"])
@auth_required(Role.VOLUNTEER)
@blp.response(200, TicketDetailSchema)
def claim(ticket_id):
    """认领心愿: the first claimer wins (409 for the others); then 办结 with a photo, as usual."""
    return detail(wish_flow.claim(ticket_id, current_user()))


# -- the service menu ----------------------------------------------------------------------


@blp.route("/services", methods=["GET"])
@auth_required()
@blp.response(200, OfferListSchema)
def service_menu():
    """服务菜单: what volunteers of my street offer, my community's first."""
    return {"items": [_offer(o) for o in wishes.menu_for(current_user(), limit=50)]}


@blp.route("/services", methods=["POST"])
@auth_required(Role.VOLUNTEER)
@blp.arguments(OfferCreateSchema)
@blp.response(201, OfferSchema)
def add_service(body):
    """我的服务: list (or re-time) a service resting on one of my 能人库 skills."""
    return _offer(wishes.offer(current_user(), body["title"], body["times"]))


@blp.route("/services/<int:offer_id>", methods=["DELETE"])
@auth_required(Role.VOLUNTEER)
@blp.response(204)
def withdraw_service(offer_id):
    """停止服务: take my line off the menu."""
    wishes.withdraw(current_user(), offer_id)


@blp.route("/services/<int:offer_id>/book", methods=["POST"])
@auth_required(*RESIDENT_SIDE)
@blp.arguments(BookSchema)
@blp.response(201, TicketDetailSchema)
def book(body, offer_id):
    """预约: a ticket dispatched straight to that volunteer (take / resolve / rate as usual)."""
    return detail(wish_flow.book(current_user(), offer_id, body["note"]))


# -- points review -------------------------------------------------------------------------


@blp.route("/points/flags", methods=["GET"])
@auth_required(Role.DISPATCHER)
@blp.response(200, FlagListSchema)
def flags():
    """积分复核: points held because the same pair kept rating each other."""
    return {
        "items": [
            {
                "id": x.id,
                "ticket_id": x.ticket_id,
                "volunteer": x.volunteer.display_name(),
                "resident": x.resident.display_name(),
                "points": x.points,
                "pair_ratings": x.pair_ratings,
                "state": x.state,
            }  # fmt: skip
            for x in gaming.pending_flags(current_user(), limit=50)
        ]
    }


@blp.route("/points/flags/<int:flag_id>/review", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(ReviewSchema)
@blp.response(200, FlagSchema)
def review(body, flag_id):
    """复核: approve (points credited once) or reject with a reason."""
    x = gaming.review(flag_id, current_user(), body["approve"], body["note"])
    return {
        "id": x.id, "ticket_id": x.ticket_id, "volunteer": x.volunteer.display_name(),
        "resident": x.resident.display_name(), "points": x.points,
        "pair_ratings": x.pair_ratings, "state": x.state,
    }  # fmt: skip


# -- property companies --------------------------------------------------------------------


@blp.route("/property/lists", methods=["GET"])
@auth_required()
@blp.arguments(ListsArgs, location="query")
@blp.response(200, ListsSchema)
def published_lists(args):
    """物业红黑榜 as published (the latest quarter unless one is named), with reasons."""
    rows = property_lists.published(args["quarter"].upper() if "quarter" in args else None)
    return {
        "quarter": rows[0].quarter if rows else None,
        "published_at": utc(rows[0].published_at) if rows else None,
        "items": [
            {
                "company": r.company.name,
                "list_name": r.list_name,
                "score": r.score,
                "reasons": r.reasons,
                "figures": r.figures,
            }  # fmt: skip
            for r in rows
        ],
    }


@blp.route("/property/market", methods=["GET"])
@auth_required()
@blp.response(200, MarketSchema)
def market():
    """物业超市: companies in good standing with their published scores, best first."""
    entries = property_lists.market()
    return {
        "quarter": entries[0].quarter if entries else None,
        "items": [
            {
                "company_id": e.company.id,
                "company": e.company.name,
                "score": e.score,
                "red_list": e.list_name == property_lists.RED,
                "compounds": e.compounds,
            }  # fmt: skip
            for e in entries
        ],
    }


@blp.route("/property/vetoes", methods=["POST"])
@auth_required(*STAFF_ROLES)
@blp.arguments(VetoCreateSchema)
@blp.response(201, VetoSchema)
def veto(body):
    """一票否决: the compound's party branch revokes its company's standing, with a reason."""
    company = property_lists.find_company(body["company"])
    row = property_lists.veto(
        current_user(), company, _compound(body["compound_id"]), body["reason"]
    )
    return {
        "id": row.id, "company": company.name, "compound": row.compound.name,
        "quarter": row.quarter, "reason": row.reason, "created_at": utc(row.created_at),
    }  # fmt: skip
