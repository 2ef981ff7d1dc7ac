"""The deadline sweep's decisions (DESIGN §6): remind, escalate, ask for a rating, auto-close.

The sweep (scheduler.jobs.sweep_job) reads only tickets whose `next_check_at` has come (a
partial index). `decide` judges one ticket; the lifecycle acts with the version it judged,
and so acts once per breach however many sweeps run at once or again. `handle_due` acts on
one ticket; `handle_due_many` acts on a batch set-based (lifecycle.bulk: one UPDATE per
kind of step, its events and outbox rows in one INSERT each).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from models import lifecycle
from models.clock import now
from models.enums import Level, State
from models.errors import TicketError
from models.lifecycle import bulk
from models.routing import routing
from models.tickets import Ticket

# The switch for the set-based sweep: False sends every batch down the per-ticket path.
BULK_SWEEP = True

# What `decide` may return; RESCHEDULE changes only when the sweep looks again.
REMIND, ESCALATE = "remind", "escalate"
RATING_REMINDER, CLOSE_UNRATED = "rating_reminder", "close_unrated"
RESCHEDULE = "reschedule"


@dataclass(frozen=True)
class Plan:
    """What the sweep decided for one ticket, as it read it (its version is the judged one)."""

    ticket: Ticket
    action: str
    next_check_at: datetime | None


def decide(ticket: Ticket, at: datetime | None = None) -> Plan:
    """What to do with one due ticket now (no writes)."""
    at = at or now()
    r = routing()
    if ticket.state == State.RESOLVED:
        close_at = r.add(ticket.resolved_at, r.rating_close)
        if at >= close_at:
            return Plan(ticket, CLOSE_UNRATED, None)
        if not ticket.rating_reminded:
            return Plan(ticket, RATING_REMINDER, close_at)
        return Plan(ticket, RESCHEDULE, close_at)
    if not ticket.is_open:
        return Plan(ticket, RESCHEDULE, None)
    overdue = [d for d in (ticket.step_due_at, ticket.due_at) if d is not None and d <= at]
    if not overdue:
        return Plan(ticket, RESCHEDULE, min(d for d in (ticket.step_due_at, ticket.due_at) if d))
    next_check = r.next_breach(ticket.urgency, at)
    limits = r.limits[ticket.urgency]
    first = ticket.breach_count == 0
    if (first and limits.remind_first) or ticket.level == Level.CITY:
        return Plan(ticket, REMIND, next_check)
    return Plan(ticket, ESCALATE, next_check)


def handle_due(ticket: Ticket) -> str | None:
    """Act on one due ticket; returns what was done, or None if nothing (or someone else) did."""
    plan = decide(ticket)
    v = ticket.version
    try:
        if plan.action == CLOSE_UNRATED:
            lifecycle.close_unrated(ticket, expect_version=v)
        elif plan.action == RATING_REMINDER:
            lifecycle.send_rating_reminder(
                ticket, expect_version=v, next_check_at=plan.next_check_at
            )
        elif plan.action == REMIND:
            lifecycle.remind(ticket, expect_version=v, next_check_at=plan.next_check_at)
        elif plan.action == ESCALATE:
            lifecycle.breach_escalate(ticket, expect_version=v, next_check_at=plan.next_check_at)
        else:
            # Nothing due after all (deadlines moved): look again at `next_check_at`.
            lifecycle.reschedule_check(ticket, plan.next_check_at)
            return None
    except TicketError as exc:
        if exc.code == "conflict":
            return None
        raise
    return plan.action


def handle_due_many(tickets: list[Ticket]) -> Counter:
    """Act on a batch of due tickets at once, set-based; counts what was done (tickets
    someone else moved after they were read are left out, as handle_due leaves them)."""
    at = now()
    plans = [decide(ticket, at) for ticket in tickets]
    return bulk.act_on_due([(p.ticket, p.action, p.next_check_at) for p in plans])


def bulk_available() -> bool:
    """The switch is on and the database can do UPDATE … FROM … RETURNING."""
    return BULK_SWEEP and bulk.supported()


def overdue_query(at=None):
    """Open tickets past either deadline (for digests and 超时工单)."""
    at = at or now()
    return Ticket.select().where(
        Ticket.state.in_([State.SUBMITTED, State.DISPATCHED, State.TAKEN])
        & ((Ticket.step_due_at <= at) | (Ticket.due_at <= at))
    )
