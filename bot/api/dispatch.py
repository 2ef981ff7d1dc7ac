"""Dispatcher endpoints: the queue of my subtree, dispatch, reassign, escalate, assist, merge, close."""

from flask_smorest import Blueprint

from bot.api import errors, listing
from bot.api.auth import auth_required, current_user
from bot.api.errors import ApiError
from bot.api.schemas import (
    AssistSchema,
    MergeSchema,
    ReasonSchema,
    RequiredReasonSchema,
    StateArgs,
    TargetSchema,
    TicketDetailSchema,
    TicketPageSchema,
)
from bot.api.serialize import ticket_payload
from bot.api.tickets import detail, viewable
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
@blp.arguments(MergeSchema)
@blp.response(200, TicketDetailSchema)
def merge(body, ticket_id):
    """合并: close this duplicate into another ticket; its people follow that one."""
    ticket = viewable(ticket_id)
    into = viewable(body["into"])
    return detail(lifecycle.merge(ticket.id, into.id, current_user()))


@blp.route("/tickets/<int:ticket_id>/close", methods=["POST"])
@auth_required(Role.DISPATCHER)
@blp.arguments(RequiredReasonSchema)
@blp.response(200, TicketDetailSchema)
def close(body, ticket_id):
    """关闭: close it with a reason (invalid, duplicate, handled offline)."""
    ticket = viewable(ticket_id)
    return detail(lifecycle.close(ticket.id, current_user(), body["reason"]))
