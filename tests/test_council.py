"""The monthly 议事会: agenda from hot and recurring tickets and owners, the four parties,
decisions that open a ticket or a vote, and residents reading the decisions."""

from datetime import timedelta

import pytest

from models import council, lifecycle
from models.clock import now
from models.enums import Urgency
from models.errors import TicketError
from models.org import Compound
from models.tickets import TicketAssist
from models.votes import Vote


@pytest.fixture
def home(demo):
    return Compound.get(Compound.name == "幸福里小区")


def _file(demo, text, category, urgency=None):
    return lifecycle.submit(demo.resident_1, text, category, urgency)


def test_hot_and_recurring_tickets_become_agenda_items_once(demo, home):
    hot = _file(demo, "物业费要涨价，大家都有意见", "property_fee", Urgency.HOT)
    for text in ("3号楼门口乱停车", "消防通道又被车堵了", "晚上车停满了人行道"):
        _file(demo, text, "parking_charging")
    _file(demo, "楼道灯坏了", "power_lighting")
    meeting = council.meeting_for(home)

    added = council.suggest_agenda(demo.dispatcher_1, meeting)
    again = council.suggest_agenda(demo.dispatcher_1, meeting)

    assert {(a.source, a.category) for a in added} == {
        ("hot_ticket", "property_fee"), ("recurring", "parking_charging")}  # fmt: skip
    assert any(a.ticket_id == hot.id for a in added)
    assert "近60天3件" in next(a.title for a in added if a.source == "recurring")
    assert again == []


def test_a_decision_opens_a_jointly_handled_ticket_and_a_vote(demo, home):
    meeting = council.meeting_for(home)
    for party, name in (("party_community", "幸福社区书记"), ("owners_committee", "业委会主任"),
                        ("property", "红管家物业经理"), ("owner_rep", "3号楼业主代表")):  # fmt: skip
        council.attend(demo.dispatcher_1, meeting, party, name)

    fix = council.decide(demo.dispatcher_1, meeting, "物业费公示不清，由物业和社区一起核对",
                         ticket_category="property_fee")  # fmt: skip
    ask = council.decide(demo.dispatcher_1, meeting, "是否使用维修资金更换2号楼电梯", vote={
        "options": ["同意", "不同意"], "closes_at": now() + timedelta(days=7)})  # fmt: skip

    assert {a.party for a in meeting.attendance} == set(council.PARTIES)
    assert fix.ticket.urgency == Urgency.HOT and fix.ticket.compound_id == home.id
    assert TicketAssist.select().where(TicketAssist.ticket == fix.ticket).count() >= 1
    vote = Vote.get_by_id(ask.vote_id)
    assert vote.kind == "ordinary"  # 使用维修资金: 第278条 第一款第五项, an ordinary majority
    assert vote.question == "是否使用维修资金更换2号楼电梯"


def test_only_managers_record_meetings(demo, home):
    meeting = council.meeting_for(home)

    with pytest.raises(TicketError) as refused:
        council.decide(demo.resident_2, meeting, "随便决定")
    assert refused.value.code == "forbidden"
    with pytest.raises(TicketError):
        council.attend(demo.dispatcher_1, meeting, "everyone", "某人")


def test_owners_propose_in_chat_and_residents_read_decisions(chat, demo, home):
    proposed = chat("demo_resident_2").say("提议 小区东门加装充电桩")
    meeting = council.meeting_for(home)
    council.decide(demo.dispatcher_1, meeting, "东门充电桩由物业三周内加装",
                   agenda_item_id=meeting.agenda[0].id, ticket_category="parking_charging")  # fmt: skip

    assert "已把您的议题列入幸福里小区" in proposed
    assert [a.source for a in meeting.agenda] == ["owner"]
    # Moves to 幸福里小区 (owns no flat there): a scan elsewhere asks first, "1" rebinds.
    assert "回复 1" in chat("demo_resident_4").event("SCAN", "compound_1")
    chat("demo_resident_4").say("1")
    decisions = chat("demo_resident_4").say("议事会")
    assert "东门充电桩由物业三周内加装" in decisions and "已立工单 #" in decisions
    assert "请在“提议”后面写上议题" in chat("demo_resident_2").say("提议")
    assert "绑定" in chat("demo_resident_5").say("提议 修路")  # 丹桂苑 resident, no household
