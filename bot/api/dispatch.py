"""Dispatcher endpoints: the queue of my subtree, dispatch, reassign, escalate, assist, merge
(and undo it), re-categorise, close."""

from flask_smorest import Blueprint
from marshmallow import fields as f
from marshmallow import validate as v

from bot.api import errors, listing
from bot.api.auth import auth_required, current_user
from bot.api.errors import ApiError
from bot.api.schemas import (
    AssistSchema,
    MergeSchema,
    ReasonSchema,
    RequiredReasonSchema,
    StateArgs,
    Strict,
    TargetSchema,
    TicketDetailSchema,
    TicketPageSchema,
)
from bot.api.serialize import ticket_payload
from bot.api.tickets import detail, viewable
from handlers.staff import URGENCY_WORDS, find_category
from models import lifecycle
from models.db import under_path
from models.enums import Role, State, Urgency
from models.errors import TicketError
from models.org import OrgUnit, User, WorkUnit
from models.tickets import Ticket

blp = Blueprint(
    "dispatch", __name__, url_prefix="/api/v1", description="网格员/社区工作者：派单与调度"
)
errors.install(blp)

STAFF = (Role.DISPATCHER, Role.SUPERVISOR)
URGENCY_CHOICES = [u.value for u in Urgency] + list(URGENCY_WORDS)


class MergeConfirmSchema(MergeSchema):
    confirm = f.Boolean(
        load_default=False,
        metadata={"description": "Merge even though category, place or urgency differ."},
    )


class RecategorizeSchema(Strict):
    category = f.String(
        required=True, validate=v.Length(min=1, max=32),
        metadata={"description": "A category code or its Chinese name", "example": "elevator"},
    )  # fmt: skip
    urgency = f.String(
        validate=v.OneOf(URGENCY_CHOICES),
        metadata={"description": "urgent/normal/difficult/hot or 紧急/一般/疑难/热点"},
    )


def my_unit(user: User) -> OrgUnit:
    """The caller's org unit, or a 403 for staff not yet bound to one."""
    if user.org_unit_id is None:
        raise ApiError(403, "您还没有绑定负责的网格或社区，请联系管理员。", "forbidden")
    return user.org_unit


def _row(model, row_id: int, what: str):
    row = model.get_or_none(model.id == row_id)
    if row is None:
        raise TicketError(f"没有找到这个{what}，请核对编号。", "invalid")
    return row


def _targets(body: dict) -> dict:
    return {
        "to_user": _row(User, body["user_id"], "人") if "user_id" in body else None,
        "to_unit": _row(WorkUnit, body["work_unit_id"], "单位") if "work_unit_id" in body else None,
        "to_pool": bool(body.get("pool")),
    }


@blp.route("/queue", methods=["GET"])
@auth_required(Role.DISPATCHER)
@blp.arguments(StateArgs, location="query")
@blp.response(200, TicketPageSchema)
@blp.alt_response(304, description="Not modified (If-None-Match)")
def queue(args):
    """Tickets my subtree owns that wait for dispatch (or, with `state`, all in that state)."""
    user = current_user()
    unit = my_unit(user)
    query = Ticket.select().join(OrgUnit, on=(Ticket.org_unit == OrgUnit.id))
    query = query.where(under_path(OrgUnit.path, unit.path))
    if "state" in args:
        query = query.where(Ticket.state == args["state"])
    else:
        undispatched = (
            (Ticket.state == State.DISPATCHED)
            & Ticket.assignee.is_null(True)
            & Ticket.work_unit.is_null(True)
            & (Ticket.in_pool == False)  # noqa: E712 (peewee expression)
        )
        query = query.where((Ticket.state == State.SUBMITTED) | undispatched)
    urgent_first = (Ticket.urgency != Urgency.URGENT).asc()
    query = query.order_by(urgent_first, Ticket.step_due_at.asc(), Ticket.id)
    page = listing.page_of(query, args, lambda t: ticket_payload(t, user))
    return listing.conditional_json(TicketPageSchema(), page)


@blp.route("/tickets/<int:ticket_id>/dispatch", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(TargetSchema)
@blp.response(200, TicketDetailSchema)
def dispatch(body, ticket_id):
    """派单: to a person (user_id), a work unit (work_unit_id) or the volunteer pool."""
    ticket = viewable(ticket_id)
    moved = lifecycle.dispatch(
        ticket.id, current_user(), note=body.get("note", ""), **_targets(body)
    )
    return detail(moved)


@blp.route("/tickets/<int:ticket_id>/reassign", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(TargetSchema)
@blp.response(200, TicketDetailSchema)
def reassign(body, ticket_id):
    """转单: move it to another person, unit or the pool."""
    ticket = viewable(ticket_id)
    moved = lifecycle.reassign(
        ticket.id, current_user(), note=body.get("note", ""), **_targets(body)
    )
    return detail(moved)


@blp.route("/tickets/<int:ticket_id>/escalate", methods=["POST"])
@auth_required(*STAFF)
@blp.arguments(ReasonSchema)
@blp.response(200, TicketDetailSchema)
def escalate(body, ticket_id):
    """提级: one level up the tree (grid → community → street → city)."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.escalate(ticket.id, current_user(), body.get("reason", "")))


@blp.route("/tickets/<int:ticket_id>/assist", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(AssistSchema)
@blp.response(200, TicketDetailSchema)
def assist(body, ticket_id):
    """协办: attach a work unit or an org unit to help (联合办理)."""
    ticket = viewable(ticket_id)
    work_unit = _row(WorkUnit, body["work_unit_id"], "单位") if "work_unit_id" in body else None
    org_unit = _row(OrgUnit, body["org_unit_id"], "单位") if "org_unit_id" in body else None
    moved = lifecycle.assist(ticket.id, current_user(), work_unit=work_unit, org_unit=org_unit)
    return detail(moved)


@blp.route("/tickets/<int:ticket_id>/merge", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(MergeConfirmSchema)
@blp.response(200, TicketDetailSchema)
def merge(body, ticket_id):
    """合并: close this duplicate into another ticket; its people follow that one. Tickets that
    differ in category, place or urgency answer 409 unless `confirm` is true."""
    ticket = viewable(ticket_id)
    into = viewable(body["into"])
    merged = lifecycle.merge(ticket.id, into.id, current_user(), confirmed=body["confirm"])
    return detail(merged)


@blp.route("/tickets/<int:ticket_id>/unmerge", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.response(200, TicketDetailSchema)
def unmerge(ticket_id):
    """撤销合并: the ticket goes back to the state it had before it was merged."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.unmerge(ticket.id, current_user()))


@blp.route("/tickets/<int:ticket_id>/recategorize", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(RecategorizeSchema)
@blp.response(200, TicketDetailSchema)
def recategorize(body, ticket_id):
    """改类: correct category and/or urgency; re-routes, restarts clocks, records a correction."""
    ticket = viewable(ticket_id)
    category = find_category(body["category"])
    if category is None:
        raise TicketError("没有这个类别，请写类别代码或名称，比如 elevator 或“电梯”。", "invalid")
    urgency = body.get("urgency")
    urgency = URGENCY_WORDS.get(urgency, urgency)
    return detail(lifecycle.recategorize(ticket.id, current_user(), category, urgency))


@blp.route("/tickets/<int:ticket_id>/close", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(RequiredReasonSchema)
@blp.response(200, TicketDetailSchema)
def close(body, ticket_id):
    """关闭: close it with a reason (invalid, duplicate, handled offline)."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.close(ticket.id, current_user(), body["reason"]))
