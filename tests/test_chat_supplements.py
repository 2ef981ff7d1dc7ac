"""What a resident sends after filing goes to the filed ticket, its timeline and its handler."""

import re
from datetime import timedelta

import pytest

from models import clock, lifecycle
from models.enums import Action
from models.errors import TicketError
from models.outbox import Outbound
from models.tickets import Ticket, TicketEvent


def filed_number(reply: str) -> int:
    return int(re.search(r"工单号 #(\d+)", reply).group(1))


def pushes_to(openid: str, contains: str) -> list[str]:
    rows = Outbound.select().where((Outbound.openid == openid) & Outbound.text.contains(contains))
    return [row.text for row in rows]


def supplements_of(number: int) -> list[TicketEvent]:
    return list(
        TicketEvent.select().where(
            (TicketEvent.ticket == number) & (TicketEvent.action == Action.SUPPLEMENT)
        )
    )


def file_urgent_elevator(chat) -> int:
    reply = chat("demo_resident_1").say("电梯里困了个老人，快来人")
    assert "紧急情况已立即上报" in reply and "30分钟内" in reply  # the window is said
    return filed_number(reply)


def test_details_after_an_urgent_filing_reach_the_ticket_and_the_dispatcher(chat, demo):
    n = file_urgent_elevator(chat)
    resident = chat("demo_resident_1")
    reply = resident.say("是5号楼东边那部电梯")
    assert f"已补充到工单 #{n}" in reply and "类似" not in reply
    assert Ticket.select().count() == 1
    assert Ticket.get_by_id(n).building == "5"
    assert pushes_to("demo_dispatcher_1", "5号楼东边那部电梯")
    detail = resident.say(f"查询 #{n}")
    assert "居民补充：是5号楼东边那部电梯" in detail and "幸福里小区5号楼" in detail


def test_a_photo_and_a_location_after_filing_attach_too(chat, demo):
    n = file_urgent_elevator(chat)
    resident = chat("demo_resident_1")
    assert f"已补充到工单 #{n}" in resident.photo("http://example.invalid/lift.jpg")
    assert f"已补充到工单 #{n}" in resident.location(30.2742, 120.1552, "幸福里5幢")
    events = supplements_of(n)
    assert [e.data.get("photos") for e in events] == [["http://example.invalid/lift.jpg"], None]
    assert events[1].data["label"] == "幸福里5幢"
    ticket = Ticket.get_by_id(n)
    assert (ticket.lat, ticket.lng) == (30.2742, 120.1552)  # it had none: filled in
    assert "位置：幸福里5幢" in resident.say(f"查询 #{n}")
    assert len(pushes_to("demo_dispatcher_1", "【居民补充】")) == 2


def test_once_taken_the_volunteer_is_the_one_told(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    chat("demo_dispatcher_1").say(f"派单 #{n} 给 王建国")
    chat("demo_volunteer_1").say(f"接单 #{n}")
    before = len(pushes_to("demo_dispatcher_1", "【居民补充】"))
    assert f"已补充到工单 #{n}" in resident.say("灯一闪一闪的，晚上完全不亮")
    assert pushes_to("demo_volunteer_1", "灯一闪一闪的")
    assert len(pushes_to("demo_dispatcher_1", "【居民补充】")) == before


def test_a_short_detail_after_filing_is_forwarded(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    assert f"已补充到工单 #{n}" in resident.say("已经三天了")
    assert pushes_to("demo_dispatcher_1", "已经三天了")


def test_after_the_window_a_photo_starts_a_new_report(chat, demo):
    n = file_urgent_elevator(chat)
    clock.advance(timedelta(minutes=31))
    reply = chat("demo_resident_1").photo()
    assert "收到照片" in reply and f"#{n}" not in reply
    assert supplements_of(n) == []


def test_add_to_by_number_works_any_time_while_open(chat, demo):
    n = file_urgent_elevator(chat)
    clock.advance(timedelta(hours=5))
    resident = chat("demo_resident_1")
    assert f"已补充到工单 #{n}" in resident.say(f"补充 #{n} 老人已经出来了，电梯还停在3楼")
    assert "请发来要补充" in resident.say(f"补充 #{n}")
    assert "照片已附上" in resident.photo()
    assert [bool(e.data) for e in supplements_of(n)] == [False, True]


def test_a_different_problem_within_the_window_is_a_new_report(chat, demo):
    n = file_urgent_elevator(chat)
    reply = chat("demo_resident_1").say("小区里有人遛狗不牵绳")
    assert "请确认报事内容" in reply and "宠物" in reply
    assert supplements_of(n) == []


def test_the_same_complaint_again_within_the_window_is_recognised(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    reply = resident.say("3号楼楼道灯坏了")
    assert f"已经报过了：工单 #{n}" in reply
    assert supplements_of(n) == [] and Ticket.select().count() == 1


def test_thanks_after_filing_is_answered_and_not_attached(chat, demo):
    n = file_urgent_elevator(chat)
    for text in ("谢谢", "好的", "确认"):
        reply = chat("demo_resident_1").say(text)
        assert f"工单 #{n} 已经提交" in reply
    assert "具体是什么问题" in chat("demo_resident_1").say("帮我看看这个")  # too vague to forward
    assert supplements_of(n) == []


def test_the_same_complaint_after_the_window_is_offered_as_yours(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    clock.advance(timedelta(hours=2))
    offer = resident.say("楼道灯还是不亮")
    assert "您已经报过类似的问题" in offer and f"#{n}" in offer
    assert "附近已经有人反映" not in offer
    assert f"已补充到工单 #{n}" in resident.say("1")
    assert Ticket.select().count() == 1 and len(supplements_of(n)) == 1


def test_no_one_adds_to_a_ticket_that_is_not_theirs_or_not_open(chat, demo):
    n = file_urgent_elevator(chat)
    assert "没有找到您的这张工单" in chat("demo_resident_2").say(f"补充 #{n} 我也看到了")
    resident = chat("demo_resident_1")
    resident.say(f"撤销 #{n}")
    assert "不能再补充" in resident.say(f"补充 #{n} 其实没事了")
    assert supplements_of(n) == []


def test_a_location_outside_a_draft_is_acknowledged_with_its_place(chat, demo):
    assert "收到位置（幸福里小区）" in chat("demo_resident_3").location(30.2741, 120.1551)
    assert "不在我们服务的范围内" in chat("walk_in_5").location(39.9, 116.4, "北京")


def test_supplement_fills_only_what_the_ticket_lacks(demo):
    resident = demo.resident_1
    ticket = lifecycle.submit(resident, "电梯困人", "elevator", "urgent", building="3")
    lifecycle.supplement(ticket.id, resident, text="在5号楼", building="5", room="301")
    again = Ticket.get_by_id(ticket.id)
    assert (again.building, again.room, again.version) == ("3", "301", ticket.version + 1)
    with pytest.raises(TicketError) as refused:
        lifecycle.supplement(ticket.id, demo.resident_2, text="我也是")
    assert refused.value.code == "not_found"
    with pytest.raises(TicketError):
        lifecycle.supplement(ticket.id, resident)  # nothing to add
