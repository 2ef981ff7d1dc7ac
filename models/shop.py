"""The points shop (信用超市): volunteers spend their points on goods and services.

The points ledger stays append-only: a redemption is a negative PointsEntry, a refund a
positive one. Two rules hold under any number of simultaneous redemptions:
- a balance never goes below zero: the balance check and the debit run in one transaction
  that holds the person's row lock (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
  already admits one writer at a time);
- stock never oversells: the item's stock moves by a conditional UPDATE … WHERE stock > 0.
A redemption gives a one-use code; the shop's staff confirm it (核销) with a compare-and-set.
"""

import secrets
from datetime import datetime, timedelta

import peewee

from models.clock import now
from models.db import BaseModel, is_postgres, under_path, write_transaction
from models.enums import STAFF_ROLES, Level, Role
from models.errors import TicketError
from models.org import OrgUnit, User
from models.outbox import enqueue, outbox_batch
from models.tickets import PointsEntry

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter
CODE_LENGTH = 8
ITEM_KINDS = {"goods": "实物", "service": "服务"}
CODE_VALID_DAYS = 30  # an unclaimed code is cancelled and its points come back after this
SPENDING_REASONS = ("redeem", "refund")  # ledger reasons of the shop; all others are earnings
SHOP_KINDS = {"community": "社区信用超市", "merchant": "爱心商家"}


class RedemptionState:
    ISSUED = "issued"
    CONFIRMED = "confirmed"
    REFUNDED = "refunded"


class Shop(BaseModel):
    """A 信用超市: the community's own, or a merchant that takes points."""

    name = peewee.CharField(max_length=100, unique=True)
    kind = peewee.CharField(max_length=16, default="community")
    # The community (or street) it serves; its staff may also confirm codes here.
    org_unit = peewee.ForeignKeyField(OrgUnit, backref="shops")
    address = peewee.CharField(max_length=200, default="")
    created_at = peewee.DateTimeField(default=now)


class ShopStaff(BaseModel):
    """Someone who works the counter of a shop and confirms codes."""

    shop = peewee.ForeignKeyField(Shop, backref="staff", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="shop_roles")
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("shop", "user"), True),)


class ShopItem(BaseModel):
    """Goods or a service, priced in points, with stock and a validity window."""

    shop = peewee.ForeignKeyField(Shop, backref="items")
    name = peewee.CharField(max_length=100)
    kind = peewee.CharField(max_length=16, default="goods")
    price = peewee.IntegerField()
    stock = peewee.IntegerField(default=0)
    valid_from = peewee.DateTimeField(null=True)
    valid_until = peewee.DateTimeField(null=True)
    active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=now)

    def on_offer(self, at: datetime) -> bool:
        """Active and inside its validity window."""
        return bool(
            self.active
            and (self.valid_from is None or self.valid_from <= at)
            and (self.valid_until is None or at <= self.valid_until)
        )


class Redemption(BaseModel):
    """One item bought with points: its one-use code, and the ledger rows behind it."""

    item = peewee.ForeignKeyField(ShopItem, backref="redemptions")
    user = peewee.ForeignKeyField(User, backref="redemptions")
    code = peewee.CharField(max_length=16, unique=True)
    points = peewee.IntegerField()
    state = peewee.CharField(max_length=16, default=RedemptionState.ISSUED)
    debit = peewee.ForeignKeyField(PointsEntry, backref="redemption_debit")
    refund = peewee.ForeignKeyField(PointsEntry, null=True, backref="redemption_refund")
    created_at = peewee.DateTimeField(default=now, index=True)
    confirmed_by = peewee.ForeignKeyField(User, null=True)
    confirmed_at = peewee.DateTimeField(null=True)
    refunded_by = peewee.ForeignKeyField(User, null=True)
    refunded_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "created_at"), False),)


MODELS = (Shop, ShopStaff, ShopItem, Redemption)


def balance(user: User) -> int:
    """The user's points: the sum of the ledger."""
    total = (
        PointsEntry.select(peewee.fn.COALESCE(peewee.fn.SUM(PointsEntry.points), 0))
        .where(PointsEntry.user == user)
        .scalar()
    )
    return int(total or 0)


def _lock_person(user: User) -> None:
    """Serialise one person's spending: the row lock waits for their other redemption."""
    if is_postgres():
        User.select(User.id).where(User.id == user.id).for_update().execute()


def _new_code() -> str:
    first = secrets.choice(CODE_ALPHABET[:24])  # a letter first: never read as a ticket number
    return first + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH - 1))


def normalize_code(code: str) -> str:
    return "".join((code or "").split()).upper()


def shops_for(user: User):
    """Shops a volunteer can use: those of their street's subtree and above it."""
    unit = user.org_unit or (user.compound.grid if user.compound_id else None)
    if unit is None:
        return Shop.select().where(Shop.id.is_null())
    street = unit.ancestor_at(Level.STREET)
    above = [int(part) for part in street.path.strip("/").split("/") if part]
    inside = OrgUnit.select(OrgUnit.id).where(under_path(OrgUnit.path, street.path))
    return Shop.select().where(Shop.org_unit.in_(above) | Shop.org_unit.in_(inside))


def catalogue(user: User, limit: int = 20) -> list[ShopItem]:
    """Items on offer to `user` now, cheapest first (sold-out ones too, marked by stock 0)."""
    at = now()
    items = (
        ShopItem.select(ShopItem, Shop)
        .join(Shop)
        .where(ShopItem.active & ShopItem.shop.in_(shops_for(user).select(Shop.id)))
        .order_by(ShopItem.price, ShopItem.id)
    )
    return [item for item in items if item.on_offer(at)][:limit]


def _item_for(user: User, item_id) -> ShopItem:
    try:
        number = int(item_id)
    except (TypeError, ValueError):
        raise TicketError("商品编号应该是数字，比如“兑换 3”。") from None
    item = ShopItem.get_or_none(ShopItem.id == number) if 0 < number < 2**62 else None
    if item is None or not shops_for(user).where(Shop.id == item.shop_id).exists():
        raise TicketError(f"没有找到商品 {number}，回复“积分商城”看看有哪些。", "not_found")
    return item


def redeem(user: User, item_id) -> Redemption:
    """兑换: debit the points, take one from stock, hand out a one-use code — or nothing."""
    with write_transaction(), outbox_batch():
        item = _item_for(user, item_id)
        at = now()
        if not item.on_offer(at):
            raise TicketError(f"“{item.name}”已下架或不在兑换期内。", "conflict")
        _lock_person(user)
        have = balance(user)
        if have < item.price:
            raise TicketError(
                f"兑换“{item.name}”需要 {item.price} 积分，您现在有 {have} 积分。"
                "多接几单就够啦，回复“附近工单”看看。",
                "conflict",
            )
        taken = (
            ShopItem.update(stock=ShopItem.stock - 1)
            .where((ShopItem.id == item.id) & (ShopItem.stock > 0))
            .execute()
        )
        if not taken:
            raise TicketError(f"“{item.name}”已经兑完了，换一件看看吧。", "conflict")
        debit = PointsEntry.create(user=user, reason="redeem", points=-item.price, created_at=at)
        for _ in range(5):
            try:
                with write_transaction():  # a savepoint: a code collision retries alone
                    return Redemption.create(
                        item=item, user=user, code=_new_code(), points=item.price, debit=debit,
                        created_at=at,
                    )  # fmt: skip
            except peewee.IntegrityError:
                continue
        raise RuntimeError("could not draw a unique redemption code")


def is_shop_staff(user: User, shop: Shop) -> bool:
    return ShopStaff.select().where((ShopStaff.shop == shop) & (ShopStaff.user == user)).exists()


def _community_staff(user: User, shop: Shop) -> bool:
    """Dispatchers and supervisors over the shop's community run it too."""
    return (
        user.role in STAFF_ROLES
        and user.org_unit_id is not None
        and user.org_unit.contains(shop.org_unit)
    )


def _load_code(code: str) -> Redemption:
    code = normalize_code(code)
    found = Redemption.get_or_none(Redemption.code == code) if code else None
    if found is None:
        raise TicketError("没有找到这个兑换码，请核对后再试。", "not_found")
    return found


def confirm(code: str, actor: User) -> Redemption:
    """核销: the shop's staff hand over the item; the code works once."""
    with write_transaction(), outbox_batch():
        redemption = _load_code(code)
        shop = redemption.item.shop
        counter, community = is_shop_staff(actor, shop), _community_staff(actor, shop)
        if not (counter or community):
            # Others' codes look like unknown ones: no leak of what exists.
            raise TicketError("没有找到这个兑换码，请核对后再试。", "not_found")
        if redemption.user_id == actor.id:
            raise TicketError("不能核销自己的兑换，请让其他工作人员来办。", "forbidden")
        if counter and is_shop_staff(redemption.user, shop) and not community:
            raise TicketError(
                "这是本店工作人员自己的兑换，按规定不能由本店核销，请社区工作人员来核销。",
                "forbidden",
            )
        if redemption.state != RedemptionState.ISSUED:
            raise TicketError(_settled(redemption), "conflict")
        if redemption.item.valid_until is not None and now() > redemption.item.valid_until:
            raise TicketError("这个兑换码已过有效期，不能核销；积分可以退还。", "conflict")
        done = (
            Redemption.update(
                state=RedemptionState.CONFIRMED, confirmed_by=actor, confirmed_at=now()
            )
            .where((Redemption.id == redemption.id) & (Redemption.state == RedemptionState.ISSUED))
            .execute()
        )
        if not done:
            raise TicketError("这个兑换码刚刚已经核销过了。", "conflict")
        enqueue(redemption.user, f"您兑换的“{redemption.item.name}”已核销领取，感谢您的付出！")
        return Redemption.get_by_id(redemption.id)


def _settled(redemption: Redemption) -> str:
    if redemption.state == RedemptionState.CONFIRMED:
        return "这个兑换码已经核销过了，不能重复使用。"
    return "这个兑换已经取消，积分已退还。"


def refund(redemption_id, actor: User) -> Redemption:
    """取消兑换: before it is confirmed, the points come back and the item goes back on the shelf."""
    with write_transaction(), outbox_batch():
        redemption = Redemption.get_or_none(Redemption.id == _int(redemption_id))
        if redemption is None:
            raise TicketError("没有找到这笔兑换。", "not_found")
        shop = redemption.item.shop
        own = redemption.user_id == actor.id
        if not (own or is_shop_staff(actor, shop) or _community_staff(actor, shop)):
            raise TicketError("没有找到这笔兑换。", "not_found")
        if redemption.state != RedemptionState.ISSUED:
            raise TicketError(_settled(redemption), "conflict")
        note = f"您兑换的“{redemption.item.name}”已取消，{redemption.points} 积分已退回。"
        return _give_back(redemption, actor, None if own else note)


def expire_unclaimed(days: int = CODE_VALID_DAYS, limit: int = 200) -> int:
    """Codes nobody came for within `days`: cancelled, the points and the item given back and
    the person told (a daily scheduler job). Returns how many expired."""
    cutoff = now() - timedelta(days=days)
    stale = (
        Redemption.select()
        .where((Redemption.state == RedemptionState.ISSUED) & (Redemption.created_at < cutoff))
        .order_by(Redemption.id)
        .limit(limit)
    )
    expired = 0
    for redemption in stale:
        note = (
            f"您兑换的“{redemption.item.name}”超过{days}天没有领取，已自动取消，"
            f"{redemption.points} 积分已退回。还想要的话回复“积分商城”再兑换。"
        )
        try:
            with write_transaction(), outbox_batch():
                _give_back(redemption, None, note)
            expired += 1
        except TicketError:
            continue  # confirmed or cancelled at the counter meanwhile: nothing to give back
    return expired


def _give_back(redemption: Redemption, actor: User | None, note: str | None) -> Redemption:
    """The refund itself (inside the caller's transaction): a credit row, the state moved by
    compare-and-set, the item back on the shelf, and `note` to the person."""
    at = now()
    credit = PointsEntry.create(
        user=redemption.user_id, reason="refund", points=redemption.points, created_at=at
    )
    done = (
        Redemption.update(
            state=RedemptionState.REFUNDED, refund=credit, refunded_by=actor, refunded_at=at
        )
        .where((Redemption.id == redemption.id) & (Redemption.state == RedemptionState.ISSUED))
        .execute()
    )
    if not done:
        # Someone confirmed or refunded it meanwhile: the credit above must not stand.
        raise TicketError("这笔兑换刚刚有了变化，请查看后再试。", "conflict")
    ShopItem.update(stock=ShopItem.stock + 1).where(ShopItem.id == redemption.item_id).execute()
    if note:
        enqueue(redemption.user, note)
    return Redemption.get_by_id(redemption.id)


def _int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TicketError("编号应该是数字。") from None
    return number if 0 < number < 2**62 else 0


def my_redemptions(user: User, limit: int = 10) -> list[Redemption]:
    return list(
        Redemption.select(Redemption, ShopItem)
        .join(ShopItem)
        .where(Redemption.user == user)
        .order_by(Redemption.id.desc())
        .limit(limit)
    )


def add_item(
    shop_name: str,
    name: str,
    price: int,
    stock: int,
    *,
    unit: OrgUnit | None = None,
    kind: str = "goods",
    shop_kind: str = "community",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> ShopItem:
    """Put an item on a shop's shelf (the shop is opened first if `unit` is given)."""
    if price <= 0 or stock < 0:
        raise TicketError("积分价格要大于 0，库存不能为负数。")
    if kind not in ITEM_KINDS or shop_kind not in SHOP_KINDS:
        raise TicketError("商品类型是 goods 或 service，商店类型是 community 或 merchant。")
    name = (name or "").strip()
    if not name:
        raise TicketError("请写上商品名称。")
    with write_transaction():
        shop = Shop.get_or_none(Shop.name == shop_name)
        if shop is None:
            if unit is None:
                raise TicketError(f"还没有“{shop_name}”这家店，开店时请指定所属社区。")
            shop = Shop.create(name=shop_name, kind=shop_kind, org_unit=unit, created_at=now())
        return ShopItem.create(
            shop=shop, name=name[:100], kind=kind, price=price, stock=stock,
            valid_from=valid_from, valid_until=valid_until, created_at=now(),
        )  # fmt: skip


def add_staff(shop_name: str, user: User) -> ShopStaff:
    """Let `user` confirm codes at the shop's counter."""
    shop = Shop.get_or_none(Shop.name == shop_name)
    if shop is None:
        raise TicketError(f"没有“{shop_name}”这家店。", "not_found")
    staff, _ = ShopStaff.get_or_create(shop=shop, user=user, defaults={"created_at": now()})
    return staff


def role_may_shop(user: User) -> bool:
    """Points are earned by volunteers; anyone else has nothing to spend."""
    return user.role == Role.VOLUNTEER
