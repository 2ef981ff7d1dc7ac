"""Dashboard (大屏) panels for an org subtree: SQL aggregates, one function per panel.

The rates and the overdue counts are the digest's own definitions (models.digest), so a
number on the page is the number in the push. Every panel is a few GROUP BY queries over the
subtree's tickets in a period; Python only rolls grids up into their parent units.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee
from peewee import fn

from models import digest
from models.clock import now, to_local
from models.db import database, is_postgres, under_path
from models.digest import (
    _count_if,
    _within,
    count_columns,
    in_scope,
    overdue_condition,
    rating_columns,
)
from models.enums import OPEN_STATES, Action, Level
from models.org import Compound, OrgUnit
from models.routing import routing
from models.tickets import Rating, Ticket, TicketEvent

PERIOD_DAYS = {"today": None, "7d": 7, "30d": 30, "90d": 90}
RATE_PERIODS = ("today", "7d", "30d")
PANEL_DAYS = 30
LOCAL_OFFSET_HOURS = 8


@dataclass(frozen=True)
class Window:
    name: str
    start: datetime
    end: datetime
    prev_start: datetime
    prev_end: datetime


def window(name: str, at: datetime | None = None) -> Window:
    """today (local midnight until now), 7d or 30d up to `at`, and the period just before."""
    at = at or now()
    if name == "today":
        start, _ = digest.day_bounds(to_local(at))
        return Window(name, start, at, start - timedelta(days=1), at - timedelta(days=1))
    days = PERIOD_DAYS.get(name)
    if days is None:
        raise ValueError(f"unknown period {name!r}")
    span = timedelta(days=days)
    return Window(name, at - span, at, at - 2 * span, at - span)


@contextmanager
def fast_plans():
    """Run the panels in one read transaction, telling PostgreSQL that pages are cheap to reach.

    A panel joins a month of ratings or events (tens of thousands of rows) to their tickets.
    With the default random_page_cost (4, for spinning disks) PostgreSQL hashes the whole ticket
    table instead of looking each ticket up by its key: 1 s instead of 0.1 s at 1,000,000
    tickets. 1.1 is the usual value for SSDs and cached data; SET LOCAL ends with the block.
    """
    with database.atomic():
        if is_postgres():
            database.execute_sql("SET LOCAL random_page_cost = 1.1")
        yield


def area(unit: OrgUnit):
    return under_path(Ticket.area_path, unit.path)


def reopen_events():
    """Reopens, by a dispatcher or by an unhappy rating: the lifecycle writes one `reopen`
    event for each (back to waiting for dispatch)."""
    return TicketEvent.action == Action.REOPEN


def _rate_dict(f: digest.DigestFigures) -> dict:
    return {
        "new": f.new,
        "resolved": f.resolved,
        "respond_due": f.respond_due,
        "responded_in_time": f.responded_in_time,
        "due": f.due,
        "done_in_time": f.done_in_time,
        "ratings": f.ratings,
        "satisfied": f.satisfied,
        "response_rate": f.response_rate,
        "resolve_rate": f.completion_rate,
        "satisfaction_rate": f.satisfaction_rate,
    }


def rates(unit: OrgUnit, at=None) -> dict:
    """响应率 / 解决率 / 满意率 for today, 7 and 30 days, each with the previous period's."""
    windows = {}
    for name in RATE_PERIODS:
        w = window(name, at)
        windows[name], windows[f"{name}_prev"] = (w.start, w.end), (w.prev_start, w.prev_end)
    counted = digest.counts_for(unit, windows)
    out = {}
    for name in RATE_PERIODS:
        current = _rate_dict(counted[name])
        previous = _rate_dict(counted[f"{name}_prev"])
        change = {
            key: (current[key] - previous[key])
            if current[key] is not None and previous[key] is not None
            else None
            for key in ("response_rate", "resolve_rate", "satisfaction_rate")
        }
        start, end = windows[name]
        out[name] = {"start": start, "end": end, "current": current,
                     "previous": previous, "change": change}  # fmt: skip
    return out


def status(unit: OrgUnit, at=None) -> dict:
    """Open now, overdue on each clock, overdue at city level, oldest open, reopened (30 days)."""
    at = at or now()
    step_late = Ticket.step_due_at <= at
    overall_late = Ticket.due_at <= at
    late = overdue_condition(at)
    row = (
        Ticket.select(
            fn.COUNT(Ticket.id).alias("open"),
            _count_if(step_late).alias("step_overdue"),
            _count_if(overall_late).alias("overall_overdue"),
            _count_if(late).alias("overdue"),
            _count_if(late & (Ticket.level == Level.CITY)).alias("city_overdue"),
            fn.MIN(Ticket.created_at).alias("oldest_at"),
        )
        .where(area(unit) & Ticket.state.in_(list(OPEN_STATES)))
        .dicts()
        .get()
    )
    # MIN() over the open tickets, then the one with that time: ORDER BY created_at LIMIT 1
    # would walk the created_at index through every closed ticket older than the oldest open.
    oldest_at = row.pop("oldest_at")
    oldest = (
        Ticket.select(Ticket.id, Ticket.created_at, Ticket.category)
        .where(area(unit) & Ticket.state.in_(list(OPEN_STATES)) & (Ticket.created_at == oldest_at))
        .order_by(Ticket.id)
        .first()
        if oldest_at is not None
        else None
    )
    since = at - timedelta(days=PANEL_DAYS)
    reopened = in_scope(
        TicketEvent.select(fn.COUNT(fn.DISTINCT(TicketEvent.ticket))).where(
            reopen_events() & _within(TicketEvent.created_at, since, at)
        ),
        unit,
        TicketEvent.ticket == Ticket.id,
    ).scalar()
    out = {key: int(value or 0) for key, value in row.items()}
    out["reopened"] = int(reopened or 0)
    out["oldest"] = (
        {
            "id": oldest.id,
            "created_at": oldest.created_at,
            "category_name": routing().category(oldest.category).name,
            "age_hours": round((at - oldest.created_at).total_seconds() / 3600, 1),
        }
        if oldest
        else None
    )
    return out


def _local_day(column):
    """The Beijing calendar day of a UTC timestamp column, as text YYYY-MM-DD."""
    if is_postgres():
        shifted = column + peewee.SQL(f"interval '{LOCAL_OFFSET_HOURS} hours'")
        return fn.TO_CHAR(shifted, "YYYY-MM-DD").coerce(False)
    # coerce(False): peewee would read the text back as the column's datetime type.
    return fn.date(column, f"+{LOCAL_OFFSET_HOURS} hours").coerce(False)


def daily_by_category(unit: OrgUnit, at=None, days: int = PANEL_DAYS) -> dict:
    """New tickets per local day and category over the last `days` days (a stacked chart)."""
    at = at or now()
    first_local = to_local(at).date() - timedelta(days=days - 1)
    start, _ = digest.day_bounds(datetime.combine(first_local, datetime.min.time()))
    day = _local_day(Ticket.created_at)
    rows = (
        Ticket.select(day.alias("day"), Ticket.category, fn.COUNT(Ticket.id).alias("n"))
        .where(area(unit) & _within(Ticket.created_at, start, at))
        .group_by(day, Ticket.category)
        .tuples()
    )
    labels = [str(first_local + timedelta(days=i)) for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}
    series: dict[str, list[int]] = {}
    for d, code, n in rows:
        if str(d) in index:
            series.setdefault(code, [0] * days)[index[str(d)]] += int(n)
    r = routing()
    ordered = sorted(series.items(), key=lambda kv: -sum(kv[1]))
    return {
        "days": labels,
        "series": [{"code": c, "name": r.category(c).name, "data": v} for c, v in ordered],
    }


def hotspots(unit: OrgUnit, at=None, days: int = PANEL_DAYS) -> list[dict]:
    """Compounds of the subtree with coordinates, tickets filed in `days` days and open now."""
    at = at or now()
    since = at - timedelta(days=days)
    n = fn.COUNT(Ticket.id)
    filed = dict(
        Ticket.select(Ticket.compound, n)
        .where(area(unit) & _within(Ticket.created_at, since, at))
        .group_by(Ticket.compound)
        .tuples()
    )
    open_now = dict(
        Ticket.select(Ticket.compound, n)
        .where(area(unit) & Ticket.state.in_(list(OPEN_STATES)))
        .group_by(Ticket.compound)
        .tuples()
    )
    compounds = (
        Compound.select(Compound.id, Compound.name, Compound.lat, Compound.lng)
        .join(OrgUnit, on=Compound.grid == OrgUnit.id)
        .where(under_path(OrgUnit.path, unit.path))
        .order_by(Compound.id)
    )
    return [
        {
            "id": c.id,
            "name": c.name,
            "lat": c.lat,
            "lng": c.lng,
            "tickets": int(filed.get(c.id, 0)),
            "open": int(open_now.get(c.id, 0)),
        }  # fmt: skip
        for c in compounds
    ]


def _rollup(unit: OrgUnit, rows, fields) -> dict[int, dict]:
    """Sum per-grid rows into the unit's direct children (grid id → child by path)."""
    children = list(OrgUnit.select().where(OrgUnit.parent == unit).order_by(OrgUnit.id))
    grids = dict(OrgUnit.select(OrgUnit.id, OrgUnit.path).where(
        under_path(OrgUnit.path, unit.path)).tuples())  # fmt: skip
    totals = {c.id: {"id": c.id, "name": c.name, "level": c.level, **dict.fromkeys(fields, 0)}
              for c in children}  # fmt: skip
    for row in rows:
        path = grids.get(row["grid"], "")
        for child in children:
            if path.startswith(child.path):
                for name in fields:
                    totals[child.id][name] += int(row.get(name) or 0)
    return totals


def ranking(unit: OrgUnit, at=None, days: int = PANEL_DAYS) -> list[dict]:
    """The unit's children ranked on the three rates over `days` days (best first)."""
    at = at or now()
    start = at - timedelta(days=days)
    columns, touches = count_columns(start, at)
    counted = list(
        Ticket.select(Ticket.grid.alias("grid"), *columns)
        .where(area(unit) & touches)
        .group_by(Ticket.grid)
        .dicts()
    )
    rated = list(
        Rating.select(Ticket.grid.alias("grid"), *rating_columns())
        .join(Ticket)
        .where(area(unit) & _within(Rating.created_at, start, at))
        .group_by(Ticket.grid)
        .dicts()
    )
    fields = (*digest.COUNT_FIELDS, "ratings", "satisfied")
    totals = _rollup(unit, counted + rated, fields)
    out = []
    for t in totals.values():
        t["response_rate"] = _ratio(t["responded_in_time"], t["respond_due"])
        t["resolve_rate"] = _ratio(t["done_in_time"], t["due"])
        t["satisfaction_rate"] = _ratio(t["satisfied"], t["ratings"])
        known = [r for r in (t["response_rate"], t["resolve_rate"], t["satisfaction_rate"])
                 if r is not None]  # fmt: skip
        t["score"] = round(100 * sum(known) / len(known), 1) if known else None
        out.append(t)
    out.sort(key=lambda t: (t["score"] is None, -(t["score"] or 0), t["id"]))
    return out


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def monthly_theme(unit: OrgUnit, at=None, days: int = PANEL_DAYS, limit: int = 5) -> list[dict]:
    """每月一题: recurring problems (category × compound) of `days` days, most pressing first."""
    at = at or now()
    start = at - timedelta(days=days)
    n = fn.COUNT(Ticket.id)
    filed = (
        Ticket.select(
            Ticket.category,
            Ticket.compound,
            n.alias("n"),
            fn.SUM(Ticket.subscriber_count).alias("repeats"),
        )  # fmt: skip
        .where(area(unit) & _within(Ticket.created_at, start, at) & Ticket.compound.is_null(False))
        .group_by(Ticket.category, Ticket.compound)
        .tuples()
    )
    reopened = dict(
        ((cat, comp), int(c))
        for cat, comp, c in TicketEvent.select(Ticket.category, Ticket.compound,
                                               fn.COUNT(fn.DISTINCT(TicketEvent.ticket)))
        .join(Ticket, on=TicketEvent.ticket == Ticket.id)
        .where(reopen_events() & _within(TicketEvent.created_at, start, at)
               & area(unit) & Ticket.compound.is_null(False))
        .group_by(Ticket.category, Ticket.compound)
        .tuples()
    )  # fmt: skip
    rows = []
    for cat, comp, count, repeats in filed:
        again = reopened.get((cat, comp), 0)
        weight = int(count) + int(repeats or 0) + 2 * again
        if int(count) + int(repeats or 0) < 2 and not again:
            continue  # one report is not a recurring problem
        rows.append({"category": cat, "compound_id": comp, "tickets": int(count),
                     "repeats": int(repeats or 0), "reopened": again, "weight": weight})  # fmt: skip
    rows.sort(key=lambda r: (-r["weight"], r["category"], r["compound_id"]))
    rows = rows[:limit]
    names = dict(Compound.select(Compound.id, Compound.name).where(
        Compound.id.in_([r["compound_id"] for r in rows] or [0])).tuples())  # fmt: skip
    r = routing()
    for row in rows:
        row["category_name"] = r.category(row["category"]).name
        row["compound_name"] = names.get(row["compound_id"], "")
    return rows


def theme_ref(unit: OrgUnit, category: str, compound_id: int, at=None) -> str:
    """The joint ticket's external reference: one per unit, theme and month."""
    return f"theme:{to_local(at or now()):%Y-%m}:{unit.id}:{category}:{compound_id}"
