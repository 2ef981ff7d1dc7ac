"""Replaying parked messages (bot.inbox): from the scheduler, and before a live message.

A parked message is handled exactly as it would have been when it arrived; its reply goes out
by push (a customer-service message through the outbox), and WeChat's retry of the original
delivery, if any is still coming, gets the same reply from the dedup key.
"""

import logging
import time

import peewee
import redis
from playhouse.pool import MaxConnectionsExceeded

from bot import metrics
from bot.handling import handle_inbound, make_context
from bot.inbox import Inbox, Parked
from bot.logs import mask
from handlers.context import ConversationBusy
from models.enums import Channel
from models.org import User
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
    """The deployment's parked messages."""
    return Inbox(svc.redis, svc.config.REDIS_PREFIX)


def push_reply(openid: str, reply: str, *, dedupe_key: str) -> bool:
    """Send a reply that could not be the passive answer, once (the outbox key guards it)."""
    user = User.get_or_none(User.openid == openid)
    if user is None:
        return False
    return enqueue(user, reply, channel=Channel.CS, template="reply", dedupe_key=dedupe_key)


def replay_one(svc, box: Inbox) -> bool | None:
    """Claim and handle one due entry. True: handled; False: nothing due; None: an outage
    stopped it (the caller should stop for now)."""
    entry = box.claim()
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


def replay_due(svc, limit: int = 100, budget_s: float = 10.0) -> int:
    """Replay up to `limit` due entries within about `budget_s`; returns how many were handled."""
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
