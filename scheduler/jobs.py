"""The scheduler's jobs as plain functions: a test (or an operator) calls each one once.

No business rules here: the sweep's decisions live in models.deadlines, the figures and
the digest text in models.digest; jobs loop, guard and log.
"""

import logging
import time
from collections import Counter

import peewee

from models import deadlines, digest, links
from models.clock import now, to_local
from models.enums import OutboundStatus
from models.outbox import Outbound, enqueue
from models.tickets import Ticket
from scheduler import metrics
from scheduler.drain import drain

log = logging.getLogger("sidan.scheduler.jobs")

SWEEP_BATCH = 500
SWEEP_MAX_BATCHES = 20
DRAIN_LIMIT = 200


def sweep_job(
    batch: int = SWEEP_BATCH, max_batches: int = SWEEP_MAX_BATCHES, bulk: bool | None = None
) -> Counter:
    """Remind, escalate, ask for ratings and auto-close every due ticket (capped per run).

    Each batch is acted on set-based (deadlines.handle_due_many) where the database allows
    and deadlines.BULK_SWEEP is on; `bulk=False` forces the per-ticket path."""
    started = time.monotonic()
    metrics.SWEEP_BACKLOG.set(Ticket.due_for_sweep(now()).order_by().count())
    if bulk is None:
        bulk = deadlines.bulk_available()
    with metrics.SWEEP_SECONDS.time():
        done = _sweep(batch, max_batches, bulk)
    log.debug("sweep took %.3fs", time.monotonic() - started)
    return done


def _sweep(batch: int, max_batches: int, bulk: bool = False) -> Counter:
    done: Counter = Counter()
    for _ in range(max_batches):
        due = list(Ticket.due_for_sweep(now()).limit(batch))
        if bulk and due:
            done += _handle_many(due)
        else:
            for ticket in due:
                action = _handle(ticket)
                if action:
                    done[action] += 1
        if len(due) < batch:
            break
    if done:
        log.info("sweep: %s", ", ".join(f"{k}={v}" for k, v in sorted(done.items())))
    return done


def _handle_many(due: list[Ticket]) -> Counter:
    """One batch set-based; if that fails, ticket by ticket (each still checks the version it
    judged, so nothing is done twice), so one bad ticket never stops the rest."""
    try:
        return deadlines.handle_due_many(due)
    except Exception:
        log.exception("sweep: batch of %d failed set-based; trying ticket by ticket", len(due))
    done: Counter = Counter()
    for ticket in due:
        action = _handle(ticket)
        if action:
            done[action] += 1
    return done


def _handle(ticket: Ticket) -> str | None:
    """One ticket; a failure is logged and retried by the next sweep, never stops the rest."""
    try:
        return deadlines.handle_due(ticket)
    except peewee.OperationalError as exc:
        # SQLite: another sweep (or a web worker) moved this ticket first and our read
        # snapshot cannot become a write. The next sweep looks again.
        log.info("sweep: ticket %s skipped (%s)", ticket.id, exc)
    except Exception:
        log.exception("sweep: ticket %s failed", ticket.id)
    return None


def digest_key(kind: str, user_id: int, start) -> str:
    """One digest per supervisor and period: a rerun or a second scheduler enqueues nothing."""
    return f"digest:{kind}:{to_local(start):%Y-%m-%d}:{user_id}"


def digest_job(kind: str = "daily", at=None) -> int:
    """Enqueue this period's digest for every supervisor; returns how many were new."""
    start, end = digest.period(kind, at)
    cache: dict[int, str] = {}
    queued = 0
    for person in digest.supervisors():
        key = digest_key(kind, person.id, start)
        if Outbound.select().where(Outbound.dedupe_key == key).exists():
            continue  # already queued by an earlier run; the unique key also guards a race
        unit = person.org_unit
        if unit.id not in cache:
            cache[unit.id] = digest.render(digest.figures(unit, start, end, at=at), kind)
        text = cache[unit.id]
        url = links.dashboard_link(person, for_digest=True)
        if url:  # one-time link to this supervisor's own dashboard
            text = f"{text}\n数据大屏：{url}"
        enqueue(person, text, template="digest", dedupe_key=key)
        queued += 1
    log.info("%s digest: %d queued for %d unit(s)", kind, queued, len(cache))
    return queued


def drain_job(transport, template_ids: dict | None = None, limit: int = DRAIN_LIMIT) -> int:
    """Send what the outbox holds (up to `limit` rows)."""
    _outbox_gauges()
    handled = drain(transport, limit=limit, template_ids=template_ids)
    if handled:
        log.info("drain: %d message(s) handled", handled)
    return handled


def _outbox_gauges() -> None:
    """Queue length and the age of the oldest due row (both read the partial index)."""
    waiting = Outbound.status.in_([OutboundStatus.PENDING, OutboundStatus.SENDING])
    at = now()
    metrics.OUTBOX_QUEUED.set(Outbound.select().where(waiting).count())
    oldest = (
        Outbound.select(peewee.fn.MIN(Outbound.next_attempt_at))
        .where(waiting & (Outbound.next_attempt_at <= at))
        .scalar()
    )
    metrics.DRAIN_LAG.set((at - oldest).total_seconds() if oldest else 0)
