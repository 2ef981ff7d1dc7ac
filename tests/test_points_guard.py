"""Anti-gaming: no points for one's own household; a pair trading ratings is held for review."""

from datetime import timedelta

import pytest

from models import clock, gaming, lifecycle
from models.errors import TicketError
from models.gaming import FlagState, PointsFlag
from models.lifecycle import wishes
from models.org import Compound, User
from models.outbox import Outbound
from models.tickets import PointsEntry


def served(demo, volunteer, resident=None, score=5):
    """One ticket from report to rating, done by `volunteer` for `resident`."""
    resident = resident or demo.resident_1
    ticket = lifecycle.submit(resident, "楼道灯坏了", "power_lighting")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=volunteer)
    lifecycle.take(ticket.id, volunteer)
    lifecycle.resolve(ticket.id, volunteer, "换好了")
    return lifecycle.rate(ticket.id, resident, score)


def points_of(user) -> int:
    return sum(e.points for e in PointsEntry.select().where(PointsEntry.user == user))


def test_no_points_for_serving_ones_own_household_through_a_proxy_wish(demo):
    home = Compound.get(Compound.name == "幸福里小区")
    volunteer = demo.volunteer_2
    volunteer.household = f"{home.id}-3-101"
    volunteer.save()
    ticket = wishes.post_wish_for(demo.dispatcher_1, "张奶奶", "想请人帮忙买菜", home,
                                  building="3", room="101")  # fmt: skip
    wishes.claim(ticket.id, volunteer)
    lifecycle.resolve(ticket.id, volunteer, "", photos=["http://example.invalid/veg.jpg"])
    lifecycle.rate(ticket.id, demo.dispatcher_1, 5)
    assert points_of(volunteer) == 0


def test_no_points_when_the_reporter_is_of_the_volunteers_household(demo):
    ticket = served(demo, demo.volunteer_1)
    demo_volunteer = demo.volunteer_1
    demo_volunteer.household = demo.resident_1.household
    demo_volunteer.save()
    PointsEntry.delete().execute()
    assert lifecycle.award_points(ticket, demo_volunteer, 5) == 0
    assert points_of(demo_volunteer) == 0


def test_the_third_rating_between_the_same_pair_is_held_for_review(demo):
    volunteer = demo.volunteer_1
    served(demo, volunteer)
    served(demo, volunteer)
    assert points_of(volunteer) == 20
    third = served(demo, volunteer)
    assert points_of(volunteer) == 20
    flag = PointsFlag.get(PointsFlag.ticket == third.id)
    assert (flag.state, flag.points, flag.pair_ratings) == (FlagState.PENDING, 10, 3)
    told = [o.text for o in Outbound.select().where(Outbound.openid == "demo_dispatcher_1")]
    assert any("积分复核" in t and third.number in t for t in told)
    # Another resident served by the same volunteer is not held.
    served(demo, volunteer, demo.resident_2)
    assert points_of(volunteer) == 30


def test_ratings_further_apart_than_the_window_are_not_held(demo):
    volunteer = demo.volunteer_1
    served(demo, volunteer)
    served(demo, volunteer)
    clock.advance(gaming.PAIR_WINDOW + timedelta(days=1))
    served(demo, volunteer)
    assert points_of(volunteer) == 30 and PointsFlag.select().count() == 0


def test_approved_points_are_credited_once_and_rejected_ones_never(demo):
    volunteer = demo.volunteer_1
    for _ in range(4):
        served(demo, volunteer)
    first, second = PointsFlag.select().order_by(PointsFlag.id)
    gaming.review(first.id, demo.dispatcher_1, approve=True)
    assert points_of(volunteer) == 30
    with pytest.raises(TicketError, match="已经复核过了"):
        gaming.review(first.id, demo.dispatcher_1, approve=True)
    with pytest.raises(TicketError, match="写明原因"):
        gaming.review(second.id, demo.dispatcher_1, approve=False)
    gaming.review(second.id, demo.dispatcher_1, approve=False, note="同一户反复互评")
    assert points_of(volunteer) == 30
    assert PointsFlag.get_by_id(second.id).state == FlagState.REJECTED


def test_only_a_dispatcher_over_the_ticket_reviews(demo):
    for _ in range(3):
        served(demo, demo.volunteer_1)
    flag = PointsFlag.get()
    with pytest.raises(TicketError, match="网格员或社区工作者"):
        gaming.review(flag.id, demo.volunteer_2, approve=True)
    far = User.get(User.openid.startswith("grid_") & User.name.contains("翠园"))
    with pytest.raises(TicketError, match="没有找到待复核"):
        gaming.review(flag.id, far, approve=True)


def test_dispatchers_review_held_points_in_chat(chat, demo):
    for _ in range(3):
        served(demo, demo.volunteer_1)
    flag = PointsFlag.get()
    dispatcher = chat("demo_dispatcher_1")
    listing = dispatcher.say("积分复核")
    assert f"{flag.id}. 工单 {flag.ticket.number}" in listing and "互评3次" in listing
    assert "不通过 互相刷单" in dispatcher.say(f"复核 {flag.id}")
    assert "积分已发放" in dispatcher.say(f"复核 {flag.id} 通过")
    assert "没有待复核" in dispatcher.say("积分复核")
