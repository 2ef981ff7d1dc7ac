"""The leader lease on the real Redis: one holder, takeover after expiry, no stale writes."""

import time

import pytest

from scheduler.lease import Lease


@pytest.fixture
def key(redis_prefix):
    return redis_prefix + "scheduler:lease"


def test_only_one_of_two_holds_the_lease(redis_client, key):
    first, second = Lease(redis_client, key, ttl_s=5), Lease(redis_client, key, ttl_s=5)
    assert first.keep() is True
    assert second.keep() is False
    assert (first.held, second.held) == (True, False)
    assert first.holder() == first.owner
    assert first.keep() is True  # renewing keeps it
    assert second.keep() is False


def test_second_takes_over_when_the_leader_stops_renewing(redis_client, key):
    leader, standby = Lease(redis_client, key, ttl_s=0.3), Lease(redis_client, key, ttl_s=0.3)
    assert leader.acquire()
    assert not standby.keep()
    time.sleep(0.4)
    assert leader.held is False  # the leader's own clock says stop acting
    assert standby.keep() is True
    assert standby.holder() == standby.owner


def test_stale_holder_cannot_renew_or_release_the_new_leaders_lease(redis_client, key):
    stale, fresh = Lease(redis_client, key, ttl_s=0.2), Lease(redis_client, key, ttl_s=5)
    assert stale.acquire()
    time.sleep(0.3)
    assert fresh.acquire()
    assert stale.renew() is False
    assert stale.release() is False
    assert fresh.holder() == fresh.owner
    assert redis_client.pttl(key) > 4000
    assert stale.keep() is False


def test_release_lets_the_standby_take_over_at_once(redis_client, key):
    leader, standby = Lease(redis_client, key, ttl_s=30), Lease(redis_client, key, ttl_s=30)
    assert leader.acquire()
    assert leader.release() is True
    assert leader.held is False
    assert redis_client.exists(key) == 0
    assert standby.keep() is True


def test_renew_extends_the_expiry(redis_client, key):
    lease = Lease(redis_client, key, ttl_s=1)
    assert lease.acquire()
    time.sleep(0.5)
    assert lease.renew()
    assert redis_client.pttl(key) > 800


def test_redis_outage_keeps_leading_only_until_the_ttl_runs_out(redis_client, key):
    lease = Lease(redis_client, key, ttl_s=0.3)
    assert lease.acquire()

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    lease._renew = down
    lease.redis = type("Down", (), {"set": staticmethod(down)})()
    assert lease.keep() is True  # still inside the TTL Redis granted
    time.sleep(0.35)
    assert lease.keep() is False
