"""Transitions that set a dispatcher's earlier decision right: undo a merge (撤销合并) and
correct the classifier's category and urgency (改类)."""

from models import notices
from models.access import load_ticket, require_dispatcher
from models.clock import now
from models.corrections import Correction
from models.enums import Action, Level, State, Step, Urgency
from models.errors import TicketError
from models.lifecycle.core import (
    check_allowed,
    holder_name,
    move,
    notify_staff,
    step_clock,
    tell_holder,
    transition,
)
from models.lifecycle.orders import _alert_on_duty
from models.org import User
from models.outbox import enqueue
from models.routing import routing
from models.tickets import Ticket, TicketEvent, TicketSubscriber


def _merge_event(ticket: Ticket) -> TicketEvent | None:
    return (
        TicketEvent.select()
        .where((TicketEvent.ticket == ticket) & (TicketEvent.action == Action.MERGE))
        .order_by(TicketEvent.id.desc())
        .first()
    )


def _next_check(ticket: Ticket, state: State):
    """When the sweep must look again at a ticket brought back to `state` (never in the past)."""
    dues = [ticket.step_due_at] if state == State.RESOLVED else [ticket.step_due_at, ticket.due_at]
    dues = [d for d in dues if d is not None]
    return max(min(dues), now()) if dues else None


@transition
def unmerge(ticket_id, actor: User) -> Ticket:
    """撤销合并: the ticket goes back to the state it had before the merge; the people it took
    along leave the other ticket, and its reporter and handler are told."""
    ticket = load_ticket(ticket_id)
    if ticket.merged_into_id is None or ticket.state != State.CLOSED:
        raise TicketError(f"工单 {ticket.number} 没有被合并，不需要撤销合并。", "conflict")
    require_dispatcher(actor, ticket)
    event = _merge_event(ticket)
    restore = State(event.from_state) if event and event.from_state else State.SUBMITTED
    into_id = ticket.merged_into_id
    into_number = f"#{into_id}"
    added = (event.data or {}).get("added") if event else None
    if added is None:  # merged before merges kept this list: the reporter was the one added
        added = [ticket.reporter_id]
    ticket = move(
        ticket, Action.UNMERGE, actor, to_state=restore, note=f"撤销合并到 {into_number}",
        merged_into=None, closed_at=None, next_check_at=_next_check(ticket, restore),
        data={"from": into_id},
    )  # fmt: skip
    for user_id in added:
        gone = (
            TicketSubscriber.delete()
            .where((TicketSubscriber.ticket == into_id) & (TicketSubscriber.user == user_id))
            .execute()
        )
        if gone:
            Ticket.update(subscriber_count=Ticket.subscriber_count - 1).where(
                (Ticket.id == into_id) & (Ticket.subscriber_count > 0)
            ).execute()
    enqueue(ticket.reporter, notices.unmerged(ticket, into_number), ticket=ticket)
    text = notices.unmerged_for_staff(ticket, into_number)
    assignee = ticket.assignee if ticket.assignee_id else None
    work_unit = ticket.work_unit if ticket.work_unit_id else None
    tell_holder(assignee, work_unit, text, ticket, skip=(actor,))
    notify_staff(ticket.org_unit, text, ticket, skip=(actor,))
    return ticket


def category_label(category: str, urgency: str) -> str:
    """'电梯（紧急）' — a category and urgency as staff read them."""
    return f"{notices.category_name(category)}（{notices.URGENCY_WORDS.get(urgency, urgency)}）"


def _overall_due(ticket: Ticket, urgency: Urgency):
    """The overall clock counted from the report under the new urgency's limits; a correction
    that comes after that deadline starts it again rather than make the ticket overdue at once."""
    due = routing().overall_deadline(urgency, ticket.created_at)
    return due if due > now() else routing().overall_deadline(urgency, now())


def _holder_still_fits(old_category: str, new_category: str) -> bool:
    """The unit type that does the work (models/routing `responsible`) did not change."""
    r = routing()
    return r.category(old_category).responsible == r.category(new_category).responsible


@transition
def recategorize(ticket_id, actor: User, category: str, urgency: str | None = None) -> Ticket:
    """改类: a dispatcher corrects category and/or urgency. The owner moves up when the new
    urgency starts higher; a holder whose unit type no longer fits is released and the ticket
    waits for dispatch again; clocks restart for a new urgency; one Correction row is written."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    check_allowed(ticket, Action.RECATEGORIZE)
    if category not in routing().categories:
        raise TicketError("没有这个类别，请写类别名称，比如“电梯”“供电/照明”。", "invalid")
    try:
        new_urgency = Urgency(urgency or ticket.urgency)
    except ValueError:
        raise TicketError("紧急程度请写：紧急、一般、疑难或热点。", "invalid") from None
    old_category, old_urgency = ticket.category, Urgency(ticket.urgency)
    if category == old_category and new_urgency == old_urgency:
        label = category_label(category, new_urgency)
        raise TicketError(f"工单 {ticket.number} 已经是{label}了，不用改。", "conflict")
    changes: dict = {"category": category, "urgency": new_urgency}
    to_state, step = State(ticket.state), Step(ticket.step)
    moved_up = released = False
    previous = (ticket.assignee if ticket.assignee_id else None,
                ticket.work_unit if ticket.work_unit_id else None, holder_name(ticket))  # fmt: skip
    if ticket.is_open:
        start = routing().start_level(new_urgency)
        if Level(ticket.level).rank < start.rank:
            owner = ticket.grid.ancestor_at(start)
            changes.update(level=owner.level, org_unit=owner)
            moved_up = True
        if previous[2] and not _holder_still_fits(old_category, category):
            released = True
            to_state, step = State.SUBMITTED, Step.DISPATCH
            changes.update(assignee=None, work_unit=None, in_pool=False)
        if released or new_urgency != old_urgency:
            due = _overall_due(ticket, new_urgency) if new_urgency != old_urgency else ticket.due_at
            clock = step_clock(new_urgency, step)
            clock["next_check_at"] = (
                min(clock["next_check_at"], due) if due else clock["next_check_at"]
            )
            changes.update(due_at=due, **clock)
    what = category_label(category, new_urgency)
    ticket = move(
        ticket, Action.RECATEGORIZE, actor, to_state=to_state,
        note=f"{category_label(old_category, old_urgency)} → {what}",
        data={"from": [old_category, old_urgency], "to": [category, new_urgency],
              "released": previous[2] if released else None},
        **changes,
    )  # fmt: skip
    Correction.create(
        ticket=ticket, text=ticket.text, old_category=old_category, new_category=category,
        old_urgency=old_urgency, new_urgency=new_urgency, corrected_by=actor, created_at=now(),
    )  # fmt: skip
    _announce_recategorized(ticket, actor, what, previous, released, moved_up, old_urgency)
    return ticket


def _announce_recategorized(ticket, actor, what, previous, released, moved_up, old_urgency):
    assignee, work_unit, _ = previous
    skip = (actor,)
    if released:
        tell_holder(assignee, work_unit, notices.released(ticket, what), ticket, skip=skip)
    else:
        tell_holder(assignee, work_unit, notices.recategorized(ticket, what), ticket, skip=skip)
    told = []
    if released or moved_up:
        text = notices.rerouted(ticket, what) if released else notices.recategorized(ticket, what)
        told = notify_staff(ticket.org_unit, text, ticket, skip=skip)
    if ticket.urgency == Urgency.URGENT and old_urgency != Urgency.URGENT and ticket.is_open:
        _alert_on_duty(ticket, notices.urgent_on_duty(ticket), skip=[actor, *told])
