"""Replaying parked messages (bot.inbox): from the scheduler, and before a live message.

A parked message is handled exactly as it would have been when it arrived; its reply goes out
by push (a customer-service message through the outbox), and WeChat's retry of the original
delivery, if any is still coming, gets the same reply from the dedup key.

Messages kept in the database while Redis was down (models.inbound_parked) are first moved
into the Redis inbox, once each, in arrival order: by the scheduler on every replay run, and
by the next webhook request of a process that kept one.
"""

import dataclasses
import hashlib
import logging
import threading
import time

import peewee
import redis
from playhouse.pool import MaxConnectionsExceeded

from bot import metrics, webhook_texts
from bot.handling import handle_inbound, make_context
from bot.inbox import Inbox, Parked
from bot.logs import current_request_id, mask
from handlers.context import ConversationBusy
from handlers.inbound import Inbound
from models import inbound_parked
from models.enums import Channel
from models.org import user_by_openid
from models.outbox import enqueue

log = logging.getLogger("sidan.replay")

DEDUP_TTL_S = 600
OUTAGE_RETRY_S = 15

_OUTAGES = (
    peewee.OperationalError,
    peewee.InterfaceError,
    MaxConnectionsExceeded,
    redis.RedisError,
    ConversationBusy,
)


def is_outage(exc: BaseException) -> bool:
    """A failure of a service (database, Redis) or a wait, not of the message itself."""
    return isinstance(exc, _OUTAGES)


def reason_label(exc: BaseException) -> str:
    """A small fixed set of reasons, for metrics labels."""
    if isinstance(exc, ConversationBusy):
        return "busy"
    if isinstance(exc, peewee.OperationalError | peewee.InterfaceError | MaxConnectionsExceeded):
        return "database"
    if isinstance(exc, redis.RedisError):
        return "redis"
    return "error"


def inbox(svc) -> Inbox:
    """The deployment's parked messages (one Inbox per Redis client and prefix: the webhook
    asks on every message)."""
    box = getattr(svc, "_inbox", None)
    if box is None or box.redis is not svc.redis or box.prefix != svc.config.REDIS_PREFIX:
        box = svc._inbox = Inbox(svc.redis, svc.config.REDIS_PREFIX)
    return box


def push_reply(openid: str, reply: str, *, dedupe_key: str) -> bool:
    """Send a reply that could not be the passive answer, once (the outbox key guards it)."""
    user = user_by_openid(openid)
    if user is None:
        return False
    return enqueue(user, reply, channel=Channel.CS, template="reply", dedupe_key=dedupe_key)


def replay_one(svc, box: Inbox, openid: str | None = None) -> bool | None:
    """Claim and handle one due entry (of `openid` only, when given). True: handled; False:
    nothing due; None: an outage stopped it (the caller should stop for now)."""
    entry = box.claim(openid=openid)
    if entry is None:
        return False
    try:
        _handle(svc, box, entry)
    except Exception as exc:
        return _failed(box, entry, exc)
    box.done(entry)
    metrics.REPLAYED.labels(outcome="ok").inc()
    log.info("replayed a parked %s message from %s (parked %.0f s)", entry.inbound.kind,
             mask(entry.inbound.openid), time.time() - entry.parked_at)  # fmt: skip
    return True


def _handle(svc, box: Inbox, entry: Parked) -> None:
    if entry.reply is None:
        entry.reply = handle_inbound(entry.inbound, make_context(svc), svc.config)
        box.save(entry)
        svc.redis.set(entry.dedup_key, entry.reply, ex=DEDUP_TTL_S)
    if entry.reply:
        push_reply(entry.inbound.openid, entry.reply, dedupe_key=f"replay:{entry.id}")


def _failed(box: Inbox, entry: Parked, exc: Exception) -> bool | None:
    reason = f"{type(exc).__name__}: {exc}"
    if is_outage(exc):
        log.warning("replay of %s waits: %s", entry.id, reason)
        box.later(entry, OUTAGE_RETRY_S)
        metrics.REPLAYED.labels(outcome="waiting").inc()
        return None
    log.exception("replay of parked message %s failed", entry.id)
    dead = box.failed(entry, reason)
    metrics.REPLAYED.labels(outcome="dead" if dead else "failed").inc()
    return True


# Set when this process kept a message in the database: its next replay looks there first
# (the scheduler always does), so the live path does not query the table on every message.
_kept_in_database = threading.Event()
ADOPT_BATCH = 100


def park_without_redis(inbound, dedup_key: str, reason: str, *, body: bytes,
                       nonce_key: str | None = None) -> str:  # fmt: skip
    """Keep a message in the database while Redis is down: "parked", "retry" (already kept)
    or "replayed" (a signed URL reused with another body). Raises when the database is down."""
    kept = inbound_parked.park(
        openid=inbound.openid, msg_key=dedup_key, payload=dataclasses.asdict(inbound),
        body_hash=hashlib.sha256(body).hexdigest(), reason=reason, parked_at=time.time(),
        nonce_key=nonce_key, request_id=current_request_id() or None,
    )  # fmt: skip
    if kept == "parked":
        _kept_in_database.set()
        log.warning("Redis down: kept a %s message from %s in the database", inbound.kind,
                    mask(inbound.openid))  # fmt: skip
    return kept


def adopt_parked(svc, limit: int = ADOPT_BATCH) -> int:
    """Move messages kept in the database (Redis was down) into the Redis inbox, oldest first;
    returns how many were queued. Each is queued once even if two replayers race, or one dies
    between queueing and deleting the row (the inbox's adopted marker)."""
    from bot import webhook  # the dedup marks it writes (webhook imports this module)

    box = inbox(svc)
    _kept_in_database.clear()  # before looking: a message kept meanwhile sets it again
    rows = inbound_parked.oldest(limit)
    queued = 0
    for row in rows:
        entry = Parked(
            "db-" + hashlib.sha1(row.msg_key.encode()).hexdigest()[:24],
            _inbound(row.payload), row.msg_key, row.reason, row.parked_at,
        )  # fmt: skip
        outcome = box.adopt(entry, parked_answer=webhook_texts.parked(entry.inbound),
                            dedup_ttl_s=DEDUP_TTL_S, pending=webhook.PENDING,
                            alive_suffix=webhook.ALIVE)  # fmt: skip
        inbound_parked.forget(row.id)
        if outcome == 1:
            queued += 1
        elif outcome == 0:
            log.info("kept message from %s was handled live after Redis returned",
                     mask(row.openid))  # fmt: skip
    if len(rows) == limit:
        _kept_in_database.set()  # more to come on the next run
    if queued:
        log.info("queued %d message(s) kept in the database while Redis was down", queued)
    return queued


def _inbound(payload: dict) -> Inbound:
    """A kept message back as an Inbound (fields a newer release dropped are ignored)."""
    names = {f.name for f in dataclasses.fields(Inbound)}
    return Inbound(**{k: v for k, v in payload.items() if k in names})


def replay_sender(svc, openid: str, *, limit: int = 5, budget_s: float = 1.0) -> bool:
    """Replay one person's due messages, oldest first; returns whether any of theirs still
    waits afterwards (then a new message of theirs must queue behind, to keep their order)."""
    box = inbox(svc)
    deadline = time.monotonic() + budget_s
    for _ in range(limit):
        if time.monotonic() >= deadline or not replay_one(svc, box, openid):
            break
    return box.waits_for(openid)


def replay_due(svc, limit: int = 100, budget_s: float = 10.0, *, adopt: bool = True,
               queued: bool | None = None) -> int:  # fmt: skip
    """Replay up to `limit` due entries within about `budget_s`; returns how many were handled.
    `adopt=False` (the live webhook) looks at the database only if this process kept a message
    there; `queued=False` (the webhook saw the queue empty a moment ago) skips looking again."""
    adopting = adopt or _kept_in_database.is_set()
    if queued is False and not adopting:
        return 0
    if adopting:
        try:
            adopt_parked(svc)
        except _OUTAGES as exc:  # the database is away now: the inbox's own entries still go
            _kept_in_database.set()
            log.warning("messages kept in the database wait: %s", exc)
    box = inbox(svc)
    if not svc.redis.exists(box.queue):
        return 0
    handled = 0
    deadline = time.monotonic() + budget_s
    while handled < limit and time.monotonic() < deadline:
        result = replay_one(svc, box)
        if not result:
            break
        handled += 1
    return handled
