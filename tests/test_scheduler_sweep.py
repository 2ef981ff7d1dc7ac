"""The deadline sweep with a controlled clock: reminders, escalation up the tree, once each."""

import threading
from collections import Counter
from datetime import datetime, timedelta

from models import clock, lifecycle
from models.clock import from_local
from models.db import database
from models.enums import Action, Level
from models.org import Compound
from models.outbox import Outbound
from models.tickets import Ticket, TicketEvent
from scheduler.jobs import sweep_job

H = timedelta(hours=1)


def file_ticket(demo, urgency="normal", text="楼道灯坏了", category="power_lighting"):
    compound = Compound.get(Compound.name == "幸福里小区")
    return lifecycle.submit(demo.resident_1, text, category, urgency, compound=compound)


def actions(ticket) -> list[str]:
    return [
        e.action
        for e in TicketEvent.select().where(TicketEvent.ticket == ticket).order_by(TicketEvent.id)
    ]


def fresh(ticket) -> Ticket:
    return Ticket.get_by_id(ticket.id)


def at_local(*args) -> datetime:
    return from_local(datetime(*args))


def test_normal_ticket_reminded_at_dispatch_deadline_then_walks_up_to_city(db, demo):
    ticket = file_ticket(demo)
    clock.advance(2 * H - timedelta(seconds=1))
    assert sweep_job() == Counter()
    clock.advance(timedelta(seconds=1))  # Monday 11:00, the 2 h dispatch limit
    assert sweep_job() == Counter(remind=1)
    assert sweep_job() == Counter()
    t = fresh(ticket)
    assert (t.level, t.breach_count) == (Level.GRID, 1)
    assert t.next_check_at == at_local(2026, 11, 17, 11, 0)  # one working day later
    reminders = Outbound.select().where(Outbound.text.startswith("提醒"))
    assert [r.openid for r in reminders] == ["demo_dispatcher_1"]

    expected = [
        (at_local(2026, 11, 17, 11, 0), Level.COMMUNITY),  # Tuesday
        (at_local(2026, 11, 18, 11, 0), Level.STREET),
        (at_local(2026, 11, 19, 11, 0), Level.CITY),
    ]
    for when, level in expected:
        clock.set_now(when - timedelta(seconds=1))
        assert sweep_job() == Counter()
        clock.set_now(when)
        assert sweep_job() == Counter(escalate=1)
        assert sweep_job() == Counter()
        assert fresh(ticket).level == level
    city = fresh(ticket)
    assert city.org_unit.name == "清河市"
    told = {r.openid for r in Outbound.select().where(Outbound.text.contains("已提级到您处"))}
    assert {"demo_supervisor_city", "city_dispatcher", "demo_dispatcher_1"} <= told
    assert Outbound.select().where(Outbound.text.contains("已提级到上一级")).count() == 3

    clock.set_now(at_local(2026, 11, 20, 11, 0))  # Friday: at the top, only reminders
    assert sweep_job() == Counter(remind=1)
    assert fresh(ticket).next_check_at == at_local(2026, 11, 23, 11, 0)  # Monday, not Saturday
    clock.set_now(at_local(2026, 11, 22, 11, 0))
    assert sweep_job() == Counter()
    clock.set_now(at_local(2026, 11, 23, 11, 0))
    assert sweep_job() == Counter(remind=1)
    assert actions(ticket) == ["submit", "remind", "escalate", "escalate", "escalate", "remind",
                               "remind"]  # fmt: skip
    assert fresh(ticket).level == Level.CITY


def test_urgent_ticket_escalates_every_thirty_minutes(db, demo):
    ticket = file_ticket(demo, "urgent", "楼道里冒烟了，有燃气味", "fire_safety")
    levels = []
    clock.advance(timedelta(minutes=10))
    for _ in range(4):
        assert sum(sweep_job().values()) == 1
        assert sweep_job() == Counter()
        levels.append(fresh(ticket).level)
        clock.advance(timedelta(minutes=29))
        assert sweep_job() == Counter()
        clock.advance(timedelta(minutes=1))
    assert levels == [Level.COMMUNITY, Level.STREET, Level.CITY, Level.CITY]
    assert actions(ticket) == ["submit", "escalate", "escalate", "escalate", "remind"]


def dispatch_and_take(demo, ticket):
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1)
    return lifecycle.take(ticket.id, demo.volunteer_1)


def test_resolve_deadline_taken_on_friday_skips_the_weekend(db, demo):
    clock.set_now(at_local(2026, 11, 20, 10, 0))  # Friday 10:00
    ticket = dispatch_and_take(demo, file_ticket(demo))
    assert ticket.step_due_at == at_local(2026, 11, 25, 10, 0)  # Wednesday, 3 working days
    clock.set_now(at_local(2026, 11, 25, 9, 59))
    assert sweep_job() == Counter()
    assert actions(ticket)[-1] == "take"
    clock.set_now(at_local(2026, 11, 25, 10, 0))
    assert sweep_job() == Counter(remind=1)
    assert (
        Outbound.select()
        .where((Outbound.openid == "demo_volunteer_1") & Outbound.text.contains("办理已超时"))
        .exists()
    )


def test_resolve_deadline_skips_a_holiday(db, demo):
    clock.set_now(at_local(2026, 12, 31, 10, 0))  # Thursday; 2027-01-01 is a holiday
    ticket = dispatch_and_take(demo, file_ticket(demo))
    assert ticket.step_due_at == at_local(2027, 1, 6, 10, 0)  # not Tuesday the 5th
    clock.set_now(at_local(2027, 1, 5, 10, 0))
    assert sweep_job() == Counter()
    clock.set_now(at_local(2027, 1, 6, 10, 0))
    assert sweep_job() == Counter(remind=1)


def test_handled_ticket_is_not_chased(db, demo):
    ticket = dispatch_and_take(demo, file_ticket(demo))
    lifecycle.resolve(ticket.id, demo.volunteer_1, "已更换灯泡")
    lifecycle.rate(ticket.id, demo.resident_1, 5)
    clock.advance(timedelta(days=30))
    assert sweep_job() == Counter()
    assert actions(ticket)[-1] == "rate"


def test_sweep_resumes_in_batches(db, demo):
    tickets = [file_ticket(demo, text=f"路灯{i}") for i in range(7)]
    clock.advance(2 * H)
    assert sweep_job(batch=3) == Counter(remind=7)
    assert {fresh(t).breach_count for t in tickets} == {1}
    clock.advance(2 * H)
    assert sweep_job(batch=3, max_batches=2) == Counter()  # nothing due until Tuesday


def _sweep_in_thread(results, barrier):
    try:
        barrier.wait()
        results.append(sweep_job(batch=1000))
    finally:
        database.close()


def _race(results_per_round: list) -> Counter:
    results, barrier = [], threading.Barrier(2)
    threads = [threading.Thread(target=_sweep_in_thread, args=(results, barrier)) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # SQLite may make a loser skip a ticket it did not lose; the next sweep picks it up.
    mop_up = sweep_job()
    results_per_round.append(results)
    return sum(results, Counter()) + mop_up


def test_two_sweeps_at_once_act_once_per_breach(db, demo):
    n = 20
    tickets = [file_ticket(demo, text=f"路灯坏了{i}") for i in range(n)]
    rounds = []
    clock.advance(2 * H)
    assert _race(rounds) == Counter(remind=n)
    clock.set_now(at_local(2026, 11, 17, 11, 0))
    assert _race(rounds) == Counter(escalate=n)
    assert sweep_job() == Counter()
    events = Counter(
        e.action
        for e in TicketEvent.select().where(TicketEvent.ticket.in_([t.id for t in tickets]))
    )
    assert events == Counter({Action.SUBMIT: n, Action.REMIND: n, Action.ESCALATE: n})
    # Each remind tells the community dispatcher once; each escalation tells the community's
    # dispatcher and supervisor and the reporter once.
    assert Outbound.select().where(Outbound.text.startswith("提醒")).count() == n
    assert Outbound.select().where(Outbound.text.contains("已提级到您处")).count() == 2 * n
    assert Outbound.select().where(Outbound.text.contains("已提级到上一级")).count() == n
    assert {fresh(t).level for t in tickets} == {Level.COMMUNITY}


def test_a_ticket_looked_at_too_early_is_rescheduled_not_acted_on(db, demo):
    ticket = file_ticket(demo)
    # An operator lengthened the limits after it was filed: its check time came, no deadline did.
    Ticket.update(next_check_at=clock.now() - timedelta(minutes=1)).where(
        Ticket.id == ticket.id
    ).execute()
    assert sweep_job() == Counter()
    assert actions(ticket) == ["submit"]
    assert fresh(ticket).next_check_at == min(ticket.step_due_at, ticket.due_at)
