"""Property companies: the quarter's published 红榜 / 黑名单, the party branch's veto, 物业超市."""

from datetime import datetime, timedelta

import pytest

from models import clock, lifecycle, property_lists
from models.errors import TicketError
from models.org import Compound, User, WorkUnit
from models.outbox import Outbound
from models.property_lists import BLACK, NEUTRAL, RED, PropertyListing, PropertyVeto

IN_Q3 = datetime(2026, 8, 3, 1, 0)  # a Monday, 09:00 in Beijing


def company(name):
    return WorkUnit.get(WorkUnit.name == name)


def compound(name):
    return Compound.get(Compound.name == name)


def handled(demo, compound_name, openid, score, worker_openid, dispatcher):
    place = compound(compound_name)
    reporter = User.create(openid=openid, compound=place, household=f"{place.id}-{openid}")
    worker = User.get_or_create(
        openid=worker_openid,
        defaults={"role": "worker", "work_unit": place.property_company, "name": "钱师傅"},
    )[0]
    ticket = lifecycle.submit(reporter, "单元门禁坏了", "public_facility")
    lifecycle.dispatch(ticket.id, dispatcher, to_unit=worker.work_unit)
    lifecycle.take(ticket.id, worker)
    clock.advance(timedelta(hours=1))
    lifecycle.resolve(ticket.id, worker, "修好了")
    return lifecycle.rate(ticket.id, reporter, score)


@pytest.fixture
def quarter(demo):
    """Q3 2026: 红管家物业 (幸福社区) did well, 安居物业 (和平社区) had every job redone."""
    clock.set_now(IN_Q3)
    heping = User.get(User.openid.startswith("grid_") & User.name.startswith("和平一网格"))
    for i in range(5):
        handled(demo, "幸福里小区", f"good_{i}", 5, "w_good", demo.dispatcher_1)
        handled(demo, "和平新村", f"bad_{i}", 1, "w_bad", heping)
    return "2026Q3"


def veto_in(demo, when, reason="消防通道长期堵塞，多次要求拒不整改"):
    with clock.frozen(when):
        return property_lists.veto(
            demo.dispatcher_1, company("红管家物业"), compound("幸福里小区"), reason
        )


def test_quarters_are_beijing_quarters(db):
    assert property_lists.quarter_of(datetime(2026, 9, 30, 15, 59)) == "2026Q3"
    assert property_lists.quarter_of(datetime(2026, 9, 30, 16, 0)) == "2026Q4"  # 00:00 Oct 1
    assert property_lists.quarter_bounds("2026Q4") == (
        datetime(2026, 9, 30, 16, 0), datetime(2026, 12, 31, 16, 0),
    )  # fmt: skip
    with pytest.raises(TicketError, match="2026Q3"):
        property_lists.quarter_bounds("2026-3")


def test_a_finished_quarter_is_published_with_reasons_once(demo, quarter):
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    rows = {r.company.name: r for r in property_lists.publish(quarter)}
    good, bad = rows["红管家物业"], rows["安居物业"]
    assert (good.list_name, good.score) == (RED, 100)
    assert good.reasons == ["综合得分100：按时办结100%，满意度100%"]
    assert bad.list_name == BLACK and bad.score < 70
    assert "满意度仅0%" in bad.reasons and "返工5件" in bad.reasons
    assert bad.figures["unhappy"] == 5 and bad.published_at == clock.now()
    with pytest.raises(TicketError, match="已经公示过了"):
        property_lists.publish(quarter)
    assert PropertyListing.select().count() == 2


def test_a_quarter_still_running_cannot_be_published(demo):
    with pytest.raises(TicketError, match="还没有结束"):
        property_lists.publish(property_lists.quarter_of(clock.now()))


def test_a_veto_puts_the_company_on_the_black_list_with_its_reason(demo, quarter):
    veto = veto_in(demo, IN_Q3 + timedelta(days=30))
    assert veto.quarter == quarter and veto.actor_id == demo.dispatcher_1.id
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    good = next(r for r in property_lists.publish(quarter) if r.company.name == "红管家物业")
    assert good.list_name == BLACK and good.score == 100
    assert good.reasons[0] == "幸福里小区党支部一票否决：消防通道长期堵塞，多次要求拒不整改"


def test_a_veto_is_recorded_and_the_company_is_told(demo):
    veto = veto_in(demo, clock.now())
    assert PropertyVeto.get_by_id(veto.id).reason.startswith("消防通道")
    told = Outbound.get(Outbound.openid == "demo_worker_1")
    assert "一票否决" in told.text and "消防通道" in told.text
    with pytest.raises(TicketError, match="服务一票否决过了"):
        veto_in(demo, clock.now())
    assert PropertyVeto.select().count() == 1


@pytest.mark.parametrize(
    "actor, company_name, compound_name, reason, message",
    [
        ("demo_volunteer_1", "红管家物业", "幸福里小区", "服务太差了啊", "社区的党组织"),
        ("street_2_supervisor", "红管家物业", "幸福里小区", "服务太差了啊", "不在您所在的社区"),
        ("demo_dispatcher_1", "红管家物业", "和平新村", "服务太差了啊", "不在您所在的社区"),
        ("demo_dispatcher_1", "安居物业", "幸福里小区", "服务太差了啊", "物业不是安居物业"),
        ("demo_dispatcher_1", "红管家物业", "幸福里小区", "差", "必须写明理由"),
    ],
)
def test_only_the_compounds_own_branch_vetoes_with_a_reason(
    demo, actor, company_name, compound_name, reason, message
):
    with pytest.raises(TicketError, match=message):
        property_lists.veto(demo[actor], company(company_name), compound(compound_name), reason)
    assert PropertyVeto.select().count() == 0


def test_the_property_market_lists_companies_in_good_standing(demo, quarter):
    assert property_lists.market() == []
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    property_lists.publish(quarter)
    entries = property_lists.market()
    assert [(e.company.name, e.score, e.list_name) for e in entries] == [("红管家物业", 100, RED)]
    assert entries[0].compounds == 6
    veto_in(demo, clock.now())  # vetoed since publication: no longer offered
    assert property_lists.market() == []


def test_a_company_with_too_few_tickets_is_listed_neutral(demo):
    clock.set_now(IN_Q3)
    handled(demo, "幸福里小区", "one", 5, "w_one", demo.dispatcher_1)
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    rows = {r.company.name: r for r in property_lists.publish("2026Q3")}
    assert rows["安居物业"].reasons == ["工单0件，样本不足"]
    row = rows["红管家物业"]
    assert (row.list_name, row.score, row.reasons) == (NEUTRAL, None, ["工单1件，样本不足"])


def test_lists_market_and_veto_in_chat(chat, demo, quarter):
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    resident = chat("demo_resident_1")
    assert "还没有公示过" in resident.say("物业公示")
    property_lists.publish(quarter)
    lists = resident.say("物业公示")
    assert "【红榜】\n· 红管家物业：综合得分100" in lists and "【黑名单】\n· 安居物业" in lists
    assert "1. 【红榜】红管家物业 100分，在管6个小区" in resident.say("物业超市")
    dispatcher = chat("demo_dispatcher_1")
    assert "这样写" in dispatcher.say("一票否决 红管家物业")
    vetoed = dispatcher.say("一票否决 红管家物业 幸福里小区 消防通道长期堵塞拒不整改")
    assert "已记录一票否决" in vetoed and "2026Q4" in vetoed
    assert "没有可选的物业公司" in resident.say("物业超市")
    assert "网格员" in resident.say("一票否决 红管家物业 幸福里小区 不好")
