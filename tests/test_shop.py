"""The points shop (信用超市): redemption, one-use codes, refunds, and races on stock and balance."""

import re
import threading
from datetime import timedelta

import pytest

from models import clock, shop
from models.db import database
from models.enums import Role
from models.errors import TicketError
from models.org import OrgUnit, User
from models.outbox import Outbound
from models.shop import Redemption, RedemptionState, ShopItem
from models.tickets import PointsEntry


def credit(user: User, points: int) -> None:
    PointsEntry.create(user=user, reason="rating", points=points)


def item_named(name: str) -> ShopItem:
    return ShopItem.get(ShopItem.name == name)


def ledger(user: User) -> list[tuple[str, int]]:
    rows = PointsEntry.select().where(PointsEntry.user == user).order_by(PointsEntry.id)
    return [(e.reason, e.points) for e in rows]


def test_redeeming_debits_the_ledger_takes_stock_and_gives_a_code(demo):
    volunteer = demo.volunteer_1
    credit(volunteer, 25)
    soap = item_named("洗衣皂两块")
    row = shop.redeem(volunteer, soap.id)
    assert re.fullmatch(r"[A-Z][A-Z2-9]{7}", row.code)
    assert row.state == RedemptionState.ISSUED and row.points == 10
    assert shop.balance(volunteer) == 15
    assert ledger(volunteer) == [("rating", 25), ("redeem", -10)]
    assert item_named("洗衣皂两块").stock == soap.stock - 1


def test_codes_differ_between_redemptions(demo):
    credit(demo.volunteer_1, 100)
    soap = item_named("洗衣皂两块")
    codes = {shop.redeem(demo.volunteer_1, soap.id).code for _ in range(5)}
    assert len(codes) == 5


def test_a_balance_never_goes_negative(demo):
    volunteer = demo.volunteer_1
    credit(volunteer, 15)
    rice = item_named("大米5斤")
    with pytest.raises(TicketError, match="需要 30 积分，您现在有 15 积分"):
        shop.redeem(volunteer, rice.id)
    assert shop.balance(volunteer) == 15
    assert item_named("大米5斤").stock == rice.stock
    assert Redemption.select().count() == 0


def test_a_sold_out_item_is_refused_and_nothing_is_debited(demo):
    credit(demo.volunteer_1, 100)
    ShopItem.update(stock=0).where(ShopItem.name == "大米5斤").execute()
    with pytest.raises(TicketError, match="兑完"):
        shop.redeem(demo.volunteer_1, item_named("大米5斤").id)
    assert shop.balance(demo.volunteer_1) == 100


def test_an_item_outside_its_validity_cannot_be_redeemed(demo):
    credit(demo.volunteer_1, 100)
    soap = item_named("洗衣皂两块")
    ShopItem.update(valid_until=clock.now() - timedelta(days=1)).where(
        ShopItem.id == soap.id
    ).execute()
    with pytest.raises(TicketError, match="不在兑换期内"):
        shop.redeem(demo.volunteer_1, soap.id)
    assert "洗衣皂两块" not in [i.name for i in shop.catalogue(demo.volunteer_1)]


def test_a_shop_of_another_street_is_not_offered(demo):
    west = OrgUnit.get(OrgUnit.name == "翠园社区")
    far = shop.add_item("翠园信用超市", "毛巾", 5, 3, unit=west)
    credit(demo.volunteer_1, 10)
    assert far.id not in [i.id for i in shop.catalogue(demo.volunteer_1)]
    with pytest.raises(TicketError, match="没有找到商品"):
        shop.redeem(demo.volunteer_1, far.id)


def _race(people, attempt):
    barrier = threading.Barrier(len(people))
    wins, refusals, crashes = [], [], []

    def run(person):
        barrier.wait()
        try:
            wins.append(attempt(person))
        except TicketError as exc:
            refusals.append(exc.message)
        except Exception as exc:  # a crash is a failure, not a refusal
            crashes.append(repr(exc))
        finally:
            database.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    database.connect(reuse_if_open=True)
    return wins, refusals, crashes


def test_twenty_simultaneous_redemptions_never_oversell_the_stock(demo):
    volunteers = list(User.select().where(User.role == Role.VOLUNTEER).order_by(User.id).limit(20))
    assert len(volunteers) == 20
    happy = OrgUnit.get(OrgUnit.name == "幸福社区")  # all of them near the shop
    User.update(org_unit=happy).where(User.id.in_([v.id for v in volunteers])).execute()
    volunteers = [User.get_by_id(v.id) for v in volunteers]
    for v in volunteers:
        credit(v, 50)
    rice = item_named("大米5斤")  # 5 in stock
    wins, refusals, crashes = _race(volunteers, lambda v: shop.redeem(v, rice.id).code)
    assert crashes == []
    assert len(wins) == 5 and len(set(wins)) == 5
    assert len(refusals) == 15 and all("兑完" in m for m in refusals)
    assert item_named("大米5斤").stock == 0
    assert PointsEntry.select().where(PointsEntry.reason == "redeem").count() == 5
    assert Redemption.select().count() == 5


def test_twenty_simultaneous_redemptions_by_one_volunteer_never_overdraw(demo):
    volunteer = demo.volunteer_1
    credit(volunteer, 50)
    soap = item_named("洗衣皂两块")  # 10 points, 20 in stock
    wins, refusals, crashes = _race([volunteer] * 20, lambda v: shop.redeem(v, soap.id).code)
    assert crashes == []
    assert len(wins) == 5
    assert len(refusals) == 15 and all("您现在有 0 积分" in m for m in refusals)
    assert shop.balance(volunteer) == 0
    assert item_named("洗衣皂两块").stock == 15


def test_a_code_confirms_once(demo):
    credit(demo.volunteer_1, 10)
    row = shop.redeem(demo.volunteer_1, item_named("洗衣皂两块").id)
    keeper = demo["shopkeeper_1"]
    done = shop.confirm(row.code.lower(), keeper)
    assert done.state == RedemptionState.CONFIRMED and done.confirmed_by_id == keeper.id
    with pytest.raises(TicketError, match="已经核销过了"):
        shop.confirm(row.code, keeper)
    pushed = Outbound.select().where(Outbound.openid == "demo_volunteer_1")
    assert any("已核销领取" in o.text for o in pushed)


def test_twenty_simultaneous_confirms_of_one_code_succeed_once(demo):
    credit(demo.volunteer_1, 10)
    row = shop.redeem(demo.volunteer_1, item_named("洗衣皂两块").id)
    keeper = demo["shopkeeper_1"]
    wins, refusals, crashes = _race([keeper] * 20, lambda k: shop.confirm(row.code, k).id)
    assert crashes == [] and len(wins) == 1 and len(refusals) == 19


def test_an_unknown_or_foreign_code_is_not_found(demo):
    credit(demo.volunteer_1, 10)
    row = shop.redeem(demo.volunteer_1, item_named("洗衣皂两块").id)
    with pytest.raises(TicketError, match="没有找到这个兑换码"):
        shop.confirm("ZZZZZZZZ", demo["shopkeeper_1"])
    with pytest.raises(TicketError, match="没有找到这个兑换码"):
        shop.confirm(row.code, demo.volunteer_2)  # not the shop's staff
    assert Redemption.get_by_id(row.id).state == RedemptionState.ISSUED


def test_a_shop_cannot_confirm_its_own_staffs_redemption(demo):
    insider, colleague = demo.volunteer_2, demo["shopkeeper_1"]
    shop.add_staff("幸福社区信用超市", insider)
    credit(insider, 10)
    row = shop.redeem(insider, item_named("洗衣皂两块").id)
    with pytest.raises(TicketError, match="不能由本店核销"):
        shop.confirm(row.code, colleague)
    with pytest.raises(TicketError, match="不能核销自己的兑换"):
        shop.confirm(row.code, insider)
    # The community that runs the shop confirms it instead.
    assert shop.confirm(row.code, demo.dispatcher_1).state == RedemptionState.CONFIRMED


def test_a_refund_is_a_credit_and_puts_the_item_back(demo):
    volunteer = demo.volunteer_1
    credit(volunteer, 20)
    soap = item_named("洗衣皂两块")
    row = shop.redeem(volunteer, soap.id)
    refunded = shop.refund(row.id, volunteer)
    assert refunded.state == RedemptionState.REFUNDED
    assert ledger(volunteer) == [("rating", 20), ("redeem", -10), ("refund", 10)]
    assert shop.balance(volunteer) == 20 and item_named("洗衣皂两块").stock == soap.stock
    with pytest.raises(TicketError, match="已经取消"):
        shop.confirm(row.code, demo["shopkeeper_1"])
    with pytest.raises(TicketError, match="已经取消"):
        shop.refund(row.id, volunteer)


def test_a_code_nobody_comes_for_expires_and_gives_everything_back(demo):
    volunteer = demo.volunteer_1
    credit(volunteer, 30)
    soap = item_named("洗衣皂两块")
    stale, taken = (shop.redeem(volunteer, soap.id) for _ in range(2))
    shop.confirm(taken.code, demo["shopkeeper_1"])
    clock.advance(timedelta(days=shop.CODE_VALID_DAYS - 1))
    fresh = shop.redeem(volunteer, soap.id)
    assert shop.expire_unclaimed() == 0  # nothing is old enough yet
    clock.advance(timedelta(days=2))
    assert shop.expire_unclaimed() == 1 and shop.expire_unclaimed() == 0  # once
    states = {r.id: r.state for r in Redemption.select()}
    assert states == {
        stale.id: RedemptionState.REFUNDED,
        taken.id: RedemptionState.CONFIRMED,
        fresh.id: RedemptionState.ISSUED,
    }
    assert shop.balance(volunteer) == 30 - 10 - 10  # the confirmed and the fresh one stay spent
    assert item_named("洗衣皂两块").stock == soap.stock - 2
    told = Outbound.select().where(Outbound.openid == volunteer.openid)
    assert any("没有领取，已自动取消" in m.text and "10 积分已退回" in m.text for m in told)
    with pytest.raises(TicketError, match="已经取消"):
        shop.confirm(stale.code, demo["shopkeeper_1"])


def test_a_confirmed_redemption_cannot_be_refunded(demo):
    credit(demo.volunteer_1, 10)
    row = shop.redeem(demo.volunteer_1, item_named("洗衣皂两块").id)
    shop.confirm(row.code, demo["shopkeeper_1"])
    with pytest.raises(TicketError, match="已经核销过了"):
        shop.refund(row.id, demo.volunteer_1)
    assert shop.balance(demo.volunteer_1) == 0


def test_someone_elses_redemption_cannot_be_refunded(demo):
    credit(demo.volunteer_1, 10)
    row = shop.redeem(demo.volunteer_1, item_named("洗衣皂两块").id)
    with pytest.raises(TicketError, match="没有找到这笔兑换"):
        shop.refund(row.id, demo.volunteer_2)


def test_adding_items_checks_price_and_shop(demo):
    with pytest.raises(TicketError, match="大于 0"):
        shop.add_item("幸福社区信用超市", "毛巾", 0, 3)
    with pytest.raises(TicketError, match="指定所属社区"):
        shop.add_item("不存在的超市", "毛巾", 5, 3)
    added = shop.add_item("幸福社区信用超市", "毛巾", 5, 3)
    assert added.id in [i.id for i in shop.catalogue(demo.volunteer_1)]


def test_volunteer_redeems_in_chat_and_the_shopkeeper_confirms(chat, demo):
    credit(demo.volunteer_1, 12)
    volunteer, keeper = chat("demo_volunteer_1"), chat("shopkeeper_1")
    listing = volunteer.say("积分商城")
    soap = item_named("洗衣皂两块")
    assert "您现有 12 积分" in listing and f"{soap.id}. 洗衣皂两块" in listing
    assert "需要 30 积分" in volunteer.say(f"兑换 {item_named('大米5斤').id}")
    reply = volunteer.say(f"兑换 {soap.id}")
    code = re.search(r"兑换码：([A-Z2-9]{8})", reply).group(1)
    assert "剩余 2 积分" in reply and "幸福社区党群服务中心" in reply
    assert f"待领取，兑换码 {code}" in volunteer.say("我的兑换")
    assert "共有 2 积分（累计获得 12，已兑换 10）" in volunteer.say("我的积分")
    assert "已核销" in keeper.say(f"核销 {code}")
    assert "已领取" in volunteer.say("我的兑换")
    assert "不能重复使用" in keeper.say(f"核销 {code}")
    assert "志愿者" in chat("demo_resident_1").say("积分商城")  # residents are told whose it is


def test_volunteer_cancels_an_unclaimed_redemption_in_chat(chat, demo):
    credit(demo.volunteer_1, 10)
    volunteer = chat("demo_volunteer_1")
    volunteer.say(f"兑换 {item_named('洗衣皂两块').id}")
    number = Redemption.get().id
    assert "10 积分已退回，现有 10 积分" in volunteer.say(f"取消兑换 {number}")
    assert "已取消" in volunteer.say("我的兑换")
