"""Capacity benchmark: scale-out with web processes, a 10x burst, and memory per process.

    .venv/bin/python -m bench.capacity --workers-list 1,2,4 --duration 10

On one PostgreSQL and Redis, in one run:

- scale-out: Sidan and the same-work floor under gunicorn with 1, 2 and 4 worker processes
  (8 threads each), loaded in turn with wrk on scenario a (a resident's first message): the
  throughput of each and Sidan's ratio to the floor. On a 2-core machine the point is that
  nothing serialises: throughput should grow until the cores are full, not stop at one
  process;
- burst: Sidan at the default worker count, sent `--burst-factor` x the paced rate (10 x
  100 messages/s) for `--burst-seconds`, open loop, latency from each message's scheduled
  send time: the slowest answer must stay under WeChat's 5 s. Messages that waited past
  SHED_AFTER_S are parked and answered "received" at once; a `sidan scheduler` then replays
  them, and the time until the last is handled (its reply queued for push) is reported;
- memory: the resident set size (VmRSS) of every Sidan web worker after the load, and of one
  `sidan scheduler` process after it has drained the outbox rows the load queued.

Results go to bench/results/capacity-<time>.json and are printed; `docs/benchmarks.md` quotes
them.
"""

import argparse
import contextlib
import json
import os
import subprocess
import time
from copy import copy
from datetime import datetime
from pathlib import Path

import redis as redis_lib

from bench import load, webhook
from bench.webhook import MARKERS, PY, RESULTS, ROOT, TOKEN, log

WECHAT_LIMIT_MS = 5000
SIGNING_LEAD_S = 3.0  # time to sign a burst's pool before its first message is due
WARM_UP_RATE = 100.0  # messages/s before the burst: the paced rate, well within capacity
REPLAY_LIMIT_S = 600  # the scheduler's replay of a burst's backlog is given up after this
MB = 1024 * 1024


def _proc_kb(path: str, field: str) -> int:
    """A "Field:  N kB" line of a /proc file, in bytes (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(pid: int) -> int:
    """VmRSS of one process, in bytes."""
    return _proc_kb(f"/proc/{pid}/status", "VmRSS")


def pss_bytes(pid: int) -> int:
    """Proportional set size: pages shared with the gunicorn master (the classifier's arrays,
    the imported code) counted as a share, so the workers' PSS adds up to what they cost."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss")


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's workers under its master)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "stat").read_text()
            if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def worker_rss(master: int) -> dict:
    """RSS of the gunicorn master and each worker under it, in MB."""
    pids = children(master)
    workers = [rss_bytes(p) / MB for p in pids]
    pss = [pss_bytes(p) / MB for p in pids]
    return {
        "master_mb": round(rss_bytes(master) / MB, 1),
        "workers_mb": [round(w, 1) for w in sorted(workers)],
        "max_worker_mb": round(max(workers), 1) if workers else None,
        "workers_pss_mb": [round(w, 1) for w in sorted(pss)],
        "max_worker_pss_mb": round(max(pss), 1) if pss else None,
    }


def scale_out(args, world) -> list[dict]:
    rows = []
    for n in args.workers_list:
        wargs = copy(args)
        wargs.workers = n
        with webhook.Servers(wargs) as servers:
            bench = webhook.Bench(wargs, servers, world)
            bench.est_rate["a"] = args.max_rate
            bench.sidan_wrk("a", "warm-up", duration=args.warmup)
            bench.yardstick_wrk("floor", "a", duration=args.warmup)
            sidan, floor = [], []
            for rep in range(1, args.reps + 1):
                s = bench.sidan_wrk("a", rep)
                f = bench.yardstick_wrk("floor", "a")
                sidan.append(s.rps)
                floor.append(f.rps)
                log(f"  {n} worker(s) rep {rep}: sidan {s.rps:.0f}/s, floor {f.rps:.0f}/s"
                    f"{'' if s.valid else '  (SIDAN INVALID)'}")  # fmt: skip
            row = {
                "workers": n,
                "sidan_rps": round(webhook.median(sidan), 1),
                "floor_rps": round(webhook.median(floor), 1),
                "rss": worker_rss(servers.pid("sidan")),
            }
            row["ratio_floor"] = round(row["sidan_rps"] / row["floor_rps"], 2)
            rows.append(row)
            log(f"scale-out {row}")
    return rows


def burst(args, world) -> dict:
    rate = args.rate * args.burst_factor
    n = int(rate * args.burst_seconds)
    wargs = copy(args)
    wargs.workers = args.workers
    wargs.clock_slack = 1.0  # as in production: the burst's messages are signed when due
    with webhook.Servers(wargs) as servers:
        bench = webhook.Bench(wargs, servers, world)
        # Warmed up paced and signed when due: wrk's pool is signed before its run, and with
        # production's slack its trailing stamps would be shed as a backlog.
        sidan = servers.urls["sidan"] + "/wechat"
        warm = world.first_messages(int(WARM_UP_RATE * args.warmup))
        _paced_when_due(sidan, warm, WARM_UP_RATE, MARKERS["a"])
        # Signed with the second each is due to be sent, as WeChat signs: a message that then
        # waits in the server's queue shows its age, and Sidan sheds it or shortens its budget.
        log(f"burst: {n} first messages at {rate:.0f}/s (open loop)")
        result, sent_from = _paced_when_due(sidan, world.first_messages(n), rate, MARKERS["a"])
        rss = worker_rss(servers.pid("sidan"))
        backlog = replay_backlog(args, sent_from)
        # The same burst on the same-work floor: is a slow answer Sidan's or the machine's? And
        # on the echo bot: what this machine and this client reach when the server does next
        # to nothing (the paced client shares the 2 cores).
        yardsticks = {}
        for name, marker in (("floor", webhook.FLOOR_MARKER), ("echo", webhook.ECHO_MARKER)):
            bench.yardstick_wrk(name, "a", duration=args.warmup)
            yardsticks[name], _ = _paced_when_due(servers.urls[name] + "/wechat",
                                                  world.echo_messages("a", n), rate, marker)  # fmt: skip
        floor, echo = yardsticks["floor"], yardsticks["echo"]
    row = {
        "rate": rate,
        "messages": n,
        "answered": result.ok,
        "summary_replies": result.matched,
        "errors": result.errors,
        "p50_ms": round(result.p50_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
        "max_ms": round(result.max_ms, 1),
        "under_5s": result.max_ms < WECHAT_LIMIT_MS and result.errors == 0,
        "achieved_rps": round(result.rps, 1),
        "rss": rss,
        # Answered with "received, the reply follows" (shed, or over the budget); their
        # replies are pushed once the scheduler has replayed the backlog.
        "answered_later": result.ok - result.matched,
        "backlog": backlog,
        "floor": _paced_row(floor),
        "echo": _paced_row(echo),
    }
    log(f"burst {row}")
    return row


def _paced_when_due(url: str, messages, rate: float, marker: str):
    """Sign each message with the second it is due (as WeChat signs), send them open loop at
    `rate`; the result, and when the first was due."""
    start = time.time() + SIGNING_LEAD_S
    pool = load.signed_pool(TOKEN, messages, rate=rate, start=start)
    time.sleep(max(0.0, start - time.time()))
    return load.run_paced(url, pool, rate=rate, marker=marker, timeout_s=30), start


def _paced_row(result) -> dict:
    return {
        "answered": result.ok,
        "errors": result.errors,
        "p50_ms": round(result.p50_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
        "max_ms": round(result.max_ms, 1),
        "achieved_rps": round(result.rps, 1),
    }


def replay_backlog(args, sent_from: float) -> dict:
    """Start one `sidan scheduler`, as production runs it, and time its replay of the messages
    the burst parked: when the last one is handled, its reply is queued for push."""
    from bot.inbox import Inbox

    client = redis_lib.Redis.from_url(args.redis_url)
    queue = Inbox.queue_key(args.redis_prefix)
    parked = client.zcard(queue)
    row = {"parked": parked}
    if not parked:
        return row
    logfile = open(args.out_dir / "scheduler-replay.log", "wb")  # noqa: SIM115 - closed below
    started = time.time()
    proc = subprocess.Popen([PY, "-m", "bot.cli", "scheduler"], cwd=ROOT,
                            env=webhook.server_env(args), stdout=logfile,
                            stderr=subprocess.STDOUT)  # fmt: skip
    peak = 0
    try:
        while client.zcard(queue) and time.time() - started < REPLAY_LIMIT_S:
            time.sleep(0.25)
            peak = max(peak, rss_bytes(proc.pid))
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        logfile.close()
    done = time.time()
    row.update(
        left=client.zcard(queue),
        replayed_in_s=round(done - started, 1),
        per_s=round((parked - client.zcard(queue)) / max(done - started, 1e-9), 1),
        last_reply_after_send_s=round(done - sent_from, 1),
        scheduler_rss_peak_mb=round(peak / MB, 1),
    )
    log(f"burst backlog {row}")
    return row


def scheduler_rss(args) -> dict:
    """One `sidan scheduler` after it has had time to drain what the load queued."""
    from models.enums import OutboundStatus
    from models.outbox import Outbound

    queued_before = Outbound.select().where(Outbound.status == OutboundStatus.PENDING).count()
    env = webhook.server_env(args)
    logfile = open(args.out_dir / "scheduler.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([PY, "-m", "bot.cli", "scheduler"], cwd=ROOT, env=env,
                            stdout=logfile, stderr=subprocess.STDOUT)  # fmt: skip
    peak, samples = 0, []
    try:
        deadline = time.monotonic() + args.scheduler_seconds
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1)
            now = rss_bytes(proc.pid)  # the scheduler is one process: RSS is its cost
            peak = max(peak, now)
            samples.append(now)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        logfile.close()
    queued_after = Outbound.select().where(Outbound.status == OutboundStatus.PENDING).count()
    row = {
        "seconds": args.scheduler_seconds,
        "outbox_queued_before": queued_before,
        "outbox_queued_after": queued_after,
        "rss_end_mb": round(samples[-1] / MB, 1) if samples else None,
        "rss_peak_mb": round(peak / MB, 1),
    }
    log(f"scheduler {row}")
    return row


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers-list", default="1,2,4")
    p.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--rate", type=float, default=100, help="the paced rate the burst multiplies")
    p.add_argument("--burst-factor", type=float, default=10)
    p.add_argument("--burst-seconds", type=float, default=5)
    p.add_argument("--scheduler-seconds", type=float, default=60)
    p.add_argument("--skip-scale-out", action="store_true")
    p.add_argument("--skip-burst", action="store_true")
    args = p.parse_args(argv)
    base = webhook.parse_args([])
    for key, value in vars(args).items():
        setattr(base, key, value)
    base.workers_list = [int(x) for x in args.workers_list.split(",") if x]
    base.db = "sidan_bench_capacity"
    return base


def main(argv=None) -> dict:
    args = parse_args(argv)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out_dir = RESULTS / f"capacity-{stamp}"
    (args.out_dir / "var").mkdir(parents=True, exist_ok=True)
    args.redis_prefix = f"sidan-bench:{stamp}:{os.getpid()}:"
    redis_client = redis_lib.Redis.from_url(args.redis_url, decode_responses=True)
    started = time.time()
    webhook.recreate_database(args.db)
    result: dict = {"started": datetime.fromtimestamp(started).isoformat(timespec="seconds")}
    try:
        webhook.cli(args, "init-db")
        webhook.cli(args, "seed-demo")
        world = webhook.World(args, redis_client)
        if not args.skip_scale_out:
            result["scale_out"] = scale_out(args, world)
        if not args.skip_burst:
            result["burst"] = burst(args, world)
        result["scheduler"] = scheduler_rss(args)
        result["commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
        result["seconds"] = round(time.time() - started, 1)
    finally:
        for key in redis_client.scan_iter(f"{args.redis_prefix}*", count=1000):
            redis_client.delete(key)
        with contextlib.suppress(Exception):
            from models.db import database

            if not database.is_closed():
                database.close()
            database.obj.close_all()
        webhook.drop_database(args.db)
    out = args.out_dir / "capacity.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    log(f"results in {out}")
    return result


if __name__ == "__main__":
    main()
