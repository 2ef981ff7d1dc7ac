"""The staff side of chat as people type it (issue 10), over signed HTTP: merges that ask,
reopen and hand-back that say who waits, refusals that fit the person, 改类."""

from datetime import timedelta

import pytest

from models import clock, lifecycle
from models.corrections import Correction
from models.enums import Action, Level, State, Urgency
from models.org import OrgUnit, User, WorkUnit
from models.outbox import Outbound
from models.tickets import Ticket, TicketEvent, TicketSubscriber


def inbox(openid: str, after: int = 0) -> list[str]:
    rows = Outbound.select().where((Outbound.openid == openid) & (Outbound.id > after))
    return [row.text for row in rows.order_by(Outbound.id)]


def last_outbound() -> int:
    return Outbound.select(Outbound.id).order_by(Outbound.id.desc()).scalar() or 0


def lamp(demo, reporter=None, **kw) -> Ticket:
    kw.setdefault("building", "3")
    return lifecycle.submit(reporter or demo.resident_1, "3号楼楼道灯坏了", "power_lighting", **kw)


def lift(demo, reporter=None) -> Ticket:
    return lifecycle.submit(
        reporter or demo.resident_2, "电梯困人了，有人被困在3号楼电梯里", "elevator", "urgent",
        building="3",
    )  # fmt: skip


def resolved_by_volunteer(demo, chat) -> Ticket:
    ticket = lamp(demo)
    chat("demo_dispatcher_1").say(f"派单 #{ticket.id} 给 志愿者")
    chat("demo_volunteer_1").say(f"接单 #{ticket.id}")
    chat("demo_volunteer_1").say(f"办结 #{ticket.id} 换了灯泡")
    return ticket


# -- merges ------------------------------------------------------------------------------


def test_merging_an_urgent_lift_into_a_lamp_asks_first_and_no_keeps_them_apart(chat, demo):
    light, trapped = lamp(demo), lift(demo)
    dispatcher = chat("demo_dispatcher_1")
    question = dispatcher.say(f"合并 #{trapped.id} 到 #{light.id}")
    assert "不是同一件事" in question and "类别不同" in question and "紧急" in question
    assert Ticket.get_by_id(trapped.id).state == State.SUBMITTED
    assert "不合并" in dispatcher.say("不是")
    assert Ticket.get_by_id(trapped.id).state == State.SUBMITTED
    assert "待派单" in chat("demo_resident_2").say(f"查询 #{trapped.id}")


def test_a_confirmed_merge_of_unlike_tickets_goes_ahead_and_can_be_undone(chat, demo):
    light, trapped = lamp(demo), lift(demo)
    dispatcher = chat("demo_dispatcher_1")
    dispatcher.say(f"派单 #{trapped.id} 给 红管家物业")
    dispatcher.say(f"合并 #{trapped.id} 到 #{light.id}")
    assert "请回复“确认合并”" in dispatcher.say("嗯？")  # neither yes nor no: asked again
    assert f"#{trapped.id} 已合并到 #{light.id}" in dispatcher.say("确认合并")
    assert f"已合并到 #{light.id}" in chat("demo_resident_2").say("我的工单")
    assert TicketSubscriber.select().where(TicketSubscriber.ticket == light.id).count() == 1

    before = last_outbound()
    reply = dispatcher.say(f"撤销合并 #{trapped.id}")
    assert "已撤销合并" in reply and "已派单" in reply
    back = Ticket.get_by_id(trapped.id)
    assert back.state == State.DISPATCHED and back.merged_into_id is None
    assert back.work_unit.name == "红管家物业" and back.next_check_at is not None
    assert Ticket.get_by_id(light.id).subscriber_count == 0
    assert not TicketSubscriber.select().where(TicketSubscriber.ticket == light.id).exists()
    assert any("恢复单独办理" in t for t in inbox("demo_resident_2", before))
    assert any("撤销了合并" in t or "撤销与" in t for t in inbox("demo_worker_1", before))
    assert inbox("demo_dispatcher_1", before) == []
    timeline = dispatcher.say(f"查询 #{trapped.id}")
    assert "合并" in timeline and "撤销合并" in timeline
    assert "没有被合并" in dispatcher.say(f"撤销合并 #{light.id}")


def test_the_one_line_confirmation_merges_without_a_question(chat, demo):
    light, trapped = lamp(demo), lift(demo)
    reply = chat("demo_dispatcher_1").say(f"合并 #{trapped.id} 到 #{light.id} 确认")
    assert "已合并到" in reply
    assert Ticket.get_by_id(trapped.id).merged_into_id == light.id


def test_unlike_places_ask_too(chat, demo):
    here = lamp(demo)
    there = lamp(demo, demo.resident_4)  # 丹桂苑, the same grid
    assert "地点不同" in chat("demo_dispatcher_1").say(f"合并 #{there.id} 到 #{here.id}")


# -- reopen and hand-back ----------------------------------------------------------------


def test_an_unhappy_rating_puts_it_back_in_the_queue_and_tells_the_volunteer(chat, demo):
    ticket = resolved_by_volunteer(demo, chat)
    before = last_outbound()
    reply = chat("demo_resident_1").say("不满意 灯还是不亮")
    assert "重新打开" in reply
    assert all(reply != text for text in inbox("demo_resident_1", before))  # no echo push
    assert any("灯还是不亮" in t for t in inbox("demo_volunteer_1", before))
    pushed = inbox("demo_dispatcher_1", before)
    assert pushed and all("待派单" in t for t in pushed)
    queue = chat("demo_dispatcher_1").say("待派单")
    assert f"#{ticket.id} 供电/照明 · 幸福里小区3号楼 · 待派单" in queue
    assert "· 待派单" in chat("demo_resident_1").say(f"查询 #{ticket.id}")
    timeline = chat("demo_dispatcher_1").say(f"查询 #{ticket.id}")
    assert "重新打开" in timeline and "提级" in timeline
    assert Ticket.get_by_id(ticket.id).level == Level.COMMUNITY


def test_a_handed_back_ticket_waits_for_dispatch_and_the_dispatcher_reads_that(chat, demo):
    ticket = lamp(demo)
    chat("demo_dispatcher_1").say(f"派单 #{ticket.id} 给 红管家物业")
    chat("demo_worker_1").say(f"接单 #{ticket.id}")
    before = last_outbound()
    reply = chat("demo_worker_1").say(f"退单 #{ticket.id} 缺少配件")
    assert "社区工作人员会重新安排" in reply  # 幸福一网格 has no 网格员: its community dispatches
    assert Ticket.get_by_id(ticket.id).state == State.SUBMITTED
    [told] = inbox("demo_dispatcher_1", before)
    assert "缺少配件" in told and "待派单" in told
    assert f"#{ticket.id}" in chat("demo_dispatcher_1").say("待派单")
    assert "转给" not in chat("demo_dispatcher_1").say(f"转单 #{ticket.id} 给 王建国")


def test_hand_back_names_the_grid_worker_where_the_grid_has_one(chat, demo):
    resident = User.create(openid="heping_resident", name="周阿姨")
    grid = OrgUnit.get(OrgUnit.name == "和平一网格")
    ticket = lifecycle.submit(resident, "楼道灯坏了", "power_lighting", grid=grid)
    grid_worker = User.get(User.openid == f"grid_{grid.id}_worker")
    chat(grid_worker.openid).say(f"派单 #{ticket.id} 给 安居物业")
    anju = WorkUnit.get(WorkUnit.name == "安居物业")
    User.create(openid="anju_worker", name="钱师傅", role="worker", work_unit=anju)
    chat("anju_worker").say(f"接单 #{ticket.id}")
    assert "网格员会重新安排" in chat("anju_worker").say(f"退单 #{ticket.id} 不归我们管")


def test_a_volunteer_who_hands_back_a_pool_ticket_is_not_offered_it_again(chat, demo):
    ticket = lamp(demo)
    chat("demo_dispatcher_1").say(f"派单 #{ticket.id} 给 志愿者")
    chat("demo_volunteer_1").say(f"接单 #{ticket.id}")
    before = last_outbound()
    assert "接单池" in chat("demo_volunteer_1").say(f"退单 #{ticket.id} 家里有事")
    assert inbox("demo_volunteer_1", before) == []
    assert any(f"接单 #{ticket.id}" in t for t in inbox("demo_volunteer_3", before))


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "openid, text, must, must_not",
    [
        ("demo_dispatcher_1", "接单 #1", "派单 #12 给 志愿者", "邀请码"),
        ("demo_dispatcher_1", "我的任务", "待派单", "邀请码"),
        ("demo_dispatcher_1", "督办 #1", "提级 #12", "需要"),
        ("demo_dispatcher_1", "撤销 #1", "撤销合并", "没看懂"),
        ("demo_supervisor_1", "派单 #1 给 志愿者", "督办 #12", "领导身份"),
        ("demo_supervisor_1", "接单 #1", "督办 #12", "邀请码"),
        ("demo_volunteer_1", "派单 #1 给 志愿者", "附近工单", "邀请码"),
        ("demo_worker_1", "督办 #1", "我的任务", "邀请码"),
        ("demo_resident_1", "接单 #1", "邀请码", "派单 #12"),
        ("demo_resident_1", "待派单", "我的工单", "邀请码"),
    ],
)
def test_a_refusal_says_what_this_person_can_do_instead(chat, demo, openid, text, must, must_not):
    lamp(demo)
    reply = chat(openid).say(text)
    assert must in reply and must_not not in reply


def test_the_loser_of_a_take_race_is_told_someone_else_took_it(chat, demo):
    ticket = lamp(demo)
    chat("demo_dispatcher_1").say(f"派单 #{ticket.id} 给 志愿者")
    assert "接单成功" in chat("demo_volunteer_1").say(f"接单 #{ticket.id}")
    assert "已经被别人接走了" in chat("demo_volunteer_2").say(f"接单 #{ticket.id}")
    assert "已经在您手上" in chat("demo_volunteer_1").say(f"接单 #{ticket.id}")


# -- smaller ones ------------------------------------------------------------------------


def test_a_dispatcher_is_not_pushed_about_their_own_escalation(chat, demo):
    ticket = lamp(demo)
    before = last_outbound()
    assert "已提级到幸福社区" in chat("demo_dispatcher_1").say(f"提级 #{ticket.id} 需要社区协调")
    assert inbox("demo_dispatcher_1", before) == []
    assert any("需要社区协调" in t for t in inbox("demo_supervisor_1", before))


def test_a_property_worker_sees_what_was_dispatched_to_their_company(chat, demo):
    ticket = lamp(demo)
    assert "没有进行中的工单" in chat("demo_worker_1").say("我的任务")
    chat("demo_dispatcher_1").say(f"派单 #{ticket.id} 给 红管家物业")
    tasks = chat("demo_worker_1").say("我的任务")
    assert f"#{ticket.id}" in tasks and "派给红管家物业" in tasks and f"接单 #{ticket.id}" in tasks
    chat("demo_worker_1").say(f"接单 #{ticket.id}")
    assert "派给" not in chat("demo_worker_1").say("我的任务")


def test_an_urgent_report_reaches_each_on_duty_person_once(demo):
    before = last_outbound()
    lift(demo)
    assert len(inbox("demo_dispatcher_1", before)) == 1
    assert len(inbox("demo_supervisor_1", before)) == 1


def test_cancelling_an_urgent_ticket_tells_everyone_who_was_alerted(chat, demo):
    trapped = lift(demo)
    chat("demo_dispatcher_1").say(f"派单 #{trapped.id} 给 红管家物业")
    before = last_outbound()
    assert "已撤销" in chat("demo_resident_2").say(f"撤销 #{trapped.id} 人已经出来了")
    for openid in ("demo_dispatcher_1", "demo_supervisor_1", "demo_worker_1"):
        assert any("已由居民撤销" in t for t in inbox(openid, before)), openid
    assert inbox("demo_resident_2", before) == []


# -- 改类 --------------------------------------------------------------------------------


def test_recategorize_changes_category_and_urgency_and_records_one_correction(chat, demo):
    ticket = lamp(demo)
    clock.advance(timedelta(minutes=40))
    before = last_outbound()
    reply = chat("demo_dispatcher_1").say(f"改类 #{ticket.id} 电梯 紧急")
    assert "供电/照明（一般） 改为 电梯（紧急）" in reply and "值班" in reply
    moved = Ticket.get_by_id(ticket.id)
    assert (moved.category, moved.urgency) == ("elevator", Urgency.URGENT)
    assert moved.step_due_at == clock.now() + timedelta(minutes=10)  # urgent dispatch limit
    assert moved.due_at == ticket.created_at + timedelta(hours=6)
    [row] = Correction.select()
    assert (row.old_category, row.new_category, row.old_urgency, row.new_urgency) == (
        "power_lighting", "elevator", "normal", "urgent",
    )  # fmt: skip
    assert row.corrected_by.openid == "demo_dispatcher_1" and row.text == ticket.text
    assert any("紧急" in t for t in inbox("demo_supervisor_1", before))
    assert "改类" in chat("demo_dispatcher_1").say(f"查询 #{ticket.id}")


def test_recategorize_releases_a_unit_that_no_longer_fits_and_tells_it(chat, demo):
    ticket = lamp(demo)
    chat("demo_dispatcher_1").say(f"派单 #{ticket.id} 给 红管家物业")
    before = last_outbound()
    reply = chat("demo_dispatcher_1").say(f"改类 #{ticket.id} 邻里纠纷")
    assert "原来的红管家物业不再负责" in reply and "待派单" in reply
    moved = Ticket.get_by_id(ticket.id)
    assert moved.state == State.SUBMITTED and moved.work_unit_id is None
    assert any("不用再处理" in t for t in inbox("demo_worker_1", before))
    assert f"#{ticket.id}" in chat("demo_dispatcher_1").say("待派单")


def test_recategorize_to_a_hot_topic_moves_the_owner_up_to_the_street(chat, demo):
    ticket = lamp(demo)
    reply = chat("demo_dispatcher_1").say(f"改类 #{ticket.id} 物业收费 热点")
    assert "东湖街道" in reply
    moved = Ticket.get_by_id(ticket.id)
    assert moved.level == Level.STREET and moved.urgency == Urgency.HOT
    street = User.get(User.openid == f"street_{moved.org_unit_id}_dispatcher")
    assert any("转到您处" in t or "已改为" in t for t in inbox(street.openid))


@pytest.mark.parametrize(
    "words, category, urgency",
    [("照明 一般", "power_lighting", "normal"), ("为漏水", "water_supply", "normal"),
     ("elevator", "elevator", "normal"), ("紧急", "other", "urgent"),
     ("电梯紧急", "elevator", "urgent")],
)  # fmt: skip
def test_recategorize_understands_names_parts_codes_and_urgency_words(
    chat, demo, words, category, urgency
):
    ticket = lifecycle.submit(demo.resident_1, "楼道里有点问题", "other")
    assert "已记下" in chat("demo_dispatcher_1").say(f"改类 #{ticket.id} {words}")
    moved = Ticket.get_by_id(ticket.id)
    assert (moved.category, moved.urgency) == (category, urgency)


def test_recategorize_refusals_write_nothing(chat, demo):
    ticket = lamp(demo)
    dispatcher = chat("demo_dispatcher_1")
    assert "可选类别" in dispatcher.say(f"改类 #{ticket.id} 外星人")
    assert "不用改" in dispatcher.say(f"改类 #{ticket.id} 供电/照明")
    assert "没有找到工单 #999" in dispatcher.say("改类 #999 电梯")
    assert "格式不太对" in dispatcher.say("改类 电梯")
    assert "督办 #12" in chat("demo_supervisor_1").say(f"改类 #{ticket.id} 电梯")
    assert Correction.select().count() == 0
    assert not TicketEvent.select().where(TicketEvent.action == Action.RECATEGORIZE).exists()
