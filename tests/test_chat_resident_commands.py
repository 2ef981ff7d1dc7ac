"""Resident commands by number: one answer for 'not yours' and 'no such ticket', absurd numbers
never echoed, and the typos and synonyms residents use."""

import re

import pytest

from models.enums import State
from models.tickets import Ticket, TicketEvent

NOT_FOUND = "没有找到您的这张工单"


def filed_number(reply: str) -> int:
    return int(re.search(r"工单号 #(\d+)", reply).group(1))


def someone_elses_ticket(chat, openid="demo_resident_4") -> int:
    """An open ticket of a resident of 丹桂苑, filed by chat."""
    other = chat(openid)
    other.say("单元门的门禁坏了")
    return filed_number(other.say("确认"))


COMMANDS = ["查询 #{n}", "催单 #{n}", "撤销 #{n}", "评价 #{n} 满意", "补充 #{n} 我也看到了"]


@pytest.mark.parametrize("command", COMMANDS)
def test_not_yours_reads_exactly_like_does_not_exist(chat, demo, command):
    n = someone_elses_ticket(chat)
    stranger = chat("demo_resident_1")
    theirs = stranger.say(command.format(n=n))
    missing = stranger.say(command.format(n=n + 100))
    assert theirs == missing and NOT_FOUND in theirs
    assert str(n) not in theirs
    assert TicketEvent.select().where(TicketEvent.actor == demo.resident_1).count() == 0


def test_following_by_number_works_only_where_one_lives(chat, demo):
    n = someone_elses_ticket(chat, "demo_resident_4")  # 丹桂苑, in 幸福一网格
    far = chat("walk_in_far")
    far.event("subscribe", "qrscene_compound_12")  # 阳光水岸, another street
    assert far.say(f"关注 #{n}") == far.say(f"关注 #{n + 100}")
    assert "已关注" in chat("demo_resident_1").say(f"关注 #{n}")  # 幸福里, the same grid
    assert Ticket.get_by_id(n).subscriber_count == 1


@pytest.mark.parametrize(
    "text",
    ["查询 #99999999999999999", "查询 #-1", "查询 #abc", "催单 #0", "撤销 ＃１２３４５６７８９０１２３４",
     "评价 #99999999999999999 满意", "补充 #-5 在3号楼", "关注 #1e99", "查询#99999999999999999999999"],
)  # fmt: skip
def test_absurd_numbers_are_never_echoed_and_never_crash(chat, demo, text):
    reply = chat("demo_resident_1").say(text)
    assert "系统开小差" not in reply and reply
    digits = re.sub(r"\D", "", text.translate({0xFF10 + i: str(i) for i in range(10)}))
    assert len(digits) < 2 or digits not in reply
    assert "99999" not in reply and "-1" not in reply and "abc" not in reply


@pytest.mark.parametrize(
    "typed", ["查寻 #{n}", "查看#{n}", "进度 #{n}", "查询 ＃{n}", "查询 #{n} 。"]
)
def test_typos_and_synonyms_of_query_work(chat, demo, typed):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    assert f"#{n} 供电/照明" in resident.say(typed.format(n=n))


def test_cancel_with_a_number_withdraws_the_ticket(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    assert "已撤销" in resident.say(f"取消 #{n}")
    assert Ticket.get_by_id(n).state == State.CANCELLED


def test_urging_without_a_number_urges_the_only_open_ticket(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    assert f"已催办工单 #{n}" in resident.say("催单")
    resident.say("小区健身器材坏了，好几个都不能用")
    resident.say("确认")
    listing = resident.say("查询")
    assert "请带上工单号" in listing and f"#{n}" in listing


def test_my_tickets_with_a_particle_still_lists_them(chat, demo):
    resident = chat("demo_resident_1")
    assert "还没有提交过工单" in resident.say("我的工单吧")


def test_a_chase_without_a_number_shows_the_latest_open_ticket(chat, demo):
    from datetime import timedelta

    from models import clock

    resident = chat("demo_resident_1")
    assert "没有在办的工单" in resident.say("怎么还没人来")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    clock.advance(timedelta(hours=1))
    reply = resident.say("怎么还没人来")
    assert f"#{n}" in reply and f"催单 #{n}" in reply
