"""Webhook benchmark: Sidan on PostgreSQL + Redis against the same-work floor and an echo bot.

    .venv/bin/python -m bench.webhook --duration 15 --connections 16

All three run under gunicorn with the options `sidan serve` uses (gthread, 2 x cores + 1
workers, 8 threads) on this machine, and are loaded in the same run, in turn, by the same
generator at the same concurrency. The floor (bench/floor_bot.py) does only what filing must
do on this stack (verify, parse, SET NX dedup, conversation load and save, ticket + event +
outbox row in one transaction); the echo bot only verifies, parses and echoes. Only ratios taken in one run mean anything on a shared
2-core machine. Scenarios, each with unique signed messages (a fresh MsgId per request):

  a  a resident's first message, which starts a report conversation (reply: the summary)
  b  “确认” from a resident whose report waits for confirmation (reply: 工单号; files a ticket)
  c  a volunteer's “接单 #N” on a pool ticket (reply: 接单成功)

Then p99 at a fixed 100 messages/s (open loop, latency from the scheduled send time) for a
and b. Results go to bench/results/webhook-<time>.json; `python -m bench` writes the report.
"""

import argparse
import contextlib
import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import psycopg2
import redis as redis_lib

from bench import load
from bench.cpu import CpuMeter

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable
TOKEN = "sidan-bench-token"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
# Residents live in the three compounds of 幸福社区, whose dispatcher is demo_dispatcher_1.
BENCH_COMPOUNDS = ["幸福里小区", "丹桂苑", "金桥花园"]
MARKERS = {"a": "请确认报事内容", "b": "工单号", "c": "接单成功"}
TAKE_CREW = 256  # volunteers who take the pool tickets in scenario c, in turn
ECHO_MARKER = "<MsgType><![CDATA[text]]></MsgType>"
FLOOR_MARKER = "工单号"
# The yardsticks served beside Sidan: (module, reply marker, port offset from Sidan's).
YARDSTICKS = {"echo": ("bench.echo_bot", ECHO_MARKER, 1),
              "floor": ("bench.floor_bot", FLOOR_MARKER, 2)}  # fmt: skip
# `cli` is `sidan serve` itself; `direct` calls the same run_gunicorn without the Flask CLI
# building an app in the gunicorn master first (bench/serve_sidan.py says why it mattered).
LAUNCHERS = {"direct": ["bench.serve_sidan"], "cli": ["bot.cli", "serve"]}
SERVERS = ("sidan", *YARDSTICKS)
SCENARIO_NAMES = {
    "a": "first report message (starts a conversation)",
    "b": "“确认” files a ticket",
    "c": "volunteer “接单 #N” on a pool ticket",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- set-up ---------------------------------------------------------------------------------


def pg_url(db: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{db}"


def recreate_database(name: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def drop_database(name: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def server_env(args) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=pg_url(args.db),
        REDIS_URL=args.redis_url,
        REDIS_PREFIX=args.redis_prefix,
        WECHAT_TOKEN=TOKEN,
        SIDAN_VAR_DIR=str(args.out_dir / "var"),
        PYTHONUNBUFFERED="1",
        # A burst of one person's messages is the load here, not abuse.
        WEBHOOK_RATE_PER_MIN="1000000",
        # wrk replays a pool signed before the run: its timestamps trail by up to a run's
        # length, which is not waiting. Paced bursts sign each message when it is due and
        # keep the production slack (capacity.burst).
        CLOCK_SLACK_S=str(getattr(args, "clock_slack", None) or args.duration + 60),
    )
    for name in ("WECHAT_APPID", "WECHAT_SECRET", "WECHAT_AES_KEY"):
        env.pop(name, None)  # console transport: nothing leaves the machine
    return env


def cli(args, *cmd: str) -> None:
    subprocess.run([PY, "-m", "bot.cli", *cmd], cwd=ROOT, env=server_env(args), check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


class Servers:
    """Sidan (`sidan serve`), the echo bot and the floor, each under gunicorn with the same
    settings."""

    def __init__(self, args):
        self.args = args
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls = {"sidan": f"http://127.0.0.1:{args.port}"}
        for name, (_, _, offset) in YARDSTICKS.items():
            self.urls[name] = f"http://127.0.0.1:{args.port + offset}"

    def __enter__(self):
        a = self.args
        common = ["--host", "127.0.0.1", "--workers", str(a.workers), "--threads", str(a.threads)]
        cmds = {"sidan": [PY, "-m", *LAUNCHERS[a.launcher], "--port", str(a.port), *common]}
        for name, (module, _, offset) in YARDSTICKS.items():
            cmds[name] = [PY, "-m", module, "--port", str(a.port + offset), *common]
        env = server_env(a)
        for name, cmd in cmds.items():
            logfile = open(a.out_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the server
            self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logfile,
                                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            for name, url in self.urls.items():
                _wait_healthy(url, self.procs[name], name)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def pid(self, name: str) -> int:
        return self.procs[name].pid


def _wait_healthy(url: str, proc: subprocess.Popen, name: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} did not become healthy at {url}")


# --- the world the scenarios need ---------------------------------------------------------


class World:
    """Bench users, primed conversations and pool tickets, handed out once each."""

    def __init__(self, args, redis_client):
        from bot.config import Config
        from bot.services import connect_database

        self.args = args
        self.redis = redis_client
        connect_database(Config(DATABASE_URL=pg_url(args.db)))
        from models.db import database

        self.db = database
        self.db.connect(reuse_if_open=True)
        self.texts = report_texts()
        self.resident_seq = itertools.count(1)
        self.volunteer_seq = itertools.count(1)
        self._crew: list[str] = []
        self.used_residents: list[str] = []  # sent a first message (a) and not yet confirmed
        self.primed: deque[str] = deque()
        self.pool_tickets: deque[int] = deque()
        self.filed_reporters: deque[str] = deque()
        self.state_counts: Counter = Counter()
        self._stray: dict[str, list[str]] = {}
        self._compounds = None

    # residents -----------------------------------------------------------------------------

    def compounds(self):
        from models.org import Compound

        if self._compounds is None:
            by_name = {c.name: c for c in Compound.select()}
            self._compounds = [by_name[n] for n in BENCH_COMPOUNDS]
        return self._compounds

    def new_residents(self, n: int) -> list[str]:
        from models.enums import Role

        openids, rows = [], []
        for _ in range(n):
            i = next(self.resident_seq)
            c = self.compounds()[i % len(self.compounds())]
            openid = f"bench_res_{i}"
            openids.append(openid)
            rows.append({"openid": openid, "name": f"居民{i}", "role": Role.RESIDENT,
                         "compound": c.id, "household": f"{c.id}-b{i}", "lat": c.lat,
                         "lng": c.lng, "skills": []})  # fmt: skip
        self._insert_users(rows)
        return openids

    def new_volunteers(self, n: int) -> list[str]:
        from models.enums import Role
        from models.org import OrgUnit

        # The tickets' own community: a pool ticket reaches only the volunteers of its street
        # (models.access.in_pool_reach), as /pool and 附近工单 show.
        happy = OrgUnit.get(OrgUnit.name == "幸福社区")
        home = self.compounds()[2]
        openids, rows = [], []
        for _ in range(n):
            i = next(self.volunteer_seq)
            openid = f"bench_vol_{i}"
            openids.append(openid)
            rows.append({"openid": openid, "name": f"志愿者{i}", "role": Role.VOLUNTEER,
                         "org_unit": happy.id, "compound": home.id, "household": f"v-{i}",
                         "lat": home.lat, "lng": home.lng, "is_party_member": True,
                         "skills": ["维修"]})  # fmt: skip
        self._insert_users(rows)
        return openids

    def take_volunteers(self) -> list[str]:
        """A fixed crew of TAKE_CREW volunteers who take the pool tickets in turn: every
        dispatch to the pool ranks the street's volunteers, so thousands of one-message
        volunteers would slow the pool's filling between runs (none has a cap on jobs)."""
        if not self._crew:
            self._crew = self.new_volunteers(TAKE_CREW)
        return self._crew

    def _insert_users(self, rows: list[dict]) -> None:
        from models.org import User

        with self.db.atomic():
            for start in range(0, len(rows), 1000):
                User.insert_many(rows[start : start + 1000]).execute()

    # scenario inputs: (openid, text) -----------------------------------------------------

    def first_messages(self, n: int) -> list[tuple[str, str]]:
        openids = self.new_residents(n)
        self.used_residents.extend(openids)
        return [(o, self.texts[i % len(self.texts)]) for i, o in enumerate(openids)]

    def confirmations(self, n: int, prime_url: str) -> list[tuple[str, str]]:
        self._collect_primed()
        for _ in range(3):  # some first messages end elsewhere (a danger question, a duplicate)
            if len(self.primed) >= n:
                break
            self._prime(n - len(self.primed), prime_url)
        n = min(n, len(self.primed))
        openids = [self.primed.popleft() for _ in range(n)]
        self.filed_reporters.extend(openids)
        return [(o, "确认") for o in openids]

    def takes(self, n: int) -> list[tuple[str, str]]:
        if len(self.pool_tickets) < n:
            self.fill_pool(n - len(self.pool_tickets))
        tickets = [self.pool_tickets.popleft() for _ in range(n)]
        crew = self.take_volunteers()
        return [(crew[i % len(crew)], f"接单 #{t}") for i, t in enumerate(tickets)]

    def _collect_primed(self) -> None:
        """Residents whose conversation now waits in state `confirm` (after scenario a)."""
        if not self.used_residents:
            return
        prefix = self.args.redis_prefix
        for start in range(0, len(self.used_residents), 1000):
            chunk = self.used_residents[start : start + 1000]
            values = self.redis.mget([f"{prefix}conv:{o}" for o in chunk])
            for openid, raw in zip(chunk, values, strict=True):
                state = json.loads(raw)["state"] if raw else "none"
                self.state_counts[state] += 1
                if state == "confirm":
                    self.primed.append(openid)
                else:
                    self._stray.setdefault(state, []).append(openid)
        self.used_residents = []

    def _in_state(self, state: str) -> list[str]:
        """Residents handed out whose conversation is in `state` (dropped from the list)."""
        out = self._stray.pop(state, [])
        return out

    def _prime(self, n: int, url: str) -> None:
        log(f"priming {n} more report conversations over HTTP")
        pool = load.signed_pool(TOKEN, self.first_messages(n))
        result = load.run_closed(url, pool, concurrency=self.args.connections,
                                 marker=MARKERS["a"])  # fmt: skip
        log(f"primed: {result.matched}/{result.requests} summaries, {result.rps:.0f}/s")
        self._collect_primed()
        # Once tickets exist, a report in the same compound and category is first offered as a
        # possible duplicate: answer “不是” (a new one), which leads to the summary to confirm.
        # A report the classifier is unsure is urgent first asks about danger: “没有” (none)
        # leads on (to the summary, or to the duplicate offer below).
        for state, answer in (("danger", "没有"), ("duplicate", "不是")):
            waiting = self._in_state(state)
            if not waiting:
                continue
            pool = load.signed_pool(TOKEN, [(o, answer) for o in waiting])
            result = load.run_closed(url, pool, concurrency=self.args.connections,
                                     marker="")  # fmt: skip
            log(f"answered {len(waiting)} {state} questions with “{answer}”")
            self.used_residents.extend(waiting)
            self._collect_primed()

    def fill_pool(self, n: int) -> None:
        """Dispatch filed tickets to the volunteer pool (lifecycle.dispatch), filing more
        (lifecycle.submit) when the filed ones run out."""
        from models import lifecycle
        from models.enums import State
        from models.org import User
        from models.tickets import Ticket

        dispatcher = User.get(User.openid == "demo_dispatcher_1")
        ids = [t.id for t in Ticket.select(Ticket.id).where(Ticket.state == State.SUBMITTED)
               .order_by(Ticket.id).limit(n)]  # fmt: skip
        if len(ids) < n:
            reporters = self.new_residents(n - len(ids))
            for i, openid in enumerate(reporters):
                user = User.get(User.openid == openid)
                ticket = lifecycle.submit(user, self.texts[i % len(self.texts)], "facility",
                                          "normal")  # fmt: skip
                ids.append(ticket.id)
        started = time.perf_counter()

        def dispatch(tid: int) -> int:
            try:
                lifecycle.dispatch(tid, dispatcher, to_pool=True, note="bench")
            finally:
                if not self.db.is_closed():
                    self.db.close()
            return tid

        with ThreadPoolExecutor(max_workers=8) as pool:
            self.pool_tickets.extend(pool.map(dispatch, ids))
        self.db.connect(reuse_if_open=True)
        log(f"{len(ids)} tickets dispatched to the pool in {time.perf_counter() - started:.1f}s")

    def ticket_count(self) -> int:
        from models.tickets import Ticket

        self.db.connect(reuse_if_open=True)
        return Ticket.select().count()

    def echo_messages(self, scenario: str, n: int) -> list[tuple[str, str]]:
        """The same kind of message for the echo bot (it keeps no state, so no users needed)."""
        if scenario == "a":
            return [(f"echo_res_{i}", self.texts[i % len(self.texts)]) for i in range(n)]
        if scenario == "b":
            return [(f"echo_res_{i}", "确认") for i in range(n)]
        return [(f"echo_vol_{i}", f"接单 #{100000 + i}") for i in range(n)]


def report_texts() -> list[str]:
    """Real-style resident messages (tests/data) that the classifier files as normal with
    confidence, so the first message is answered with the summary to confirm."""
    from handlers import smalltalk
    from handlers.classifier import classify
    from handlers.commands import fixed_command, parse_command, parse_rating

    path = ROOT / "tests" / "data" / "labelled_messages.tsv"
    candidates = [line.split("\t")[0] for line in path.read_text("utf-8").splitlines()[1:]]
    if not candidates:
        candidates = ["3号楼楼道灯坏了，晚上黑乎乎的"]
    out = []
    for text in candidates:
        if not text or "\n" in text or any(n in text for n in ("小区", "苑", "花园", "新村")):
            continue
        if fixed_command(text) or parse_command(text) or parse_rating(text) or smalltalk.kind(text):
            continue  # a command, a rating or a greeting (在吗) is not a report
        result = classify(text)
        if result.is_confident and result.urgency == "normal" and result.category != "other":
            out.append(text)
    return out or ["3号楼楼道灯坏了，晚上黑乎乎的"]


# --- running ------------------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, args, servers: Servers, world: World):
        self.args = args
        self.servers = servers
        self.world = world
        self.est_rate: dict[str, float] = {}
        self.runs: list[dict] = []
        self.checks: list[dict] = []

    def pool_size(self, scenario: str, seconds: float) -> int:
        rate = self.est_rate.get(scenario, self.args.max_rate)
        return math.ceil(rate * self.args.headroom * seconds) + 4 * self.args.connections

    def inputs(self, scenario: str, n: int) -> list[tuple[str, str]]:
        w = self.world
        if scenario == "a":
            return w.first_messages(n)
        if scenario == "b":
            return w.confirmations(n, self.servers.urls["sidan"])
        return w.takes(n)

    def alive(self) -> None:
        for name, proc in self.servers.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} stopped (exit {proc.returncode}): see its log")

    def sidan_wrk(self, scenario: str, rep, *, duration=None, profile=False) -> load.Result:
        duration = duration or self.args.duration
        self.alive()
        for attempt in (1, 2):
            messages = self.inputs(scenario, self.pool_size(scenario, duration))
            pool = load.signed_pool(TOKEN, messages)
            before = self.world.ticket_count()
            spy = self._start_profiler(scenario, duration) if profile else None
            meter = self.meter()
            result = load.run_wrk(self.servers.urls["sidan"] + "/wechat", pool,
                                  duration=duration, connections=self.args.connections,
                                  threads=self.args.wrk_threads, marker=MARKERS[scenario])  # fmt: skip
            result.cpu = meter.stop(result)
            if spy is not None:
                spy.wait(timeout=duration + 120)
            time.sleep(0.5)  # let requests wrk abandoned at the end finish
            self._check(scenario, rep, result, before, "wrk")
            # Pools are sized from the fastest rate seen (never below 50/s, as warm-up is slow).
            self.est_rate[scenario] = max(self.est_rate.get(scenario, 50), result.rps)
            if not result.wrapped or attempt == 2:
                return result
            log(f"  pool of {len(pool)} ran out at {result.rps:.0f}/s: running again, larger")
        return result

    def _check(self, scenario, rep, result: load.Result, before: int, kind: str) -> None:
        after = self.world.ticket_count()
        check = {"scenario": scenario, "rep": rep, "kind": kind, "requests": result.requests,
                 "matched": result.matched, "errors": result.errors, "wrapped": result.wrapped,
                 "tickets_added": after - before, "in_flight_at_stop": result.sent - result.requests,
                 "first_bad": result.first_bad[:200]}  # fmt: skip
        if scenario == "b":
            # Every filed reply is a ticket; requests still in flight when wrk stopped may file
            # one more each (the server finishes them), never more than that.
            extra = check["tickets_added"] - result.matched
            check["tickets_ok"] = 0 <= extra <= check["in_flight_at_stop"]
        self.checks.append(check)
        if not result.valid or check.get("tickets_ok") is False:
            log(f"  CHECK FAILED {check}")

    def yardstick_wrk(self, name: str, scenario: str, duration=None) -> load.Result:
        """The echo bot or the floor on the same kind of message (a fresh MsgId each)."""
        duration = duration or self.args.duration
        # The echo bot keeps no state, so a wrapped pool costs it the same; the floor dedups by
        # MsgId, so its pool must not wrap (a repeat is answered without filing).
        size = self.args.floor_pool if name == "floor" else self.args.echo_pool
        pool = load.signed_pool(TOKEN, self.world.echo_messages(scenario, size))
        meter = self.meter()
        result = load.run_wrk(self.servers.urls[name] + "/wechat", pool, duration=duration,
                              connections=self.args.connections, threads=self.args.wrk_threads,
                              marker=YARDSTICKS[name][1])  # fmt: skip
        result.allow_wrap = name != "floor"
        result.cpu = meter.stop(result)
        return result

    def meter(self) -> CpuMeter:
        meter = CpuMeter({name: self.servers.pid(name) for name in SERVERS})
        meter.start()
        return meter

    def record(self, scenario, server, kind, rep, result: load.Result) -> None:
        row = {"scenario": scenario, "server": server, "kind": kind, "rep": rep,
               **result.as_dict()}  # fmt: skip
        self.runs.append(row)
        log(
            f"  {scenario} {server:5} {kind:6} rep {rep}: {result.rps:7.1f} req/s  "
            f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:7.1f} ms  "
            f"ok {result.matched}/{result.requests}{'' if result.valid else '  (INVALID)'}"
            + (f"  cores {result.cpu}" if result.cpu else "")
        )

    def warm_up(self) -> None:
        log("warming up the servers")
        secs = self.args.warmup
        for name in YARDSTICKS:
            self.yardstick_wrk(name, "a", duration=secs)
        result = self.sidan_wrk("a", "warm-up", duration=secs)
        log(f"  warm-up: sidan a {result.rps:.0f}/s, echo and floor ready")

    def scenario(self, scenario: str) -> None:
        log(f"scenario {scenario}: {SCENARIO_NAMES[scenario]}")
        if scenario in "bc" and scenario not in self.est_rate:
            # Until measured, guess from the scenarios already run (they cost about the same).
            seen = [self.est_rate[s] for s in "ab" if s in self.est_rate]
            self.est_rate[scenario] = statistics.mean(seen) if seen else self.args.max_rate
        if scenario == "c" and not self.world.pool_tickets:
            # Enough for the first run; later runs top up from the rate measured (dispatching
            # through the lifecycle is the slow part of this benchmark).
            self.world.fill_pool(self.pool_size("c", self.args.duration))
        for rep in range(1, self.args.reps + 1):
            # Rotate who goes first, so drift on a noisy machine hits all alike.
            order = SERVERS[rep % len(SERVERS) :] + SERVERS[: rep % len(SERVERS)]
            for server in order:
                if server == "sidan":
                    self.record(scenario, "sidan", "wrk", rep, self.sidan_wrk(scenario, rep))
                else:
                    self.record(scenario, server, "wrk", rep, self.yardstick_wrk(server, scenario))
        if scenario in self.args.paced_scenarios:
            self.paced(scenario)
        if scenario in self.args.profile:
            self.profile(scenario)

    def paced(self, scenario: str) -> None:
        rate, secs = self.args.rate, self.args.paced_seconds
        n = int(rate * secs)
        for rep in range(1, self.args.reps + 1):
            pool = load.signed_pool(TOKEN, self.world.echo_messages(scenario, n))
            result = load.run_paced(self.servers.urls["echo"] + "/wechat", pool, rate=rate,
                                    marker=ECHO_MARKER)  # fmt: skip
            self.record(scenario, "echo", "paced", rep, result)
            pool = load.signed_pool(TOKEN, self.inputs(scenario, n))
            before = self.world.ticket_count()
            result = load.run_paced(self.servers.urls["sidan"] + "/wechat", pool, rate=rate,
                                    marker=MARKERS[scenario])  # fmt: skip
            time.sleep(0.3)
            self._check(scenario, rep, result, before, "paced")
            self.record(scenario, "sidan", "paced", rep, result)

    # profiling -----------------------------------------------------------------------------

    def _start_profiler(self, scenario: str, duration: float):
        out = self.args.out_dir / f"profile-{scenario}.txt"
        cmd = [str(Path(PY).with_name("py-spy")), "record", "--subprocesses", "--format", "raw",
               "--rate", "100", "--gil", "--duration", str(int(duration)), "--nonblocking",
               "-p", str(self.servers.pid("sidan")), "-o", str(out)]  # fmt: skip
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def profile(self, scenario: str) -> None:
        if not Path(PY).with_name("py-spy").exists():
            log("  py-spy is not installed in the venv: no profile (pip install py-spy==0.4.3)")
            return
        log(f"  profiling scenario {scenario} with py-spy (an extra run, not a figure)")
        duration = min(self.args.duration, 10)  # a profile needs no more; pool tickets cost
        result = self.sidan_wrk(scenario, "profile", duration=duration, profile=True)
        log(f"  under the profiler: {result.rps:.0f} req/s")


def summarise(runs: list[dict], scenarios) -> dict:
    out = {}
    for sc in scenarios:
        entry = {}
        for server in SERVERS:
            for kind in ("wrk", "paced"):
                rows = [r for r in runs if (r["scenario"], r["server"], r["kind"]) == (sc, server, kind)
                        and isinstance(r["rep"], int)]  # fmt: skip
                if rows:
                    entry[f"{server}_{kind}"] = {
                        "rps": median([r["rps"] for r in rows]),
                        "p50_ms": median([r["p50_ms"] for r in rows]),
                        "p99_ms": median([r["p99_ms"] for r in rows]),
                        "max_ms": max(r["max_ms"] for r in rows),
                        "runs": len(rows),
                        "all_valid": all(r["valid"] for r in rows),
                        "each_rps": [round(r["rps"], 1) for r in rows],
                        "each_p99_ms": [round(r["p99_ms"], 1) for r in rows],
                        "cpu_ms_per_req": _cpu_per_request(rows),
                    }
        for yardstick in YARDSTICKS:
            # Ratios within one rep (the runs next to each other), then the median of those.
            ratios = []
            reps = {r["rep"] for r in runs if r["scenario"] == sc and isinstance(r["rep"], int)}
            for rep in reps:
                pair = {r["server"]: r["rps"] for r in runs
                        if (r["scenario"], r["kind"], r["rep"]) == (sc, "wrk", rep)}  # fmt: skip
                if pair.get(yardstick) and "sidan" in pair:
                    ratios.append(pair["sidan"] / pair[yardstick])
            suffix = "" if yardstick == "echo" else f"_{yardstick}"
            entry[f"ratio{suffix}"] = median(ratios)
            entry[f"each_ratio{suffix}"] = [round(x, 3) for x in sorted(ratios)]
        out[sc] = entry
    return out


def _cpu_per_request(rows: list[dict]) -> dict:
    """Median CPU milliseconds per request, per process group (cores / req/s)."""
    groups = {g for r in rows if r.get("cpu") for g in r["cpu"]}
    out = {}
    for g in sorted(groups):
        values = [r["cpu"].get(g, 0) / r["rps"] * 1000 for r in rows if r.get("cpu") and r["rps"]]
        out[g] = round(median(values), 2) if values else None
    return out


def top_functions(raw: Path, n: int = 40) -> dict:
    """Self and inclusive shares per function from py-spy's collapsed stacks."""
    own: Counter = Counter()
    incl: Counter = Counter()
    total = 0
    for line in raw.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        count = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        frames = [f for f in frames if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    if not total:
        return {"samples": 0, "self": [], "inclusive": []}

    def share(c: Counter) -> list:
        return [[name, round(100 * k / total, 1)] for name, k in c.most_common(n)]

    app = Counter({f: k for f, k in incl.items() if f.split(" (", 1)[-1].startswith(_APP_DIRS)})
    return {"samples": total, "self": share(own), "inclusive": share(incl), "app": share(app)}


_APP_DIRS = ("bot/", "handlers/", "models/")


def _frame(frame: str) -> str:
    """'execute (peewee.py:3322)' → 'execute (peewee.py)'; site-packages paths shortened."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Sidan webhook vs a bare echo bot, same run.")
    p.add_argument("--duration", type=float, default=15, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3, help="runs per figure (median reported)")
    p.add_argument("--scenarios", default="abc")
    p.add_argument("--paced-scenarios", default="ab")
    p.add_argument("--rate", type=float, default=100, help="paced messages/s")
    p.add_argument("--paced-seconds", type=float, default=15)
    p.add_argument("--profile", default="abc", help="scenarios to profile ('' for none)")
    p.add_argument("--warmup", type=float, default=8)
    p.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    p.add_argument(
        "--launcher",
        choices=sorted(LAUNCHERS),
        default="cli",
        help="how to start Sidan: bench.serve_sidan (direct) or `sidan serve` (cli)",
    )
    p.add_argument("--port", type=int, default=18731,
                   help="Sidan; the echo bot gets port+1, the floor port+2")  # fmt: skip
    p.add_argument("--db", default="sidan_bench_web")
    p.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument(
        "--max-rate",
        type=float,
        default=600,
        help="first guess of Sidan's req/s, to size the pools of unique messages",
    )
    p.add_argument("--headroom", type=float, default=1.4)
    p.add_argument("--echo-pool", type=int, default=6000)
    p.add_argument(
        "--floor-pool",
        type=int,
        default=40000,
        help="unique messages for each floor run (it must not run out)",
    )
    p.add_argument("--label", default="", help="a note stored with the results")
    p.add_argument("--json-out", type=Path, default=None)
    return p.parse_args(argv)


def run(args) -> dict:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out_dir = RESULTS / f"webhook-{stamp}"
    (args.out_dir / "var").mkdir(parents=True, exist_ok=True)
    args.redis_prefix = f"sidan-bench:{stamp}:{os.getpid()}:"
    args.profile = set(args.profile)
    args.paced_scenarios = set(args.paced_scenarios)
    redis_client = redis_lib.Redis.from_url(args.redis_url, decode_responses=True)
    started = time.time()
    log(f"database {args.db}, Redis prefix {args.redis_prefix}, output {args.out_dir}")
    recreate_database(args.db)
    try:
        cli(args, "init-db")
        cli(args, "seed-demo")
        world = World(args, redis_client)
        log(f"{len(world.texts)} report texts; starting servers "
            f"({args.workers} workers x {args.threads} threads, gthread)")  # fmt: skip
        with Servers(args) as servers:
            bench = Bench(args, servers, world)
            bench.warm_up()
            for sc in args.scenarios:
                bench.scenario(sc)
        profiles = {}
        for sc in args.profile:
            raw = args.out_dir / f"profile-{sc}.txt"
            if raw.exists():
                profiles[sc] = top_functions(raw)
        result = {
            "label": args.label,
            "commit": subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
            ).stdout.strip(),
            "started": datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 1),
            "settings": {
                k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
                for k, v in vars(args).items()
            },  # fmt: skip
            "summary": summarise(bench.runs, args.scenarios),
            "runs": bench.runs,
            "checks": bench.checks,
            "conversation_states_seen": dict(world.state_counts),
            "report_texts": len(world.texts),
            "profiles": profiles,
        }
    finally:
        deleted = 0
        for key in redis_client.scan_iter(f"{args.redis_prefix}*", count=1000):
            deleted += redis_client.delete(key)
        log(f"deleted {deleted} Redis keys under {args.redis_prefix}")
        if not args.keep_db:
            with contextlib.suppress(Exception):
                from models.db import database

                if not database.is_closed():
                    database.close()
                database.obj.close_all()
            drop_database(args.db)
    out = args.json_out or args.out_dir / "webhook.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    log(f"results in {out} ({result['seconds']:.0f}s)")
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    result = run(args)
    for sc, entry in result["summary"].items():
        s, e = entry.get("sidan_wrk", {}), entry.get("echo_wrk", {})
        f = entry.get("floor_wrk", {})
        print(f"{sc}: sidan {s.get('rps', 0):.0f}/s vs floor {f.get('rps', 0):.0f}/s "
              f"ratio {entry.get('ratio_floor') or 0:.2f}, vs echo {e.get('rps', 0):.0f}/s "
              f"ratio {entry['ratio'] or 0:.2f}; sidan p50 {s.get('p50_ms', 0):.1f} ms "
              f"p99 {s.get('p99_ms', 0):.1f} ms")  # fmt: skip
        if "sidan_paced" in entry:
            print(f"   at {args.rate:.0f}/s: p99 {entry['sidan_paced']['p99_ms']:.1f} ms "
                  f"(echo {entry['echo_paced']['p99_ms']:.1f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
