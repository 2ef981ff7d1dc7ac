"""Which volunteers should hear about a pool ticket first: skill fit, distance, load, ratings."""

from dataclasses import dataclass

import peewee

from models.enums import Level, Role, State
from models.geo import distance_m
from models.org import OrgUnit, User
from models.routing import routing
from models.tickets import Rating, Ticket

DEFAULT_PUSH_COUNT = 5


@dataclass(frozen=True)
class Candidate:
    user: User
    skill_fit: int
    distance_m: float | None
    load: int
    avg_score: float | None

    @property
    def sort_key(self):
        far = self.distance_m if self.distance_m is not None else 1e9
        # Better fit first, then nearer, then less busy, then better rated.
        return (-self.skill_fit, round(far / 250), self.load, -(self.avg_score or 0), far)


def ticket_point(ticket: Ticket) -> tuple[float, float] | None:
    if ticket.lat is not None and ticket.lng is not None:
        return ticket.lat, ticket.lng
    if ticket.compound_id and ticket.compound.lat is not None:
        return ticket.compound.lat, ticket.compound.lng
    return None


def rank_volunteers(ticket: Ticket, limit: int = DEFAULT_PUSH_COUNT) -> list[Candidate]:
    """Volunteers of the ticket's street, best first; the reporter's household left out."""
    street = ticket.grid.ancestor_at(Level.STREET)
    volunteers = list(
        User.select()
        .join(OrgUnit, on=(User.org_unit == OrgUnit.id))
        .where((User.role == Role.VOLUNTEER) & OrgUnit.path.startswith(street.path))
    )
    if not volunteers:
        return []
    ids = [v.id for v in volunteers]
    loads = dict(
        Ticket.select(Ticket.assignee, peewee.fn.COUNT(Ticket.id))
        .where(Ticket.assignee.in_(ids) & (Ticket.state == State.TAKEN))
        .group_by(Ticket.assignee)
        .tuples()
    )
    scores = dict(
        Rating.select(Rating.assignee, peewee.fn.AVG(Rating.score))
        .where(Rating.assignee.in_(ids))
        .group_by(Rating.assignee)
        .tuples()
    )
    wanted = set(routing().category(ticket.category).skills)
    point = ticket_point(ticket)
    reporter = ticket.reporter
    out = []
    for v in volunteers:
        if v.id == reporter.id or (v.household and v.household == reporter.household):
            continue
        dist = None
        if point and v.lat is not None and v.lng is not None:
            dist = distance_m(point[0], point[1], v.lat, v.lng)
        fit = len(wanted & set(v.skills or []))
        avg = float(scores[v.id]) if v.id in scores else None
        out.append(Candidate(v, fit, dist, loads.get(v.id, 0), avg))
    out.sort(key=lambda c: c.sort_key)
    return out[:limit]
