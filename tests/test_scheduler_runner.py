"""Two scheduler processes (as threads) on the real Redis: one leads, the other takes over."""

import threading
import time
from collections import Counter
from datetime import timedelta

from bot.gateway import RecordingTransport
from models import clock, outbox
from models.enums import OutboundStatus
from models.org import Compound, User
from models.outbox import Outbound
from models.tickets import TicketEvent
from scheduler import runner


def wait_for(predicate, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def all_sent() -> bool:
    return not Outbound.select().where(Outbound.status != OutboundStatus.SENT).exists()


def start(redis_client, config, transport):
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run_forever,
        args=(redis_client, transport, config),
        kwargs={"stop": stop, "lease_ttl_s": 0.6, "drain_every_s": 0.1, "sweep_every_s": 0.2},
        daemon=True,
    )
    thread.start()
    return stop, thread


def test_two_schedulers_send_once_and_the_standby_takes_over(db, redis_client, config):
    user = User.create(openid="o_run", name="测试", last_message_at=clock.now())
    for n in range(20):
        outbox.enqueue(user, f"第{n}条")
    a, b = RecordingTransport(), RecordingTransport()
    stop_a, thread_a = start(redis_client, config, a)
    stop_b, thread_b = start(redis_client, config, b)
    try:
        assert wait_for(all_sent)
        leader, standby = (a, b) if a.messages else (b, a)
        assert len(leader.messages) == 20 and standby.messages == []
        stop_leader = stop_a if leader is a else stop_b
        stop_leader.set()
        (thread_a if leader is a else thread_b).join(10)
        for n in range(20, 30):
            outbox.enqueue(user, f"第{n}条")
        assert wait_for(all_sent)
        assert len(standby.messages) == 10
        texts = Counter(m.text for m in a.messages + b.messages)
        assert texts == Counter({f"第{n}条": 1 for n in range(30)})
    finally:
        stop_a.set()
        stop_b.set()
        thread_a.join(10)
        thread_b.join(10)
    assert redis_client.exists(config.REDIS_PREFIX + runner.LEASE_KEY) == 0  # released on stop


def test_run_once_sweeps_and_drains(db, demo, config):
    from models import lifecycle

    compound = Compound.get(Compound.name == "幸福里小区")
    ticket = lifecycle.submit(demo.resident_1, "路灯坏了", "power_lighting", compound=compound)
    clock.advance(timedelta(hours=2))
    rec = RecordingTransport()
    result = runner.run_once(rec, config)
    assert result["sweep"] == {"remind": 1}
    assert result["drain"] == Outbound.select().count() == len(rec.messages)
    assert TicketEvent.select().where(TicketEvent.ticket == ticket).count() == 2
    assert runner.run_once(rec, config) == {"sweep": {}, "drain": 0}


def test_scheduler_has_the_four_jobs_on_beijing_time(redis_client, config):
    from scheduler.lease import Lease

    sched = runner.build_scheduler(Lease(redis_client, "k"), RecordingTransport(), config)
    jobs = {job.id: job for job in sched.get_jobs()}
    assert set(jobs) == {"drain", "sweep", "votes", "daily_digest", "weekly_digest", "expire_codes"}
    assert str(jobs["daily_digest"].trigger) == "cron[hour='8', minute='0']"
    assert "day_of_week='mon'" in str(jobs["weekly_digest"].trigger)
    assert str(jobs["daily_digest"].trigger.timezone) == "Asia/Shanghai"


def _scheduler_log(config, tmp_path, log_level: str, until: str) -> str:
    """Run a real `sidan scheduler` process with LOG_LEVEL until its log shows `until`."""
    import os
    import signal
    import subprocess

    from tests.test_chaos import SIDAN, base_env

    env = base_env(config, SCHEDULER_DRAIN_EVERY_S=0.3, SCHEDULER_LEASE_TTL_S=2)
    env["LOG_LEVEL"] = log_level
    path = tmp_path / f"scheduler-{len(list(tmp_path.iterdir()))}.log"
    with path.open("w") as stderr:
        process = subprocess.Popen([SIDAN, "scheduler"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=stderr, start_new_session=True)  # fmt: skip
        try:
            wait_for(lambda: until in path.read_text(), timeout=45)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    return path.read_text()


def test_the_scheduler_logs_its_work_not_every_job_run(db, demo, config, tmp_path):
    from models.db import database

    outbox.enqueue(demo.resident_1, "日志测试一。")
    database.close()
    quiet = _scheduler_log(config, tmp_path, "INFO", until="drain: 1 message(s) handled")
    assert "drain: 1 message(s) handled" in quiet  # Sidan's own line about real work
    assert "is leader" in quiet
    assert "Running job" not in quiet and "executed successfully" not in quiet
    # Asked for by name in LOG_LEVEL, APScheduler's lines come back.
    chatty = _scheduler_log(config, tmp_path, "INFO,apscheduler.executors=INFO",
                            until="executed successfully")  # fmt: skip
    assert "Running job" in chatty and "executed successfully" in chatty


def test_log_level_names_a_root_level_and_optional_loggers():
    from bot.logs import parse_levels

    assert parse_levels("info") == ("INFO", {})
    assert parse_levels("WARNING, apscheduler.executors=debug") == (
        "WARNING", {"apscheduler.executors": "DEBUG"}
    )  # fmt: skip
