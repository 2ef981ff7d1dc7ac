"""A volunteer's year (年度星级) for 民主评议党员: orders, wishes, bookings, ratings, points.

Stars: one for any service in the year, then two at 5 services, three at 10, four at 20,
five at 40; one star less when the average rating is under 3.5. These thresholds are a
starting point for a community to adjust, not a rule from the articles.
"""

from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

from models.clock import CHINA
from models.db import under_path
from models.enums import Action, Role, TicketKind
from models.org import OrgUnit, User
from models.shop import SPENDING_REASONS
from models.tickets import PointsEntry, Rating, Ticket, TicketEvent

STAR_STEPS = (1, 5, 10, 20, 40)
LOW_AVERAGE = 3.5


@dataclass
class VolunteerYear:
    user_id: int
    name: str
    party_member: bool
    orders: int = 0
    wishes: int = 0
    bookings: int = 0
    ratings: int = 0
    average: float | None = None
    earned: int = 0
    spent: int = 0

    @property
    def services(self) -> int:
        return self.orders + self.wishes + self.bookings

    @property
    def stars(self) -> int:
        stars = sum(self.services >= step for step in STAR_STEPS)
        if stars and self.average is not None and self.average < LOW_AVERAGE:
            stars -= 1
        return stars


def year_bounds(year: int) -> tuple[datetime, datetime]:
    offset = CHINA.utcoffset(None)
    return datetime(year, 1, 1) - offset, datetime(year + 1, 1, 1) - offset


def yearly(year: int, unit: OrgUnit | None = None) -> list[VolunteerYear]:
    """Every volunteer of `unit`'s subtree (or the city), most services first."""
    start, end = year_bounds(year)
    people = User.select().where(User.role == Role.VOLUNTEER)
    if unit is not None:
        people = people.join(OrgUnit, on=(User.org_unit == OrgUnit.id)).where(
            under_path(OrgUnit.path, unit.path)
        )
    rows = {u.id: VolunteerYear(u.id, u.name or u.openid, u.is_party_member) for u in people}
    if not rows:
        return []
    ids = list(rows)
    # Services: tickets each volunteer resolved in the year (a reopened one counts once).
    resolved = (
        TicketEvent.select(TicketEvent.actor, Ticket.kind, fn.COUNT(fn.DISTINCT(Ticket.id)))
        .join(Ticket, on=(TicketEvent.ticket == Ticket.id))
        .where(
            (TicketEvent.action == Action.RESOLVE)
            & TicketEvent.actor.in_(ids)
            & (TicketEvent.created_at >= start)
            & (TicketEvent.created_at < end)
        )
        .group_by(TicketEvent.actor, Ticket.kind)
        .tuples()
    )
    field = {TicketKind.WISH: "wishes", TicketKind.BOOKING: "bookings"}
    for uid, kind, count in resolved:
        row = rows[uid]
        name = field.get(kind, "orders")
        setattr(row, name, getattr(row, name) + count)
    ratings = (
        Rating.select(Rating.assignee, fn.COUNT(Rating.id), fn.AVG(Rating.score))
        .where(Rating.assignee.in_(ids) & (Rating.created_at >= start) & (Rating.created_at < end))
        .group_by(Rating.assignee)
        .tuples()
    )
    for uid, count, average in ratings:
        rows[uid].ratings, rows[uid].average = count, round(float(average), 2)
    spending = PointsEntry.reason.in_(SPENDING_REASONS)
    points = (
        PointsEntry.select(
            PointsEntry.user,
            fn.SUM(Case(None, [(spending, 0)], PointsEntry.points)),
            fn.SUM(Case(None, [(spending, PointsEntry.points)], 0)),
        )
        .where(
            PointsEntry.user.in_(ids)
            & (PointsEntry.created_at >= start)
            & (PointsEntry.created_at < end)
        )
        .group_by(PointsEntry.user)
        .tuples()
    )
    for uid, earned, other in points:
        rows[uid].earned, rows[uid].spent = int(earned or 0), -int(other or 0)
    return sorted(rows.values(), key=lambda r: (-r.services, -r.earned, r.user_id))
