"""Conversations declared as data, in the manner of python-telegram-bot's ConversationHandler.

A conversation has entry points, a table of states (each a list of steps), fallbacks and a
timeout. A step is `(message, session) -> (reply, next_state)`; returning END finishes the
conversation, returning None keeps the current state. State lives in Redis per openid, with
an expiry, so any web worker can continue any conversation.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.lock import Lock

END = "__end__"
LAPSE_MEMORY_S = 24 * 3600

# A step may decline a message (return NOT_MINE) so the next step in the list can try it.
NOT_MINE = object()


@dataclass
class Session:
    """What a step knows: who is talking, the conversation's data, and shared services."""

    user: object
    data: dict
    services: object  # handlers.context.Context


Step = Callable[..., object]


@dataclass
class Conversation:
    name: str
    entry_points: list[Step]
    states: dict[str, list[Step]]
    fallbacks: list[Step] = field(default_factory=list)
    timeout_s: int = 1800

    def __post_init__(self):
        for state, steps in self.states.items():
            if not isinstance(state, str) or not state or not steps:
                raise ValueError(f"{self.name}: state {state!r} needs a name and steps")
        if not self.entry_points:
            raise ValueError(f"{self.name}: no entry points")

    def run(self, steps: list[Step], message, session: Session):
        """Try steps in order; the first that takes the message decides."""
        for step in steps:
            result = step(message, session)
            if result is not NOT_MINE:
                reply, next_state = result
                if next_state not in (None, END) and next_state not in self.states:
                    raise ValueError(f"{self.name}: unknown next state {next_state!r}")
                return reply, next_state
        return NOT_MINE


class ConversationStore:
    """Conversation state per openid in Redis: {"conv", "state", "data"} with a TTL."""

    def __init__(self, redis_client, prefix: str):
        self.redis = redis_client
        self.prefix = prefix
        # (openid, raw value) read with the person's lock (PersonLock), until written.
        self._primed: tuple[str, str | None] | None = None

    def _key(self, openid: str) -> str:
        return f"{self.prefix}conv:{openid}"

    def prime(self, openid: str, raw) -> None:
        """The conversation as just read under the person's lock: load() needs no round trip."""
        self._primed = (openid, raw.decode() if isinstance(raw, bytes) else raw)

    def load(self, openid: str) -> dict | None:
        primed = self._primed
        if primed is not None and primed[0] == openid:
            raw = primed[1]
        else:
            raw = self.redis.get(self._key(openid))
        return json.loads(raw) if raw else None

    def save(self, openid: str, conv: str, state: str, data: dict, ttl_s: int) -> None:
        payload = json.dumps({"conv": conv, "state": state, "data": data}, ensure_ascii=False)
        # A trace outlives the conversation by a day, so a person who comes back after it
        # timed out can be told so instead of finding it silently gone (one round trip).
        self._primed = None
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._key(openid), payload, ex=ttl_s)
        pipe.set(self._trace_key(openid), conv, ex=ttl_s + LAPSE_MEMORY_S)
        pipe.execute()

    def clear(self, openid: str) -> None:
        self._primed = None
        self.redis.delete(self._key(openid), self._trace_key(openid))

    def person_lock(self, openid: str, lock_key: str, *, timeout: float,
                    blocking_timeout: float) -> "PersonLock":  # fmt: skip
        """The lock that lets one message per person be handled at a time; taking it also
        reads the person's conversation (one round trip, not two)."""
        lock = self.redis.lock(lock_key, timeout=timeout, blocking_timeout=blocking_timeout,
                               lock_class=PersonLock)  # fmt: skip
        lock.store, lock.openid = self, openid
        return lock

    def _trace_key(self, openid: str) -> str:
        return f"{self.prefix}conv-trace:{openid}"

    def lapsed(self, openid: str) -> str | None:
        """The name of a conversation that timed out (not finished or cancelled), once."""
        if self.redis.exists(self._key(openid)):
            return None
        conv = self.redis.get(self._trace_key(openid))  # GET+DEL, not GETDEL: Redis < 6.2
        if conv is not None:
            self.redis.delete(self._trace_key(openid))
        return conv.decode() if isinstance(conv, bytes) else conv


class PersonLock(Lock):
    """A redis-py Lock whose acquisition also reads the person's conversation into the store."""

    store: ConversationStore
    openid: str
    # SET NX PX as Lock.do_acquire does; on success, the conversation (false when none).
    LOCK_AND_READ = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2])}
end
return {0}
"""

    def do_acquire(self, token) -> bool:
        timeout_ms = int(self.timeout * 1000)
        script = self.redis.register_script(self.LOCK_AND_READ)
        got = script(keys=[self.name, self.store._key(self.openid)], args=[token, timeout_ms])
        if not got or not got[0]:
            return False
        self.store.prime(self.openid, got[1] if len(got) > 1 else None)
        return True
