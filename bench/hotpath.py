"""CPU per message on the webhook's hot path, in process: Sidan and the same-work floor.

    .venv/bin/python -m bench.hotpath -n 300 [--profile a,b] [--db sidan_hot]

Sends signed requests through Flask's test client (no HTTP server, no wrk), against a fresh
PostgreSQL database (seeded with the demo city) and the real Redis, and reports for

  a  a resident's first message (answered with the summary to confirm)
  b  “确认” from the same residents (files a ticket)

the process CPU per message (all threads: the request thread and the executor that handles
it), wall time per message, SQL statements and Redis round trips per message. The floor
(bench/floor_bot.py) is run the same way, in the same process, on the same kind of message,
so `ratio` (floor CPU / Sidan CPU, per message) is comparable between runs on a busy machine.
With --profile, a separate pass runs each scenario under cProfile (the handler run inline on
the request thread, so one profile sees all of it) and prints the top functions.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import queue
import statistics
import time
from concurrent.futures import Future
from urllib.parse import urlencode

import psycopg2
import redis as redis_lib

from bench.webhook import BENCH_COMPOUNDS, MARKERS, PG_ADMIN, TOKEN, report_texts
from bot.wechat_sign import WeChatSigner

FLOOR_MARKER = "工单号"
DUPLICATE_OFFER = "附近已经有人反映"
DANGER_QUESTION = "回复 1 立即上报"
SCENARIOS = ("a", "b", "a_dup")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Counts:
    """SQL statements and Redis round trips, counted by wrapping the clients' entry points."""

    def __init__(self):
        self.sql = 0
        self.redis = 0
        self.trace = False

    def install(self):
        import peewee

        counts = self
        orig_execute = peewee.Database.execute_sql

        def execute_sql(db, sql, params=None, *a, **kw):
            counts.sql += 1
            if counts.trace:
                print("   SQL", sql[:300], params)
            return orig_execute(db, sql, params, *a, **kw)

        peewee.Database.execute_sql = execute_sql
        orig_cmd = redis_lib.Redis.execute_command

        def execute_command(client, *args, **options):
            counts.redis += 1
            if counts.trace:
                print("   REDIS", *(str(x)[:60] for x in args[:4]))
            return orig_cmd(client, *args, **options)

        redis_lib.Redis.execute_command = execute_command
        orig_pipe = redis_lib.client.Pipeline.execute

        def pipe_execute(pipe, *a, **kw):
            counts.redis += 1
            if counts.trace:
                print("   REDIS pipeline", [c[0][0] for c in pipe.command_stack])
            return orig_pipe(pipe, *a, **kw)

        redis_lib.client.Pipeline.execute = pipe_execute

    def snapshot(self):
        return self.sql, self.redis


class InlineExecutor:
    """Runs the handler on the calling thread (for cProfile, which sees one thread). Nothing
    ever waits for a thread, so its work queue (read by the webhook's shedding) stays empty."""

    _work_queue = queue.SimpleQueue()

    def submit(self, fn, *args, **kw):
        future = Future()
        try:
            future.set_result(fn(*args, **kw))
        except BaseException as exc:  # noqa: BLE001 - handed back like a real executor
            future.set_exception(exc)
        return future


def pg_url(db):
    return f"postgresql://postgres@127.0.0.1:5432/{db}"


def recreate(db):
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{db}"')
    conn.close()


def drop(db):
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    conn.close()


def signed(openid: str, text: str, msg_id: int) -> tuple[str, bytes]:
    signer = WeChatSigner(TOKEN, openid)
    now = int(time.time())
    query, body = signer.sign(signer.text(text, msg_id=msg_id, at=now), timestamp=now)
    return f"/wechat?{urlencode(query)}", body


class Harness:
    def __init__(self, args):
        self.args = args
        self.msg_ids = iter(range(int(time.time() * 1000) * 1000, 2**62))
        self.resident_seq = 0
        self.counts = Counts()
        self.counts.install()

    def setup(self):
        from bot.app import create_app
        from bot.config import Config
        from models import schema
        from models.db import database
        from models.demo import seed_demo

        a = self.args
        recreate(a.db)
        os.environ.update(DATABASE_URL=pg_url(a.db), REDIS_URL=a.redis_url,
                          REDIS_PREFIX=a.prefix + "floor:", WECHAT_TOKEN=TOKEN)  # fmt: skip
        for name in ("WECHAT_APPID", "WECHAT_SECRET", "WECHAT_AES_KEY"):
            os.environ.pop(name, None)
        config = Config(DATABASE_URL=pg_url(a.db), REDIS_URL=a.redis_url,
                        REDIS_PREFIX=a.prefix, WECHAT_TOKEN=TOKEN,
                        WEBHOOK_RATE_PER_MIN=1_000_000, LOG_LEVEL="WARNING",
                        SECRET_KEY="hotpath-bench", VAR_DIR="/tmp/sidan-hotpath",
                        MEDIA_ROOT="/tmp/sidan-hotpath/media")  # fmt: skip
        config.WECHAT_SECRET = None
        config.WECHAT_AES_KEY = None
        self.app = create_app(config, warm_classifier=False)
        import logging

        logging.getLogger("sidan").setLevel(logging.WARNING)
        database.connect(reuse_if_open=True)
        schema.upgrade()
        seed_demo()
        database.close()
        self.client = self.app.test_client()
        self.texts = report_texts()
        from bench import floor_bot

        floor_bot.create_schema(pg_url(a.db))
        self.floor = floor_bot.app.test_client()
        log(f"database {a.db}; {len(self.texts)} report texts")

    def residents(self, n):
        from models.db import database
        from models.enums import Role
        from models.org import Compound, User

        database.connect(reuse_if_open=True)
        by_name = {c.name: c for c in Compound.select()}
        compounds = [by_name[x] for x in BENCH_COMPOUNDS]
        rows, out = [], []
        for _ in range(n):
            self.resident_seq += 1
            i = self.resident_seq
            c = compounds[i % len(compounds)]
            openid = f"hot_res_{i}"
            out.append(openid)
            rows.append({"openid": openid, "name": f"居民{i}", "role": Role.RESIDENT,
                         "compound": c.id, "household": f"{c.id}-b{i}", "lat": c.lat,
                         "lng": c.lng, "skills": []})  # fmt: skip
        with database.atomic():
            User.insert_many(rows).execute()
        database.close()
        return out

    def post(self, client, openid, text):
        target, body = signed(openid, text, next(self.msg_ids))
        resp = client.post(target, data=body, content_type="text/xml")
        return resp.get_data(as_text=True)

    def run(self, client, messages, marker):
        """(cpu ms, wall ms, sql, redis per message, bad replies) over `messages`."""
        bad, dups = [], 0
        sql0, red0 = self.counts.snapshot()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for openid, text in messages:
            reply = self.post(client, openid, text)
            if marker == MARKERS["a"] and (DUPLICATE_OFFER in reply or DANGER_QUESTION in reply):
                dups += 1
            elif marker not in reply:
                bad.append((openid, text, reply))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        sql1, red1 = self.counts.snapshot()
        n = len(messages)
        return {"cpu_ms": 1000 * cpu / n, "wall_ms": 1000 * wall / n,
                "sql": (sql1 - sql0) / n, "redis": (red1 - red0) / n, "bad": len(bad), "dup_offers": dups,
                "first_bad": bad[:2]}  # fmt: skip

    def first_messages(self, n):
        openids = self.residents(n)
        return [(o, self.texts[i % len(self.texts)]) for i, o in enumerate(openids)]

    def primed(self, openids):
        """Residents whose conversation waits in `confirm`; the others answered '不是' first."""
        r = redis_lib.Redis.from_url(self.args.redis_url, decode_responses=True)
        out, dups = [], []
        for o in openids:
            raw = r.get(f"{self.args.prefix}conv:{o}")
            state = json.loads(raw)["state"] if raw else "none"
            if state == "confirm":
                out.append(o)
            elif state == "duplicate":
                dups.append(o)
        for o in dups:
            if MARKERS["a"] in self.post(self.client, o, "不是"):
                out.append(o)
        return out

    def age_tickets(self):
        """Move every ticket out of the duplicate window, so the next round's first messages
        meet no recent tickets (as the wrk benchmark's scenario a does)."""
        from models.db import database

        database.connect(reuse_if_open=True)
        database.execute_sql("UPDATE ticket SET created_at = created_at - interval '30 days'")
        database.close()

    def round(self, n, label):
        """a for n new residents, b for them, a_dup for n more (who now meet b's tickets as
        possible duplicates); the floor on a's texts and on b; then the tickets are aged."""
        a_msgs = self.first_messages(n)
        res = {"a": self.run(self.client, a_msgs, MARKERS["a"])}
        ready = self.primed([o for o, _ in a_msgs])
        res["b"] = self.run(self.client, [(o, "确认") for o in ready], MARKERS["b"])
        res["b"]["n"] = len(ready)
        res["a_dup"] = self.run(self.client, self.first_messages(n), MARKERS["a"])
        res["floor_a"] = self.run(self.floor, [(f"floor_{o}", t) for o, t in a_msgs], FLOOR_MARKER)
        res["floor_b"] = self.run(self.floor, [(f"floor_{o}", "确认") for o in ready],
                                  FLOOR_MARKER)  # fmt: skip
        res["floor_a_dup"] = res["floor_a"]
        self.age_tickets()
        for sc in SCENARIOS:
            res[sc]["floor_over_sidan"] = res[f"floor_{sc}"]["cpu_ms"] / res[sc]["cpu_ms"]
        log(f"{label}: " + "; ".join(
            f"{sc} cpu {res[sc]['cpu_ms']:.2f} ms wall {res[sc]['wall_ms']:.2f} ms "
            f"sql {res[sc]['sql']:.1f} redis {res[sc]['redis']:.1f} bad {res[sc]['bad']} "
            f"other {res[sc]['dup_offers']} → ratio {res[sc]['floor_over_sidan']:.2f}"
            for sc in SCENARIOS) + f"; floor a {res['floor_a']['cpu_ms']:.2f} ms, "
            f"b {res['floor_b']['cpu_ms']:.2f} ms")  # fmt: skip
        for sc in SCENARIOS:
            if res[sc]["bad"]:
                log(f"  bad {sc}: {res[sc]['first_bad']}")
        return res

    def trace(self):
        ((o, t),) = self.first_messages(1)
        self.counts.trace = True
        try:
            print(f"--- trace a: {t}")
            print("  ->", self.post(self.client, o, t)[:200])
            self.primed([o])
            print("--- trace b: 确认")
            print("  ->", self.post(self.client, o, "确认")[:200])
        finally:
            self.counts.trace = False

    def profile(self, n, scenarios):
        from bot import webhook

        real = webhook._executor
        webhook._executor = InlineExecutor()
        try:
            a_msgs = self.first_messages(n)
            prof = cProfile.Profile(time.thread_time)
            if "a" in scenarios:
                prof.enable()
            self.run(self.client, a_msgs, MARKERS["a"])
            prof.disable()
            if "a" in scenarios:
                self._print(prof, "a")
            ready = self.primed([o for o, _ in a_msgs])
            prof = cProfile.Profile(time.thread_time)
            prof.enable()
            self.run(self.client, [(o, "确认") for o in ready], MARKERS["b"])
            prof.disable()
            if "b" in scenarios:
                self._print(prof, "b")
        finally:
            webhook._executor = real

    def _print(self, prof, sc):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("cumulative").print_stats(self.args.top)
        stats.sort_stats("tottime").print_stats(self.args.top)
        path = self.args.profile_out and f"{self.args.profile_out}-{sc}.prof"
        if path:
            stats.dump_stats(path)
        print(f"===== profile {sc} =====\n" + out.getvalue())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=300, help="messages per scenario and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warm", type=int, default=60)
    p.add_argument("--db", default=f"sidan_hot_{os.getpid()}")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    p.add_argument("--profile", default="", help="scenarios to profile, e.g. ab")
    p.add_argument("--profile-out", default="")
    p.add_argument("--top", type=int, default=45)
    p.add_argument("--trace", action="store_true", help="print one a and one b's SQL, Redis")
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--json-out", default="")
    args = p.parse_args(argv)
    args.prefix = f"sidan-hot:{os.getpid()}:"
    h = Harness(args)
    try:
        h.setup()
        h.round(args.warm, "warm-up")
        if args.trace:
            h.trace()
        results = [h.round(args.n, f"round {i + 1}") for i in range(args.rounds)]
        summary = {}
        for sc in SCENARIOS:
            summary[sc] = {k: statistics.median(r[sc][k] for r in results)
                           for k in ("cpu_ms", "wall_ms", "sql", "redis", "floor_over_sidan")}  # fmt: skip
            summary[sc]["floor_cpu_ms"] = statistics.median(r[f"floor_{sc}"]["cpu_ms"]
                                                            for r in results)  # fmt: skip
        print(json.dumps(summary, indent=1))
        if args.json_out:
            with open(args.json_out, "w") as fh:
                json.dump({"summary": summary, "rounds": results}, fh, indent=1, default=str)
        if args.profile:
            h.profile(args.n, args.profile)
    finally:
        r = redis_lib.Redis.from_url(args.redis_url)
        for key in r.scan_iter(f"{args.prefix}*", count=1000):
            r.delete(key)
        from models.db import database

        if not database.is_closed():
            database.close()
        if hasattr(database.obj, "close_all"):
            database.obj.close_all()
        if not args.keep_db:
            drop(args.db)


if __name__ == "__main__":
    main()
