"""The embedded defaults a newcomer runs: no REDIS_URL, so fakeredis stands in (in-process,
or over TCP as `sidan run` shares it). Lua must work there: the lease and locks use it."""

import threading

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.app import create_app
from bot.chat import ChatClient
from bot.cli import _start_embedded_redis
from scheduler.lease import Lease


def test_the_webhook_runs_a_conversation_without_redis_url(config, demo, live_server_factory):
    config.REDIS_URL = None
    app = create_app(config)
    url = live_server_factory(app)
    resident = ChatClient(url, config.WECHAT_TOKEN, "demo_resident_1")
    assert "类别：供电/照明" in resident.say("3号楼楼道灯坏了好几天了")
    assert "工单号 #1" in resident.say("确认")


def test_the_scheduler_lease_works_on_the_shared_tcp_stand_in():
    server = _start_embedded_redis()
    try:
        host, port = server.server_address
        first = Lease(redis.Redis(host=host, port=port), "sidan:test:lease", ttl_s=5)
        second = Lease(redis.Redis(host=host, port=port), "sidan:test:lease", ttl_s=5)
        assert first.acquire() and not second.acquire()
        assert first.renew()
        first.release()
        assert second.acquire()
    finally:
        server.shutdown()


def test_a_forked_worker_does_not_inherit_a_held_classifier_lock():
    """gunicorn forks workers from the master; a lock held there must not follow them."""
    import os

    from handlers import classifier

    held, release = threading.Event(), threading.Event()

    def hold():
        with classifier._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the "worker": the lock must be free here
        os._exit(0 if classifier._lock.acquire(timeout=2) else 1)
    release.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_an_error_reply_keeps_the_stand_in_connection_open():
    """The first Lua call of a fresh client gets NOSCRIPT and loads the script on the same
    connection; the stand-in used to hang up there ("Redis unreachable" on a first message)."""
    server = _start_embedded_redis()
    try:
        host, port = server.server_address
        # No retries: a dropped connection must show, not be papered over by a reconnect.
        client = redis.Redis(
            host=host, port=port, decode_responses=True, retry=Retry(NoBackoff(), 0)
        )
        claim = client.register_script("return redis.call('SET', KEYS[1], ARGV[1], 'NX')")
        assert claim(keys=["sidan:test:claim"], args=["1"]) == "OK"
        client.set("sidan:test:text", "x")
        with pytest.raises(redis.ResponseError):
            client.incr("sidan:test:text")
        assert client.get("sidan:test:text") == "x"  # same connection, still answering
    finally:
        server.shutdown()
