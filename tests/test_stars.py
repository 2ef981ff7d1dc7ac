"""A volunteer's year for 民主评议: services by kind, ratings, points earned and spent, stars."""

from datetime import datetime

from models import lifecycle, shop, stars
from models.lifecycle import wishes
from models.org import OrgUnit
from models.stars import VolunteerYear


def closed_report(demo, volunteer, score=5):
    ticket = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=volunteer)
    lifecycle.take(ticket.id, volunteer)
    lifecycle.resolve(ticket.id, volunteer, "换好了")
    return lifecycle.rate(ticket.id, demo.resident_1, score)


def test_a_volunteers_year_counts_orders_wishes_bookings_ratings_and_points(demo):
    v2 = demo.volunteer_2
    closed_report(demo, v2, score=5)
    closed_report(demo, v2, score=3)
    wish = wishes.post_wish(demo.resident_2, "想请人帮忙买点菜")
    lifecycle.dispatch(wish.id, demo.dispatcher_1, to_pool=True)
    wishes.claim(wish.id, v2)
    lifecycle.resolve(wish.id, v2, "", photos=["http://example.invalid/veg.jpg"])
    lifecycle.rate(wish.id, demo.resident_2, 5)
    booking = wishes.book(demo.resident_3, 1)  # the demo's 陪诊 line is 李秀英's
    lifecycle.take(booking.id, v2)
    lifecycle.resolve(booking.id, v2, "陪同就诊完毕")
    shop.redeem(v2, shop.catalogue(v2)[0].id)  # 洗衣皂两块, 10 points

    rows = {r.user_id: r for r in stars.yearly(2026)}
    row = rows[v2.id]
    assert (row.orders, row.wishes, row.bookings) == (2, 1, 1)
    assert (row.ratings, row.average) == (3, 4.33)
    assert (row.earned, row.spent) == (10 + 5 + 10, 10)
    assert row.party_member and row.stars == 1
    assert stars.yearly(2025)[0].services == 0  # nothing the year before


def test_the_report_can_be_limited_to_a_community(demo):
    happy = OrgUnit.get(OrgUnit.name == "幸福社区")
    names = {r.name for r in stars.yearly(2026, happy)}
    assert names == {"王建国", "李秀英", "张志强", "刘芳", "陈明"}


def test_the_year_is_a_beijing_year(db):
    assert stars.year_bounds(2026) == (datetime(2025, 12, 31, 16), datetime(2026, 12, 31, 16))


def test_stars_grow_with_services_and_drop_for_poor_ratings():
    assert VolunteerYear(1, "a", True).stars == 0
    assert VolunteerYear(1, "a", True, orders=4).stars == 1
    assert VolunteerYear(1, "a", True, orders=10, wishes=10).stars == 4
    assert VolunteerYear(1, "a", True, orders=40, average=4.8).stars == 5
    assert VolunteerYear(1, "a", True, orders=40, average=3.0).stars == 4
