"""How tickets read in chat: one-line summaries, a short timeline, the taker's job card.

What of a ticket a reader sees (place, words, names) is models.privacy's call: the reporter
and the assignee who has taken it see everything; staff and volunteers offered it see the
building and masked words; nobody else sees personal data.
"""

from handlers import texts
from models import notices, privacy
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
    Action.RATING_REMINDER: "提醒评价", Action.RECATEGORIZE: "改类", Action.UNMERGE: "撤销合并",
    Action.SUPPLEMENT: "居民补充",
}  # fmt: skip


def when(value) -> str:
    return to_local(value).strftime("%m-%d %H:%M")


def line(ticket: Ticket, *, show_holder: bool = True, viewer=None) -> str:
    """'#12 供电/照明 · 幸福里小区3号楼 · 办理中（王**）', as `viewer` may see it (None: as staff
    and volunteers see it, building but no room)."""
    seen = _seen(ticket, viewer)
    state = texts.STATE_NAMES.get(ticket.state, ticket.state)
    if ticket.merged_into_id and ticket.state == "closed":
        state = f"已合并到 #{ticket.merged_into_id}"
    holder = ""
    if show_holder and ticket.assignee_id and ticket.state == "taken" and seen.assignee_name:
        holder = f"（{seen.assignee_name}）"
    elif show_holder and ticket.work_unit_id and ticket.is_open:
        holder = f"（{ticket.work_unit.name}）"
    neighbours = f" · {ticket.subscriber_count + 1}人反映" if ticket.subscriber_count else ""
    urgent = "【紧急】" if ticket.urgency == "urgent" and ticket.is_open else ""
    return f"{urgent}{brief(ticket, viewer)} · {state}{holder}{neighbours}"


def brief(ticket: Ticket, viewer=None) -> str:
    """'#12 供电/照明 · 幸福里小区3号楼2单元301室' with the place as `viewer` may see it."""
    return notices.brief(ticket, place=_seen(ticket, viewer).place)


def lines(tickets, **kw) -> str:
    return "\n".join(line(t, **kw) for t in tickets)


def words(ticket: Ticket, viewer=None, limit: int = 80) -> str:
    """The resident's words as `viewer` may read them, cut to `limit`."""
    return notices.snippet(_seen(ticket, viewer).text, limit)


def offer_line(ticket: Ticket) -> str:
    """Someone else's ticket shown to a resident (the duplicate offer): compound, masked words."""
    place = privacy.place_at(ticket, privacy.PlaceLevel.COMPOUND)
    said = notices.snippet(privacy.mask_text(ticket.text), 24)
    return f"{notices.brief(ticket, place=place)}：{said}"


def job_card(ticket: Ticket, viewer) -> str:
    """What the assignee needs once they have taken it: the exact place and who to call."""
    seen = privacy.see(ticket, viewer)
    if not seen.clear:
        return ""
    who = " ".join(p for p in (seen.reporter_name or "居民", seen.reporter_phone) if p)
    return texts.JOB_CARD.format(place=seen.place or "位置待补充", who=who)


def taken_reply(ticket: Ticket, viewer) -> str:
    """The reply to a successful 接单: the brief, the words, what to do next, the job card
    (which alone carries the exact place and the contact)."""
    reply = texts.TAKEN.format(
        brief=notices.brief(ticket), text=words(ticket, viewer, 60), number=ticket.number
    )
    card = job_card(ticket, viewer)
    return f"{reply}\n{card}" if card else reply


def timeline(ticket: Ticket, limit: int = 6, viewer=None) -> str:
    """The last few hops, oldest first; notes as `viewer` may read them."""
    seen = _seen(ticket, viewer)
    events = list(
        TicketEvent.select()
        .where(TicketEvent.ticket == ticket)
        .order_by(TicketEvent.id.desc())
        .limit(limit)
    )
    out = []
    for event in reversed(events):
        name = ACTION_NAMES.get(event.action, event.action)
        said = seen.words(event.note)
        note = f"：{notices.snippet(said, 24)}" if said else ""
        out.append(f"{when(event.created_at)} {name}{note}")
    return "\n".join(out)


def _seen(ticket: Ticket, viewer) -> privacy.TicketView:
    """The ticket as `viewer` sees it; with no viewer, as staff in scope see it."""
    if viewer is None:
        return privacy.TicketView.as_relation(ticket, privacy.Relation.STAFF)
    return privacy.see(ticket, viewer)
