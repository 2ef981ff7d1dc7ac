"""Routing and time limits: the category table, start levels, working-day deadlines."""

from datetime import datetime, timedelta

import pytest

from models.clock import from_local, to_local
from models.enums import Level, Step, Urgency
from models.routing import CATEGORY_CODES, routing


def local(*args) -> datetime:
    return from_local(datetime(*args))


def test_the_table_holds_exactly_the_21_categories():
    table = routing().categories
    assert tuple(table) == CATEGORY_CODES and len(table) == 21
    assert table["fire_safety"].name == "消防安全"
    assert table["renovation"].urgency == Urgency.DIFFICULT
    assert table["property_fee"].urgency == Urgency.HOT
    assert routing().category("no_such_code").code == "other"


@pytest.mark.parametrize(
    "urgency, level",
    [("urgent", Level.GRID), ("normal", Level.GRID), ("difficult", Level.COMMUNITY),
     ("hot", Level.STREET)],
)  # fmt: skip
def test_start_level_follows_urgency(urgency, level):
    assert routing().start_level(urgency) == level


def test_clock_time_limits_ignore_the_calendar():
    start = local(2026, 11, 21, 23, 50)  # a Saturday night
    assert routing().step_deadline("urgent", Step.DISPATCH, start) == start + timedelta(minutes=10)
    assert routing().step_deadline("normal", Step.TAKE, start) == start + timedelta(hours=24)


def test_working_days_skip_the_weekend():
    friday = local(2026, 11, 20, 10, 0)
    due = routing().step_deadline("normal", Step.RESOLVE, friday)  # 3 working days
    assert to_local(due) == datetime(2026, 11, 25, 10, 0)  # Wednesday


def test_a_report_on_the_weekend_counts_from_monday():
    saturday = local(2026, 11, 21, 15, 0)
    due = routing().step_deadline("difficult", Step.DISPATCH, saturday)  # 1 working day
    assert to_local(due) == datetime(2026, 11, 24, 0, 0)  # the end of Monday


def test_working_days_skip_listed_holidays_and_count_make_up_days():
    before_national_day = local(2026, 9, 30, 10, 0)
    due = routing().step_deadline("normal", Step.RESOLVE, before_national_day)
    # 1-7 October are holidays; Thursday 8th and Friday 9th work, and so does Saturday 10th.
    assert to_local(due) == datetime(2026, 10, 10, 10, 0)


def test_the_overall_clock_is_longer_than_any_step():
    start = local(2026, 11, 16, 9, 0)
    for urgency in Urgency:
        overall = routing().overall_deadline(urgency, start)
        for step in (Step.DISPATCH, Step.TAKE, Step.RESOLVE):
            assert overall >= routing().step_deadline(urgency, step, start), (urgency, step)


def test_points_favour_high_ratings_and_urgent_tickets():
    r = routing()
    assert r.points_for(5, "normal") > r.points_for(3, "normal") > r.points_for(1, "normal") == 0
    assert r.points_for(5, "urgent") > r.points_for(5, "normal")
    assert r.points_for(1, "urgent") == 0


def test_a_bad_duration_in_the_table_is_refused(tmp_path):
    from models.routing import DATA_DIR, _parse

    broken = (
        (DATA_DIR / "routing.toml")
        .read_text(encoding="utf-8")
        .replace('dispatch = "10m"', 'dispatch = "ten"')
    )
    path = tmp_path / "routing.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="bad duration"):
        _parse(path, DATA_DIR / "calendar.toml")
