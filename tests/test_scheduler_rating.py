"""The rating loop driven by the sweep: request, 24 h reminder, 72 h auto-close, reopen."""

from collections import Counter
from datetime import timedelta

from models import clock, lifecycle
from models.enums import Level, State
from models.org import Compound
from models.outbox import Outbound
from models.tickets import Ticket, TicketEvent
from scheduler.jobs import sweep_job

H = timedelta(hours=1)


def resolved_ticket(demo) -> Ticket:
    compound = Compound.get(Compound.name == "幸福里小区")
    ticket = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting", compound=compound)
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1)
    lifecycle.take(ticket.id, demo.volunteer_1)
    return lifecycle.resolve(ticket.id, demo.volunteer_1, "已更换灯泡")


def to_reporter(ticket, template="rating"):
    return list(
        Outbound.select().where(
            (Outbound.ticket == ticket)
            & (Outbound.openid == "demo_resident_1")
            & (Outbound.template == template)
        )
    )


def count_events(ticket, action) -> int:
    return (
        TicketEvent.select()
        .where((TicketEvent.ticket == ticket) & (TicketEvent.action == action))
        .count()
    )


def test_resolve_asks_then_reminds_at_24h_then_closes_unrated_at_72h(db, demo):
    ticket = resolved_ticket(demo)
    assert [r.text.startswith("您的工单 #1 已办结。请") for r in to_reporter(ticket)] == [True]
    clock.advance(24 * H - timedelta(seconds=1))
    assert sweep_job() == Counter()
    clock.advance(timedelta(seconds=1))
    assert sweep_job() == Counter(rating_reminder=1)
    assert sweep_job() == Counter()
    assert len(to_reporter(ticket)) == 2
    assert Ticket.get_by_id(ticket.id).rating_reminded is True

    clock.advance(48 * H - timedelta(seconds=1))
    assert sweep_job() == Counter()
    clock.advance(timedelta(seconds=1))
    assert sweep_job() == Counter(close_unrated=1)
    for _ in range(3):
        clock.advance(24 * H)
        assert sweep_job() == Counter()
    closed = Ticket.get_by_id(ticket.id)
    assert (closed.state, closed.next_check_at, closed.score) == (State.CLOSED, None, None)
    tasks = Outbound.select().where(Outbound.text.startswith("回访任务"))
    assert [t.openid for t in tasks] == ["demo_dispatcher_1"]  # the community's dispatcher
    assert "回访 #1" in tasks[0].text
    reporter = closed.reporter  # the task is a call: the number is there in clear
    assert f"{reporter.name} {reporter.phone}" in tasks[0].text
    assert count_events(ticket, "rating_reminder") == 1
    assert count_events(ticket, "close_unrated") == 1


def test_rating_within_the_window_stops_the_loop(db, demo):
    ticket = resolved_ticket(demo)
    clock.advance(30 * H)
    sweep_job()
    lifecycle.rate(ticket.id, demo.resident_1, 4)
    clock.advance(100 * H)
    assert sweep_job() == Counter()
    assert Ticket.get_by_id(ticket.id).state == State.CLOSED
    assert count_events(ticket, "close_unrated") == 0


def test_unhappy_rating_reopens_one_level_up_and_tells_that_level(db, demo):
    ticket = resolved_ticket(demo)
    assert ticket.level == Level.GRID
    lifecycle.rate(ticket.id, demo.resident_1, 1, "灯还是不亮")
    reopened = Ticket.get_by_id(ticket.id)
    assert (reopened.state, reopened.level, reopened.assignee_id) == (
        State.SUBMITTED,  # waiting for dispatch again (issue 10)
        Level.COMMUNITY,
        None,
    )
    assert reopened.org_unit.name == "幸福社区"
    told = Outbound.select().where(Outbound.text.contains("被重新打开"))
    assert [(r.openid, "灯还是不亮" in r.text) for r in told] == [("demo_dispatcher_1", True)]
    # The reopened ticket runs a fresh dispatch clock at its new level, and the sweep chases it.
    clock.advance(2 * H)
    assert sweep_job() == Counter(remind=1)
    assert Ticket.get_by_id(ticket.id).level == Level.COMMUNITY
