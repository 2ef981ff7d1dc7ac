"""Anti-gaming rules for points (积分防刷).

- No points for serving one's own household (a proxy wish counts the household it was
  posted for).
- The same volunteer and resident rating each other again and again is held for review: the
  points wait in a PointsFlag until a dispatcher over the ticket approves or rejects them.
"""

from datetime import timedelta

import peewee

from models.access import same_household
from models.clock import now
from models.db import BaseModel, under_path, write_transaction
from models.enums import Level, Role
from models.errors import TicketError
from models.org import OrgUnit, User, responsible_staff
from models.outbox import enqueue, outbox_batch
from models.tickets import PointsEntry, Rating, Ticket
from models.wishes import WishFor

PAIR_WINDOW = timedelta(days=90)
PAIR_LIMIT = 3  # the third rating between the same two people within the window is held


class FlagState:
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class PointsFlag(BaseModel):
    """Points held back from a rating that looks like a pair trading ratings."""

    ticket = peewee.ForeignKeyField(Ticket, unique=True, backref="points_flags")
    volunteer = peewee.ForeignKeyField(User, backref="points_flags")
    resident = peewee.ForeignKeyField(User)
    points = peewee.IntegerField()
    pair_ratings = peewee.IntegerField()
    state = peewee.CharField(max_length=16, default=FlagState.PENDING, index=True)
    reviewer = peewee.ForeignKeyField(User, null=True)
    note = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=now)
    reviewed_at = peewee.DateTimeField(null=True)


def own_household(ticket: Ticket, volunteer: User) -> bool:
    """The volunteer served their own household (directly, or through a proxy wish)."""
    if same_household(volunteer, ticket.reporter):
        return True
    proxy = WishFor.get_or_none(WishFor.ticket == ticket.id)
    return bool(proxy and proxy.household and proxy.household == volunteer.household)


def pair_ratings(a: User, b: User, since) -> int:
    """Ratings between two people, either way round, since `since`."""
    return (
        Rating.select()
        .where(
            (
                ((Rating.rater == a.id) & (Rating.assignee == b.id))
                | ((Rating.rater == b.id) & (Rating.assignee == a.id))
            )
            & (Rating.created_at >= since)
        )
        .count()
    )


def may_award(ticket: Ticket, volunteer: User, points: int) -> bool:
    """False when the points must not be credited now (own household, or held for review)."""
    if own_household(ticket, volunteer):
        return False
    resident = ticket.reporter
    count = pair_ratings(resident, volunteer, now() - PAIR_WINDOW)
    if count < PAIR_LIMIT:
        return True
    inserted = (
        PointsFlag.insert(
            ticket=ticket.id,
            volunteer=volunteer.id,
            resident=resident.id,
            points=points,
            pair_ratings=count,
            created_at=now(),
        )  # fmt: skip
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    if inserted:
        text = (
            f"积分复核：志愿者{volunteer.display_name()}与居民{resident.display_name()}"
            f"{PAIR_WINDOW.days}天内已互评{count}次，工单 {ticket.number} 的 {points} 积分暂缓发放。"
            "回复“积分复核”查看，“复核 编号 通过”或“复核 编号 不通过 原因”。"
        )
        for person in responsible_staff(ticket.grid.ancestor_at(Level.COMMUNITY), Role.DISPATCHER):
            enqueue(person, text, ticket=ticket)
    return False


def pending_flags(actor: User, limit: int = 10) -> list[PointsFlag]:
    """Held points in the actor's subtree, oldest first."""
    _require_reviewer(actor)
    return list(
        PointsFlag.select(PointsFlag, Ticket)
        .join(Ticket, on=(PointsFlag.ticket == Ticket.id))
        .where(
            (PointsFlag.state == FlagState.PENDING)
            & under_path(Ticket.area_path, actor.org_unit.path)
        )
        .order_by(PointsFlag.id)
        .limit(limit)
    )


def _require_reviewer(actor: User) -> OrgUnit:
    if actor.role != Role.DISPATCHER or actor.org_unit_id is None:
        raise TicketError("积分复核需要网格员或社区工作者来做。", "forbidden")
    return actor.org_unit


def review(flag_id, actor: User, approve: bool, note: str = "") -> PointsFlag:
    """复核: approved points are credited (once); rejected ones never are."""
    with write_transaction(), outbox_batch():
        unit = _require_reviewer(actor)
        flag = PointsFlag.get_or_none(PointsFlag.id == flag_id)
        if flag is None or not flag.ticket.area_path.startswith(unit.path):
            raise TicketError(f"没有找到待复核的积分记录 {flag_id}。", "not_found")
        if not approve and not (note or "").strip():
            raise TicketError(f"不通过请写明原因，比如“复核 {flag.id} 不通过 互相刷单”。")
        if flag.volunteer_id == actor.id:
            raise TicketError("不能复核自己的积分。", "forbidden")
        state = FlagState.APPROVED if approve else FlagState.REJECTED
        done = (
            PointsFlag.update(state=state, reviewer=actor, note=note or "", reviewed_at=now())
            .where((PointsFlag.id == flag.id) & (PointsFlag.state == FlagState.PENDING))
            .execute()
        )
        if not done:
            raise TicketError(f"积分记录 {flag.id} 已经复核过了。", "conflict")
        number = flag.ticket.number
        if approve:
            PointsEntry.insert(
                user=flag.volunteer_id, ticket=flag.ticket_id, reason="rating",
                points=flag.points, created_at=now(),
            ).on_conflict_ignore().execute()  # fmt: skip
            enqueue(flag.volunteer, f"工单 {number} 的 {flag.points} 积分经复核已发放，谢谢您！")
        else:
            enqueue(flag.volunteer, f"工单 {number} 的积分经复核不予发放，原因：{note}。")
        return PointsFlag.get_by_id(flag.id)
