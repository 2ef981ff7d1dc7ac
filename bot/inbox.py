"""Messages that could not be handled when they arrived, kept in Redis and replayed later.

WeChat gives up on a message after `success` (or after three failed tries), so a message we
could not act on (the database down, the person's conversation lock held too long, a failed
handler) is parked here instead of being lost: the raw message, with an expiry, in a sorted
set scored by the next time to try. The scheduler (and the next webhook request) replays it
once the cause has gone, and the reply goes out by push.

Exactly once: a replayer claims an entry with a compare-and-set on its score (a lease), and
removes it only after handling. Two replayers never handle one entry at the same time; a
replayer killed between handling and removing leaves it to be handled again after the lease
(the one window where a message can be doubled, measured in docs/operations.md).

In order per person: each sender's entries are also kept in a sorted set by arrival, and only
the oldest of them can be claimed, so a person's second message is never handled before (or
alongside) their first, even by two replayers at once.

Messages that arrived while Redis itself was down were kept in the database
(models.inbound_parked); `adopt` moves each into this inbox once, when Redis is back.
"""

import dataclasses
import json
import logging
import time
import uuid

from bot.logs import mask
from handlers.inbound import Inbound

log = logging.getLogger("sidan.inbox")

PARK_TTL_S = 3 * 24 * 3600  # WeChat's PicUrl and the person's patience both last about this
CLAIM_LEASE_S = 60
MAX_ATTEMPTS = 5
RETRY_BASE_S = 10

# KEYS: queue, the sender's entries; ARGV: entry id, now, lease end. Only the sender's oldest.
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
  return 0
end
local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
while first and first ~= ARGV[1] and not redis.call('ZSCORE', KEYS[1], first) do
  redis.call('ZREM', KEYS[2], first)  -- expired or dead: it holds no one up
  first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
end
if first and first ~= ARGV[1] then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
# KEYS: adopted marker, dedup key, item, queue, sender's entries, the dedup key's liveness key;
# ARGV: parked answer, dedup TTL, item, park TTL, entry id, score, the webhook's pending mark.
# 1: adopted; 2: adopted before (a replayer died before forgetting the row); 0: a delivery of
# the same message was answered by the webhook, or is being handled by a live worker. A pending
# mark whose worker is gone (it kept the message in the database itself) does not count.
_ADOPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 2
end
local answer = redis.call('GET', KEYS[2])
if answer and (answer ~= ARGV[7] or redis.call('EXISTS', KEYS[6]) == 1) then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[4])
  return 0
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[4])
return 1
"""


@dataclasses.dataclass
class Parked:
    """One parked message: what was sent, its dedup key, why it waits and how often it was tried."""

    id: str
    inbound: Inbound
    dedup_key: str
    reason: str
    parked_at: float
    attempts: int = 0
    # Set once the handlers answered: a replay that then failed to push only pushes again.
    reply: str | None = None

    def dumps(self) -> str:
        body = dataclasses.asdict(self)
        return json.dumps(body, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str) -> "Parked":
        body = json.loads(raw)
        body["inbound"] = Inbound(**body["inbound"])
        return cls(**body)


class Inbox:
    """The parked messages of one deployment (keys under `prefix`)."""

    def __init__(self, redis_client, prefix: str):
        self.redis = redis_client
        self.prefix = prefix
        self.queue = self.queue_key(prefix)
        self.dead = f"{prefix}inbox:dead"
        self.item_prefix = f"{prefix}inbox:item:"
        self.sender_prefix = f"{prefix}inbox:sender:"
        self.adopted_prefix = f"{prefix}inbox:adopted:"
        self._claim = redis_client.register_script(_CLAIM)
        self._adopt = redis_client.register_script(_ADOPT)

    @staticmethod
    def queue_key(prefix: str) -> str:
        return f"{prefix}inbox:due"

    def _item(self, entry_id: str) -> str:
        return self.item_prefix + entry_id

    def _sender(self, openid: str) -> str:
        return self.sender_prefix + openid

    def park(self, inbound: Inbound, dedup_key: str, reason: str, *,
             answer: tuple[str, int] | None = None, quiet: bool = False) -> Parked:  # fmt: skip
        """Keep a message for later; raises redis.RedisError when Redis is down too. With
        `answer` (text, TTL) the dedup key is set to it in the same transaction, so WeChat's
        retry gets that answer and the message is never both parked and unanswered."""
        entry = Parked(uuid.uuid4().hex, inbound, dedup_key, reason[:200], time.time())
        pipe = self.redis.pipeline(transaction=True)
        if answer is not None:
            pipe.set(dedup_key, answer[0], ex=answer[1])
        pipe.set(self._item(entry.id), entry.dumps(), ex=PARK_TTL_S)
        pipe.zadd(self.queue, {entry.id: entry.parked_at})
        pipe.expire(self.queue, PARK_TTL_S)
        pipe.zadd(self._sender(inbound.openid), {entry.id: entry.parked_at})
        pipe.expire(self._sender(inbound.openid), PARK_TTL_S)
        pipe.execute()
        log.log(logging.DEBUG if quiet else logging.WARNING, "parked a %s message from %s: %s",
                inbound.kind, mask(inbound.openid), entry.reason)  # fmt: skip
        return entry

    def waiting(self) -> int:
        """How many messages wait for replay."""
        return self.redis.zcard(self.queue)

    def sender_key(self, openid: str) -> str:
        """The Redis key of one person's waiting messages (exists while any waits)."""
        return self._sender(openid)

    def waits_for(self, openid: str) -> bool:
        """Whether a message of this person still waits (due or not)."""
        return bool(self.redis.exists(self._sender(openid)))

    def adopt(self, entry: Parked, *, parked_answer: str, dedup_ttl_s: int, pending: str,
              alive_suffix: str) -> int:  # fmt: skip
        """Queue a message kept in the database while Redis was down, once: 1 adopted now,
        2 adopted before, 0 answered or being handled live (its dedup key says so). The dedup
        key is set to `parked_answer`, so a late WeChat retry gets that, not a second handling."""
        marker = self.adopted_prefix + entry.id
        keys = [marker, entry.dedup_key, self._item(entry.id), self.queue,
                self._sender(entry.inbound.openid), entry.dedup_key + alive_suffix]  # fmt: skip
        args = [parked_answer, dedup_ttl_s, entry.dumps(), PARK_TTL_S, entry.id, entry.parked_at,
                pending]  # fmt: skip
        return int(self._adopt(keys=keys, args=args))

    def claim(self, now: float | None = None, *, openid: str | None = None) -> Parked | None:
        """Claim the oldest due entry for CLAIM_LEASE_S, or None when nothing is due. An entry
        waits while an older one of the same sender is still queued (claimed or not). With
        `openid`, only that person's oldest entry is a candidate."""
        now = time.time() if now is None else now
        if openid is None:
            candidates = self.redis.zrangebyscore(self.queue, "-inf", now, start=0, num=50)
        else:
            candidates = self.redis.zrange(self._sender(openid), 0, 4)
        for entry_id in candidates:
            raw = self.redis.get(self._item(entry_id))
            if raw is None:  # expired: nothing left to replay
                self.redis.zrem(self.queue, entry_id)
                if openid is not None:
                    self.redis.zrem(self._sender(openid), entry_id)
                continue
            entry = Parked.loads(raw)
            keys = [self.queue, self._sender(entry.inbound.openid)]
            if not self._claim(keys=keys, args=[entry_id, now, now + CLAIM_LEASE_S]):
                continue  # another replayer got there first, or an older one waits
            return entry
        return None

    def done(self, entry: Parked) -> None:
        """The entry was handled: forget it."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.queue, entry.id)
        pipe.delete(self._item(entry.id))
        pipe.zrem(self._sender(entry.inbound.openid), entry.id)
        pipe.execute()

    def save(self, entry: Parked) -> None:
        """Remember progress on a claimed entry (its reply)."""
        self.redis.set(self._item(entry.id), entry.dumps(), ex=PARK_TTL_S)

    def later(self, entry: Parked, delay_s: float) -> None:
        """Give a claimed entry back, due again after `delay_s` (an outage: no attempt counted)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._item(entry.id), entry.dumps(), ex=PARK_TTL_S)
        pipe.zadd(self.queue, {entry.id: time.time() + delay_s})
        pipe.execute()

    def failed(self, entry: Parked, reason: str) -> bool:
        """Try again later with backoff; after MAX_ATTEMPTS keep it among the dead (True)."""
        entry.attempts += 1
        entry.reason = reason[:200]
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self._item(entry.id), entry.dumps(), ex=PARK_TTL_S)
        if entry.attempts >= MAX_ATTEMPTS:
            pipe.zrem(self.queue, entry.id)
            pipe.zrem(self._sender(entry.inbound.openid), entry.id)  # no longer holds the rest
            pipe.zadd(self.dead, {entry.id: time.time()})
            pipe.expire(self.dead, PARK_TTL_S)
        else:
            pipe.zadd(self.queue, {entry.id: time.time() + RETRY_BASE_S * 2**entry.attempts})
        pipe.execute()
        return entry.attempts >= MAX_ATTEMPTS

    def dead_entries(self) -> list[Parked]:
        """Messages that failed every replay (kept for the operator until they expire)."""
        entries = []
        for entry_id in self.redis.zrange(self.dead, 0, -1):
            raw = self.redis.get(self._item(entry_id))
            if raw is not None:
                entries.append(Parked.loads(raw))
        return entries

    def revive(self) -> int:
        """Put every dead entry back in the queue (the operator fixed the cause)."""
        count = 0
        for entry in self.dead_entries():
            entry.attempts = 0
            pipe = self.redis.pipeline(transaction=True)
            pipe.set(self._item(entry.id), entry.dumps(), ex=PARK_TTL_S)
            pipe.zrem(self.dead, entry.id)
            pipe.zadd(self.queue, {entry.id: time.time()})
            pipe.zadd(self._sender(entry.inbound.openid), {entry.id: time.time()})
            pipe.execute()
            count += 1
        return count
