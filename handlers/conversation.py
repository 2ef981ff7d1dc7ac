"""Conversations declared as data, in the manner of python-telegram-bot's ConversationHandler.

A conversation has entry points, a table of states (each a list of steps), fallbacks and a
timeout. A step is `(message, session) -> (reply, next_state)`; returning END finishes the
conversation, returning None keeps the current state. State lives in Redis per openid, with
an expiry, so any web worker can continue any conversation.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.exceptions import LockNotOwnedError, NoScriptError
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
    """Conversation state per openid in Redis: {"conv", "state", "data"} with a TTL.

    While this store holds a person's lock (PersonLock), the lock's acquisition has already
    read their conversation and their marks (a pending rebind question, "just filed"), and
    writes to their conversation and marks wait to go to Redis with the lock's release, in one
    round trip: a message costs the admission, the lock and the release, not a round trip for
    every read and write. Any other Redis read of the store sends the waiting writes first.
    """

    def __init__(self, redis_client, prefix: str):
        self.redis = redis_client
        self.prefix = prefix
        self._held: str | None = None  # the openid whose lock this store holds
        self._conv: str | None = None  # their conversation, as read with the lock or since set
        self._marks: dict[str, object] = {}  # marks read with the lock, each served once
        self._writes: list[tuple] = []  # (command, args, kwargs) waiting for the release

    def _key(self, openid: str) -> str:
        return f"{self.prefix}conv:{openid}"

    def hold(self, openid: str, raw, marks: dict) -> None:
        """The person's lock was just taken: their conversation and marks as it read them."""
        self._held = openid
        self._conv = raw.decode() if isinstance(raw, bytes) else raw
        self._marks = dict(marks)
        self._writes = []

    def let_go(self) -> list[tuple]:
        """The lock is being released: the writes that must go with it (and forget it)."""
        writes, self._writes, self._held, self._marks = self._writes, [], None, {}
        return writes

    def _later(self, command: str, *args, **kwargs) -> None:
        self._writes.append((command, args, kwargs))

    def pipeline(self, writes: list[tuple]):
        """A pipeline with `writes` (from let_go or waiting) queued on it, not yet sent."""
        pipe = self.redis.pipeline(transaction=False)
        for command, args, kwargs in writes:
            getattr(pipe, command)(*args, **kwargs)
        return pipe

    def flush(self) -> None:
        """Send the writes that wait for the release now (before a read that needs Redis)."""
        if self._writes:
            pipe, self._writes = self.pipeline(self._writes), []
            pipe.execute()

    def load(self, openid: str) -> dict | None:
        if openid == self._held:
            raw = self._conv
        else:
            self.flush()
            raw = self.redis.get(self._key(openid))
        return json.loads(raw) if raw else None

    def save(self, openid: str, conv: str, state: str, data: dict, ttl_s: int) -> None:
        payload = json.dumps({"conv": conv, "state": state, "data": data}, ensure_ascii=False)
        # A trace outlives the conversation by a day, so a person who comes back after it
        # timed out can be told so instead of finding it silently gone.
        if openid == self._held:
            self._conv = payload
            self._later("set", self._key(openid), payload, ex=ttl_s)
            self._later("set", self._trace_key(openid), conv, ex=ttl_s + LAPSE_MEMORY_S)
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._key(openid), payload, ex=ttl_s)
        pipe.set(self._trace_key(openid), conv, ex=ttl_s + LAPSE_MEMORY_S)
        pipe.execute()

    def clear(self, openid: str) -> None:
        if openid == self._held:
            self._conv = None
            self._later("delete", self._key(openid), self._trace_key(openid))
            return
        self.redis.delete(self._key(openid), self._trace_key(openid))

    def mark(self, key: str):
        """A mark of the person whose lock is held (read with the lock: served once, so a
        later read sees any write since), else read now."""
        if key in self._marks:
            return self._marks.pop(key)
        self.flush()
        return self.redis.get(key)

    def set_mark(self, key: str, value, ex: int) -> None:
        """Set a mark of the person whose lock is held, with the release (else now)."""
        if self._held is not None:
            self._marks.pop(key, None)
            self._later("set", key, value, ex=ex)
            return
        self.redis.set(key, value, ex=ex)

    def drop_mark(self, key: str) -> bool:
        """Delete a mark now; True if it was there."""
        self._marks.pop(key, None)
        self.flush()
        return bool(self.redis.delete(key))

    def person_lock(self, openid: str, lock_key: str, *, timeout: float, blocking_timeout: float,
                    marks: tuple[str, ...] = ()) -> "PersonLock":  # fmt: skip
        """The lock that lets one message per person be handled at a time; taking it also
        reads the person's conversation and `marks` (keys), in the same round trip."""
        lock = self.redis.lock(lock_key, timeout=timeout, blocking_timeout=blocking_timeout,
                               lock_class=PersonLock)  # fmt: skip
        lock.store, lock.openid, lock.marks = self, openid, marks
        return lock

    def _trace_key(self, openid: str) -> str:
        return f"{self.prefix}conv-trace:{openid}"

    def lapsed(self, openid: str) -> str | None:
        """The name of a conversation that timed out (not finished or cancelled), once."""
        if openid == self._held and self._conv is not None:
            return None
        self.flush()
        if self.redis.exists(self._key(openid)):
            return None
        conv = self.redis.get(self._trace_key(openid))  # GET+DEL, not GETDEL: Redis < 6.2
        if conv is not None:
            self.redis.delete(self._trace_key(openid))
        return conv.decode() if isinstance(conv, bytes) else conv


class PersonLock(Lock):
    """A redis-py Lock whose acquisition also reads the person's conversation and marks into
    the store, and whose release carries the store's waiting writes."""

    store: ConversationStore
    openid: str
    marks: tuple[str, ...] = ()
    # SET NX PX as Lock.do_acquire does; on success, the conversation and the marks (false
    # for a missing key).
    LOCK_AND_READ = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local found = {1}
  for i = 2, #KEYS do
    found[i] = redis.call('GET', KEYS[i])
  end
  return found
end
return {0}
"""
    lua_lock_and_read = None

    def do_acquire(self, token) -> bool:
        cls = type(self)
        if cls.lua_lock_and_read is None:
            cls.lua_lock_and_read = self.redis.register_script(cls.LOCK_AND_READ)
        keys = [self.name, self.store._key(self.openid), *self.marks]
        got = cls.lua_lock_and_read(keys=keys, args=[token, int(self.timeout * 1000)],
                                    client=self.redis)  # fmt: skip
        if not got or not got[0]:
            return False
        values = list(got[1:]) + [None] * (len(keys) - len(got))  # Lua stops a table at nil
        self.store.hold(self.openid, values[0], dict(zip(self.marks, values[1:], strict=True)))
        return True

    def do_release(self, expected_token) -> None:
        writes = self.store.let_go()
        if not writes:
            return super().do_release(expected_token)
        pipe = self.store.pipeline(writes)
        # EVALSHA directly: a Script called on a pipeline first asks SCRIPT EXISTS, a round trip.
        pipe.evalsha(self.lua_release.sha, 1, self.name, expected_token)
        *done, released = pipe.execute(raise_on_error=False)
        for result in done:
            if isinstance(result, Exception):
                raise result
        if isinstance(released, NoScriptError):  # Redis restarted: the script is loaded anew
            released = self.lua_release(keys=[self.name], args=[expected_token], client=self.redis)
        elif isinstance(released, Exception):
            raise released
        if not released:
            raise LockNotOwnedError("Cannot release a lock that's no longer owned",
                                    lock_name=self.name)  # fmt: skip
