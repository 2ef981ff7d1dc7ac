"""Credit evaluation of property companies from their tickets (信用评价, 红榜 / 重点监督).

The articles describe cities publishing, each quarter, how property companies handled what
residents reported: on time or not, how satisfied people were, how often a job had to be
redone. A company is judged on the tickets from the compounds it serves.
"""

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN, Case, fn

from models.clock import now
from models.db import under_path
from models.enums import Action, State
from models.org import Compound, OrgUnit, WorkUnit
from models.tickets import Rating, Ticket, TicketEvent

MIN_TICKETS = 5
RED_LIST_SCORE = 90  # 红榜
WATCH_LIST_SCORE = 70  # below: 重点监督
WEIGHTS = {"on_time": 0.4, "satisfaction": 0.4, "redo": 0.2}


@dataclass
class CompanyScore:
    company_id: int
    name: str
    tickets: int = 0
    due: int = 0  # finished, or open past the overall deadline
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0  # ratings ≥ 4
    unhappy: int = 0  # ratings ≤ 2: the job had to be redone
    urges: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def redo_rate(self) -> float | None:
        return self.unhappy / self.rated if self.rated else None

    @property
    def score(self) -> int | None:
        """0-100; missing parts (nothing due, nothing rated) count as neutral (0.8)."""
        if self.tickets < MIN_TICKETS:
            return None
        parts = {
            "on_time": self.on_time_rate,
            "satisfaction": self.satisfaction,
            "redo": None if self.redo_rate is None else 1 - self.redo_rate,
        }
        total = sum(WEIGHTS[k] * (0.8 if v is None else v) for k, v in parts.items())
        return round(100 * total)

    @property
    def band(self) -> str:
        if self.score is None:
            return "样本不足"
        if self.score >= RED_LIST_SCORE:
            return "红榜"
        return "重点监督" if self.score < WATCH_LIST_SCORE else "良好"


def _scope(query, start: datetime, end: datetime, unit: OrgUnit | None):
    query = query.where(
        (Ticket.created_at >= start) & (Ticket.created_at < end) & (Ticket.state != State.CANCELLED)
    )
    return query.where(under_path(Ticket.area_path, unit.path)) if unit is not None else query


def evaluate(start: datetime, end: datetime, unit: OrgUnit | None = None, at=None):
    """Scores of every property company over tickets filed in [start, end), best first."""
    at = at or now()
    company = Compound.property_company
    finished = Ticket.resolved_at.is_null(False)
    on_time = finished & (Ticket.resolved_at <= Ticket.due_at)
    overdue_open = Ticket.state.in_([State.SUBMITTED, State.DISPATCHED, State.TAKEN]) & (
        Ticket.due_at < at
    )
    scores = {
        u.id: CompanyScore(u.id, u.name)
        for u in WorkUnit.select().where(WorkUnit.kind == "property")
    }
    base = Ticket.select(
        company,
        fn.COUNT(Ticket.id),
        fn.SUM(Case(None, [(finished | overdue_open, 1)], 0)),
        fn.SUM(Case(None, [(on_time, 1)], 0)),
    ).join(Compound, on=(Ticket.compound == Compound.id))
    for cid, tickets, due, timely in _scope(base, start, end, unit).group_by(company).tuples():
        if cid in scores:
            s = scores[cid]
            s.tickets, s.due, s.on_time = tickets, int(due or 0), int(timely or 0)
    rated = (
        Rating.select(
            company,
            fn.COUNT(Rating.id),
            fn.SUM(Case(None, [(Rating.score >= 4, 1)], 0)),
            fn.SUM(Case(None, [(Rating.score <= 2, 1)], 0)),
        )
        .join(Ticket, on=(Rating.ticket == Ticket.id))
        .join(Compound, on=(Ticket.compound == Compound.id))
    )
    for cid, count, good, bad in _scope(rated, start, end, unit).group_by(company).tuples():
        if cid in scores:
            scores[cid].rated, scores[cid].satisfied = count, int(good or 0)
            scores[cid].unhappy = int(bad or 0)
    urged = (
        TicketEvent.select(company, fn.COUNT(TicketEvent.id))
        .join(Ticket, on=(TicketEvent.ticket == Ticket.id))
        .join(Compound, JOIN.INNER, on=(Ticket.compound == Compound.id))
        .where(TicketEvent.action == Action.URGE)
    )
    for cid, count in _scope(urged, start, end, unit).group_by(company).tuples():
        if cid in scores:
            scores[cid].urges = count
    ranked = [s for s in scores.values() if s.tickets]
    return sorted(ranked, key=lambda s: (s.score is None, -(s.score or 0), s.name))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def render(scores: list[CompanyScore], title: str) -> str:
    """Short Chinese text: 红榜 and 重点监督 first, one line per company."""
    if not scores:
        return f"{title}：这段时间辖区内没有物业相关的工单。"
    lines = [f"{title}（按工单评价，满分100）："]
    for s in scores:
        if s.score is None:
            lines.append(f"· {s.name}：{s.tickets}件，样本不足")
            continue
        lines.append(
            f"· 【{s.band}】{s.name} {s.score}分：{s.tickets}件，按时办结{_pct(s.on_time_rate)}，"
            f"满意度{_pct(s.satisfaction)}，返工{s.unhappy}件，被催办{s.urges}次"
        )
    lines.append("评价每季度公示；回复“超时工单”可查看还在拖的工单。")
    return "\n".join(lines)
