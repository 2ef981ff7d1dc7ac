"""Benchmark (not a test): one deadline sweep and one city digest over N tickets on PostgreSQL.

    .venv/bin/python -m bench.sweep_digest --sizes 10000,100000,1000000

Seeds its own database (`sidan_bench`, dropped and recreated per size) server-side with
INSERT … SELECT generate_series (faster than COPY: no rows cross the wire): 1% open, spread
over 3 years, ~0.1% due for the sweep now, ratings and points for the digest. Prints a
Markdown table of medians (DESIGN §9: sweep < 200 ms, digest < 1 s at 1,000,000), and one
sweep with 10 and with 1,000 tickets due (a minute's worth, a backlog) both per ticket and
set-based (issue 15: < 50 ms and < 500 ms at 1,000,000).
"""

import argparse
import statistics
import time
from datetime import datetime, timedelta

import psycopg2

from models import clock, digest, figures, figures_lists, schema
from models.db import database, open_database
from models.demo import seed_demo
from models.org import OrgUnit
from models.panels import PANELS
from models.tickets import Ticket
from scheduler.jobs import sweep_job

NOW = datetime(2026, 11, 16, 1, 0)  # Monday 09:00 in Beijing, as in the tests
CATEGORIES = ["fire_safety", "elevator", "water_supply", "drainage", "power_lighting",
              "sanitation", "noise", "parking_charging", "property_service", "greenery",
              "public_facility", "security", "pets", "elderly_help", "other"]  # fmt: skip

# g = 1..N. Ticket g is open when g % 100 = 0 (1%); of those, g % 1000 = 0 are due now
# (0.1%). Closed ones spread over 3 years; open ones over the last 30 days.
SEED_TICKETS = """
WITH c AS (
  SELECT row_number() OVER (ORDER BY compound.id) - 1 AS i, compound.id, grid_id, o.path
  FROM compound JOIN org_unit o ON o.id = compound.grid_id
), v AS (SELECT row_number() OVER (ORDER BY id) - 1 AS i, id FROM "user" WHERE role = 'volunteer'),
g AS (
  SELECT g,
    CASE WHEN g %% 100 = 0
      THEN %(now)s::timestamp - ((g / 100) %% 30) * interval '1 day' - interval '3 day'
      ELSE %(now)s::timestamp - (g::float / %(n)s) * interval '1095 day' END AS created,
    (g * 7919) %% 72 AS hours
  FROM generate_series(1::bigint, %(n)s::bigint) g
)
INSERT INTO ticket (reporter_id, text, category, urgency, state, version, level, org_unit_id,
  grid_id, area_path, compound_id, building, unit_no, room, photos, channel, in_pool,
  subscriber_count, step, breach_count, rating_reminded, created_at, updated_at, step_due_at,
  due_at, next_check_at, resolved_at, closed_at, assignee_id, score, dispatched_at, taken_at,
  respond_due_at, responded_at)
SELECT %(reporter)s, 'bench', (%(cats)s::text[])[1 + (g * 31) %% %(ncat)s], 'normal',
  CASE WHEN g %% 100 = 0 THEN 'taken' WHEN g %% 97 = 0 THEN 'cancelled' ELSE 'closed' END,
  3, 'grid', c.grid_id, c.grid_id, c.path, c.id, '', '', '', '[]', 'chat', false, 0,
  CASE WHEN g %% 100 = 0 THEN 'resolve' ELSE 'rate' END, 0, false, created, created,
  created + interval '3 day', created + interval '7 day',
  CASE WHEN g %% 1000 = 0 THEN %(now)s::timestamp - interval '1 minute'
       WHEN g %% 100 = 0 THEN %(now)s::timestamp + interval '1 day' END,
  CASE WHEN g %% 100 <> 0 AND g %% 97 <> 0 THEN created + hours * interval '1 hour' END,
  CASE WHEN g %% 100 <> 0 THEN created + (hours + 24) * interval '1 hour' END,
  v.id, CASE WHEN g %% 100 <> 0 AND g %% 97 <> 0 AND g %% 5 <> 0 THEN 1 + (g %% 5) END,
  created, created, created + interval '2 hour',
  created + CASE WHEN g %% 9 = 0 THEN interval '3 hour' ELSE interval '40 minute' END
FROM g JOIN c ON c.i = g %% (SELECT count(*) FROM c) JOIN v ON v.i = g %% (SELECT count(*) FROM v)
"""
SEED_RATINGS = """
INSERT INTO rating (ticket_id, rater_id, assignee_id, score, comment, created_at)
SELECT id, reporter_id, assignee_id, score, '', closed_at FROM ticket WHERE score IS NOT NULL
"""
# The dashboard's scorecards and reopen counts read events: a take and a resolve for every
# ticket that got that far, and an unhappy rating that reopened 1 in 50.
SEED_EVENTS = """
INSERT INTO ticket_event (ticket_id, actor_id, action, from_state, to_state, level, org_unit_id,
  assignee_id, note, created_at)
SELECT id, assignee_id, 'take', 'dispatched', 'taken', 'grid', org_unit_id, assignee_id, '',
  created_at + interval '1 hour' FROM ticket WHERE state <> 'cancelled'
UNION ALL
SELECT id, assignee_id, 'resolve', 'taken', 'resolved', 'grid', org_unit_id, assignee_id, '',
  resolved_at FROM ticket WHERE resolved_at IS NOT NULL
UNION ALL
SELECT id, reporter_id, 'rate', 'resolved', 'dispatched', 'community', org_unit_id, NULL, '',
  resolved_at + interval '2 hour' FROM ticket WHERE resolved_at IS NOT NULL AND id %% 50 = 0
"""
SEED_POINTS = """
INSERT INTO points_entry (user_id, ticket_id, reason, points, created_at)
SELECT assignee_id, id, 'rating', score * 2, closed_at FROM ticket WHERE score >= 3
"""


def recreate(admin_url: str, name: str) -> str:
    """Drop and create the benchmark database; returns its URL."""
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def seed(url: str, n: int) -> float:
    """Schema, demo org tree and N tickets; returns seconds taken."""
    started = time.perf_counter()
    open_database(url)
    database.connect(reuse_if_open=True)
    schema.upgrade()
    seed_demo()
    reporter = database.execute_sql("SELECT min(id) FROM \"user\" WHERE role='resident'")
    params = {"n": n, "now": NOW, "cats": CATEGORIES, "ncat": len(CATEGORIES),
              "reporter": reporter.fetchone()[0]}  # fmt: skip
    with database.atomic():
        database.execute_sql(SEED_TICKETS, params)
        database.execute_sql(SEED_RATINGS)
        database.execute_sql(SEED_POINTS)
        database.execute_sql(SEED_EVENTS)
    database.execute_sql("ANALYZE")
    return time.perf_counter() - started


def median_ms(fn, runs: int) -> float:
    """Median wall time of `fn` in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def rolled_back(fn):
    """Run `fn` inside a transaction that is rolled back, so every run sees the same data."""

    def run():
        with database.atomic() as txn:
            fn()
            txn.rollback()

    return run


# How many tickets are due in each sweep measured both ways (per ticket and set-based): a
# minute's worth in steady state, and a backlog (DESIGN §9 / issue 15: < 50 ms and < 500 ms).
DUE_COUNTS = (10, 1000)


def make_due(k: int) -> None:
    """Exactly `k` taken tickets due now: every other due ticket is put off by a day."""
    database.execute_sql(
        "UPDATE ticket SET next_check_at = %s WHERE next_check_at <= %s",
        (NOW + timedelta(days=1), NOW),
    )
    database.execute_sql(
        "UPDATE ticket SET next_check_at = %s WHERE id IN (SELECT id FROM ticket "
        "WHERE state = 'taken' ORDER BY id LIMIT %s)",
        (NOW - timedelta(minutes=1), k),
    )


def sweep_with_due(k: int, bulk: bool, runs: int) -> float | None:
    """Median ms of one sweep_job with exactly `k` open tickets due (the rest moved out of
    the way), per ticket or set-based; each run is rolled back. None with fewer open."""
    if Ticket.select().where(Ticket.state == "taken").count() < k:
        return None
    times = []
    for _ in range(runs):
        with database.atomic() as txn:
            make_due(k)
            started = time.perf_counter()
            done = sweep_job(bulk=bulk)
            times.append((time.perf_counter() - started) * 1000)
            txn.rollback()
        assert sum(done.values()) == k, (k, bulk, done)
    return statistics.median(times)


def explain(query) -> str:
    sql, params = query.sql()
    rows = database.execute_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    return "\n".join(r[0] for r in rows)


def dashboard_panels() -> dict:
    """The dashboard's panels (models.panels), plus one page of a drill-down list."""
    return {
        **PANELS,
        "drill_overdue_page": lambda u: list(figures_lists.rows(
            figures_lists.drill(u, "overdue")[1], limit=50)),
    }  # fmt: skip


def measure_panels(runs: int) -> dict:
    """Each dashboard panel for the city over the seeded tickets, and the whole page."""
    city = OrgUnit.get(OrgUnit.level == "city")
    panels = dashboard_panels()
    out = {}
    for name, fn in panels.items():

        def one(fn=fn):
            with figures.fast_plans():  # as bot.dashboard runs them
                fn(city)

        out[name] = median_ms(one, runs)
    page = [fn for name, fn in panels.items() if not name.startswith("drill")]

    def whole():
        with figures.fast_plans():
            for fn in page:
                fn(city)

    out["whole_page"] = median_ms(whole, runs)
    return out


def measure(n: int, runs: int) -> dict:
    """Sweep and digest timings on the seeded database."""
    city = OrgUnit.get(OrgUnit.level == "city")
    due = Ticket.due_for_sweep(NOW).count()
    start, end = digest.period("daily", NOW)
    week = digest.period("weekly", NOW)
    return {
        "tickets": n,
        "open": Ticket.select().where(Ticket.state == "taken").count(),
        "due": due,
        "select_ms": median_ms(lambda: list(Ticket.due_for_sweep(NOW).limit(500)), runs),
        "sweep_ms": median_ms(rolled_back(sweep_job), runs),
        "digest_ms": median_ms(lambda: digest.figures(city, start, end), runs),
        "weekly_ms": median_ms(lambda: digest.figures(city, *week), runs),
        "panels": measure_panels(runs),
        # "1000_per_ticket" / "1000_bulk": ms of one sweep with that many due (str keys: the
        # row goes to JSON in bench/__main__.py).
        "due_sweeps": {
            f"{k}_{'bulk' if bulk else 'per_ticket'}": sweep_with_due(k, bulk, runs)
            for k in DUE_COUNTS
            for bulk in (False, True)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated ticket counts")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="sidan_bench")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans")
    parser.add_argument(
        "--no-digest-indexes",
        action="store_true",
        help="measure with the digest indexes (schema v3) dropped, to show what they buy",
    )
    parser.add_argument("--reuse", action="store_true", help="measure the existing database")
    args = parser.parse_args()
    clock.set_now(NOW)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        if args.reuse:
            seconds = 0.0
            open_database(args.admin_url.rsplit("/", 1)[0] + f"/{args.db}")
        else:
            seconds = seed(recreate(args.admin_url, args.db), n)
        if args.no_digest_indexes:
            for table, column in schema.DIGEST_INDEXES:
                database.execute_sql(f'DROP INDEX IF EXISTS "{table}_{column}"')
        database.execute_sql("ANALYZE")
        row = measure(n, args.runs)
        row["seed_s"] = seconds
        rows.append(row)
        print(f"seeded {n:,} tickets in {seconds:.1f}s: {row}", flush=True)
        if args.explain:
            print(explain(Ticket.due_for_sweep(NOW).limit(500)))
        database.close()
    print(
        "\n| tickets | open | due now | seed s | sweep select ms | sweep ms (all due) "
        "| ms per due ticket | city digest ms (day) | city digest ms (week) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = r["sweep_ms"] / r["due"] if r["due"] else 0.0
        print(f"| {r['tickets']:,} | {r['open']:,} | {r['due']:,} | {r['seed_s']:.1f} "
              f"| {r['select_ms']:.1f} | {r['sweep_ms']:.0f} | {per:.2f} "
              f"| {r['digest_ms']:.0f} | {r['weekly_ms']:.0f} |")  # fmt: skip
    print("\nOne sweep with k tickets due, ms: per ticket → set-based (lifecycle.bulk)\n")
    heads = [f"{k:,} due" for k in DUE_COUNTS]
    print("| tickets | " + " | ".join(heads) + " |")
    print("|---:|" + "---:|" * len(heads))
    for r in rows:
        ms = r["due_sweeps"]
        cells = [f"{ms[f'{k}_per_ticket']:.0f} → {ms[f'{k}_bulk']:.0f}" if ms[f"{k}_bulk"]
                 else "—" for k in DUE_COUNTS]  # fmt: skip
        print(f"| {r['tickets']:,} | " + " | ".join(cells) + " |")
    names = list(rows[0]["panels"]) if rows else []
    print("\nDashboard panels for the city, ms (DESIGN §9: each < 1000, whole page < 2000):\n")
    print("| tickets | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    for r in rows:
        print(f"| {r['tickets']:,} | " + " | ".join(f"{r['panels'][k]:.0f}" for k in names) + " |")


if __name__ == "__main__":
    main()
