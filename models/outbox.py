"""The transactional outbox: transitions enqueue rows, the drainer claims and sends them.

A row is claimed with a compare-and-set, so two drainers never send one row twice. A
claim that is never settled (a drainer died mid-send) is taken back after a short lease; a
drainer still sending keeps its claim alive with a heartbeat (scheduler.drain), so the lease
can be short without a slow send being taken over and doubled.
"""

import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import peewee

from models import trace
from models.clock import now
from models.db import BaseModel, JSONField, insert_rows
from models.enums import Channel, OutboundStatus
from models.org import User
from models.tickets import Ticket

CLAIM_LEASE = timedelta(seconds=20)
HEARTBEAT_S = 5.0
BACKOFF_BASE_S = 15
BACKOFF_CAP_S = 3600
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class OutboundMessage:
    """What a transport is asked to send: plain data, no WeChat or database types."""

    openid: str
    channel: str  # Channel.CS | TEMPLATE | SUBSCRIBE (NOTE never reaches a transport)
    text: str
    template_id: str | None = None
    data: dict | None = None
    page: str | None = None


class Outbound(BaseModel):
    """One message to one person, waiting to be sent or already sent."""

    user = peewee.ForeignKeyField(User, null=True, backref="outbound")
    openid = peewee.CharField(max_length=64, index=True)
    channel = peewee.CharField(max_length=16, default=Channel.AUTO)
    # What kind of notice this is; picks the WeChat template outside the 48 h window.
    template = peewee.CharField(max_length=32, default="notice")
    text = peewee.TextField()
    data = JSONField(null=True)
    ticket = peewee.ForeignKeyField(Ticket, null=True, backref="outbound", on_delete="SET NULL")
    status = peewee.CharField(max_length=16, default=OutboundStatus.PENDING)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=now)
    claim_token = peewee.CharField(max_length=36, null=True)
    claimed_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(default="")
    sent_channel = peewee.CharField(max_length=16, null=True)
    msgid = peewee.CharField(max_length=64, null=True)
    dedupe_key = peewee.CharField(max_length=128, null=True, unique=True)
    created_at = peewee.DateTimeField(default=now, index=True)
    sent_at = peewee.DateTimeField(null=True)
    # The web request that queued it (bot.logs), so both sides' log lines can be matched.
    request_id = peewee.CharField(max_length=64, null=True)


Outbound.add_index(
    Outbound.index(
        Outbound.next_attempt_at,
        where=Outbound.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING]),
    )
)


def enqueue(
    user: User,
    text: str,
    *,
    ticket: Ticket | None = None,
    template: str = "notice",
    data: dict | None = None,
    channel: Channel = Channel.AUTO,
    dedupe_key: str | None = None,
) -> bool:
    """Queue a message for `user`; with a dedupe_key, a second enqueue is a no-op.

    Nothing is queued for people WeChat will not let us message: those who unfollowed the
    account, and reporters from other systems (Open311) who have no WeChat identity.
    """
    if not user.subscribed:
        return False
    row = {
        "user": user.id, "openid": user.openid, "channel": channel, "template": template,
        "text": text, "data": data, "ticket": ticket.id if ticket is not None else None,
        "dedupe_key": dedupe_key, "created_at": now(), "next_attempt_at": now(),
        "request_id": trace.current(),
    }  # fmt: skip
    pending = getattr(_batch, "rows", None)
    if pending is not None:
        pending.append(row)
        return True
    return _insert([row]) > 0


_batch = threading.local()


def _insert(rows: list[dict]) -> int:
    # A row count, not lastrowid: SQLite reports a stale id for an ignored insert. What
    # insert_many().on_conflict_ignore() writes, without its SQL building cost (a bulk sweep
    # queues thousands of rows at once).
    return insert_rows(Outbound, rows, ignore_conflicts=True)


@contextmanager
def outbox_batch():
    """Collect the enqueues of a block and insert them as one statement at its end (inside the
    caller's transaction). Nested blocks join the outermost one."""
    if getattr(_batch, "rows", None) is not None:
        yield
        return
    _batch.rows = []
    try:
        yield
        if _batch.rows:
            _insert(_batch.rows)
    finally:
        _batch.rows = None


def claim_next() -> Outbound | None:
    """Claim the next message due for sending, or None when nothing is due."""
    at = now()
    stale = at - CLAIM_LEASE
    candidates = (
        Outbound.select()
        .where(
            ((Outbound.status == OutboundStatus.PENDING) & (Outbound.next_attempt_at <= at))
            | ((Outbound.status == OutboundStatus.SENDING) & (Outbound.claimed_at < stale))
        )
        .order_by(Outbound.next_attempt_at, Outbound.id)
        .limit(10)
    )
    # Read the candidates first: updating while the SELECT cursor is open cannot upgrade a
    # SQLite read snapshot once another drainer has written.
    for row in list(candidates):
        token = str(uuid.uuid4())
        won = (
            Outbound.update(
                status=OutboundStatus.SENDING,
                claim_token=token,
                claimed_at=at,
                attempts=Outbound.attempts + 1,
            )
            .where(
                (Outbound.id == row.id)
                & (Outbound.status == row.status)
                & (Outbound.attempts == row.attempts)
            )
            .execute()
        )
        if won:
            return Outbound.get_by_id(row.id)
    return None


def heartbeat(row: Outbound) -> bool:
    """Extend a claim still being worked on; False if it was lost."""
    return bool(
        Outbound.update(claimed_at=now())
        .where((Outbound.id == row.id) & (Outbound.claim_token == row.claim_token))
        .execute()
    )


def mark_sent(row: Outbound, *, channel: str, msgid: str | None = None) -> bool:
    """Settle a claimed row as sent; False if the claim had been lost."""
    return bool(
        Outbound.update(
            status=OutboundStatus.SENT,
            sent_at=now(),
            sent_channel=channel,
            msgid=msgid,
            last_error="",
        )
        .where((Outbound.id == row.id) & (Outbound.claim_token == row.claim_token))
        .execute()
    )


def mark_failed(
    row: Outbound,
    error: str,
    *,
    permanent: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    retry_after: float | None = None,
) -> str:
    """Settle a claimed row as failed: back off (at least `retry_after`) and retry, or
    dead-letter it."""
    dead = permanent or row.attempts >= max_attempts
    delay = min(BACKOFF_BASE_S * 2 ** max(row.attempts - 1, 0), BACKOFF_CAP_S)
    delay = max(delay, retry_after or 0)
    status = OutboundStatus.DEAD if dead else OutboundStatus.PENDING
    (
        Outbound.update(
            status=status,
            last_error=error[:2000],
            next_attempt_at=now() + timedelta(seconds=delay),
            claim_token=None,
        )
        .where((Outbound.id == row.id) & (Outbound.claim_token == row.claim_token))
        .execute()
    )
    return status


def dead_letters(limit: int = 100):
    """Messages that gave up, newest first (for the operator)."""
    return (
        Outbound.select()
        .where(Outbound.status == OutboundStatus.DEAD)
        .order_by(Outbound.id.desc())
        .limit(limit)
    )


def retry_dead(ids: list[int] | None = None) -> int:
    """Put dead-lettered messages back in the queue; returns how many."""
    query = Outbound.update(
        status=OutboundStatus.PENDING, attempts=0, next_attempt_at=now(), claim_token=None
    ).where(Outbound.status == OutboundStatus.DEAD)
    if ids:
        query = query.where(Outbound.id.in_(ids))
    return query.execute()


def notes_for(user: User, limit: int = 50) -> list[dict]:
    """Messages delivered as notes (Channel.NOTE) to `user`, newest first."""
    rows = (
        Outbound.select(Outbound.id, Outbound.text, Outbound.ticket, Outbound.created_at)
        .where(
            (Outbound.user == user)
            & (Outbound.status == OutboundStatus.SENT)
            & (Outbound.sent_channel == Channel.NOTE)
        )
        .order_by(Outbound.id.desc())
        .limit(limit)
    )
    return [
        {"id": r.id, "text": r.text, "ticket": r.ticket_id, "created_at": r.created_at}
        for r in rows
    ]
