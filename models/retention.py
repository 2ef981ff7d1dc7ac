"""Retention: personal data of long-finished tickets is removed; the audit trail stays.

After `days` (RETENTION_DAYS) past closing or cancelling, a ticket keeps its category, urgency,
places in the tree, times, states and rating score (so every figure stays the same), and its
event history (who did what, when, from which state to which): what goes is what identifies
or describes a person: the resident's words, room and doorway, exact point, photos, free-text
notes and comments, the texts of messages sent about it, and the name and phone of reporters
who came from another system (Open311) once none of their tickets is open.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from models.clock import now
from models.db import write_transaction
from models.enums import OPEN_STATES, State
from models.org import User
from models.outbox import Outbound
from models.tickets import Rating, Ticket, TicketEvent

PLACEHOLDER = "（超过保留期限，个人信息已删除）"
BATCH = 500
FINISHED = (State.CLOSED, State.CANCELLED)
EXTERNAL_PREFIX = "open311:"


@dataclass
class RetentionReport:
    tickets: int = 0
    events: int = 0
    ratings: int = 0
    messages: int = 0
    reporters: int = 0
    photos: list[str] = field(default_factory=list)  # refs whose files the caller may delete


def due(days: int):
    """Finished tickets older than `days` that still hold personal data."""
    cutoff = now() - timedelta(days=days)
    finished_at = Ticket.closed_at.is_null(False) & (Ticket.closed_at < cutoff)
    cancelled = (Ticket.state == State.CANCELLED) & (Ticket.updated_at < cutoff)
    return Ticket.select().where(
        Ticket.state.in_(FINISHED) & Ticket.anonymised_at.is_null() & (finished_at | cancelled)
    )


def anonymise(days: int, *, dry_run: bool = False) -> RetentionReport:
    """Remove personal data from every due ticket (in batches); a dry run only counts."""
    report = RetentionReport()
    while True:
        ids = [t.id for t in due(days).order_by(Ticket.id).limit(BATCH)]
        if not ids:
            break
        _count(report, ids)
        if dry_run:
            report.tickets = due(days).count()
            break
        report.photos += [p for t in Ticket.select(Ticket.photos).where(Ticket.id.in_(ids))
                          for p in (t.photos or [])]  # fmt: skip
        _scrub(ids)
    report.reporters = _external_reporters(dry_run)
    return report


def _count(report: RetentionReport, ids: list[int]) -> None:
    report.tickets += len(ids)
    report.events += TicketEvent.select().where(TicketEvent.ticket.in_(ids)).count()
    report.ratings += Rating.select().where(Rating.ticket.in_(ids)).count()
    report.messages += Outbound.select().where(Outbound.ticket.in_(ids)).count()


def _scrub(ids: list[int]) -> None:
    at = now()
    with write_transaction():
        (
            Ticket.update(
                text=PLACEHOLDER,
                building="",
                unit_no="",
                room="",
                photos=[],
                lat=None,
                lng=None,
                anonymised_at=at,
            )  # fmt: skip
            .where(Ticket.id.in_(ids))
            .execute()
        )
        TicketEvent.update(note="").where(TicketEvent.ticket.in_(ids)).execute()
        Rating.update(comment="").where(Rating.ticket.in_(ids)).execute()
        Outbound.update(text=PLACEHOLDER, data=None).where(Outbound.ticket.in_(ids)).execute()


def _external_reporters(dry_run: bool) -> int:
    """Reporters from other systems with a name or phone and no ticket left that needs it."""
    keeps = Ticket.select(Ticket.reporter).where(
        Ticket.state.in_(list(OPEN_STATES)) | Ticket.anonymised_at.is_null()
    )
    query = User.select(User.id).where(
        User.openid.startswith(EXTERNAL_PREFIX)
        & ((User.name != "") | (User.phone != ""))
        & User.id.not_in(keeps)
    )
    ids = [u.id for u in query]
    if ids and not dry_run:
        User.update(name="", phone="").where(User.id.in_(ids)).execute()
    return len(ids)
