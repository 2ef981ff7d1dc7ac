"""Owners' votes in chat, over signed HTTP: open, cast with a receipt, change, close, check."""

import re
from datetime import timedelta

from models.ballots import Ballot
from models.clock import advance
from models.outbox import Outbound
from models.owners import Household
from models.votes import Vote
from scheduler import votes as vote_jobs

OPEN = "发起投票 幸福里小区｜是否同意选聘安居物业？｜同意/不同意/弃权｜7｜一般"


def _receipt(reply: str) -> str:
    return re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", reply).group(0)


def test_a_dispatcher_opens_a_vote_and_owners_are_told(chat, demo):
    reply = chat("demo_dispatcher_1").say(OPEN)

    assert "表决 V1 已发起" in reply and "名册 4 户" in reply
    told = {o.user_id for o in Outbound.select().where(Outbound.text.contains("是否同意选聘"))}
    assert told == {demo.resident_1.id, demo.resident_2.id, demo.resident_3.id}


def test_an_owner_votes_by_number_confirms_and_gets_a_receipt(chat, demo):
    chat("demo_dispatcher_1").say(OPEN)
    owner = chat("demo_resident_2")

    paper = owner.say("投票")
    assert "1. 同意" in paper and "请回复选项编号" in paper
    assert "同意" in owner.say("1") and "确认" in owner.say("1")
    done = owner.say("确认")

    assert "投票成功" in done and "1-1-102" in done
    assert Ballot.select().count() == 1
    again = owner.say("投票")
    assert "已经投过票" in again


def test_a_resident_without_a_household_is_told_how_to_bind(chat, demo):
    chat("demo_dispatcher_1").say(OPEN)

    assert "绑定 房屋码" in chat("demo_resident_4").say("投票")


def test_binding_with_a_household_code_lets_a_resident_vote(chat, demo):
    chat("demo_dispatcher_1").say(OPEN)
    code = Household.get(Household.label == "1-1-202").bind_code
    resident = chat("demo_resident_4")

    assert "绑定成功" in resident.say(f"绑定 {code}")
    assert "无效或已经用过" in chat("demo_resident_5").say(f"绑定 {code}")
    assert "请回复选项编号" in resident.say("投票")


def test_results_are_hidden_in_chat_until_the_close_then_the_receipt_checks(chat, demo):
    chat("demo_dispatcher_1").say(OPEN)
    owner = chat("demo_resident_1")
    owner.say("投票")
    owner.say("2")
    code = _receipt(owner.say("确认"))

    assert "还没有截止" in owner.say(f"核对 {code}")
    assert "不显示各选项票数" in chat("demo_dispatcher_1").say("表决进度 V1")
    assert "还没有已经结束" in owner.say("表决结果")

    advance(timedelta(days=7, minutes=1))
    assert vote_jobs.handle_one_closing()

    checked = owner.say(f"核对 {code.lower().replace('-', '')}")
    assert "已计入：“不同意”" in checked
    assert Vote.get_by_id(1).tally_hash in checked
    assert "不生效" in owner.say("表决结果")  # 1 of 4 flats took part


def test_an_owner_changes_a_vote_with_the_receipt(chat, demo):
    chat("demo_dispatcher_1").say(OPEN)
    owner = chat("demo_resident_3")
    owner.say("投票")
    owner.say("1")
    code = _receipt(owner.say("确认"))

    owner.say("投票")
    assert "回执码" in owner.say("2")
    assert "回执码不对" in owner.say("AAAA-BBBB-CCCC")
    owner.say("改票")
    owner.say("2")
    assert "改票成功" in owner.say(code)

    assert [b.option for b in Ballot.select()] == [1]


def test_a_resident_cannot_open_a_vote(chat, demo):
    reply = chat("demo_resident_4").say(OPEN)

    assert "只有社区工作人员" in reply
    assert Vote.select().count() == 0


def test_changing_before_voting_starts_a_first_ballot(chat, demo):
    chat("demo_dispatcher_1").say(OPEN)
    owner = chat("demo_resident_2")

    assert "请回复选项编号" in owner.say("改票")
    assert "确认" in owner.say("3")
    assert "投票成功" in owner.say("确认")
