"""Dashboard figures (models.figures): the digest's numbers, both clocks, rollups, drill-downs."""

from datetime import timedelta

import pytest

from models import clock, digest, figures, figures_people, lifecycle, links
from models.demo_history import seed_history
from models.figures_lists import METRICS, drill
from models.org import Compound, OrgUnit, User
from models.outbox import Outbound
from scheduler.jobs import digest_job


def unit(name: str) -> OrgUnit:
    return OrgUnit.get(OrgUnit.name == name)


def city() -> OrgUnit:
    return OrgUnit.get(OrgUnit.level == "city")


@pytest.fixture
def history(demo):
    seed_history(per_day=1)
    return demo


@pytest.mark.parametrize("period", ["today", "7d", "30d"])
def test_rate_cards_are_the_digests_numbers_for_the_same_period(history, period):
    for place in (city(), unit("东湖街道"), unit("幸福社区")):
        card = figures.rates(place)[period]
        full = digest.figures(place, card["start"], card["end"])
        assert card["current"]["new"] == full.new and card["current"]["due"] == full.due
        assert card["current"]["resolve_rate"] == full.completion_rate
        assert card["current"]["satisfaction_rate"] == full.satisfaction_rate
        assert card["current"]["response_rate"] == full.response_rate
        w = figures.window(period)
        before = digest.figures(place, w.prev_start, w.prev_end)
        assert card["previous"]["new"] == before.new


def test_todays_card_is_what_the_chat_summary_says(history):
    card = figures.rates(unit("幸福社区"))["today"]["current"]
    today = digest.today(unit("幸福社区"))
    assert (card["new"], card["resolved"], card["ratings"]) == (
        today.new, today.resolved, today.ratings,
    )  # fmt: skip


def test_response_rate_counts_first_dispatch_by_the_dispatch_deadline(demo):
    resident, dispatcher = demo.resident_1, demo.dispatcher_1
    quick = lifecycle.submit(resident, "3号楼楼道灯坏了", "power_lighting")
    slow = lifecycle.submit(resident, "垃圾没人清运", "sanitation")
    clock.advance(timedelta(hours=1))
    lifecycle.dispatch(quick.id, dispatcher, to_pool=True)
    clock.advance(timedelta(hours=2))  # normal tickets: dispatch within 2 h
    lifecycle.dispatch(slow.id, dispatcher, to_pool=True)
    lifecycle.reassign(quick.id, dispatcher, to_user=demo.volunteer_2)  # moves dispatched_at only
    card = figures.rates(unit("幸福社区"))["today"]["current"]
    assert (card["responded_in_time"], card["respond_due"]) == (1, 2)
    assert card["response_rate"] == 0.5
    assert "响应率 50.0%（1/2）" in digest.render(digest.today(unit("幸福社区")), "today")


def test_status_counts_each_clock_and_the_city_level(demo):
    resident = demo.resident_1
    waiting = lifecycle.submit(resident, "楼道灯坏了", "power_lighting")
    clock.advance(timedelta(hours=3))  # past the 2 h dispatch limit, not the overall one
    s = figures.status(unit("幸福社区"))
    assert (s["open"], s["step_overdue"], s["overall_overdue"], s["overdue"]) == (1, 1, 0, 1)
    assert s["oldest"]["id"] == waiting.id and s["oldest"]["age_hours"] == 3.0
    for _ in range(3):
        lifecycle.escalate(waiting.id, User.get(User.openid == "city_dispatcher"), "督办")
    clock.advance(timedelta(days=10))
    s = figures.status(city())
    full = digest.figures(city(), clock.now() - timedelta(days=1), clock.now())
    assert (s["overall_overdue"], s["city_overdue"]) == (1, 1)
    assert (s["overdue"], s["city_overdue"]) == (full.overdue_total, full.city_overdue_total)


def test_reopened_counts_unhappy_ratings_and_dispatcher_reopens(demo):
    ticket = lifecycle.submit(demo.resident_1, "楼上漏水", "water_supply")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, "修好了")
    lifecycle.rate(ticket.id, demo.resident_1, 1, "没修好")
    clock.advance(timedelta(minutes=1))  # periods end before "now", as the digest's do
    assert figures.status(unit("幸福社区"))["reopened"] == 1
    assert drill(unit("幸福社区"), "reopened")[1].count() == 1
    assert figures.status(unit("和平社区"))["reopened"] == 0


def test_ranking_rolls_grids_up_into_the_units_children(history):
    ranked = figures.ranking(city())
    assert [r["name"] for r in ranked] in (["东湖街道", "西山街道"], ["西山街道", "东湖街道"])
    whole = figures.rates(city())["30d"]["current"]
    for field in ("new", "due", "done_in_time", "respond_due", "ratings", "satisfied"):
        assert sum(r[field] for r in ranked) == whole[field], field
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert figures.ranking(unit("幸福一网格")) == []


def test_every_number_has_a_list_of_exactly_that_many_tickets(history):
    place = city()
    for period in ("today", "7d", "30d"):
        c = figures.rates(place)[period]["current"]
        pairs = {"new": c["new"], "resolved": c["resolved"], "respond_due": c["respond_due"],
                 "responded": c["responded_in_time"], "due": c["due"], "done": c["done_in_time"],
                 "satisfied": c["satisfied"],
                 "respond_late": c["respond_due"] - c["responded_in_time"],
                 "late": c["due"] - c["done_in_time"]}  # fmt: skip
        for metric, number in pairs.items():
            assert drill(place, metric, period)[1].count() == number, (period, metric)
    s = figures.status(place)
    for metric in ("open", "overdue", "step_overdue", "overall_overdue", "city_overdue",
                   "reopened"):  # fmt: skip
        assert drill(place, metric)[1].count() == s[metric], metric
    for row in figures.ranking(place):
        child = OrgUnit.get_by_id(row["id"])
        assert drill(place, "new", child=child)[1].count() == row["new"]
    for card in figures_people.scorecards(place)[:5]:
        assert drill(place, "took", handler=card["id"])[1].count() == card["taken"]
        assert drill(place, "on_time_by", handler=card["id"])[1].count() == card["on_time"]
    for spot in figures.hotspots(place):
        assert drill(place, "open", compound=spot["id"])[1].count() == spot["open"]
    assert set(METRICS) >= {"new", "overdue", "city_overdue", "reopened"}


def test_monthly_theme_proposes_the_recurring_problem(history):
    themes = figures.monthly_theme(city())
    top = themes[0]
    assert (top["compound_name"], top["category_name"]) == ("幸福里小区", "消防安全")
    assert top["tickets"] >= 6
    home = Compound.get(Compound.name == "幸福里小区")
    assert (
        drill(city(), "new", category="fire_safety", compound=home.id)[1].count()
        == (top["tickets"])
    )
    assert figures.monthly_theme(unit("翠园社区")) == [
        t for t in themes if t["compound_name"] in ("翠园小区", "碧水家园")
    ]


def test_volunteers_and_property_companies_are_ranked(history):
    points = figures_people.volunteer_points(city())
    assert points and [p["points"] for p in points] == sorted(
        (p["points"] for p in points), reverse=True
    )
    assert all("*" in p["name"] for p in points)
    companies = figures_people.property_companies(city())
    assert {c["name"] for c in companies} == {"红管家物业", "安居物业"}
    assert all(c["band"] in ("红榜", "良好", "重点监督") for c in companies)


def test_digest_push_carries_a_link_to_the_viewers_own_dashboard(history):
    links.configure(links.LinkSettings(secret="s", base_url="http://sidan.example"))
    try:
        digest_job("daily")
    finally:
        links.configure(None)
    row = Outbound.get(Outbound.dedupe_key.startswith("digest:daily:")
                       & (Outbound.openid == "demo_supervisor_1"))  # fmt: skip
    url = row.text.split("数据大屏：")[1].strip()
    assert url.startswith("http://sidan.example/dashboard/login?t=")
    payload = links.read_login_token(url.split("t=")[1], secret="s")
    assert payload["u"] == history.supervisor_1.id and payload["t"] == 86400
