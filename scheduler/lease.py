"""The leader lease: one Redis key, so only one scheduler process runs the jobs.

SET NX PX takes the lease; a Lua compare-and-extend renews it and a Lua compare-and-delete
releases it, so a holder that stalled past its expiry can neither renew nor release the
lease a newer leader now holds.
"""

import logging
import time
import uuid

log = logging.getLogger("sidan.scheduler.lease")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    """A time-limited lock held by one owner; call `keep()` well within `ttl_s`."""

    def __init__(self, redis_client, key: str, ttl_s: float = 30.0, owner: str | None = None):
        self.redis = redis_client
        self.key = key
        self.ttl_ms = int(ttl_s * 1000)
        self.owner = owner or f"{uuid.uuid4().hex}"
        self._valid_until = 0.0  # local monotonic time the lease surely lasts until
        self._renew = redis_client.register_script(_RENEW)
        self._release = redis_client.register_script(_RELEASE)

    @property
    def held(self) -> bool:
        """True while this owner holds the lease by its own clock (errs on the safe side)."""
        return time.monotonic() < self._valid_until

    def _granted(self, started: float) -> bool:
        # Count from before the call: Redis started the TTL no earlier than that.
        self._valid_until = started + self.ttl_ms / 1000.0
        return True

    def acquire(self) -> bool:
        """Take the lease if nobody holds it."""
        started = time.monotonic()
        if self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms):
            log.info("lease %s acquired by %s", self.key, self.owner)
            return self._granted(started)
        return False

    def renew(self) -> bool:
        """Extend the lease if this owner still holds it; False means it was lost."""
        started = time.monotonic()
        if self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]):
            return self._granted(started)
        if self._valid_until:
            log.warning("lease %s lost by %s", self.key, self.owner)
        self._valid_until = 0.0
        return False

    def keep(self) -> bool:
        """Renew when holding, otherwise try to take over; True while this owner leads."""
        try:
            return self.renew() or self.acquire()
        except Exception:
            # Redis unreachable: keep leading only until our own view of the TTL runs out.
            log.exception("lease %s: Redis error", self.key)
            return self.held

    def release(self) -> bool:
        """Give the lease up if this owner holds it (never deletes another owner's)."""
        self._valid_until = 0.0
        try:
            released = bool(self._release(keys=[self.key], args=[self.owner]))
        except Exception:
            log.exception("lease %s: release failed; it will expire by itself", self.key)
            return False
        if released:
            log.info("lease %s released by %s", self.key, self.owner)
        return released

    def holder(self) -> str | None:
        """The owner currently recorded in Redis (for operators and tests)."""
        return self.redis.get(self.key)
