"""How tickets read in chat: one-line summaries and a short timeline."""

from handlers import texts
from models import notices
from models.clock import to_local
from models.enums import Action
from models.tickets import Ticket, TicketEvent

ACTION_NAMES = {
    Action.SUBMIT: "提交", Action.DISPATCH: "派单", Action.TAKE: "接单", Action.REASSIGN: "转单",
    Action.HAND_BACK: "退单", Action.PROGRESS: "进展", Action.RESOLVE: "办结",
    Action.RATE: "评价", Action.REOPEN: "重新打开", Action.ESCALATE: "提级",
    Action.ASSIST: "协办", Action.URGE: "催办", Action.REMIND: "超时提醒",
    Action.CANCEL: "撤销", Action.CLOSE: "关闭", Action.CLOSE_UNRATED: "自动关闭",
    Action.MERGE: "合并", Action.SUBSCRIBE: "邻居+1", Action.FOLLOW_UP: "回访",
    Action.RATING_REMINDER: "提醒评价",
    Action.SUPPLEMENT: "居民补充",
}  # fmt: skip


def when(value) -> str:
    return to_local(value).strftime("%m-%d %H:%M")


def line(ticket: Ticket, *, show_holder: bool = True) -> str:
    """'#12 供电/照明 · 幸福里小区 · 办理中（王**）'."""
    state = texts.STATE_NAMES.get(ticket.state, ticket.state)
    holder = ""
    if show_holder and ticket.assignee_id and ticket.state == "taken":
        holder = f"（{ticket.assignee.display_name()}）"
    elif show_holder and ticket.work_unit_id and ticket.is_open:
        holder = f"（{ticket.work_unit.name}）"
    neighbours = f" · {ticket.subscriber_count + 1}人反映" if ticket.subscriber_count else ""
    return f"{notices.brief(ticket)} · {state}{holder}{neighbours}"


def lines(tickets, **kw) -> str:
    return "\n".join(line(t, **kw) for t in tickets)


def timeline(ticket: Ticket, limit: int = 6) -> str:
    """The last few hops, oldest first, without personal data."""
    events = list(
        TicketEvent.select()
        .where(TicketEvent.ticket == ticket)
        .order_by(TicketEvent.id.desc())
        .limit(limit)
    )
    out = []
    for event in reversed(events):
        name = ACTION_NAMES.get(event.action, event.action)
        note = f"：{notices.snippet(event.note, 24)}" if event.note else ""
        out.append(f"{when(event.created_at)} {name}{note}")
    return "\n".join(out)
