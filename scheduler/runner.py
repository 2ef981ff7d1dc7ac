"""`sidan scheduler`: APScheduler running the jobs while this process holds the Redis lease.

Every job is safe to run twice (compare-and-set on tickets, atomic outbox claims, digest
dedupe keys), so the lease is about not doing the work twice, not about correctness: a
leader that stalls past its lease and overlaps its successor for one run does no harm.
"""

import logging
import os
import signal
import socket
import threading
import time
import uuid
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from models import links, shop
from models.clock import CHINA
from models.db import database
from scheduler import jobs
from scheduler.lease import Lease
from scheduler.votes import votes_job

log = logging.getLogger("sidan.scheduler")

LEASE_KEY = "scheduler:lease"
LEASE_TTL_S = 10.0
DRAIN_EVERY_S = 5.0
SWEEP_EVERY_S = 60.0


def _guarded(name: str, fn, lease: Lease):
    """Run `fn` only while leading, with its own database connection; never raise."""

    def run():
        if not lease.held:
            return
        started = time.monotonic()
        try:
            with database.connection_context():
                fn()
        except Exception:
            log.exception("job %s failed", name)
        else:
            log.debug("job %s took %.3fs", name, time.monotonic() - started)

    return run


def _configure_links(config) -> None:
    """Digests carry a dashboard login link when the config can sign one."""
    if hasattr(config, "secret_key") and getattr(config, "PUBLIC_BASE_URL", None):
        links.configure_from(config)


def template_ids(config) -> dict:
    """Template ids per notice kind for the drain: the Official Account's, with the
    mini-program's subscribe-message ids under "subscribe"."""
    ids = dict(getattr(config, "TEMPLATE_IDS", None) or {})
    mini = getattr(config, "MINI_TEMPLATE_IDS", None)
    if mini:
        ids["subscribe"] = dict(mini)
    return ids


def build_scheduler(lease: Lease, transport, config, *, drain_every_s=DRAIN_EVERY_S,
                    sweep_every_s=SWEEP_EVERY_S, extra_jobs=()) -> BackgroundScheduler:  # fmt: skip
    """A BackgroundScheduler (Beijing time) with the sweep, drain and digest jobs, plus
    `extra_jobs` as (name, fn, every_s) from the layer above (the webhook's replay of parked
    messages: scheduler/ may not import bot/)."""
    hour = int(getattr(config, "DIGEST_HOUR", 8))
    _configure_links(config)
    templates = template_ids(config)
    sched = BackgroundScheduler(
        timezone=CHINA,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
    )
    daily = CronTrigger(hour=hour, minute=0, timezone=CHINA)
    weekly = CronTrigger(day_of_week="mon", hour=hour, minute=0, timezone=CHINA)
    table = [
        (
            "drain",
            partial(jobs.drain_job, transport, templates),
            IntervalTrigger(seconds=drain_every_s),
        ),
        ("sweep", jobs.sweep_job, IntervalTrigger(seconds=sweep_every_s)),
        ("votes", votes_job, IntervalTrigger(seconds=sweep_every_s)),
        ("daily_digest", partial(jobs.digest_job, "daily"), daily),
        ("weekly_digest", partial(jobs.digest_job, "weekly"), weekly),
        ("expire_codes", shop.expire_unclaimed, CronTrigger(hour=3, minute=0, timezone=CHINA)),
    ]
    table += [(name, fn, IntervalTrigger(seconds=every)) for name, fn, every in extra_jobs]
    for name, fn, trigger in table:
        sched.add_job(_guarded(name, fn, lease), trigger, id=name, name=name)
    return sched


def _install_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signals can only be handled in the main thread (tests run us elsewhere)

    def on_signal(signum, frame):
        log.info("signal %s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def run_forever(redis_client, transport, config, *, stop: threading.Event | None = None,
                lease_ttl_s: float = LEASE_TTL_S, **intervals) -> None:  # fmt: skip
    """Hold (or wait for) the lease and run the jobs until SIGTERM/SIGINT or `stop`."""
    stop = stop or threading.Event()
    _install_signals(stop)
    # The owner names its host and pid, so an operator (or a chaos test) can tell who leads.
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    lease = Lease(redis_client, config.REDIS_PREFIX + LEASE_KEY, ttl_s=lease_ttl_s, owner=owner)
    sched = build_scheduler(lease, transport, config, **intervals)
    sched.start()
    log.info("scheduler %s started; waiting for the lease", lease.owner)
    leading = False
    try:
        while not stop.is_set():
            now_leading = lease.keep()
            if now_leading != leading:
                log.info("scheduler %s is %s", lease.owner, "leader" if now_leading else "standby")
                leading = now_leading
            # Renew at a third of the TTL: two missed renewals still leave time to act.
            stop.wait(lease_ttl_s / 3)
    finally:
        sched.shutdown(wait=True)
        lease.release()
        log.info("scheduler %s stopped", lease.owner)


def run_once(transport, config=None, *, digests: bool = False) -> dict:
    """Run each job once now (operators and tests); digests only when asked."""
    templates = template_ids(config)
    result = {"sweep": dict(jobs.sweep_job())}
    voted = votes_job()
    if voted:
        result["votes"] = voted
    if digests:
        result["daily_digest"] = jobs.digest_job("daily")
        result["weekly_digest"] = jobs.digest_job("weekly")
    result["drain"] = jobs.drain_job(transport, templates)
    return result
