"""Dashboard panels about people: handlers' scorecards, volunteers' points, property companies.

The same rules as models.figures: SQL aggregates over the subtree's tickets in a period.
"""

from datetime import timedelta

import peewee
from peewee import Case, fn

from models.clock import now
from models.digest import _count_if, _within, in_scope
from models.enums import Action
from models.evaluation import evaluate
from models.figures import PANEL_DAYS, area
from models.org import OrgUnit, User, WorkUnit, mask_name
from models.tickets import PointsEntry, Rating, Ticket, TicketEvent

SCORED_ACTIONS = (Action.TAKE, Action.RESOLVE, Action.HAND_BACK)


def _event_counts(unit, start, end) -> dict[int, dict]:
    """Per actor: tickets taken, resolved and handed back (events), and resolved on time."""

    def tickets_where(condition):
        # Tickets, not events: taking the same ticket again after a reopen is one ticket.
        return fn.COUNT(fn.DISTINCT(Case(None, [(condition, TicketEvent.ticket)], None)))

    acted = TicketEvent.select(
        TicketEvent.actor,
        tickets_where(TicketEvent.action == Action.TAKE).alias("taken"),
        tickets_where(TicketEvent.action == Action.RESOLVE).alias("resolved"),
        tickets_where(TicketEvent.action == Action.HAND_BACK).alias("hand_backs"),
    ).where(
        TicketEvent.action.in_(list(SCORED_ACTIONS))
        & _within(TicketEvent.created_at, start, end)
        & TicketEvent.actor.is_null(False)
    )
    rows = {
        row.pop("actor"): {**row, "on_time": 0}
        for row in in_scope(acted, unit, TicketEvent.ticket == Ticket.id)
        .group_by(TicketEvent.actor)
        .dicts()
    }
    # On time: resolved in the period by the overall deadline, and still resolved (a reopen
    # clears resolved_at). Read from the ticket's own columns: no join over a month of events.
    on_time = (
        Ticket.select(Ticket.assignee, fn.COUNT(Ticket.id))
        .where(area(unit) & on_time_resolved(start, end))
        .group_by(Ticket.assignee)
        .tuples()
    )
    for uid, n in on_time:
        rows.setdefault(uid, dict.fromkeys(("taken", "resolved", "hand_backs"), 0))["on_time"] = n
    return rows


def on_time_resolved(start, end):
    """Resolved in [start, end) no later than the overall deadline."""
    return _within(Ticket.resolved_at, start, end) & (Ticket.resolved_at <= Ticket.due_at)


def scorecards(unit: OrgUnit, at=None, days: int = PANEL_DAYS, limit: int = 12) -> list[dict]:
    """Per handler (volunteer or worker): taken, resolved, on time, ratings, hand-backs."""
    at = at or now()
    start = at - timedelta(days=days)
    acted = _event_counts(unit, start, at)
    by_assignee = Rating.select(
        Rating.assignee, fn.COUNT(Rating.id), fn.AVG(Rating.score), _count_if(Rating.score >= 4)
    ).where(_within(Rating.created_at, start, at) & Rating.assignee.is_null(False))
    rated = {
        uid: (int(c), float(avg or 0), int(ok or 0))
        for uid, c, avg, ok in in_scope(by_assignee, unit).group_by(Rating.assignee).tuples()
    }
    ids = set(acted) | set(rated)
    people = {
        u.id: u
        for u in User.select(User, WorkUnit)
        .join(WorkUnit, peewee.JOIN.LEFT_OUTER, on=User.work_unit == WorkUnit.id)
        .where(User.id.in_(list(ids) or [0]))
    }
    none = dict.fromkeys(("taken", "resolved", "on_time", "hand_backs"), 0)
    cards = []
    for uid, person in people.items():
        n, avg, ok = rated.get(uid, (0, 0.0, 0))
        counts = {k: int(v or 0) for k, v in acted.get(uid, none).items()}
        cards.append({
            "id": uid, "name": mask_name(person.name) or "志愿者", "role": person.role,
            "unit": person.work_unit.name if person.work_unit_id else "", **counts,
            "ratings": n, "avg_score": round(avg, 2) if n else None, "satisfied": ok,
        })  # fmt: skip
    cards.sort(key=lambda c: (-(c["resolved"] + c["taken"]), c["hand_backs"], c["id"]))
    return cards[:limit]


def volunteer_points(unit: OrgUnit, at=None, days: int = PANEL_DAYS, limit: int = 10):
    """Volunteers by points earned on the subtree's tickets in `days` days."""
    at = at or now()
    total = fn.SUM(PointsEntry.points)
    earned = PointsEntry.select(
        PointsEntry.user, total.alias("points"), fn.COUNT(PointsEntry.id).alias("entries")
    ).where(
        _within(PointsEntry.created_at, at - timedelta(days=days), at)
        & PointsEntry.ticket.is_null(False)  # points earned on tickets, not given otherwise
    )
    top = list(
        in_scope(earned, unit, PointsEntry.ticket == Ticket.id)
        .group_by(PointsEntry.user)
        .order_by(total.desc(), PointsEntry.user)
        .limit(limit)
        .tuples()
    )
    names = dict(
        User.select(User.id, User.name).where(User.id.in_([u for u, _, _ in top] or [0])).tuples()
    )
    return [
        {"id": uid, "name": mask_name(names.get(uid, "")) or "志愿者", "points": int(p or 0),
         "entries": int(e)}
        for uid, p, e in top
    ]  # fmt: skip


def property_companies(unit: OrgUnit, at=None, days: int = PANEL_DAYS) -> list[dict]:
    """Property companies' credit scores (红榜 / 重点监督), scored as 物业评价 but over the
    dashboard's 30 days (the chat report covers 90)."""
    at = at or now()
    return [
        {"id": s.company_id, "name": s.name, "tickets": s.tickets, "score": s.score,
         "band": s.band, "on_time_rate": s.on_time_rate, "satisfaction": s.satisfaction}
        for s in evaluate(at - timedelta(days=days), at, unit, at=at)
        if s.tickets
    ]  # fmt: skip
