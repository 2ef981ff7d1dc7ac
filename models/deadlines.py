"""The deadline sweep's decisions (DESIGN §6): remind, escalate, ask for a rating, auto-close.

The sweep (scheduler.jobs.sweep_job) reads only tickets whose `next_check_at` has come (a
partial index) and hands each to `handle_due`, which acts through
the lifecycle with the version it judged, and so acts once per breach however many sweeps
run at once or again.
"""

from models import lifecycle
from models.clock import now
from models.enums import Level, State
from models.errors import TicketError
from models.routing import routing
from models.tickets import Ticket


def handle_due(ticket: Ticket) -> str | None:
    """Act on one due ticket; returns what was done, or None if nothing (or someone else) did."""
    at = now()
    r = routing()
    try:
        if ticket.state == State.RESOLVED:
            close_at = r.add(ticket.resolved_at, r.rating_close)
            if at >= close_at:
                lifecycle.close_unrated(ticket, expect_version=ticket.version)
                return "close_unrated"
            if not ticket.rating_reminded:
                lifecycle.send_rating_reminder(
                    ticket, expect_version=ticket.version, next_check_at=close_at
                )
                return "rating_reminder"
            return _reschedule(ticket, close_at)
        if not ticket.is_open:
            return _reschedule(ticket, None)
        overdue = [d for d in (ticket.step_due_at, ticket.due_at) if d is not None and d <= at]
        if not overdue:
            return _reschedule(ticket, min(d for d in (ticket.step_due_at, ticket.due_at) if d))
        next_check = r.next_breach(ticket.urgency, at)
        limits = r.limits[ticket.urgency]
        first = ticket.breach_count == 0
        if (first and limits.remind_first) or ticket.level == Level.CITY:
            lifecycle.remind(ticket, expect_version=ticket.version, next_check_at=next_check)
            return "remind"
        lifecycle.breach_escalate(ticket, expect_version=ticket.version, next_check_at=next_check)
        return "escalate"
    except TicketError as exc:
        if exc.code == "conflict":
            return None
        raise


def _reschedule(ticket: Ticket, at) -> None:
    """Nothing due after all (deadlines moved): look again at `at`."""
    lifecycle.reschedule_check(ticket, at)
    return None


def overdue_query(at=None):
    """Open tickets past either deadline (for digests and 超时工单)."""
    at = at or now()
    return Ticket.select().where(
        Ticket.state.in_([State.SUBMITTED, State.DISPATCHED, State.TAKEN])
        & ((Ticket.step_due_at <= at) | (Ticket.due_at <= at))
    )
