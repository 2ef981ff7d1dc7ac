"""Transitions that chase a ticket: escalate, assist, urge, and the scheduler's system steps
(overdue reminders and escalations, rating reminders, closing unrated tickets)."""

from datetime import timedelta

from models import notices
from models.access import (
    is_subscriber,
    load_ticket,
    require_dispatcher,
    require_staff_in_scope,
)
from models.clock import now
from models.enums import Action, Level, Role, State, Step
from models.errors import TicketError
from models.lifecycle.core import (
    STEP_NAMES,
    URGE_INTERVAL_H,
    check_allowed,
    move,
    notify_staff,
    notify_unit,
    transition,
)
from models.org import User, WorkUnit, responsible_staff
from models.outbox import enqueue
from models.tickets import Ticket, TicketAssist, TicketEvent

BREACH_REASON = "超时未办结"
CLOSE_UNRATED_NOTE = "72小时未评价，自动关闭"


def _escalate(ticket: Ticket, actor: User | None, reason: str, **extra) -> Ticket:
    up = Level(ticket.level).up()
    if up is None:
        raise TicketError(f"工单 {ticket.number} 已经在市级办理，不能再提级了。", "conflict")
    owner = ticket.grid.ancestor_at(up)
    ticket = move(
        ticket, Action.ESCALATE, actor, note=reason, level=owner.level, org_unit=owner,
        data={"to_level": owner.level}, **extra,
    )  # fmt: skip
    tell_escalated(ticket, owner, reason, actor)
    return ticket


# What each system step tells whom, once the ticket has moved: shared by the per-ticket
# transitions below and the bulk sweep (lifecycle.bulk), so both queue the same rows.


def tell_escalated(ticket: Ticket, owner, reason: str, actor=None, staff=responsible_staff):
    # The actor knows what they just did: no push to them about their own escalation.
    for role in (Role.DISPATCHER, Role.SUPERVISOR):
        notify_staff(
            owner, notices.escalated(ticket, reason), ticket, role, skip=(actor,), staff=staff
        )
    enqueue(ticket.reporter, notices.reporter_escalated(ticket), ticket=ticket)


def tell_reminded(ticket: Ticket, step_name: str, staff=responsible_staff) -> None:
    text = notices.reminder(ticket, step_name)
    if ticket.assignee_id:
        enqueue(ticket.assignee, text, ticket=ticket)
    notify_staff(ticket.org_unit, text, ticket, staff=staff)


def tell_closed_unrated(ticket: Ticket, staff=responsible_staff) -> None:
    community = ticket.grid.ancestor_at(Level.COMMUNITY)
    notify_staff(
        community, notices.follow_up_task(ticket), ticket, key=f"followup:{ticket.id}",
        staff=staff,
    )  # fmt: skip


def tell_rating_reminder(ticket: Ticket) -> None:
    enqueue(ticket.reporter, notices.rating_reminder(ticket), ticket=ticket, template="rating")


def step_name_of(ticket: Ticket) -> str:
    return STEP_NAMES.get(Step(ticket.step), "办理")


def _expect(ticket: Ticket, version: int | None) -> None:
    """System steps act only on the version they judged; otherwise someone moved first."""
    if version is not None and ticket.version != version:
        raise TicketError(f"工单 {ticket.number} 刚刚有了变化。", "conflict")


@transition
def escalate(ticket_id, actor: User, reason: str = "") -> Ticket:
    """提级: one level up (grid → community → street → city); state unchanged."""
    ticket = load_ticket(ticket_id)
    require_staff_in_scope(actor, ticket)
    return _escalate(ticket, actor, (reason or "").strip() or "人工提级")


@transition
def breach_escalate(ticket_id, *, expect_version=None, next_check_at=None) -> Ticket:
    """Escalate for an overdue step and set when the sweep looks again (system)."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    return _escalate(
        ticket, None, BREACH_REASON, breach_count=ticket.breach_count + 1,
        next_check_at=next_check_at,
    )  # fmt: skip


@transition
def assist(ticket_id, actor: User, *, work_unit: WorkUnit | None = None, org_unit=None):
    """协办: attach another unit to help (联合办理)."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    if (work_unit is None) == (org_unit is None):
        raise TicketError("请指定一个协办单位。")
    name = (work_unit or org_unit).name
    ticket = move(ticket, Action.ASSIST, actor, note=name)
    TicketAssist.create(ticket=ticket, work_unit=work_unit, org_unit=org_unit, created_at=now())
    if work_unit is not None:
        notify_unit(work_unit, notices.assist_request(ticket), ticket)
    else:
        notify_staff(org_unit, notices.assist_request(ticket), ticket, skip=(actor,))
    return ticket


@transition
def urge(ticket_id, actor: User, note: str = "") -> Ticket:
    """催单 / 督办: the reporter or a follower, or a supervisor in scope; rate-limited."""
    ticket = load_ticket(ticket_id)
    by_supervisor = actor.role == Role.SUPERVISOR
    if by_supervisor:
        require_staff_in_scope(actor, ticket)
    elif actor.id != ticket.reporter_id and not is_subscriber(actor, ticket):
        raise TicketError(f"工单 {ticket.number} 不是您提交的，不能催单。", "forbidden")
    check_allowed(ticket, Action.URGE)
    recent = (
        TicketEvent.select()
        .where(
            (TicketEvent.ticket == ticket)
            & (TicketEvent.actor == actor)
            & (TicketEvent.action == Action.URGE)
            & (TicketEvent.created_at > now() - timedelta(hours=URGE_INTERVAL_H))
        )
        .exists()
    )
    if recent:
        raise TicketError(
            f"您刚催过工单 {ticket.number}，我们已在加紧办理，{URGE_INTERVAL_H}小时后可以再催。",
            "rate",
        )
    ticket = move(ticket, Action.URGE, actor, note=note or "")
    text = notices.urged(ticket, by_supervisor)
    if ticket.assignee_id:
        enqueue(ticket.assignee, text, ticket=ticket)
    notify_staff(ticket.org_unit, text, ticket)
    return ticket


@transition
def close_unrated(ticket_id, *, expect_version=None) -> Ticket:
    """72 h without a rating: close it and give the community a follow-up (回访) task."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    ticket = move(
        ticket, Action.CLOSE_UNRATED, None, to_state=State.CLOSED, note=CLOSE_UNRATED_NOTE,
        closed_at=now(), next_check_at=None,
    )  # fmt: skip
    tell_closed_unrated(ticket)
    return ticket


@transition
def remind(ticket_id, *, expect_version=None, next_check_at=None) -> Ticket:
    """Overdue reminder to whoever holds the ticket now (system)."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    step_name = step_name_of(ticket)
    ticket = move(
        ticket, Action.REMIND, None, note=f"{step_name}超时提醒",
        breach_count=ticket.breach_count + 1, next_check_at=next_check_at,
    )  # fmt: skip
    tell_reminded(ticket, step_name)
    return ticket


@transition
def send_rating_reminder(ticket_id, *, expect_version=None, next_check_at=None) -> Ticket:
    """24 h after resolve without a rating: ask once more (system)."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    ticket = move(
        ticket, Action.RATING_REMINDER, None, rating_reminded=True, next_check_at=next_check_at
    )
    tell_rating_reminder(ticket)
    return ticket


def reschedule_check(ticket: Ticket, at) -> bool:
    """Move when the sweep next looks at a ticket (no state change, no event); False when
    someone else moved the ticket first."""
    return bool(
        Ticket.update(next_check_at=at)
        .where((Ticket.id == ticket.id) & (Ticket.version == ticket.version))
        .execute()
    )
