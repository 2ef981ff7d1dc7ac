"""Chat for incentives: points and the shop (信用超市), points review, property lists.

`COMMANDS[role]` is merged over the router's tables; a command meant for another role answers
with who may use it, so people learn it exists.
"""

import peewee

from handlers import incentive_texts as t
from handlers import resident, texts
from handlers import wishes as wish_chat
from handlers.commands import Command
from models import gaming, shop
from models import property_lists as plists
from models.enums import ASSIGNEE_ROLES, Role
from models.errors import TicketError
from models.org import mask_name
from models.tickets import PointsEntry


def _require_volunteer(user) -> None:
    if user.role not in ASSIGNEE_ROLES:
        raise TicketError(texts.NEED_VOLUNTEER, "forbidden")


def my_points(user, cmd, ctx) -> str:
    """我的积分: balance, earned, spent (redemptions less refunds), and where to spend it."""
    _require_volunteer(user)
    awarded = PointsEntry.reason.not_in(shop.SPENDING_REASONS)
    earned, other, count = (
        PointsEntry.select(
            peewee.fn.SUM(peewee.Case(None, [(awarded, PointsEntry.points)], 0)),
            peewee.fn.SUM(peewee.Case(None, [(awarded, 0)], PointsEntry.points)),
            peewee.fn.COUNT(PointsEntry.ticket),
        )
        .where(PointsEntry.user == user)
        .scalar(as_tuple=True)
    )
    earned, spent = int(earned or 0), -int(other or 0)
    return t.MY_POINTS.format(balance=earned - spent, earned=earned, spent=spent, count=count)


def _stock(item) -> str:
    return f"剩{item.stock}件" if item.stock > 0 else "已兑完"


def catalogue(user, cmd, ctx) -> str:
    _require_volunteer(user)
    items = shop.catalogue(user)
    if not items:
        return t.SHOP_EMPTY
    lines = [
        t.SHOP_LINE.format(
            id=i.id,
            name=i.name,
            kind=shop.ITEM_KINDS.get(i.kind, "实物"),
            price=i.price,
            stock=_stock(i),
            shop=i.shop.name,
        )  # fmt: skip
        for i in items
    ]
    first = next((i.id for i in items if i.stock > 0), items[0].id)
    return t.SHOP.format(balance=shop.balance(user), items="\n".join(lines), first=first)


def redeem(user, cmd: Command, ctx) -> str:
    _require_volunteer(user)
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example="兑换 3"))
    row = shop.redeem(user, cmd.number)
    where = row.item.shop
    return t.REDEEMED.format(
        item=row.item.name, code=row.code, shop=where.name,
        address=f"（{where.address}）" if where.address else "", balance=shop.balance(user),
        id=row.id, days=shop.CODE_VALID_DAYS,
    )  # fmt: skip


def my_redemptions(user, cmd, ctx) -> str:
    rows = shop.my_redemptions(user)
    if not rows:
        return t.MY_REDEMPTIONS_EMPTY
    lines = [
        t.REDEMPTION_LINE.format(
            id=r.id,
            item=r.item.name,
            points=r.points,
            state=t.REDEMPTION_STATES[r.state].format(code=r.code),
        )  # fmt: skip
        for r in rows
    ]
    return t.MY_REDEMPTIONS.format(items="\n".join(lines))


def cancel_redemption(user, cmd: Command, ctx) -> str:
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example="取消兑换 3"))
    row = shop.refund(cmd.number, user)
    return t.REFUNDED.format(item=row.item.name, points=row.points, balance=shop.balance(user))


def confirm(user, cmd: Command, ctx) -> str:
    """核销 CODE: a shop's counter hands over what was redeemed."""
    code = shop.normalize_code((str(cmd.number) if cmd.number is not None else "") + cmd.rest)
    if not code:
        return t.CONFIRM_HINT
    row = shop.confirm(code, user)
    return t.CONFIRMED.format(item=row.item.name, code=row.code, who=row.user.display_name())


def points_review(user, cmd, ctx) -> str:
    flags = gaming.pending_flags(user)
    if not flags:
        return t.FLAGS_EMPTY
    lines = [
        t.FLAG_LINE.format(
            id=f.id,
            number=f.ticket.number,
            volunteer=mask_name(f.volunteer.name) or "志愿者",
            resident=mask_name(f.resident.name) or "居民",
            count=f.pair_ratings,
            points=f.points,
        )  # fmt: skip
        for f in flags
    ]
    return t.FLAGS.format(items="\n".join(lines))


def review(user, cmd: Command, ctx) -> str:
    """复核 N 通过 / 复核 N 不通过 原因."""
    words = cmd.rest.split(maxsplit=1)
    if cmd.number is None or not words or words[0] not in ("通过", "不通过"):
        return t.REVIEW_HINT
    approve = words[0] == "通过"
    flag = gaming.review(cmd.number, user, approve, words[1] if len(words) > 1 else "")
    result = f"已通过，{flag.points} 积分已发放" if approve else "未通过，积分不发放"
    return t.REVIEWED.format(id=flag.id, result=result)


def published_lists(user, cmd, ctx) -> str:
    return plists.render_lists(plists.published())


def property_market(user, cmd, ctx) -> str:
    return plists.render_market(plists.market())


def veto(user, cmd: Command, ctx) -> str:
    """一票否决 公司 小区 理由."""
    words = cmd.rest.split(maxsplit=2)
    if len(words) < 3:
        return t.VETO_HINT
    company = plists.find_company(words[0])
    compound = plists.find_compound(words[1])
    row = plists.veto(user, company, compound, words[2])
    return t.VETOED.format(
        company=company.name, compound=compound.name, reason=row.reason, quarter=row.quarter
    )


def _refuse(message: str):
    def refuse(user, cmd, ctx) -> str:
        return message

    return refuse


ANYONE = {
    "核销": confirm,
    "my_redemptions": my_redemptions,
    "property_lists": published_lists,
    "property_market": property_market,
}
ASSIGNEE = {"my_points": my_points}
VOLUNTEER = {
    "shop": catalogue,
    "兑换": redeem,
    "取消兑换": cancel_redemption,
    "wish_wall": wish_chat.wish_wall,
    "认领心愿": wish_chat.claim,
    "认领": wish_chat.claim,
    "我的服务": wish_chat.my_service,
    "停止服务": wish_chat.stop_service,
}
RESIDENT = {
    "微心愿": wish_chat.post_wish,
    "微心": wish_chat.post_wish,
    "service_menu": wish_chat.service_menu,
    "预约": wish_chat.book,
}
STAFF = {
    "代办心愿": wish_chat.post_wish_for,
    "wishes_to_review": wish_chat.to_review,
    "points_review": points_review,
    "复核": review,
    "一票否决": veto,
}
# A grid worker who posted a wish for someone gives that person's thanks (the rating).
DISPATCHER = {**STAFF, "评价": resident.rate_command}


def _table(own: dict) -> dict:
    refusals = {name: _refuse(texts.NEED_VOLUNTEER) for name in VOLUNTEER}
    refusals |= {name: _refuse(texts.NEED_STAFF) for name in STAFF}
    refusals |= {name: _refuse(_RESIDENTS_ONLY) for name in RESIDENT}
    return {**refusals, **ANYONE, **own}


_RESIDENTS_ONLY = "这个功能是给居民用的：发微心愿、从服务菜单预约服务。"
_DISPATCHERS_ONLY = "这个操作需要网格员或社区工作者来做。"
SUPERVISOR = {
    **{name: _refuse(_DISPATCHERS_ONLY) for name in STAFF},
    "wishes_to_review": wish_chat.to_review,
    "一票否决": veto,
}
COMMANDS = {
    Role.RESIDENT: _table(RESIDENT),
    Role.VOLUNTEER: _table({**RESIDENT, **ASSIGNEE, **VOLUNTEER}),
    Role.WORKER: _table({**RESIDENT, **ASSIGNEE}),
    Role.DISPATCHER: _table(DISPATCHER),
    Role.SUPERVISOR: _table(SUPERVISOR),
}
