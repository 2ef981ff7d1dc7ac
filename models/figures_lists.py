"""The tickets behind each dashboard number (drill-down), as rows fit to show and export.

Each metric is the same condition the aggregate in models.digest / models.figures counts, so
a list has exactly as many rows as its number says.
"""

from datetime import datetime

from peewee import fn

from models import privacy
from models.clock import now, to_local
from models.digest import _within, overdue_condition
from models.enums import OPEN_STATES, Action, Level, State
from models.figures import Window, area, reopen_events, window
from models.figures_people import on_time_resolved
from models.org import Compound, OrgUnit, User
from models.routing import routing
from models.tickets import PointsEntry, Rating, Ticket, TicketEvent


def _in_time():
    return (Ticket.resolved_at <= Ticket.due_at) | (
        (Ticket.state == State.CLOSED) & (Ticket.closed_at <= Ticket.due_at)
    )


def _rated(w: Window, unhappy: bool = False, satisfied: bool = False):
    ratings = Rating.select(Rating.ticket).where(_within(Rating.created_at, w.start, w.end))
    if unhappy:
        ratings = ratings.where(Rating.score < 4)
    if satisfied:
        ratings = ratings.where(Rating.score >= 4)
    return Ticket.id.in_(ratings)


def _live():
    return Ticket.state != State.CANCELLED


def _false_if_null(condition):
    # A NULL resolved_at / responded_at makes a comparison NULL, and NOT NULL is not true.
    return fn.COALESCE(condition, False)


def _respond_due(w: Window):
    return _within(Ticket.respond_due_at, w.start, w.end) & _live()


def _due(w: Window):
    return _within(Ticket.due_at, w.start, w.end) & _live()


def _open():
    return Ticket.state.in_(list(OPEN_STATES))


def _reopened(w: Window):
    events = TicketEvent.select(TicketEvent.ticket).where(
        reopen_events() & _within(TicketEvent.created_at, w.start, w.end)
    )
    return Ticket.id.in_(events)


# metric → (title, condition(window, at)); a period metric reads the window, a "now" one `at`.
METRICS = {
    "new": ("新增工单", lambda w, at: _within(Ticket.created_at, w.start, w.end)),
    "resolved": ("办结工单", lambda w, at: _within(Ticket.resolved_at, w.start, w.end)),
    "respond_due": ("应响应工单", lambda w, at: _respond_due(w)),
    "responded": ("按时响应", lambda w, at: _respond_due(w)
                  & (Ticket.responded_at <= Ticket.respond_due_at)),
    "done": ("按时办结", lambda w, at: _due(w) & _in_time()),
    "satisfied": ("评价满意（4–5分）", lambda w, at: _rated(w, satisfied=True)),
    "respond_late": ("未按时响应", lambda w, at: _respond_due(w)
                     & ~_false_if_null(Ticket.responded_at <= Ticket.respond_due_at)),
    "due": ("到期应办结", lambda w, at: _due(w)),
    "late": ("未按时办结", lambda w, at: _due(w) & ~_false_if_null(_in_time())),
    # A ticket rated twice (unhappy, then after the redo) is one row for two ratings.
    "rated": ("已评价（按工单）", lambda w, at: _rated(w)),
    "unhappy": ("评价不满意（3分及以下）", lambda w, at: _rated(w, unhappy=True)),
    "open": ("未办结", lambda w, at: _open()),
    "overdue": ("超时未办", lambda w, at: overdue_condition(at)),
    "step_overdue": ("环节超时", lambda w, at: _open() & (Ticket.step_due_at <= at)),
    "overall_overdue": ("总时限超时", lambda w, at: _open() & (Ticket.due_at <= at)),
    "city_overdue": ("市级超时", lambda w, at: overdue_condition(at) & (Ticket.level == Level.CITY)),
    "reopened": ("返工（重新打开）", lambda w, at: _reopened(w)),
    "filed": ("受理工单（不含撤销）", lambda w, at: _within(Ticket.created_at, w.start, w.end)
              & _live()),
}  # fmt: skip


def _acted(action: Action):
    def condition(w: Window, uid: int):
        events = TicketEvent.select(TicketEvent.ticket).where(
            (TicketEvent.action == action) & (TicketEvent.actor == uid)
            & _within(TicketEvent.created_at, w.start, w.end)
        )  # fmt: skip
        return Ticket.id.in_(events)

    return condition


def _on_time_by(w: Window, uid: int):
    return (Ticket.assignee == uid) & on_time_resolved(w.start, w.end)


def _rated_for(w: Window, uid: int):
    return Ticket.id.in_(Rating.select(Rating.ticket).where(
        (Rating.assignee == uid) & _within(Rating.created_at, w.start, w.end)))  # fmt: skip


def _earned(w: Window, uid: int):
    return Ticket.id.in_(PointsEntry.select(PointsEntry.ticket).where(
        (PointsEntry.user == uid) & _within(PointsEntry.created_at, w.start, w.end)))  # fmt: skip


# Per-person metrics (scorecards, volunteers): metric → (title, condition(window, user id)).
PERSON_METRICS = {
    "took": ("接单", _acted(Action.TAKE)),
    "resolved_by": ("办结", _acted(Action.RESOLVE)),
    "on_time_by": ("按时办结", _on_time_by),
    "handed_back": ("退单", _acted(Action.HAND_BACK)),
    "rated_for": ("收到的评价", _rated_for),
    "earned": ("获得积分的工单", _earned),
}
NOW_METRICS = {"open", "overdue", "step_overdue", "overall_overdue", "city_overdue"}


def drill(unit: OrgUnit, metric: str, period: str = "30d", *, at=None, child=None,
          category=None, compound=None, handler=None, company=None):  # fmt: skip
    """The tickets behind one number, newest first. Raises KeyError for an unknown metric."""
    at = at or now()
    w = window(period, at)
    scope = child if child is not None else unit
    if metric in PERSON_METRICS:
        title, person_condition = PERSON_METRICS[metric]
        condition = person_condition(w, handler or 0)
        handler = None  # the condition already names the person
    else:
        title, metric_condition = METRICS[metric]
        condition = metric_condition(w, at)
    query = Ticket.select().where(area(scope) & condition)
    if company:
        query = query.where(Ticket.compound.in_(
            Compound.select(Compound.id).where(Compound.property_company == company)))  # fmt: skip
    if category:
        query = query.where(Ticket.category == category)
    if compound:
        query = query.where(Ticket.compound == compound)
    if handler:
        query = query.where(Ticket.assignee == handler)
    return title, query.order_by(Ticket.id.desc())


# -- rows ---------------------------------------------------------------------------------

COLUMNS = ["工单号", "提交时间", "类别", "紧急程度", "状态", "层级", "小区", "楼栋", "反映人",
           "电话", "办理人", "办结期限", "内容"]  # fmt: skip
STATE_NAMES = {"submitted": "待派单", "dispatched": "已派单", "taken": "办理中",
               "resolved": "已办结待评价", "closed": "已完成", "cancelled": "已撤销"}  # fmt: skip
URGENCY_NAMES = {"urgent": "紧急", "difficult": "疑难", "hot": "热点", "normal": "一般"}
LEVEL_NAMES = {"grid": "网格", "community": "社区", "street": "街道", "city": "市级"}


def _local(value: datetime | None) -> str:
    return f"{to_local(value):%Y-%m-%d %H:%M}" if value else ""


def rows(query, limit: int | None = None):
    """Masked rows (lists of strings and numbers) in COLUMNS order, streamed in id order."""
    query = query.limit(limit) if limit else query
    users: dict[int, User] = {}
    compounds: dict[int, str] = {}
    r = routing()
    for batch in _batches(query, 500):
        ids = {t.reporter_id for t in batch} | {t.assignee_id for t in batch if t.assignee_id}
        missing = ids - set(users)
        if missing:
            users.update({u.id: u for u in User.select().where(User.id.in_(list(missing)))})
        need = {t.compound_id for t in batch if t.compound_id} - set(compounds)
        if need:
            compounds.update(Compound.select(Compound.id, Compound.name)
                             .where(Compound.id.in_(list(need))).tuples())  # fmt: skip
        for t in batch:
            reporter = users.get(t.reporter_id)
            assignee = users.get(t.assignee_id) if t.assignee_id else None
            # Staff reading the dashboard are neither the reporter nor the assignee: masked.
            yield [
                t.id, _local(t.created_at), r.category(t.category).name,
                URGENCY_NAMES.get(t.urgency, t.urgency), STATE_NAMES.get(t.state, t.state),
                LEVEL_NAMES.get(t.level, t.level), compounds.get(t.compound_id, ""),
                f"{t.building}号楼" if t.building else "",
                privacy.mask_name(reporter.name) if reporter else "",
                privacy.mask_phone(reporter.phone) if reporter and reporter.phone else "",
                privacy.mask_name(assignee.name) if assignee else "",
                _local(t.due_at), privacy.mask_text(t.text[:80]),
            ]  # fmt: skip


def _batches(query, size: int):
    """Keyset pages over a query ordered by id desc (no OFFSET: cheap deep into the list)."""
    last = None
    remaining = query._limit
    base = query.limit(None)
    while True:
        page = base.where(Ticket.id < last) if last is not None else base
        take = size if remaining is None else min(size, remaining)
        if take <= 0:
            return
        batch = list(page.limit(take))
        if not batch:
            return
        yield batch
        last = batch[-1].id
        if remaining is not None:
            remaining -= len(batch)
        if len(batch) < take:
            return
