"""The set-based sweep (lifecycle.bulk): the same tickets, events and outbox rows as the
per-ticket path, once per breach with two sweepers racing, and a ticket a user changed
after the sweep read it left alone."""

import logging
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest

from models import clock, deadlines, lifecycle
from models.clock import from_local, now
from models.db import database, is_postgres
from models.enums import Action, Level
from models.org import Compound, OrgUnit, User
from models.outbox import Outbound
from models.tickets import Ticket, TicketEvent
from scheduler.jobs import sweep_job

H = timedelta(hours=1)
THURSDAY_NOON = from_local(datetime(2026, 11, 19, 12, 0))


def submit(demo, compound, urgency="normal", text="楼道灯坏了", reporter=None):
    return lifecycle.submit(
        reporter or demo.resident_1, text, "power_lighting", urgency, compound=compound
    )


def backlog(demo) -> dict:
    """Due tickets of every kind the sweep meets, spread over the demo city's grids, due at
    THURSDAY_NOON. Returns the ticket ids by what the sweep should do."""
    compounds = list(Compound.select().order_by(Compound.id))
    happy = Compound.get(Compound.name == "幸福里小区")
    User.update(subscribed=False).where(User.openid == "demo_resident_4").execute()
    plan: dict[str, list[int]] = {k: [] for k in
                                  ("remind", "escalate", "rating", "close", "resched")}  # fmt: skip
    for i, compound in enumerate(compounds):
        reporter = demo[f"demo_resident_{1 + i % 5}"]
        plan["remind"].append(submit(demo, compound, text=f"路灯{i}", reporter=reporter).id)
        plan["escalate"].append(submit(demo, compound, "urgent", f"冒烟{i}", reporter).id)
        again = submit(demo, compound, text=f"漏水{i}", reporter=reporter)
        Ticket.update(breach_count=1).where(Ticket.id == again.id).execute()
        plan["escalate"].append(again.id)
    # Taken by a volunteer: the reminder goes to the volunteer too.
    for i in range(2):
        t = submit(demo, happy, text=f"电梯{i}")
        lifecycle.dispatch(t.id, demo.dispatcher_1, to_user=demo.volunteer_1)
        lifecycle.take(t.id, demo.volunteer_1)
        plan["remind"].append(t.id)
    # Already at the top: reminded, never escalated.
    city = OrgUnit.get(OrgUnit.level == Level.CITY)
    top = submit(demo, happy, text="井盖丢了")
    Ticket.update(level=Level.CITY, org_unit=city, breach_count=3).where(
        Ticket.id == top.id
    ).execute()
    plan["remind"].append(top.id)
    clock.set_now(THURSDAY_NOON)
    for i in range(4):  # resolved: two waiting for a rating reminder, two to close unrated
        t = submit(demo, happy, text=f"垃圾{i}", reporter=demo[f"demo_resident_{1 + i}"])
        lifecycle.dispatch(t.id, demo.dispatcher_1, to_user=demo.volunteer_1)
        lifecycle.take(t.id, demo.volunteer_1)
        lifecycle.resolve(t.id, demo.volunteer_1, "已清理")
        late = i >= 2
        Ticket.update(
            resolved_at=now() - (80 if late else 30) * H,
            rating_reminded=late,
            next_check_at=now() - 6 * H,
        ).where(Ticket.id == t.id).execute()
        plan["close" if late else "rating"].append(t.id)
    early = submit(demo, happy, text="噪音")  # looked at before any deadline: rescheduled
    Ticket.update(next_check_at=now() - timedelta(minutes=1)).where(Ticket.id == early.id).execute()
    plan["resched"].append(early.id)
    return plan


def due_now() -> list[Ticket]:
    return list(Ticket.due_for_sweep(now()))


def snapshot(after_event: int, after_outbox: int) -> dict:
    """Every ticket, and the events and outbox rows written after the given ids (ids left
    out: the two paths number their rows in their own order)."""
    tickets = [{k: v for k, v in t.items()} for t in Ticket.select().order_by(Ticket.id).dicts()]
    events = sorted(
        tuple((k, str(v)) for k, v in e.items() if k != "id")
        for e in TicketEvent.select().where(TicketEvent.id > after_event).dicts()
    )
    outbox = sorted(
        tuple((k, str(v)) for k, v in o.items() if k != "id")
        for o in Outbound.select().where(Outbound.id > after_outbox).dicts()
    )
    return {"tickets": tickets, "events": events, "outbox": outbox}


def run_and_roll_back(act) -> tuple[Counter, dict]:
    last_event = TicketEvent.select().order_by(TicketEvent.id.desc()).first().id
    last_out = Outbound.select().order_by(Outbound.id.desc()).first().id
    with database.atomic() as txn:
        done = act(due_now())
        after = snapshot(last_event, last_out)
        txn.rollback()
    return done, after


def per_ticket(due) -> Counter:
    return Counter(a for a in (deadlines.handle_due(t) for t in due) if a)


def test_bulk_writes_what_the_per_ticket_path_writes(db, demo):
    plan = backlog(demo)
    assert deadlines.bulk_available()
    one_by_one, expected = run_and_roll_back(per_ticket)
    at_once, got = run_and_roll_back(deadlines.handle_due_many)
    assert one_by_one == Counter(remind=len(plan["remind"]), escalate=len(plan["escalate"]),
                                 rating_reminder=2, close_unrated=2)  # fmt: skip
    assert at_once == one_by_one
    assert got["events"] == expected["events"]
    assert got["outbox"] == expected["outbox"]
    assert got["tickets"] == expected["tickets"]
    # The comparison saw every kind of row the sweep writes.
    texts = " ".join(dict(row)["text"] for row in got["outbox"])
    for part in ("提醒：", "已提级到您处", "已提级到上一级", "回访任务", "还没收到您的评价"):
        assert part in texts
    assert len(got["outbox"]) > len(got["events"]) > 20
    rescheduled = next(t for t in got["tickets"] if t["id"] == plan["resched"][0])
    assert rescheduled["next_check_at"] > now()


def test_bulk_reads_a_fixed_number_of_times_per_batch(db, demo, caplog):
    """Queries per batch do not grow with the batch: four reads (units, compounds, people,
    staff), an UPDATE per kind of step, one INSERT of events and one of outbox rows."""
    backlog(demo)
    due = due_now()
    assert len(due) > 40
    kinds = {deadlines.decide(t).action for t in due}
    assert len(kinds) == 5
    with caplog.at_level(logging.DEBUG, logger="peewee"), database.atomic() as txn:
        deadlines.handle_due_many(due)
        txn.rollback()
    sql = [str(r.msg[0]) if isinstance(r.msg, tuple) else str(r.msg) for r in caplog.records
           if r.name == "peewee"]  # fmt: skip
    sql = [s for s in sql if "SAVEPOINT" not in s]
    assert len(sql) == 4 + len(kinds) + 2, sql


def test_sweep_job_goes_set_based_unless_switched_off(db, demo, monkeypatch):
    for i in range(3):
        submit(demo, Compound.get(Compound.name == "幸福里小区"), text=f"路灯{i}")
    clock.advance(2 * H)
    calls = []
    real = deadlines.handle_due_many
    monkeypatch.setattr(deadlines, "handle_due_many", lambda due: calls.append(1) or real(due))
    monkeypatch.setattr(deadlines, "BULK_SWEEP", False)
    with database.atomic() as txn:
        assert sweep_job() == Counter(remind=3)
        txn.rollback()
    assert calls == []
    monkeypatch.setattr(deadlines, "BULK_SWEEP", True)
    assert sweep_job() == Counter(remind=3)
    assert calls == [1]
    assert sweep_job() == Counter()


def _bulk_in_thread(results, errors, barrier):
    try:
        due = due_now()  # each sweeper judges what it read itself
        barrier.wait()
        results.append(deadlines.handle_due_many(due))
    except Exception as exc:  # pragma: no cover - reported by the test
        errors.append(exc)
    finally:
        database.close()


@pytest.mark.parametrize("rounds", [3])
def test_two_bulk_sweepers_over_one_backlog_act_once_per_ticket(db, demo, rounds):
    compounds = list(Compound.select())
    n = 3 * len(compounds)
    tickets = [submit(demo, compounds[i % len(compounds)], text=f"路灯坏了{i}") for i in range(n)]
    clock.advance(2 * H)  # every one due for a reminder
    expected = [Counter(remind=n), Counter(escalate=n)]
    for want in expected:
        results, errors, barrier = [], [], threading.Barrier(2)
        threads = [
            threading.Thread(target=_bulk_in_thread, args=(results, errors, barrier)) for _ in "ab"
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert sum(results, Counter()) == want
        clock.set_now(from_local(datetime(2026, 11, 17, 11, 0)))  # Tuesday: the next breach
    assert sweep_job() == Counter()
    events = Counter(
        e.action
        for e in TicketEvent.select().where(TicketEvent.ticket.in_([t.id for t in tickets]))
    )
    assert events == Counter({Action.SUBMIT: n, Action.REMIND: n, Action.ESCALATE: n})
    per_ticket_outbox = Counter(
        (o.ticket_id, o.openid, o.text)
        for o in Outbound.select().where(Outbound.ticket.is_null(False))
    )
    assert max(per_ticket_outbox.values()) == 1  # nobody told twice of one thing
    assert Outbound.select().where(Outbound.text.contains("已提级到上一级")).count() == n


def test_a_ticket_changed_after_it_was_judged_is_left_alone(db, demo):
    happy = Compound.get(Compound.name == "幸福里小区")
    tickets = [submit(demo, happy, text=f"路灯{i}") for i in range(3)]
    clock.advance(2 * H)
    due = due_now()
    assert {t.id for t in due} == {t.id for t in tickets}
    moved, urged = tickets[0], tickets[1]
    # Between the sweep's read and its write: a dispatcher dispatches one (a fresh step clock)
    # and the reporter urges another (still overdue, but not the version the sweep judged).
    lifecycle.dispatch(moved.id, demo.dispatcher_1, to_user=demo.volunteer_1)
    lifecycle.urge(urged.id, demo.resident_1)
    assert deadlines.handle_due_many(due) == Counter(remind=1)

    def actions(t):
        return [e.action for e in TicketEvent.select().where(TicketEvent.ticket == t.id)]

    assert actions(moved) == ["submit", "dispatch"]
    assert actions(urged) == ["submit", "urge"]
    assert actions(tickets[2]) == ["submit", "remind"]
    reminded = {o.ticket_id for o in Outbound.select().where(Outbound.text.startswith("提醒"))}
    assert reminded == {tickets[2].id}
    # The next sweep judges the urged ticket afresh and reminds it, once.
    assert sweep_job() == Counter(remind=1)
    assert actions(urged) == ["submit", "urge", "remind"]
    assert sweep_job() == Counter()


def test_old_sqlite_and_a_failing_batch_go_ticket_by_ticket(db, demo, monkeypatch):
    from models.lifecycle import bulk

    for i in range(3):
        submit(demo, Compound.get(Compound.name == "幸福里小区"), text=f"路灯{i}")
    clock.advance(2 * H)
    if not is_postgres():
        monkeypatch.setattr(bulk.sqlite3, "sqlite_version_info", (3, 34, 1))
        assert not deadlines.bulk_available()  # no RETURNING before SQLite 3.35
        monkeypatch.undo()

    def broken(due):
        raise RuntimeError("boom")

    monkeypatch.setattr(deadlines, "handle_due_many", broken)
    assert sweep_job() == Counter(remind=3)  # the batch failed set-based, went one by one
    assert sweep_job() == Counter()


def test_a_bulk_insert_larger_than_one_statement_allows(demo):
    """SQLite takes at most 32,766 parameters a statement (and a server-side-binding PostgreSQL
    driver 65,535): a big batch of outbox rows (7,000 x the table's columns) is cut into
    statements, and every row lands once."""
    from models.db import insert_rows

    rows = [{"openid": f"bulk_{i}", "text": "提醒", "dedupe_key": f"bulk:{i}"} for i in range(7000)]
    assert insert_rows(Outbound, rows, ignore_conflicts=True) == 7000
    assert Outbound.select().where(Outbound.openid.startswith("bulk_")).count() == 7000
    assert insert_rows(Outbound, rows[:10], ignore_conflicts=True) == 0  # duplicates ignored
