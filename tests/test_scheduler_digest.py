"""Digest figures checked number by number on a hand-built data set, the text, and the job."""

from datetime import datetime, timedelta

import pytest

from models import clock, digest
from models.clock import from_local
from models.enums import Level, State
from models.org import Compound, OrgUnit
from models.outbox import Outbound
from models.tickets import PointsEntry, Rating, Ticket
from scheduler.jobs import digest_job


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return from_local(datetime(2026, 11, day, hour, minute))


def sun(hour: int, minute: int = 0) -> datetime:
    """A time on Sunday 2026-11-15, the day the Monday digest covers."""
    return local(15, hour, minute)


def make(demo, compound: str, category: str, created, state, *, level=Level.GRID, **cols):
    comp = Compound.get(Compound.name == compound)
    owner = comp.grid.ancestor_at(Level(level))
    return Ticket.create(
        reporter=demo.resident_1, text="测试", category=category, urgency="normal",
        state=state, level=level, org_unit=owner, grid=comp.grid, area_path=comp.grid.path,
        compound=comp, created_at=created, updated_at=created, **cols,
    )  # fmt: skip


def rating(demo, ticket, score, at, assignee=None, points=0):
    Rating.create(ticket=ticket, rater=demo.resident_1, assignee=assignee, score=score,
                  created_at=at)  # fmt: skip
    if points:
        PointsEntry.create(user=assignee, ticket=ticket, reason="rating", points=points,
                           created_at=at)  # fmt: skip


@pytest.fixture
def data(demo):
    """Tickets T1..T8 as described in each line; the clock stands at Monday 09:00."""
    v1, v2 = demo.volunteer_1, demo.volunteer_2
    t = {}
    # T1 closed in time; T2 resolved late; T3 open and overdue since Sunday 13:00.
    t[1] = make(demo, "幸福里小区", "fire_safety", sun(9), State.CLOSED, assignee=v1,
                resolved_at=sun(10), closed_at=sun(12), due_at=sun(20))  # fmt: skip
    t[2] = make(demo, "幸福里小区", "fire_safety", sun(10), State.RESOLVED, assignee=v1,
                resolved_at=sun(15), due_at=sun(14))  # fmt: skip
    t[3] = make(demo, "金桥花园", "elevator", sun(11), State.TAKEN, assignee=v2,
                step_due_at=sun(13), due_at=sun(23))  # fmt: skip
    # T4 filed last week, escalated to the city and overdue there since Thursday 09:00.
    t[4] = make(demo, "丹桂苑", "noise", local(10, 9), State.DISPATCHED, level=Level.CITY,
                step_due_at=local(12, 9), due_at=local(17, 9))  # fmt: skip
    # T5 filed Saturday, resolved and closed Sunday morning, in time.
    t[5] = make(demo, "金桥花园", "elevator", local(14, 9), State.CLOSED, assignee=v2,
                resolved_at=sun(8), closed_at=sun(9), due_at=sun(18))  # fmt: skip
    # T6 in another community (和平社区): only the city sees it.
    t[6] = make(demo, "和平新村", "fire_safety", sun(9), State.SUBMITTED,
                step_due_at=sun(11), due_at=local(20, 9))  # fmt: skip
    # T7 cancelled: new, but neither due nor closed in the figures.
    t[7] = make(demo, "幸福里小区", "sanitation", sun(16), State.CANCELLED,
                closed_at=sun(17), due_at=sun(22))  # fmt: skip
    # T8 filed Monday 00:30 (after the period), overdue since 02:30.
    t[8] = make(demo, "幸福里小区", "fire_safety", local(16, 0, 30), State.SUBMITTED,
                step_due_at=local(16, 2, 30), due_at=local(23, 0, 30))  # fmt: skip
    rating(demo, t[1], 5, sun(12), v1, points=10)
    rating(demo, t[5], 3, sun(9), v2, points=5)
    rating(demo, t[4], 1, local(11, 9))  # last week: not in the period
    rating(demo, t[6], 5, sun(20))  # other community
    return t


def community() -> OrgUnit:
    return OrgUnit.get(OrgUnit.name == "幸福社区")


def city() -> OrgUnit:
    return OrgUnit.get(OrgUnit.name == "清河市")


def test_daily_period_is_yesterday_in_beijing_time(db):
    assert digest.period("daily") == (sun(0), local(16, 0))
    assert digest.period("weekly") == (local(9, 0), local(16, 0))
    clock.set_now(local(18, 8))  # a Wednesday
    assert digest.period("weekly") == (local(9, 0), local(16, 0))


def test_community_figures_number_by_number(db, data):
    f = digest.figures(community(), *digest.period("daily"))
    assert (f.new, f.resolved, f.closed) == (4, 3, 2)
    assert (f.due, f.done_in_time, f.completion_rate) == (4, 2, 0.5)
    assert (f.ratings, f.satisfied, f.satisfaction_rate) == (2, 1, 0.5)
    assert f.overdue_total == 3
    assert [(o.number, o.category_name, o.level, o.overdue_for) for o in f.overdue] == [
        ("#4", "噪音扰民", "city", timedelta(days=4)),
        ("#3", "电梯", "grid", timedelta(hours=20)),
        ("#8", "消防安全", "grid", timedelta(hours=6, minutes=30)),
    ]
    assert (f.city_overdue_total, [o.number for o in f.city_overdue]) == (1, ["#4"])
    assert f.hot_categories == [("fire_safety", "消防安全", 2), ("elevator", "电梯", 1),
                                ("sanitation", "环境卫生", 1)]  # fmt: skip
    assert f.hot_compounds == [("幸福里小区", 3), ("金桥花园", 1)]
    assert f.slow_grids == [
        digest.SlowGrid("幸福一网格", 2, pytest.approx(3.0)),
        digest.SlowGrid("幸福二网格", 1, pytest.approx(23.0)),
    ]
    assert f.volunteers == [
        digest.ActiveVolunteer("王**", 2, 10),
        digest.ActiveVolunteer("李**", 1, 5),
    ]


def test_city_figures_include_every_community(db, data):
    f = digest.figures(city(), *digest.period("daily"))
    assert (f.new, f.resolved, f.closed, f.due, f.done_in_time) == (5, 3, 2, 4, 2)
    assert (f.ratings, f.satisfied) == (3, 2)
    assert [o.number for o in f.overdue] == ["#4", "#6", "#3", "#8"]
    assert f.hot_categories[0] == ("fire_safety", "消防安全", 3)
    assert dict(f.hot_compounds) == {"幸福里小区": 3, "金桥花园": 1, "和平新村": 1}


def test_a_grid_sees_only_its_own_tickets(db, data):
    grid = OrgUnit.get(OrgUnit.name == "幸福二网格")
    f = digest.figures(grid, *digest.period("daily"))
    assert (f.new, f.resolved, f.closed, f.overdue_total) == (1, 1, 1, 1)
    assert [o.number for o in f.overdue] == ["#3"]


def test_empty_period_has_no_rates(db, demo):
    f = digest.figures(community(), *digest.period("daily"))
    assert (f.new, f.completion_rate, f.satisfaction_rate, f.overdue) == (0, None, None, [])
    text = digest.render(f)
    assert "—" not in text and "目前没有超时工单" in text
    assert "响应率、办结率、满意度暂不计（本期没有到期的派单和工单，还没有收到评价）。" in text


def test_today_counts_from_local_midnight(db, data):
    f = digest.today(community())
    assert (f.start, f.end, f.new, f.overdue_total) == (local(16, 0), clock.now(), 1, 3)
    assert digest.render(f, "today").startswith("【今日概况】幸福社区 截至09:00")


def test_digest_text_is_short_masked_and_says_what_to_do(db, data):
    text = digest.render(digest.figures(community(), *digest.period("daily")), "daily")
    assert len(text) < 600
    assert text.startswith("【每日简报】幸福社区 11月15日")
    assert "新增 4 件，办结 3 件，关闭 2 件" in text
    assert "办结率 50.0%（2/4），满意度 50.0%（1/2）" in text
    assert "【市级超时】#4 噪音扰民（市级）已超时4天" in text
    assert "其中 1 件在市级仍超时" in text
    assert "王**2单" in text and "王建国" not in text and "李秀英" not in text
    assert "较慢网格：幸福一网格（超时2件，平均3.0小时办结）" in text
    assert text.endswith("回复“超时工单”查看全部，或“督办 #4”催办。")


def test_long_digest_drops_detail_but_keeps_the_essentials(db, data):
    f = digest.figures(city(), *digest.period("weekly"))
    f.hot_compounds = [("很长很长的小区名字" * 4, 9)] * 5
    f.slow_grids = [digest.SlowGrid("很长的网格名称" * 5, 9, 99.0)] * 5
    f.volunteers = [digest.ActiveVolunteer("王**", 9, 9)] * 5
    text = digest.render(f, "weekly")
    assert len(text) <= 600
    assert text.startswith("【每周简报】清河市 11月9日—11月15日")
    assert "【市级超时】#4" in text and "督办 #4" in text


def test_digest_job_sends_one_per_supervisor_and_period(db, data):
    assert digest_job("daily") == 7  # city, two streets, four communities
    assert digest_job("daily") == 0  # a rerun (or a second scheduler) adds nothing
    rows = {r.openid: r for r in Outbound.select().where(Outbound.template == "digest")}
    assert len(rows) == 7
    assert "新增 4 件" in rows["demo_supervisor_1"].text
    assert "新增 5 件" in rows["demo_supervisor_city"].text
    assert rows["demo_supervisor_1"].dedupe_key.startswith("digest:daily:2026-11-15:")
    assert digest_job("weekly") == 7
    clock.advance(timedelta(days=1))
    assert digest_job("daily") == 7
    assert Outbound.select().where(Outbound.template == "digest").count() == 21


def test_a_grid_resolving_in_minutes_is_not_called_slow(db, data):
    f = digest.figures(community(), *digest.period("daily"))
    f.slow_grids = [digest.SlowGrid("快网格", 0, 0.04)]
    assert "较慢网格" not in digest.render(f) and "0.0小时" not in digest.render(f)
    f.slow_grids = [digest.SlowGrid("超时网格", 1, 0.5), digest.SlowGrid("慢网格", 0, 30.0)]
    text = digest.render(f)
    assert "较慢网格：超时网格（超时1件，平均30分钟办结）、慢网格（平均30.0小时办结）" in text
