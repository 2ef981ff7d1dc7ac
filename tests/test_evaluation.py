"""Property companies judged on their tickets: figures checked by hand."""

from datetime import timedelta

from models import clock, evaluation, lifecycle
from models.org import Compound, User, WorkUnit


def company(name):
    return WorkUnit.get(WorkUnit.name == name)


def worker_of(name, openid):
    return User.create(openid=openid, name="钱师傅", role="worker", work_unit=company(name))


def resident_of(compound_name, openid):
    compound = Compound.get(Compound.name == compound_name)
    return User.create(openid=openid, compound=compound, household=f"{compound.id}-{openid}")


def handled(reporter, worker, dispatcher, *, delay=timedelta(hours=1), score=5):
    ticket = lifecycle.submit(reporter, "单元门禁坏了", "public_facility")
    lifecycle.dispatch(ticket.id, dispatcher, to_unit=worker.work_unit)
    lifecycle.take(ticket.id, worker)
    clock.advance(delay)
    lifecycle.resolve(ticket.id, worker, "修好了")
    return lifecycle.rate(ticket.id, reporter, score)


def test_a_prompt_well_rated_company_is_red_listed_and_a_slow_one_watched(demo):
    start = clock.now() - timedelta(days=1)
    good = worker_of("红管家物业", "w_good")
    for i in range(6):
        handled(resident_of("幸福里小区", f"r_good_{i}"), good, demo.dispatcher_1)
    slow = worker_of("安居物业", "w_slow")
    heping = User.get(User.openid.startswith("grid_") & User.openid.endswith("_worker"))
    assert heping.org_unit.name == "和平一网格"
    for i in range(5):
        reporter = resident_of("和平新村", f"r_slow_{i}")
        ticket = handled(reporter, slow, heping, delay=timedelta(days=8), score=1)
        if i == 0:
            lifecycle.urge(ticket.id, reporter, "怎么还没修好")
    end = clock.now() + timedelta(seconds=1)

    scores = {s.name: s for s in evaluation.evaluate(start, end)}
    red = scores["红管家物业"]
    assert (red.tickets, red.due, red.on_time, red.rated, red.satisfied, red.unhappy) == (
        6, 6, 6, 6, 6, 0,
    )  # fmt: skip
    assert red.score == 100 and red.band == "红榜"
    watched = scores["安居物业"]
    # Rated 1 → reopened one level up, no longer resolved, and past its overall deadline.
    assert (watched.tickets, watched.due, watched.on_time) == (5, 5, 0)
    assert (watched.rated, watched.satisfied, watched.unhappy, watched.urges) == (5, 0, 5, 1)
    assert watched.score == 0 and watched.band == "重点监督"

    text = evaluation.render(list(scores.values()), "全市近90天物业评价")
    assert "【红榜】红管家物业 100分" in text and "【重点监督】安居物业 0分" in text
    assert text.index("红管家物业") < text.index("安居物业")


def test_few_tickets_are_not_scored(demo):
    handled(resident_of("幸福里小区", "r_one"), worker_of("红管家物业", "w1"), demo.dispatcher_1)
    [score] = evaluation.evaluate(clock.now() - timedelta(days=1), clock.now())
    assert score.tickets == 1 and score.score is None and score.band == "样本不足"


def test_the_community_sees_only_its_own_subtree(demo, chat):
    handled(resident_of("幸福里小区", "r_mine"), worker_of("红管家物业", "w2"), demo.dispatcher_1)
    reply = chat("demo_supervisor_1").say("物业评价")
    assert "幸福社区近90天物业评价" in reply and "红管家物业：1件，样本不足" in reply
    assert "安居物业" not in reply
    assert "需要网格员" in chat("demo_resident_1").say("物业评价")
