"""Volunteer and worker commands (接单): nearby orders, take, progress, resolve, hand back."""

import peewee

from handlers import texts, views
from handlers.commands import Command
from handlers.conversation import END, NOT_MINE, Conversation
from models import lifecycle
from models.access import load_ticket, require_assignee
from models.enums import ASSIGNEE_ROLES, Action, State
from models.errors import TicketError
from models.lifecycle.core import dispatcher_title
from models.matching import rank_tickets
from models.tickets import PointsEntry, Ticket

NEARBY_LIMIT = 5


def _require_assignee_role(user) -> None:
    if user.role not in ASSIGNEE_ROLES:
        raise TicketError(texts.NEED_VOLUNTEER, "forbidden")


def nearby(user, cmd, ctx) -> str:
    """Open pool tickets in the volunteer's street: best skill fit, nearest, first."""
    _require_assignee_role(user)
    matches = rank_tickets(user, NEARBY_LIMIT)
    if not matches:
        return texts.NEARBY_EMPTY
    items = []
    for m in matches:
        where = f"，约{int(m.distance_m)}米" if m.distance_m is not None else ""
        items.append(f"{views.brief(m.ticket, user)}{where}：{views.words(m.ticket, user, 24)}")
    return texts.NEARBY.format(items="\n".join(items))


def take(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.take(_number(cmd, "接单 #12"), user)
    return views.taken_reply(ticket, user)


def progress(user, cmd: Command, ctx) -> str:
    lifecycle.report_progress(_number(cmd, "进度 #12 已联系物业"), user, cmd.rest)
    return texts.PROGRESS_SAVED


def hand_back(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.hand_back(_number(cmd, "退单 #12 原因"), user, cmd.rest)
    if ticket.in_pool:
        return texts.HANDED_BACK_POOL.format(number=ticket.number)
    return texts.HANDED_BACK.format(number=ticket.number, staff=dispatcher_title(ticket))


def resolve(user, cmd: Command, ctx):
    """办结 #12 修好了 resolves at once; 办结 #12 alone waits for a photo or a remark."""
    number = _number(cmd, "办结 #12")
    if cmd.rest:
        ticket = lifecycle.resolve(number, user, cmd.rest)
        return texts.RESOLVED.format(number=ticket.number)
    ticket = load_ticket(number)
    require_assignee(user, ticket)
    lifecycle.check_allowed(ticket, Action.RESOLVE)
    return ("start", RESOLVE, {"ticket": ticket.id},
            texts.RESOLVE_ASK_PROOF.format(number=ticket.number))  # fmt: skip


def my_tasks(user, cmd, ctx) -> str:
    """What I hold, plus what was dispatched to my unit (物业公司) and nobody has taken yet."""
    _require_assignee_role(user)
    mine = (Ticket.assignee == user) & Ticket.state.in_([State.DISPATCHED, State.TAKEN])
    if user.work_unit_id:
        mine |= (
            (Ticket.work_unit == user.work_unit_id)
            & Ticket.assignee.is_null()
            & (Ticket.state == State.DISPATCHED)
        )
    tasks = list(Ticket.select().where(mine).order_by(Ticket.id).limit(10))
    if not tasks:
        return texts.MY_TASKS_EMPTY
    items = []
    for ticket in tasks:
        line = views.line(ticket, show_holder=False, viewer=user)
        if ticket.assignee_id is None:
            line = texts.MY_TASKS_UNIT.format(
                line=line, unit=ticket.work_unit.name, number=ticket.number
            )
        items.append(line)
    return texts.MY_TASKS.format(items="\n".join(items))


def my_points(user, cmd, ctx) -> str:
    _require_assignee_role(user)
    total, count = (
        PointsEntry.select(
            peewee.fn.COALESCE(peewee.fn.SUM(PointsEntry.points), 0),
            peewee.fn.COUNT(PointsEntry.id),
        )  # fmt: skip
        .where(PointsEntry.user == user)
        .scalar(as_tuple=True)
    )
    return texts.MY_POINTS.format(total=total, count=count)


def _number(cmd: Command, example: str) -> int:
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example=example))
    return cmd.number


def proof(message, session):
    """The photo or remark that completes 办结."""
    number = session.data["ticket"]
    if message.kind == "image" and message.photo:
        ticket = lifecycle.resolve(number, session.user, "", photos=[message.photo])
    elif message.kind in ("text", "voice") and message.clean_text:
        ticket = lifecycle.resolve(number, session.user, message.clean_text)
    else:
        return NOT_MINE
    return texts.RESOLVED.format(number=ticket.number), END


RESOLVE = Conversation(
    name="resolve",
    entry_points=[proof],
    states={"proof": [proof]},
    timeout_s=3600,
)

COMMANDS = {
    "nearby": nearby,
    "my_tasks": my_tasks,
    "my_points": my_points,
    "接单": take,
    "抢单": take,
    "进度": progress,
    "办结": resolve,
    "退单": hand_back,
}
