"""Whole conversations over signed HTTP, for every role."""

import re

import pytest

from models.enums import Level, Role, State
from models.org import User
from models.outbox import Outbound
from models.tickets import PointsEntry, Rating, Ticket


def number_in(reply: str) -> int:
    return int(re.search(r"工单号 #(\d+)", reply).group(1))


def test_resident_files_by_text_with_their_bound_compound(chat, demo):
    resident = chat("demo_resident_1")
    summary = resident.say("3号楼楼道灯坏了，晚上黑乎乎的")
    assert "类别：供电/照明" in summary and "地点：幸福里小区3号楼" in summary
    assert Ticket.select().count() == 0  # nothing filed before confirmation
    filed = resident.say("确认")
    ticket = Ticket.get_by_id(number_in(filed))
    assert (ticket.category, ticket.building, ticket.compound.name) == (
        "power_lighting", "3", "幸福里小区",
    )  # fmt: skip
    assert ticket.reporter.openid == "demo_resident_1" and ticket.state == State.SUBMITTED


def test_resident_files_by_voice(chat, demo):
    resident = chat("demo_resident_2")
    summary = resident.voice("楼上卫生间漏水 天花板湿了好几天了")
    assert "供水/漏水" in summary
    ticket = Ticket.get_by_id(number_in(resident.say("确认")))
    assert ticket.category == "water_supply" and "漏水" in ticket.text


def test_a_stranger_files_by_photo_then_location_then_words(chat, demo):
    stranger = chat("walk_in_1")
    assert "一句话说说" in stranger.photo("http://example.invalid/trash.jpg")
    asks = stranger.location(30.2752, 120.1570, "丹桂苑东门")  # next to 丹桂苑
    assert "收到位置（丹桂苑）" in asks and "遇到了什么问题" in asks
    summary = stranger.say("垃圾桶满了好几天没人清运，臭得不行")
    assert "环境卫生" in summary and "丹桂苑" in summary and "照片：1张" in summary
    ticket = Ticket.get_by_id(number_in(stranger.say("确认")))
    assert ticket.compound.name == "丹桂苑" and ticket.photos == [
        "http://example.invalid/trash.jpg"
    ]
    assert (ticket.lat, ticket.lng) == (30.2752, 120.1570)


def test_a_stranger_without_a_place_is_asked_where(chat, demo):
    stranger = chat("walk_in_2")
    assert "问题在哪里" in stranger.say("小区门口的路灯坏了好几盏")
    assert "没找到这个小区" in stranger.say("火星小区")
    summary = stranger.say("金桥花园5号楼")
    assert "金桥花园5号楼" in summary
    assert Ticket.get_by_id(number_in(stranger.say("确认"))).compound.name == "金桥花园"


def test_urgent_matters_file_at_once_with_advice(chat, demo):
    reply = chat("demo_resident_3").say("楼道里电动车着火了，好大的烟！！")
    assert "紧急情况已立即上报" in reply and "119" in reply
    ticket = Ticket.get_by_id(number_in(reply))
    assert ticket.urgency == "urgent" and ticket.category == "fire_safety"
    on_duty = Outbound.select().where(
        (Outbound.openid == "demo_supervisor_1") & Outbound.text.contains("紧急")
    )
    assert on_duty.count() == 1


def test_unsure_category_offers_numbered_choices(chat, demo):
    resident = chat("demo_resident_4")
    menu = resident.say("东西坏了好几天了没人管")
    assert "请回复数字" in menu and "0. 其他" in menu
    first = re.search(r"1\. (\S+)", menu).group(1)
    again = resident.say("随便")  # not a choice: the choices again
    assert "1. " in again and "0. 其他" in again
    first = re.search(r"1\. (\S+)", again).group(1)
    summary = resident.say("1")
    assert f"类别：{first}" in summary


def test_a_neighbour_can_join_an_existing_ticket(chat, demo):
    first = chat("demo_resident_1")
    first.say("3号楼楼道灯坏了好几天了")
    number = number_in(first.say("确认"))
    neighbour = chat("demo_resident_2")
    offer = neighbour.say("楼道的灯不亮了")
    assert "是不是同一件" in offer and f"#{number}" in offer
    joined = neighbour.say("1")
    assert f"已关注工单 #{number}" in joined and "已有 2 人反映" in joined
    assert Ticket.select().count() == 1
    assert Ticket.get_by_id(number).subscriber_count == 1
    assert f"#{number}" in (queue := chat("demo_dispatcher_1").say("待派单")) and "2人反映" in queue


def test_cancel_leaves_a_half_told_report(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("小区健身器材坏了")
    assert "已取消" in resident.say("取消")
    assert "没有进行中的操作" in resident.say("取消")
    assert Ticket.select().count() == 0


AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_the_whole_loop_dispatch_take_resolve_rate_points(app, chat, demo, mode):
    key = AES_KEY if mode == "safe" else None
    app.extensions["sidan"].config.WECHAT_AES_KEY = key
    resident, dispatcher = chat("demo_resident_1", key), chat("demo_dispatcher_1", key)
    volunteer = chat("demo_volunteer_1", key)
    resident.say("3号楼楼道灯坏了，晚上黑乎乎的")
    n = number_in(resident.say("确认"))
    assert f"#{n}" in dispatcher.say("待派单")
    assert "志愿者接单池" in dispatcher.say(f"派单 ＃{n} 给 志愿者")
    assert f"#{n}" in volunteer.say("附近工单") and "约80米" in volunteer.say("附近工单")
    assert "接单成功" in volunteer.say(f"接单{n}")
    assert "办理中" in resident.say("我的工单")
    assert "进展已告诉居民" in volunteer.say(f"进度 #{n} 灯泡买好了，马上去换")
    assert "照片" in volunteer.say(f"办结 #{n}")
    assert "已办结" in volunteer.photo("http://example.invalid/done.jpg")
    assert Ticket.get_by_id(n).state == State.RESOLVED
    assert "感谢您的评价" in resident.say("满意 换得很快")
    ticket = Ticket.get_by_id(n)
    assert ticket.state == State.CLOSED and ticket.score == 5
    assert Rating.get(Rating.ticket == ticket).comment == "换得很快"
    assert "共有 10 积分" in volunteer.say("我的积分")
    assert PointsEntry.select().count() == 1


def test_an_unhappy_rating_reopens_and_tells_the_resident(chat, demo):
    resident, volunteer = chat("demo_resident_1"), chat("demo_volunteer_1")
    resident.say("3号楼楼道灯坏了好几天了")
    n = number_in(resident.say("确认"))
    chat("demo_dispatcher_1").say(f"派单 #{n} 给 王建国")
    volunteer.say(f"接单 #{n}")
    volunteer.say(f"办结 #{n} 换好了")
    assert "重新打开" in resident.say("不满意 灯还是不亮")
    ticket = Ticket.get_by_id(n)
    assert ticket.state == State.SUBMITTED and ticket.level == Level.COMMUNITY


def test_dispatcher_commands(chat, demo):
    resident, dispatcher = chat("demo_resident_1"), chat("demo_dispatcher_1")
    resident.say("小区里有人遛狗不牵绳")
    a = number_in(resident.say("确认"))
    chat("demo_resident_2").say("单元门的门禁坏了")
    b = number_in(chat("demo_resident_2").say("确认"))
    assert "红管家物业" in dispatcher.say(f"派单 #{b} 给 红管家物业")
    assert "赵师傅" not in dispatcher.say(f"转单 #{b} 给 赵师傅")  # names are masked
    assert Ticket.get_by_id(b).assignee.openid == "demo_worker_1"
    assert "已提级到幸福社区" in dispatcher.say(f"提级 #{a}")
    assert Ticket.get_by_id(a).level == Level.COMMUNITY
    assert "已请消防救援站协办" in dispatcher.say(f"协办 #{b} 消防救援站")
    assert "已关闭" in dispatcher.say(f"关闭 #{b} 物业已现场处理")
    assert Ticket.get_by_id(b).state == State.CLOSED
    assert "没找到“月球物业”" in dispatcher.say(f"转单 #{a} 给 月球物业")
    assert "格式不太对" in dispatcher.say("派单 给 志愿者")


def test_merge_by_the_dispatcher(chat, demo):
    first, second = chat("demo_resident_1"), chat("demo_resident_4")
    first.say("金桥花园的垃圾没人清运")
    a = number_in(first.say("确认"))
    assert f"#{a}" in second.say("金桥花园的垃圾桶满了好几天")  # offered as a duplicate
    assert "回复“确认”提交" in second.say("不是")  # declines: back to the summary
    b = number_in(second.say("确认"))
    assert f"已合并到 #{a}" in chat("demo_dispatcher_1").say(f"合并 #{b} 到 #{a}")
    assert Ticket.get_by_id(b).state == State.CLOSED
    assert Ticket.get_by_id(a).subscriber_count == 1


def test_supervisor_urges_and_sees_overdue(chat, demo):
    from datetime import timedelta

    from models import clock

    resident = chat("demo_resident_1")
    resident.say("小区里有人遛狗不牵绳")
    n = number_in(resident.say("确认"))
    supervisor = chat("demo_supervisor_1")
    assert "没有超时" in supervisor.say("超时工单")
    clock.advance(timedelta(hours=3))
    assert f"#{n}" in supervisor.say("超时工单")
    assert "已督办" in supervisor.say(f"督办 #{n}")
    assert Outbound.select().where(Outbound.text.contains("领导督办")).count() >= 1


@pytest.mark.parametrize(
    "openid, text, expected",
    [
        ("demo_resident_1", "查询 #999", "没有找到您的这张工单"),
        ("demo_resident_1", "催单 #abc", "工单号不对"),
        ("demo_resident_1", "派单 #1 给 志愿者", "需要网格员"),
        ("demo_resident_1", "附近工单", "给志愿者和工作人员用的"),
        ("demo_volunteer_1", "待派单", "附近工单"),
        ("demo_supervisor_1", "派单 #1 给 志愿者", "督办 #12"),
        ("demo_dispatcher_1", "随便说点什么", "没看懂"),
    ],
)
def test_wrong_role_and_unknown_numbers_get_a_polite_refusal(chat, demo, openid, text, expected):
    assert expected in chat(openid).say(text)


def test_others_tickets_look_unknown(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("小区里有人遛狗不牵绳")
    n = number_in(resident.say("确认"))
    assert "没有找到您的这张工单" in chat("demo_resident_3").say(f"查询 #{n}")
    assert "没有找到您的这张工单" in chat("demo_resident_3").say(f"撤销 #{n}")
    assert "已撤销" in resident.say(f"撤销 #{n}")


def test_urge_is_rate_limited_in_chat(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("小区里有人遛狗不牵绳")
    n = number_in(resident.say("确认"))
    assert "已催办" in resident.say(f"催单 #{n}")
    assert "刚催过" in resident.say(f"催单 #{n}")


def test_qr_scene_binds_and_invite_code_grants_a_role(chat, demo):
    newcomer = chat("newcomer")
    assert "已为您绑定小区：丹桂苑" in newcomer.event("subscribe", "qrscene_compound_2")
    assert User.get(User.openid == "newcomer").compound.name == "丹桂苑"
    assert "幸福社区的志愿者" in newcomer.say("邀请码 vol-demo")
    user = User.get(User.openid == "newcomer")
    assert user.role == Role.VOLUNTEER and user.org_unit.name == "幸福社区"
    # The demo code is shared ("makes any new user a volunteer"); one-use codes: tests/test_scope.
    assert "幸福社区的志愿者" in chat("someone_else").say("邀请码 VOL-DEMO")
    assert "附近工单" in newcomer.say("帮助")


def test_menu_clicks(chat, demo):
    assert "一句话说说" in chat("demo_resident_1").event("CLICK", "REPORT")
    assert "还没有提交过工单" in chat("demo_resident_1").event("CLICK", "MY_TICKETS")
    assert "附近暂时没有" in chat("demo_volunteer_1").event("CLICK", "VOLUNTEER")


@pytest.mark.parametrize(
    "openid, must_have",
    [
        ("demo_resident_1", "我的工单"),
        ("demo_volunteer_1", "接单 #12"),
        ("demo_dispatcher_1", "派单 #12 给 志愿者"),
        ("demo_supervisor_1", "督办 #12"),
    ],
)
def test_help_fits_the_role(chat, demo, openid, must_have):
    assert must_have in chat(openid).say("帮助")


def test_unsubscribe_and_location_events_are_silent(chat, demo):
    resident = chat("demo_resident_1")
    fields = {"Event": "LOCATION", "Latitude": 30.2745, "Longitude": 120.1558, "Precision": 65}
    assert resident.send(resident.signer.xml("event", fields)) == ""
    assert User.get(User.openid == "demo_resident_1").lat == 30.2745
    assert resident.event("unsubscribe") == ""
    assert User.get(User.openid == "demo_resident_1").subscribed is False


def test_a_location_away_from_any_compound_files_to_its_grid(chat, demo):
    walker = chat("walk_in_3")
    walker.location(30.2850, 120.1551, "滨河路口")
    summary = walker.say("路口的井盖没了，很危险")
    ticket = Ticket.get_by_id(number_in(summary if "工单号" in summary else walker.say("确认")))
    assert ticket.compound_id is None and ticket.grid.name == "幸福二网格"
    assert (ticket.lat, ticket.lng) == (30.2850, 120.1551)
