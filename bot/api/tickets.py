"""Resident endpoints: file a ticket, list mine, read one with its timeline, urge, cancel, rate."""

import logging

from flask import current_app
from flask_smorest import Blueprint

from bot.api import errors, listing, places
from bot.api.auth import auth_required, current_user
from bot.api.schemas import (
    NoteSchema,
    RateSchema,
    ReasonSchema,
    StateArgs,
    TicketCreateSchema,
    TicketDetailSchema,
    TicketPageSchema,
)
from bot.api.serialize import ticket_detail, ticket_payload
from models import lifecycle
from models.access import load_ticket, require_view
from models.enums import Urgency
from models.errors import TicketError
from models.places import nearest_compound
from models.routing import CATEGORY_CODES
from models.tickets import Ticket

log = logging.getLogger("sidan.api")

blp = Blueprint(
    "tickets", __name__, url_prefix="/api/v1", description="居民：报事、查看、催单、评价"
)
errors.install(blp)


def viewable(ticket_id: int) -> Ticket:
    """The ticket if the caller may see it; others' tickets look unknown (404)."""
    ticket = load_ticket(ticket_id)
    require_view(current_user(), ticket)
    return ticket


def detail(ticket: Ticket) -> dict:
    """The ticket re-read and shown to the caller."""
    return ticket_detail(Ticket.get_by_id(ticket.id), current_user())


def classify(text: str) -> tuple[str, str | None]:
    """(category, urgency) proposed by the classifier; 其他 when it is unavailable."""
    try:
        from handlers.classifier import classify as run
    except ImportError:
        return "other", None
    try:
        result = run(text)
    except Exception:  # the classifier must never cost the resident their report
        log.exception("classifier failed; filing as other")
        return "other", None
    category = getattr(result, "category", None)
    urgency = str(getattr(result, "urgency", "") or "")
    return (
        category if category in CATEGORY_CODES else "other",
        urgency if urgency in {u.value for u in Urgency} else None,
    )


def stored_photos(ids: list[str]) -> list[str]:
    """Photo ids that were really uploaded here, or a 400."""
    storage = current_app.extensions["sidan_api"]["storage"]
    for photo_id in ids:
        if not storage.exists(photo_id):
            raise TicketError("有照片没有上传成功，请重新上传后再提交。", "invalid")
    return list(dict.fromkeys(ids))


def _coordinate(value: float | None) -> float | None:
    # 6 decimals are 0.1 m. PostgreSQL's `real` column rejects a value like 1e-58 (a 5xx).
    return None if value is None else round(value, 6)


@blp.route("/tickets", methods=["POST"])
@auth_required()
@blp.arguments(TicketCreateSchema)
@blp.response(201, TicketDetailSchema)
def create_ticket(body):
    """点单: report a problem; without a category the classifier proposes one."""
    user = current_user()
    category, urgency = body.get("category"), body.get("urgency")
    if category is None:
        category, guessed = classify(body["text"])
        urgency = urgency or guessed
    compound = None
    if "compound_id" in body:
        compound = places.compound_by_id(body["compound_id"])
    elif "lat" in body:
        compound, _ = nearest_compound(body["lat"], body["lng"])
    ticket = lifecycle.submit(
        user, body["text"], category, urgency, compound=compound,
        building=body.get("building", ""), unit_no=body.get("unit_no", ""),
        room=body.get("room", ""), lat=_coordinate(body.get("lat")),
        lng=_coordinate(body.get("lng")),
        photos=stored_photos(body["photos"]), channel="miniapp",
    )  # fmt: skip
    return detail(ticket)


@blp.route("/tickets/mine", methods=["GET"])
@auth_required()
@blp.arguments(StateArgs, location="query")
@blp.response(200, TicketPageSchema)
@blp.alt_response(304, description="Not modified (If-None-Match)")
def my_tickets(args):
    """The tickets I reported, newest first."""
    user = current_user()
    query = Ticket.select().where(Ticket.reporter == user)
    if "state" in args:
        query = query.where(Ticket.state == args["state"])
    page = listing.page_of(
        query.order_by(Ticket.id.desc()), args, lambda t: ticket_payload(t, user)
    )
    return listing.conditional_json(TicketPageSchema(), page)


@blp.route("/tickets/<int:ticket_id>", methods=["GET"])
@auth_required()
@blp.response(200, TicketDetailSchema)
def get_ticket(ticket_id):
    """One ticket with its full timeline (others' tickets answer 404)."""
    return ticket_detail(viewable(ticket_id), current_user())


@blp.route("/tickets/<int:ticket_id>/urge", methods=["POST"])
@auth_required()
@blp.arguments(NoteSchema)
@blp.response(200, TicketDetailSchema)
def urge(body, ticket_id):
    """催单 / 督办: push whoever holds it now (once every few hours)."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.urge(ticket.id, current_user(), body.get("note", "")))


@blp.route("/tickets/<int:ticket_id>/cancel", methods=["POST"])
@auth_required()
@blp.arguments(ReasonSchema)
@blp.response(200, TicketDetailSchema)
def cancel(body, ticket_id):
    """撤销: the reporter withdraws it before anyone has taken it."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.cancel(ticket.id, current_user(), body.get("reason", "")))


@blp.route("/tickets/<int:ticket_id>/rate", methods=["POST"])
@auth_required()
@blp.arguments(RateSchema)
@blp.response(200, TicketDetailSchema)
def rate(body, ticket_id):
    """评单: 5 满意, 3 基本满意, 1 不满意; 2 or less sends it back to be redone."""
    ticket = viewable(ticket_id)
    user = current_user()
    return detail(lifecycle.rate(ticket.id, user, body["score"], body.get("comment", "")))
