"""The machinery every transition shares: the move table, compare-and-set, clocks, notices."""

from functools import wraps

from models import notices
from models.clock import now
from models.db import insert_new, update_where, write_transaction
from models.enums import ACTIVE_STATES, OPEN_STATES, Action, Role, State, Step
from models.errors import TicketError
from models.org import Compound, OrgUnit, User, WorkUnit, responsible_staff
from models.outbox import enqueue, outbox_batch
from models.routing import routing
from models.tickets import Ticket, TicketEvent, TicketSubscriber

# Which states each transition may start from.
ALLOWED_FROM = {
    Action.DISPATCH: (State.SUBMITTED, State.DISPATCHED),
    Action.TAKE: (State.DISPATCHED,),
    # A handed-back or reopened ticket waits for dispatch (submitted); 转单 still moves it.
    Action.REASSIGN: (State.SUBMITTED, State.DISPATCHED, State.TAKEN),
    Action.HAND_BACK: (State.DISPATCHED, State.TAKEN),
    Action.PROGRESS: (State.TAKEN,),
    Action.RESOLVE: (State.TAKEN,),
    Action.RATE: (State.RESOLVED,),
    Action.REOPEN: (State.RESOLVED, State.CLOSED),
    Action.ESCALATE: OPEN_STATES,
    Action.ASSIST: OPEN_STATES,
    Action.URGE: OPEN_STATES,
    Action.REMIND: ACTIVE_STATES,
    Action.CANCEL: (State.SUBMITTED, State.DISPATCHED),
    Action.CLOSE: ACTIVE_STATES,
    Action.CLOSE_UNRATED: (State.RESOLVED,),
    Action.MERGE: ACTIVE_STATES,
    Action.SUBSCRIBE: ACTIVE_STATES,
    Action.FOLLOW_UP: (State.CLOSED,),
    Action.RATING_REMINDER: (State.RESOLVED,),
    Action.RECATEGORIZE: ACTIVE_STATES,
    Action.UNMERGE: (State.CLOSED,),
}

REFUSALS = {
    State.SUBMITTED: "还在等待派单",
    State.DISPATCHED: "已派单，等待接单",
    State.TAKEN: "正在办理中",
    State.RESOLVED: "已办结，等待评价",
    State.CLOSED: "已经关闭",
    State.CANCELLED: "已经撤销",
}
URGE_INTERVAL_H = 4
STEP_NAMES = {Step.DISPATCH: "派单", Step.TAKE: "接单", Step.RESOLVE: "办理", Step.RATE: "评价"}


def transition(fn):
    """Run a transition in one transaction (nested calls join the outer one)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        # The outbound rows a transition causes go in as one INSERT before the commit.
        with write_transaction(), outbox_batch():
            return fn(*args, **kwargs)

    return wrapper


def check_allowed(ticket: Ticket, action: Action) -> None:
    """Refuse politely when the ticket's state does not allow `action`."""
    if ticket.state not in ALLOWED_FROM[action]:
        raise TicketError(
            f"工单 {ticket.number} {REFUSALS[ticket.state_enum]}，现在不能这样操作。", "conflict"
        )


def move(ticket, action, actor, *, to_state=None, note="", data=None, **changes) -> Ticket:
    """Compare-and-set the ticket from its read (state, version), and log the hop."""
    check_allowed(ticket, action)
    at = now()
    to_state = to_state or ticket.state
    changes.update(state=to_state, version=ticket.version + 1, updated_at=at)
    match = {"id": ticket.id, "state": ticket.state, "version": ticket.version}
    moved = update_where(Ticket, changes, match)
    if not moved:
        if action == Action.TAKE:
            raise TicketError(f"手慢了一步，工单 {ticket.number} 已经被别人接走了。", "conflict")
        raise TicketError(f"工单 {ticket.number} 刚刚有了变化，请查看后再试。", "conflict")
    from_state = ticket.state
    # The row now holds exactly `changes`: apply them to the instance instead of re-reading.
    for field, value in changes.items():
        setattr(ticket, field, value)
    insert_new(
        TicketEvent(
            ticket=ticket,
            actor=actor,
            action=action,
            from_state=from_state,
            to_state=to_state,
            level=ticket.level,
            org_unit=ticket.org_unit_id,
            assignee=ticket.assignee_id,
            note=note,
            data=data,
            created_at=at,
        )
    )
    return ticket


def step_clock(urgency: str, step: Step, start=None) -> dict:
    """Columns that restart the per-step clock (the overall one never restarts)."""
    start = start or now()
    due = routing().step_deadline(urgency, step, start)
    return {"step": step, "step_due_at": due, "breach_count": 0, "next_check_at": due}


def with_overall(clock: dict, ticket: Ticket) -> dict:
    """Look again at the overall deadline if it falls before the step's."""
    if ticket.due_at and ticket.due_at < clock["next_check_at"]:
        clock["next_check_at"] = max(ticket.due_at, now())
    return clock


def notify_staff(
    unit: OrgUnit,
    text: str,
    ticket: Ticket,
    role=Role.DISPATCHER,
    key=None,
    skip=(),
    staff=responsible_staff,
) -> list[User]:
    """Tell the staff holding `role` at `unit` (or the nearest ancestor with some), except the
    people in `skip` (the actor never gets a push about what they just did); returns who.
    `staff(unit, role)` finds them (the bulk sweep passes one that has read a batch's staff)."""
    told = []
    skipped = {getattr(p, "id", p) for p in skip if p is not None}
    for person in staff(unit, role):
        if person.id in skipped:
            continue
        enqueue(person, text, ticket=ticket, dedupe_key=f"{key}:{person.id}" if key else None)
        told.append(person)
    return told


def notify_unit(unit: WorkUnit, text: str, ticket: Ticket, skip=()) -> None:
    skipped = {getattr(p, "id", p) for p in skip if p is not None}
    for worker in User.select().where(User.work_unit == unit):
        if worker.id not in skipped:
            enqueue(worker, text, ticket=ticket)


def dispatcher_title(ticket: Ticket) -> str:
    """What to call the people who dispatch this ticket now (the nearest level that has
    dispatchers: a grid without its own 网格员 is served by its community)."""
    staff = responsible_staff(ticket.org_unit, Role.DISPATCHER)
    level = staff[0].org_unit.level if staff else ticket.level
    return notices.staff_title(level)


def holder_name(ticket: Ticket) -> str:
    """Who holds the ticket now, as staff read it: a person, a unit, or the pool."""
    if ticket.assignee_id:
        return ticket.assignee.display_name()
    if ticket.work_unit_id:
        return ticket.work_unit.name
    return "志愿者接单池" if ticket.in_pool else ""


def tell_holder(assignee, work_unit, text: str, ticket: Ticket, skip=()) -> None:
    """Tell who held the ticket (read before the move): its assignee, else its unit's workers."""
    skipped = {getattr(p, "id", p) for p in skip if p is not None}
    if assignee is not None:
        if assignee.id not in skipped:
            enqueue(assignee, text, ticket=ticket)
    elif work_unit is not None:
        notify_unit(work_unit, text, ticket, skip=skip)


def notify_followers(ticket: Ticket, text: str) -> None:
    for sub in TicketSubscriber.select().where(TicketSubscriber.ticket == ticket):
        enqueue(sub.user, text, ticket=ticket)


def linked_work_units(category: str, compound: Compound | None) -> list[WorkUnit]:
    units = []
    for link in routing().category(category).linked:
        if link == "property" and compound is not None and compound.property_company_id:
            units.append(compound.property_company)
        elif link.startswith("department:"):
            unit = WorkUnit.get_or_none(WorkUnit.name == link.split(":", 1)[1])
            if unit is not None:
                units.append(unit)
    return units
