"""Supervisor figures for an org subtree (digests, 今日概况, the REST API) and the digest text.

Every number is one SQL aggregate over the subtree's tickets (GROUP BY / COUNT / AVG), so the
cost follows the rows in the period, never a Python loop over tickets. SQLite and PostgreSQL.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import peewee
from peewee import JOIN, Case, fn

from models.clock import from_local, now, to_local
from models.db import is_postgres, under_path
from models.enums import OPEN_STATES, Level, Role, State
from models.org import Compound, OrgUnit, User
from models.privacy import mask_name
from models.routing import routing
from models.tickets import PointsEntry, Rating, Ticket

MAX_TEXT = 600
# A grid is named "slow" for overdue tickets, or for resolving slower than this on average.
SLOW_RESOLVE_HOURS = 24.0
LEVEL_NAMES = {
    Level.GRID: "网格",
    Level.COMMUNITY: "社区",
    Level.STREET: "街道",
    Level.CITY: "市级",
}


@dataclass(frozen=True)
class Overdue:
    ticket_id: int
    category: str
    category_name: str
    level: str
    overdue_for: timedelta

    @property
    def number(self) -> str:
        return f"#{self.ticket_id}"

    @property
    def at_city(self) -> bool:
        return self.level == Level.CITY


@dataclass(frozen=True)
class SlowGrid:
    name: str
    overdue: int
    avg_resolve_hours: float | None


@dataclass(frozen=True)
class ActiveVolunteer:
    masked_name: str
    resolved: int
    points: int


@dataclass
class DigestFigures:
    unit_id: int
    unit_name: str
    level: str
    start: datetime
    end: datetime
    new: int = 0
    resolved: int = 0
    closed: int = 0
    due: int = 0
    done_in_time: int = 0
    ratings: int = 0
    satisfied: int = 0
    respond_due: int = 0
    responded_in_time: int = 0
    overdue_total: int = 0
    city_overdue_total: int = 0
    overdue: list[Overdue] = field(default_factory=list)
    city_overdue: list[Overdue] = field(default_factory=list)
    hot_categories: list[tuple[str, str, int]] = field(default_factory=list)
    hot_compounds: list[tuple[str, int]] = field(default_factory=list)
    slow_grids: list[SlowGrid] = field(default_factory=list)
    volunteers: list[ActiveVolunteer] = field(default_factory=list)

    @property
    def completion_rate(self) -> float | None:
        """办结率: resolved or closed within the overall deadline / due in the period."""
        return self.done_in_time / self.due if self.due else None

    @property
    def response_rate(self) -> float | None:
        """响应率: dispatched by the dispatch deadline / dispatch deadlines in the period."""
        return self.responded_in_time / self.respond_due if self.respond_due else None

    @property
    def satisfaction_rate(self) -> float | None:
        """满意度: share of ratings of 4 or 5 among the period's ratings."""
        return self.satisfied / self.ratings if self.ratings else None


def _in_area(unit: OrgUnit):
    """Tickets in `unit`'s subtree (an indexable prefix match on the materialised path)."""
    return under_path(Ticket.area_path, unit.path)


def _within(column, start, end):
    return (column >= start) & (column < end)


def _count_if(condition):
    return fn.COALESCE(fn.SUM(Case(None, [(condition, 1)], 0)), 0)


def _hours(later, earlier):
    """Hours between two timestamp columns, in each database's own date arithmetic."""
    if is_postgres():
        return fn.EXTRACT(peewee.NodeList((peewee.SQL("EPOCH FROM"), later - earlier))) / 3600.0
    return (fn.julianday(later) - fn.julianday(earlier)) * 24.0


def _overdue_since():
    """The earlier of the two deadlines (either may be NULL), portable to both databases."""
    step, due = Ticket.step_due_at, Ticket.due_at
    return Case(
        None,
        [(step.is_null(), due), (due.is_null(), step), (step < due, step)],
        due,
    )


def count_columns(start, end, prefix: str = "") -> tuple[list, object]:
    """The period counts as aggregate columns (aliases `prefix` + field), and the rows they touch.

    One definition for the digest, the dashboard's rate cards and its rankings (grouped).
    响应率: dispatched by the dispatch deadline / dispatch deadlines in the period.
    办结率 (解决率): resolved or closed by the overall deadline / overall deadlines in the period.
    """
    in_time = (Ticket.resolved_at <= Ticket.due_at) | (
        (Ticket.state == State.CLOSED) & (Ticket.closed_at <= Ticket.due_at)
    )
    live = Ticket.state != State.CANCELLED
    due = _within(Ticket.due_at, start, end) & live
    to_respond = _within(Ticket.respond_due_at, start, end) & live
    conditions = {
        "new": _within(Ticket.created_at, start, end),
        "resolved": _within(Ticket.resolved_at, start, end),
        "closed": _within(Ticket.closed_at, start, end) & (Ticket.state == State.CLOSED),
        "due": due,
        "done_in_time": due & in_time,
        "respond_due": to_respond,
        "responded_in_time": to_respond & (Ticket.responded_at <= Ticket.respond_due_at),
    }
    columns = [_count_if(c).alias(prefix + name) for name, c in conditions.items()]
    touches = (
        _within(Ticket.created_at, start, end)
        | _within(Ticket.resolved_at, start, end)
        | _within(Ticket.closed_at, start, end)
        | _within(Ticket.due_at, start, end)
        | _within(Ticket.respond_due_at, start, end)
    )
    return columns, touches


COUNT_FIELDS = ("new", "resolved", "closed", "due", "done_in_time", "respond_due",
                "responded_in_time")  # fmt: skip


def rating_columns(start=None, end=None, prefix: str = "") -> list:
    """Ratings and satisfied ratings (score ≥ 4, 满意率), optionally only those in [start, end)."""
    given = _within(Rating.created_at, start, end) if start is not None else None
    ok = Rating.score >= 4
    return [
        (_count_if(given) if given is not None else fn.COUNT(Rating.id)).alias(prefix + "ratings"),
        _count_if(ok & given if given is not None else ok).alias(prefix + "satisfied"),
    ]


def in_scope(query, unit: OrgUnit, via=None):
    """Limit a query on ratings, events or points to tickets in `unit`'s subtree.

    At the root every ticket is in scope, so the join to ticket is left out: joining a month of
    ratings to their tickets costs more than all the rest of a dashboard panel.
    """
    if unit.parent_id is None:
        return query
    join = query.join(Ticket, on=via) if via is not None else query.join(Ticket)
    return join.where(_in_area(unit))


def _period_counts(unit: OrgUnit, windows: dict) -> dict[str, dict]:
    """Counts for several periods {key: (start, end)}: one pass over tickets, one over ratings."""
    first = min(start for start, _ in windows.values())
    last = max(end for _, end in windows.values())
    columns, ratings = [], []
    for key, (start, end) in windows.items():
        columns += count_columns(start, end, f"{key}__")[0]
        ratings += rating_columns(start, end, f"{key}__")
    _, touches = count_columns(first, last)
    row = Ticket.select(*columns).where(_in_area(unit) & touches).dicts().get()
    rated = (
        in_scope(Rating.select(*ratings).where(_within(Rating.created_at, first, last)), unit)
        .dicts()
        .get()
    )
    out = {}
    for key in windows:
        fields = (*COUNT_FIELDS, "ratings", "satisfied")
        merged = {**row, **rated}
        out[key] = {name: int(merged[f"{key}__{name}"] or 0) for name in fields}
    return out


def _counts(f: DigestFigures, unit: OrgUnit, start, end) -> None:
    for name, value in _period_counts(unit, {"p": (start, end)})["p"].items():
        setattr(f, name, value)


def counts_for(unit: OrgUnit, windows: dict) -> dict[str, "DigestFigures"]:
    """The period counts and three rates for several periods {key: (start, end)} at once."""
    out = {}
    for key, values in _period_counts(unit, windows).items():
        start, end = windows[key]
        out[key] = DigestFigures(unit.id, unit.name, unit.level, start, end, **values)
    return out


def overdue_condition(at):
    """Open and past either clock (the step's or the overall deadline) as of `at`."""
    return Ticket.state.in_(list(OPEN_STATES)) & (
        (Ticket.step_due_at <= at) | (Ticket.due_at <= at)
    )


def _overdue_rows(area, at, limit: int, city_only: bool = False) -> tuple[int, list[Overdue]]:
    where = area & overdue_condition(at)
    if city_only:
        where &= Ticket.level == Level.CITY
    total = Ticket.select(fn.COUNT(Ticket.id)).where(where).scalar() or 0
    since = _overdue_since()
    rows = (
        Ticket.select(Ticket.id, Ticket.category, Ticket.level, since.alias("since"))
        .where(where)
        .order_by(since, Ticket.id)
        .limit(limit)
        .dicts()
    )
    r = routing()
    return total, [
        Overdue(
            ticket_id=x["id"],
            category=x["category"],
            level=x["level"],
            category_name=r.category(x["category"]).name,
            overdue_for=at - _as_dt(x["since"]),
        )  # fmt: skip
        for x in rows
    ]


def _as_dt(value) -> datetime:
    # SQLite hands back text for a computed CASE column; PostgreSQL a datetime.
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _hotspots(f: DigestFigures, area, start, end, limit: int) -> None:
    new = area & _within(Ticket.created_at, start, end)
    n = fn.COUNT(Ticket.id)
    by_category = (
        Ticket.select(Ticket.category, n.alias("n"))
        .where(new)
        .group_by(Ticket.category)
        .order_by(n.desc(), Ticket.category)
        .limit(limit)
        .tuples()
    )
    r = routing()
    f.hot_categories = [(code, r.category(code).name, int(c)) for code, c in by_category]
    by_compound = (
        Ticket.select(Compound.name, n.alias("n"))
        .join(Compound)
        .where(new)
        .group_by(Compound.id, Compound.name)
        .order_by(n.desc(), Compound.name)
        .limit(limit)
        .tuples()
    )
    f.hot_compounds = [(name, int(c)) for name, c in by_compound]


def _slow_grids(f: DigestFigures, area, start, end, at, limit: int) -> None:
    overdue = area & overdue_condition(at)
    late = dict(
        Ticket.select(Ticket.grid, fn.COUNT(Ticket.id))
        .where(overdue)
        .group_by(Ticket.grid)
        .tuples()
    )
    speed = dict(
        Ticket.select(Ticket.grid, fn.AVG(_hours(Ticket.resolved_at, Ticket.created_at)))
        .where(area & _within(Ticket.resolved_at, start, end))
        .group_by(Ticket.grid)
        .tuples()
    )
    names = dict(
        OrgUnit.select(OrgUnit.id, OrgUnit.name)
        .where(OrgUnit.id.in_(list(set(late) | set(speed)) or [0]))
        .tuples()
    )
    grids = [
        SlowGrid(names[g], int(late.get(g, 0)), float(speed[g]) if g in speed else None)
        for g in names
    ]
    grids.sort(key=lambda g: (-g.overdue, -(g.avg_resolve_hours or 0.0), g.name))
    f.slow_grids = grids[:limit]


def _volunteers(f: DigestFigures, area, start, end, limit: int) -> None:
    n = fn.COUNT(Ticket.id)
    resolved = (
        Ticket.select(User.id, User.name, n.alias("n"))
        .join(User, on=Ticket.assignee == User.id)
        .where(area & _within(Ticket.resolved_at, start, end) & (User.role == Role.VOLUNTEER))
        .group_by(User.id, User.name)
        .order_by(n.desc(), User.id)
        .limit(limit * 4)
        .tuples()
    )
    rows = list(resolved)
    ids = [uid for uid, _, _ in rows] or [0]
    points = dict(
        PointsEntry.select(PointsEntry.user, fn.SUM(PointsEntry.points))
        .join(Ticket, JOIN.INNER, on=PointsEntry.ticket == Ticket.id)
        .where(area & _within(PointsEntry.created_at, start, end) & PointsEntry.user.in_(ids))
        .group_by(PointsEntry.user)
        .tuples()
    )
    ranked = sorted(rows, key=lambda r: (-r[2], -int(points.get(r[0]) or 0), r[0]))
    f.volunteers = [
        ActiveVolunteer(mask_name(name) or "志愿者", int(c), int(points.get(uid) or 0))
        for uid, name, c in ranked[:limit]
    ]


def figures(unit: OrgUnit, start: datetime, end: datetime, *, at=None, limit: int = 5):
    """The digest figures for `unit`'s subtree over [start, end) (naive UTC); overdue as of `at`."""
    at = at or now()
    area = _in_area(unit)
    f = DigestFigures(unit.id, unit.name, unit.level, start, end)
    _counts(f, unit, start, end)
    f.overdue_total, f.overdue = _overdue_rows(area, at, limit)
    f.city_overdue_total, f.city_overdue = _overdue_rows(area, at, limit, city_only=True)
    _hotspots(f, area, start, end, limit)
    _slow_grids(f, area, start, end, at, limit)
    _volunteers(f, area, start, end, limit)
    return f


def day_bounds(day_local: datetime) -> tuple[datetime, datetime]:
    """[00:00, 24:00) of a local (Beijing) day, as naive UTC."""
    midnight = day_local.replace(hour=0, minute=0, second=0, microsecond=0)
    return from_local(midnight), from_local(midnight + timedelta(days=1))


def period(kind: str, at=None) -> tuple[datetime, datetime]:
    """The period a digest sent at `at` covers: yesterday (daily) or last Mon–Sun (weekly)."""
    local = to_local(at or now())
    today_start, _ = day_bounds(local)
    if kind == "daily":
        return today_start - timedelta(days=1), today_start
    if kind == "weekly":
        this_monday = today_start - timedelta(days=local.weekday())
        return this_monday - timedelta(days=7), this_monday
    raise ValueError(f"unknown digest kind {kind!r}")


def this_week(unit: OrgUnit, **kw) -> DigestFigures:
    """Figures from this Monday's local midnight until now (本周概况)."""
    local = to_local(now())
    start, _ = day_bounds(local)
    return figures(unit, start - timedelta(days=local.weekday()), now(), **kw)


def today(unit: OrgUnit, **kw) -> DigestFigures:
    """Figures from local midnight until now (今日概况)."""
    start, _ = day_bounds(to_local(now()))
    return figures(unit, start, now(), **kw)


def supervisors():
    """Supervisors with a unit: who gets a digest."""
    return (
        User.select(User, OrgUnit)
        .join(OrgUnit, on=User.org_unit == OrgUnit.id)
        .where(User.role == Role.SUPERVISOR)
        .order_by(User.id)
    )


# -- the text ---------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%（{part}/{whole}）" if whole else "—"


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 24:
        return f"{hours // 24}天{hours % 24}小时" if hours % 24 else f"{hours // 24}天"
    minutes = int(delta.total_seconds() // 60)
    return f"{hours}小时" if hours else f"{max(minutes, 1)}分钟"


def _overdue_line(o: Overdue) -> str:
    flag = "【市级超时】" if o.at_city else ""
    level = LEVEL_NAMES.get(o.level, o.level)
    return f"· {flag}{o.number} {o.category_name}（{level}）已超时{_span(o.overdue_for)}"


def _heading(f: DigestFigures, kind: str) -> str:
    first, last = to_local(f.start), to_local(f.end - timedelta(seconds=1))
    if kind == "weekly":
        return f"【每周简报】{f.unit_name} {first.month}月{first.day}日—{last.month}月{last.day}日"
    if kind == "today":
        return f"【今日概况】{f.unit_name} 截至{to_local(f.end):%H:%M}"
    if kind == "this_week":
        return f"【本周概况】{f.unit_name} {first.month}月{first.day}日至今（截至{to_local(f.end):%H:%M}）"
    return f"【每日简报】{f.unit_name} {first.month}月{first.day}日"


def _rates(f: DigestFigures) -> str:
    """The three rates, and in one clause which cannot be counted yet and why (a bare dash
    tells a reader nothing): '响应率 100%；办结率、满意度暂不计（本期没有到期的工单，还没有收到评价）。'"""
    rates = (
        ("响应率", f.responded_in_time, f.respond_due),
        ("办结率", f.done_in_time, f.due),
        ("满意度", f.satisfied, f.ratings),
    )
    known = [f"{name} {_pct(part, whole)}" for name, part, whole in rates if whole]
    missing = [name for name, _part, whole in rates if not whole]
    if not missing:
        return "，".join(known) + "。"
    due = [what for what, n in (("派单", f.respond_due), ("工单", f.due)) if not n]
    reasons = [f"本期没有到期的{'和'.join(due)}"] if due else []
    if not f.ratings:
        reasons.append("还没有收到评价")
    later = f"{'、'.join(missing)}暂不计（{'，'.join(reasons)}）。"
    return "，".join(known) + "；" + later if known else later


def _is_slow(g: SlowGrid) -> bool:
    return bool(g.overdue) or (g.avg_resolve_hours or 0.0) >= SLOW_RESOLVE_HOURS


def _sections(f: DigestFigures, kind: str) -> list[str]:
    lines = [
        _heading(f, kind),
        f"新增 {f.new} 件，办结 {f.resolved} 件，关闭 {f.closed} 件。",
        _rates(f),
    ]
    if f.overdue_total:
        lines.append(f"超时未办 {f.overdue_total} 件，最久的：")
        shown = f.overdue[:3]
        shown += [o for o in f.city_overdue if o not in shown][:2]
        lines += [_overdue_line(o) for o in shown]
    else:
        lines.append("目前没有超时工单。")
    if f.city_overdue_total:
        lines.append(f"其中 {f.city_overdue_total} 件在市级仍超时，请重点督办。")
    if f.hot_categories:
        lines.append("热点：" + "、".join(f"{name}{n}件" for _, name, n in f.hot_categories[:3]))
    if f.hot_compounds:
        lines.append("小区：" + "、".join(f"{name}{n}件" for name, n in f.hot_compounds[:3]))
    slow = [g for g in f.slow_grids if _is_slow(g)][:2]
    if slow:
        lines.append("较慢网格：" + "、".join(_grid_text(g) for g in slow))
    if f.volunteers:
        lines.append(
            "活跃志愿者：" + "、".join(f"{v.masked_name}{v.resolved}单" for v in f.volunteers[:3])
        )
    return lines


def _hours_text(hours: float) -> str:
    """3.0 → '3.0小时'; under an hour in minutes (never '0.0小时')."""
    return f"{hours:.1f}小时" if hours >= 1 else f"{max(round(hours * 60), 1)}分钟"


def _grid_text(g: SlowGrid) -> str:
    parts = [f"超时{g.overdue}件"] if g.overdue else []
    if g.avg_resolve_hours is not None:
        parts.append(f"平均{_hours_text(g.avg_resolve_hours)}办结")
    return f"{g.name}（{'，'.join(parts)}）"


def render(f: DigestFigures, kind: str = "daily") -> str:
    """Short Chinese digest (< 600 characters) with what the supervisor can do next."""
    first = (f.city_overdue or f.overdue or [None])[0]
    action = f"或“督办 {first.number}”催办" if first else "或“今日概况”看最新情况"
    footer = f"回复“超时工单”查看全部，{action}。"
    lines = _sections(f, kind)
    # Drop the least important lines (volunteers, grids, compounds …) until it fits.
    while len("\n".join([*lines, footer])) > MAX_TEXT and len(lines) > 3:
        lines.pop()
    return "\n".join([*lines, footer])
