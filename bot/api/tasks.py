"""Volunteer and worker endpoints: nearby open orders, take, progress, resolve, hand back, points."""

import peewee
from flask_smorest import Blueprint

from bot.api import errors, listing
from bot.api.auth import auth_required, current_user
from bot.api.schemas import (
    PageArgs,
    PointsSchema,
    PoolArgs,
    RequiredNoteSchema,
    RequiredReasonSchema,
    ResolveSchema,
    StateArgs,
    TicketDetailSchema,
    TicketPageSchema,
)
from bot.api.serialize import ticket_payload, utc
from bot.api.tickets import detail, stored_photos, viewable
from models import lifecycle
from models.access import same_household
from models.enums import ASSIGNEE_ROLES, State
from models.matching import rank_tickets
from models.org import User
from models.routing import routing
from models.tickets import PointsEntry, Ticket

POOL_SCAN = 500  # newest open orders looked at before distance filtering

blp = Blueprint(
    "tasks", __name__, url_prefix="/api/v1", description="志愿者与工作人员：接单、办理、积分"
)
errors.install(blp)


def _fits(user: User, ticket: Ticket, match_skills: bool) -> bool:
    if same_household(user, ticket.reporter):
        return False  # they could not take it anyway
    if not (match_skills and ticket.in_pool and user.skills):
        return True
    wanted = set(routing().category(ticket.category).skills)
    return not wanted or bool(wanted & set(user.skills))


@blp.route("/pool", methods=["GET"])
@auth_required(*ASSIGNEE_ROLES)
@blp.arguments(PoolArgs, location="query")
@blp.response(200, TicketPageSchema)
@blp.alt_response(304, description="Not modified (If-None-Match)")
def pool(args):
    """Open orders near me that fit my skills (pool, or dispatched to my unit), ranked as in
    chat's 附近工单: best skill fit, then nearest, then my load."""
    user = current_user()
    here = (args["lat"], args["lng"]) if "lat" in args and "lng" in args else None
    found = [
        (m.ticket, m.distance_m)
        for m in rank_tickets(user, limit=None, scan=POOL_SCAN, origin=here)
        if _fits(user, m.ticket, args["match_skills"])
        and not (m.distance_m is not None and m.distance_m > args["radius_m"])
    ]
    page = listing.page_of_rows(
        found, args["limit"], args["offset"], lambda pair: ticket_payload(pair[0], user, pair[1])
    )
    return listing.conditional_json(TicketPageSchema(), page)


@blp.route("/tasks", methods=["GET"])
@auth_required(*ASSIGNEE_ROLES)
@blp.arguments(StateArgs, location="query")
@blp.response(200, TicketPageSchema)
@blp.alt_response(304, description="Not modified (If-None-Match)")
def my_tasks(args):
    """Tickets assigned to me; by default those still in my hands."""
    user = current_user()
    query = Ticket.select().where(Ticket.assignee == user)
    if "state" in args:
        query = query.where(Ticket.state == args["state"])
    else:
        query = query.where(Ticket.state.in_([State.DISPATCHED, State.TAKEN, State.RESOLVED]))
    page = listing.page_of(
        query.order_by(Ticket.id.desc()), args, lambda t: ticket_payload(t, user)
    )
    return listing.conditional_json(TicketPageSchema(), page)


@blp.route("/points", methods=["GET"])
@auth_required(*ASSIGNEE_ROLES)
@blp.arguments(PageArgs, location="query")
@blp.response(200, PointsSchema)
def my_points(args):
    """My points (量化积分): the total and the ledger, newest first."""
    user = current_user()
    total = (
        PointsEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(PointsEntry.points), 0))
        .where(PointsEntry.user == user)
        .scalar()
    )
    query = PointsEntry.select().where(PointsEntry.user == user).order_by(PointsEntry.id.desc())
    page = listing.page_of(
        query, args,
        lambda e: {"ticket_id": e.ticket_id, "reason": e.reason, "points": e.points,
                   "created_at": utc(e.created_at)},
    )  # fmt: skip
    return {**page, "total": int(total or 0)}


@blp.route("/tickets/<int:ticket_id>/take", methods=["POST"])
@auth_required(*ASSIGNEE_ROLES)
@blp.response(200, TicketDetailSchema)
def take(ticket_id):
    """接单 / 抢单: the first taker of a pool order wins; others get 409."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.take(ticket.id, current_user()))


@blp.route("/tickets/<int:ticket_id>/progress", methods=["POST"])
@auth_required(*ASSIGNEE_ROLES)
@blp.arguments(RequiredNoteSchema)
@blp.response(200, TicketDetailSchema)
def progress(body, ticket_id):
    """进度: tell the reporter how it is going."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.report_progress(ticket.id, current_user(), body["note"]))


@blp.route("/tickets/<int:ticket_id>/resolve", methods=["POST"])
@auth_required(*ASSIGNEE_ROLES)
@blp.arguments(ResolveSchema)
@blp.response(200, TicketDetailSchema)
def resolve(body, ticket_id):
    """办结: done, with a photo or a remark; the reporter is asked to rate."""
    ticket = viewable(ticket_id)
    photos = stored_photos(body["photos"])
    return detail(lifecycle.resolve(ticket.id, current_user(), body.get("note", ""), photos))


@blp.route("/tickets/<int:ticket_id>/hand-back", methods=["POST"])
@auth_required(*ASSIGNEE_ROLES)
@blp.arguments(RequiredReasonSchema)
@blp.response(200, TicketDetailSchema)
def hand_back(body, ticket_id):
    """退单: give it back with a reason."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.hand_back(ticket.id, current_user(), body["reason"]))
