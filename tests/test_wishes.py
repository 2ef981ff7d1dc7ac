"""The wish wall (微心愿): posted, reviewed, published, claimed, fulfilled with a photo, thanked."""

import re

import pytest

from models import lifecycle
from models.enums import Action, State, TicketKind
from models.errors import TicketError
from models.lifecycle import wishes
from models.org import Compound, User
from models.outbox import Outbound
from models.tickets import PointsEntry, Ticket, TicketEvent
from models.wishes import WishFor


def inbox(openid: str) -> list[str]:
    return [o.text for o in Outbound.select().where(Outbound.openid == openid)]


def number_in(reply: str) -> int:
    return int(re.search(r"#(\d+)", reply).group(1))


def published_wish(demo, text="想请人帮忙理个发，我腿脚不方便出门"):
    ticket = wishes.post_wish(demo.resident_1, text)
    return lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)


def test_a_wish_waits_for_review_before_volunteers_see_it(demo):
    ticket = wishes.post_wish(demo.resident_1, "想请人帮忙理个发，我腿脚不方便出门")
    assert (ticket.kind, ticket.category, ticket.state) == (
        TicketKind.WISH, "elderly_help", State.SUBMITTED,
    )  # fmt: skip
    assert any("微心愿待审核" in t for t in inbox("demo_dispatcher_1"))
    assert wishes.wish_wall(demo.volunteer_2) == []
    assert [t.id for t in wishes.wishes_to_review(demo.dispatcher_1)] == [ticket.id]


def test_reviewing_publishes_it_to_nearby_volunteers_with_fitting_skills_first(demo):
    ticket = published_wish(demo)
    offers = [o for o in Outbound.select() if "心愿墙上有一个新的微心愿" in o.text]
    assert offers and all(f"认领心愿 {ticket.number}" in o.text for o in offers)
    # 李秀英 (助老/跑腿/陪诊) fits 助老帮困 best and hears of it.
    assert "demo_volunteer_2" in {o.openid for o in offers}
    wall = wishes.wish_wall(demo.volunteer_2)
    assert [m.ticket.id for m in wall] == [ticket.id]


def test_a_report_is_not_on_the_wish_wall(demo):
    report = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting")
    lifecycle.dispatch(report.id, demo.dispatcher_1, to_pool=True)
    assert wishes.wish_wall(demo.volunteer_2) == []
    with pytest.raises(TicketError, match="不是微心愿"):
        wishes.claim(report.id, demo.volunteer_2)


def test_the_first_claimer_wins(demo):
    ticket = published_wish(demo)
    claimed = wishes.claim(ticket.id, demo.volunteer_2)
    assert claimed.state == State.TAKEN and claimed.assignee_id == demo.volunteer_2.id
    with pytest.raises(TicketError, match="接走|正在办理"):
        wishes.claim(ticket.id, demo.volunteer_4)


def test_a_wish_is_fulfilled_with_a_photo_and_thanked_with_a_rating(demo):
    ticket = published_wish(demo)
    wishes.claim(ticket.id, demo.volunteer_2)
    with pytest.raises(TicketError, match="请发一张照片"):
        lifecycle.resolve(ticket.id, demo.volunteer_2, "理好了")
    lifecycle.resolve(ticket.id, demo.volunteer_2, "", photos=["http://example.invalid/cut.jpg"])
    assert any(f"评价 {ticket.number} 满意" in t for t in inbox("demo_resident_1"))
    closed = lifecycle.rate(ticket.id, demo.resident_1, 5, "谢谢小李，理得很精神")
    assert closed.state == State.CLOSED
    points = PointsEntry.get(PointsEntry.ticket == ticket.id)
    assert (points.user_id, points.points) == (demo.volunteer_2.id, 10)


def test_a_wish_needs_a_few_words_and_a_compound(demo):
    with pytest.raises(TicketError, match="说说您的心愿"):
        wishes.post_wish(demo.resident_1, "嗯")
    stranger = User.create(openid="stranger_1")
    with pytest.raises(TicketError, match="绑定小区"):
        wishes.post_wish(stranger, "想请人帮忙买点菜")
    assert Ticket.select().count() == 0


def test_a_grid_worker_posts_for_an_elderly_neighbour_and_it_is_published_at_once(demo):
    home = Compound.get(Compound.name == "幸福里小区")
    ticket = wishes.post_wish_for(
        demo.dispatcher_1, "张奶奶", "想请人陪同去医院复查", home, building="3", room="101",
        phone="13800000009",
    )  # fmt: skip
    assert ticket.state == State.DISPATCHED and ticket.in_pool and ticket.kind == TicketKind.WISH
    proxy = WishFor.get(WishFor.ticket == ticket.id)
    assert (proxy.name, proxy.household, proxy.posted_by_id) == (
        "张奶奶", f"{home.id}-3-101", demo.dispatcher_1.id,
    )  # fmt: skip
    events = [e.action for e in TicketEvent.select().where(TicketEvent.ticket == ticket.id)]
    assert events == [Action.SUBMIT, Action.DISPATCH]


def test_only_a_grid_worker_over_the_compound_posts_for_someone(demo):
    home = Compound.get(Compound.name == "幸福里小区")
    far = Compound.get(Compound.name == "翠园小区")
    with pytest.raises(TicketError, match="网格员"):
        wishes.post_wish_for(demo.volunteer_1, "张奶奶", "想请人帮忙买菜", home)
    with pytest.raises(TicketError, match="不在您负责的范围"):
        wishes.post_wish_for(demo.dispatcher_1, "张奶奶", "想请人帮忙买菜", far)


def test_residents_post_and_volunteers_claim_in_chat(chat, demo):
    resident, dispatcher = chat("demo_resident_1"), chat("demo_dispatcher_1")
    volunteer = chat("demo_volunteer_2")
    posted = resident.say("微心愿 想请人帮忙理个发，我腿脚不方便出门")
    assert "网格员审核后会发布到心愿墙" in posted
    n = number_in(posted)
    assert f"#{n}" in dispatcher.say("待审心愿")
    assert "暂时没有待认领" in volunteer.say("心愿墙")
    dispatcher.say(f"派单 #{n} 给 志愿者")
    assert f"#{n} 幸福里小区：想请人帮忙理个发" in volunteer.say("心愿墙")
    assert "认领成功" in volunteer.say(f"认领心愿 #{n}")
    assert f"#{n}" in resident.say("我的工单")  # a wish shows like any ticket
    assert "请发一张照片" in volunteer.say(f"办结 #{n} 理好了")
    assert "照片" in volunteer.say(f"办结 #{n}")
    assert "已办结" in volunteer.photo("http://example.invalid/haircut.jpg")
    assert "感谢您的评价" in resident.say("满意 谢谢，理得很精神")
    assert "共有 10 积分" in volunteer.say("我的积分")


def test_a_wish_typed_without_a_space_is_still_a_wish(chat, demo):
    posted = chat("demo_resident_2").say("微心愿想请人帮忙买点菜")
    ticket = Ticket.get_by_id(number_in(posted))
    assert ticket.kind == TicketKind.WISH and ticket.text == "想请人帮忙买点菜"


def test_a_grid_worker_posts_and_thanks_for_an_elderly_neighbour_in_chat(chat, demo):
    dispatcher, volunteer = chat("demo_dispatcher_1"), chat("demo_volunteer_2")
    posted = dispatcher.say("代办心愿 张奶奶 幸福里小区3号楼101 想请人陪同去医院复查 13800000009")
    assert "已为张奶奶发布微心愿" in posted
    n = number_in(posted)
    assert any(f"认领心愿 #{n}" in t for t in inbox("demo_volunteer_2"))
    assert "认领成功" in volunteer.say(f"认领心愿 {n}")
    volunteer.say(f"办结 #{n}")
    volunteer.photo("http://example.invalid/hospital.jpg")
    assert "感谢您的评价" in dispatcher.say(f"评价 #{n} 满意 老人说谢谢")
    assert Ticket.get_by_id(n).state == State.CLOSED
    assert PointsEntry.get(PointsEntry.ticket == n).user_id == demo.volunteer_2.id
    assert WishFor.get(WishFor.ticket == n).phone == "13800000009"


def test_a_proxy_wish_needs_a_known_compound(chat, demo):
    reply = chat("demo_dispatcher_1").say("代办心愿 张奶奶 火星小区 想请人帮忙买菜")
    assert "没找到小区" in reply and Ticket.select().count() == 0
