"""Matching volunteers and pool tickets: skill fit, distance, current load, recent ratings.

One scoring rule serves both directions: which volunteers hear about a new pool ticket first,
and in which order a volunteer sees 附近工单.
"""

from dataclasses import dataclass
from datetime import timedelta

import peewee

from models.clock import now
from models.db import under_path
from models.enums import Level, Role, State
from models.geo import distance_m
from models.org import OrgUnit, User
from models.routing import routing
from models.tickets import Rating, Ticket

DEFAULT_PUSH_COUNT = 5
# Distances within the same 250 m band count as equally near, so skill and load decide.
DISTANCE_BAND_M = 250
RATING_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Match:
    volunteer: User
    ticket: Ticket
    skill_fit: int
    distance_m: float | None
    load: int
    avg_score: float | None

    @property
    def sort_key(self):
        far = self.distance_m if self.distance_m is not None else 1e9
        # Better fit first, then nearer (by band), then less busy, then better rated.
        return (-self.skill_fit, int(far // DISTANCE_BAND_M), self.load, -(self.avg_score or 0),
                far)  # fmt: skip


def ticket_point(ticket: Ticket) -> tuple[float, float] | None:
    if ticket.lat is not None and ticket.lng is not None:
        return ticket.lat, ticket.lng
    if ticket.compound_id and ticket.compound.lat is not None:
        return ticket.compound.lat, ticket.compound.lng
    return None


def _loads(ids: list[int]) -> dict[int, int]:
    return dict(
        Ticket.select(Ticket.assignee, peewee.fn.COUNT(Ticket.id))
        .where(Ticket.assignee.in_(ids) & (Ticket.state == State.TAKEN))
        .group_by(Ticket.assignee)
        .tuples()
    )


def _scores(ids: list[int]) -> dict[int, float]:
    rows = (
        Rating.select(Rating.assignee, peewee.fn.AVG(Rating.score))
        .where(Rating.assignee.in_(ids) & (Rating.created_at >= now() - RATING_WINDOW))
        .group_by(Rating.assignee)
        .tuples()
    )
    return {k: float(v) for k, v in rows}


def _same_household(volunteer: User, reporter: User) -> bool:
    return volunteer.id == reporter.id or (
        bool(volunteer.household) and volunteer.household == reporter.household
    )


def _match(volunteer, ticket, loads, scores, origin=None) -> Match:
    point = ticket_point(ticket)
    if origin is None and volunteer.lat is not None and volunteer.lng is not None:
        origin = (volunteer.lat, volunteer.lng)
    far = distance_m(point[0], point[1], *origin) if point and origin else None
    wanted = set(routing().category(ticket.category).skills)
    fit = len(wanted & set(volunteer.skills or []))
    return Match(volunteer, ticket, fit, far, loads.get(volunteer.id, 0), scores.get(volunteer.id))


def rank_volunteers(ticket: Ticket, limit: int | None = None) -> list[Match]:
    """Volunteers of the ticket's street, best first; the reporter's household left out."""
    limit = limit or routing().push_count
    street = ticket.grid.ancestor_at(Level.STREET)
    volunteers = list(
        User.select()
        .join(OrgUnit, on=(User.org_unit == OrgUnit.id))
        .where((User.role == Role.VOLUNTEER) & under_path(OrgUnit.path, street.path))
    )
    reporter = ticket.reporter
    volunteers = [v for v in volunteers if not _same_household(v, reporter)]
    ids = [v.id for v in volunteers]
    loads, scores = _loads(ids), _scores(ids)
    matches = sorted((_match(v, ticket, loads, scores) for v in volunteers),
                     key=lambda m: m.sort_key)  # fmt: skip
    return matches[:limit]


def open_orders(user: User, scan: int = 200):
    """Orders `user` could take now, newest first: pool tickets (a volunteer's own street) and
    tickets dispatched to their work unit with nobody on them yet."""
    offered = Ticket.in_pool == True  # noqa: E712 (a peewee expression)
    if user.work_unit_id:
        offered |= Ticket.work_unit == user.work_unit_id
    query = Ticket.select().where(
        (Ticket.state == State.DISPATCHED) & Ticket.assignee.is_null() & offered
    )
    if user.role == Role.VOLUNTEER and user.org_unit_id:
        street = user.org_unit.ancestor_at(Level.STREET)
        query = query.where(under_path(Ticket.area_path, street.path))
    return query.order_by(Ticket.id.desc()).limit(scan)


def rank_tickets(
    volunteer: User, limit: int | None = 5, scan: int = 200, origin=None
) -> list[Match]:
    """附近工单 (chat and API): takeable orders ranked by the same rule as pool pushes,
    distances from `origin` (lat, lng) or else from where the volunteer lives."""
    loads, scores = _loads([volunteer.id]), _scores([volunteer.id])
    matches = [
        _match(volunteer, t, loads, scores, origin)
        for t in open_orders(volunteer, scan)
        if not _same_household(volunteer, t.reporter)
    ]
    matches.sort(key=lambda m: m.sort_key)
    return matches if limit is None else matches[:limit]
