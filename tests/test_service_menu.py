"""The volunteers' service menu (菜单式服务): listing from 能人库 skills, booking, the usual path."""

import re

import pytest

from models import lifecycle, wishes
from models.enums import State, TicketKind
from models.errors import TicketError
from models.lifecycle import wishes as bookings
from models.outbox import Outbound
from models.tickets import PointsEntry, Ticket
from models.wishes import ServiceOffer


def offer_titled(title: str) -> ServiceOffer:
    return ServiceOffer.get((ServiceOffer.title == title) & ServiceOffer.active)


def test_a_volunteer_lists_a_service_resting_on_a_skill(demo):
    row = wishes.offer(demo.volunteer_1, "家电维修", "周日下午")
    assert (row.skill, row.category, row.times) == ("维修", "public_facility", "周日下午")
    with pytest.raises(TicketError, match="不在您的能人库特长里（您的特长：电工、水电工、维修）"):
        wishes.offer(demo.volunteer_1, "理发", "周六上午")
    again = wishes.offer(demo.volunteer_1, "家电维修", "周六全天")
    assert again.id == row.id and ServiceOffer.get_by_id(row.id).times == "周六全天"


def test_a_volunteer_lists_at_most_five_services(demo):
    for n in range(5):
        wishes.offer(demo.volunteer_1, f"电工{n}", "周末")
    with pytest.raises(TicketError, match="最多登记 5 项"):
        wishes.offer(demo.volunteer_1, "电工5", "周末")


def test_residents_see_the_menu_of_their_street_without_withdrawn_lines(demo):
    titles = [o.title for o in wishes.menu_for(demo.resident_1)]
    assert titles == ["陪诊", "法律咨询"]  # the demo's two lines
    wishes.withdraw(demo.volunteer_2, offer_titled("陪诊").id)
    assert [o.title for o in wishes.menu_for(demo.resident_1)] == ["法律咨询"]
    with pytest.raises(TicketError, match="没有找到服务"):
        bookings.book(demo.resident_1, offer_titled("法律咨询").id + 100)


def test_a_booking_goes_straight_to_the_volunteer_and_follows_the_usual_path(demo):
    offer = offer_titled("法律咨询")
    ticket = bookings.book(demo.resident_1, offer.id, "想问问遗嘱怎么写")
    assert (ticket.kind, ticket.state, ticket.assignee_id, ticket.category) == (
        TicketKind.BOOKING, State.DISPATCHED, demo.volunteer_3.id, "consultation",
    )  # fmt: skip
    told = Outbound.get(Outbound.openid == "demo_volunteer_3")
    assert "预约了您的“法律咨询”服务" in told.text and f"接单 {ticket.number}" in told.text
    assert not Outbound.select().where(Outbound.openid == "demo_dispatcher_1").exists()
    lifecycle.take(ticket.id, demo.volunteer_3)
    with pytest.raises(TicketError, match="不是您接的单"):
        lifecycle.resolve(ticket.id, demo.volunteer_1, "答复了")
    lifecycle.resolve(ticket.id, demo.volunteer_3, "已上门讲解")
    assert lifecycle.rate(ticket.id, demo.resident_1, 5).state == State.CLOSED
    assert PointsEntry.get(PointsEntry.ticket == ticket.id).user_id == demo.volunteer_3.id


def test_nobody_books_their_own_household(demo):
    volunteer = demo.volunteer_3
    volunteer.household = demo.resident_1.household
    volunteer.save()
    with pytest.raises(TicketError, match="家里人登记的服务"):
        bookings.book(demo.resident_1, offer_titled("法律咨询").id)
    assert Ticket.select().count() == 0


def test_volunteer_lists_and_resident_books_in_chat(chat, demo):
    volunteer, resident = chat("demo_volunteer_1"), chat("demo_resident_1")
    listed = volunteer.say("我的服务 家电维修 周六上午")
    assert "已登记到服务菜单" in listed
    number = int(re.search(r"(\d+)\. 家电维修", listed).group(1))
    assert "家电维修 · 周六上午" in volunteer.say("我的服务")
    menu = resident.say("服务菜单")
    assert f"{number}. 家电维修 · 王** · 周六上午" in menu
    booked = resident.say(f"预约 {number} 洗衣机不转了，下午在家")
    assert "已为您预约王**的“家电维修”" in booked
    n = int(re.search(r"预约单号 #(\d+)", booked).group(1))
    assert f"#{n}" in volunteer.say("我的任务")
    assert "接单成功" in volunteer.say(f"接单 #{n}")
    assert "已办结" in volunteer.say(f"办结 #{n} 皮带换好了")
    assert "感谢您的评价" in resident.say("满意")
    assert "共有 10 积分" in volunteer.say("我的积分")
    assert "已停止服务：家电维修" in volunteer.say(f"停止服务 {number}")
    assert "家电维修" not in resident.say("服务菜单")


def test_menu_commands_tell_the_wrong_role_whose_they_are(chat, demo):
    assert "志愿者" in chat("demo_resident_1").say("我的服务 理发 周六")
    assert "给居民用的" in chat("demo_dispatcher_1").say("服务菜单")
    assert "服务编号" in chat("demo_resident_1").say("预约")
