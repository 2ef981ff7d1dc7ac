"""Incoming messages kept in the database while Redis is unreachable.

Normally a message the webhook cannot act on is parked in Redis (bot.inbox). When Redis itself
is down there is no dedup and no conversation state, so acting at once could file a report
twice on WeChat's retry; instead the raw message (already verified and parsed) is kept here,
and moved to the Redis inbox for replay once Redis answers again.

One row per delivery: (openid, msg_key) is unique, so a WeChat retry of the same message does
not park it twice. In plain mode the signed URL's nonce key is unique too, with the body's
hash, so a captured URL cannot be replayed with another body while Redis (and its nonce
cache) is away.
"""

import peewee

from models.clock import now
from models.db import BaseModel, JSONField, database


class InboundParked(BaseModel):
    """One raw incoming message waiting for Redis."""

    openid = peewee.CharField(max_length=128)
    # The webhook's dedup key for the delivery (sender + MsgId, or sender + event and time).
    msg_key = peewee.CharField(max_length=400)
    payload = JSONField()  # the parsed message (handlers.inbound.Inbound as a dict)
    nonce_key = peewee.CharField(max_length=200, null=True, unique=True)
    body_hash = peewee.CharField(max_length=64)
    reason = peewee.CharField(max_length=200)
    parked_at = peewee.DoubleField()  # wall-clock seconds, as the Redis inbox scores entries
    request_id = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        table_name = "inbound_parked"
        indexes = ((("openid", "msg_key"), True),)


def park(*, openid: str, msg_key: str, payload: dict, body_hash: str, reason: str,
         parked_at: float, nonce_key: str | None = None,
         request_id: str | None = None) -> str:  # fmt: skip
    """Keep one delivery. Returns "parked" (new), "retry" (this delivery was already kept) or
    "replayed" (its signed URL was kept with another body: refuse it). Raises peewee errors
    when the database is unreachable."""
    try:
        with database.atomic():
            InboundParked.create(
                openid=openid, msg_key=msg_key, payload=payload, nonce_key=nonce_key,
                body_hash=body_hash, reason=reason[:200], parked_at=parked_at,
                request_id=request_id,
            )  # fmt: skip
        return "parked"
    except peewee.IntegrityError:
        pass
    if nonce_key is not None:
        same_url = InboundParked.get_or_none(InboundParked.nonce_key == nonce_key)
        if same_url is not None and same_url.body_hash != body_hash:
            return "replayed"
    return "retry"


def oldest(limit: int = 100) -> list[InboundParked]:
    """The rows waiting, in arrival order."""
    return list(InboundParked.select().order_by(InboundParked.id).limit(limit))


def forget(row_id: int) -> None:
    """The row was moved to the Redis inbox (or was already there)."""
    InboundParked.delete().where(InboundParked.id == row_id).execute()


def waiting() -> int:
    return InboundParked.select().count()
