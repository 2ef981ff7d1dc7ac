"""Check (not a test): two scheduler processes sweep one 1,000-ticket backlog at once.

    .venv/bin/python -m bench.sweep_digest --sizes 100000 --db sidan_bench_sweep   # seed once
    .venv/bin/python -m bench.sweep_race --db sidan_bench_sweep

Makes exactly `--due` open tickets of the seeded benchmark database due (committed: run it on
a benchmark database only), starts two processes that call sweep_job() at the same moment,
and prints what each did and how long it took, how many events each ticket got (must be one)
and whether any outbox row is doubled.
"""

import argparse
import multiprocessing
import time

from bench.sweep_digest import NOW, make_due
from models import clock
from models.db import database, open_database


def _sweeper(url: str, barrier, results) -> None:
    open_database(url)
    clock.set_now(NOW)
    from scheduler.jobs import sweep_job

    barrier.wait()
    started = time.perf_counter()
    done = sweep_job()
    results.put((dict(done), round((time.perf_counter() - started) * 1000)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", default="sidan_bench")
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    url = args.admin_url.rsplit("/", 1)[0] + f"/{args.db}"
    open_database(url)
    clock.set_now(NOW)
    with database.atomic():
        make_due(args.due)
    last_event = database.execute_sql("SELECT coalesce(max(id), 0) FROM ticket_event")
    last_event = last_event.fetchone()[0]
    last_out = database.execute_sql("SELECT coalesce(max(id), 0) FROM outbound").fetchone()[0]
    database.close_all()
    ctx = multiprocessing.get_context("spawn")  # no pooled connection shared across a fork
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_sweeper, args=(url, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    done = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join()
    print("each sweeper (done, ms):", done)
    per_ticket = database.execute_sql(
        "SELECT n, count(*) FROM (SELECT ticket_id, count(*) AS n FROM ticket_event "
        "WHERE id > %s GROUP BY ticket_id) x GROUP BY n",
        (last_event,),
    ).fetchall()
    print("tickets by events written (events, tickets):", per_ticket)
    rows = database.execute_sql(
        "SELECT count(*), count(DISTINCT (ticket_id, openid, text)) FROM outbound WHERE id > %s",
        (last_out,),
    ).fetchone()
    print(f"outbox rows: {rows[0]}, distinct (ticket, recipient, text): {rows[1]}")


if __name__ == "__main__":
    main()
