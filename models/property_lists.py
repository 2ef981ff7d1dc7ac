"""Property companies' published lists (红榜 / 黑名单), the party branch's veto, 物业超市.

Each quarter the evaluation (models.evaluation) is published: every company's score, figures
and the reasons it is on the 红榜 or the 黑名单, stored so that what was published can be
shown and audited later. A compound's party branch (staff of its grid or community) can veto
(一票否决) the company serving it, with a reason: the company cannot be on that quarter's
红榜 and goes on its 黑名单. The 物业超市 lists companies in good standing with their scores,
for a compound choosing one.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from models import evaluation
from models.clock import CHINA, now
from models.db import BaseModel, JSONField, write_transaction
from models.enums import STAFF_ROLES, Level, UnitKind
from models.errors import TicketError
from models.org import Compound, OrgUnit, User, WorkUnit
from models.outbox import enqueue, outbox_batch

RED, BLACK, NEUTRAL = "red", "black", "neutral"
LIST_NAMES = {RED: "红榜", BLACK: "黑名单", NEUTRAL: "未上榜"}
WEAK_RATE = 0.8  # an on-time or satisfaction rate below this is named as a reason


class PropertyListing(BaseModel):
    """One company's line in one quarter's published evaluation."""

    quarter = peewee.CharField(max_length=8)  # "2026Q3"
    company = peewee.ForeignKeyField(WorkUnit, backref="listings")
    scope = peewee.ForeignKeyField(OrgUnit, null=True)  # None: the whole city
    scope_path = peewee.CharField(max_length=255, default="")
    list_name = peewee.CharField(max_length=8)  # red | black | neutral
    score = peewee.IntegerField(null=True)
    figures = JSONField(default=dict)
    reasons = JSONField(default=list)
    published_by = peewee.ForeignKeyField(User, null=True)  # None: the operator's CLI
    published_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("quarter", "scope_path", "company"), True),)


class PropertyVeto(BaseModel):
    """一票否决: a compound's party branch revokes its company's good standing (append-only)."""

    company = peewee.ForeignKeyField(WorkUnit, backref="vetoes")
    compound = peewee.ForeignKeyField(Compound)
    actor = peewee.ForeignKeyField(User)
    quarter = peewee.CharField(max_length=8, index=True)
    reason = peewee.TextField()
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("company", "compound", "quarter"), True),)


MODELS = (PropertyListing, PropertyVeto)


def quarter_of(at: datetime) -> str:
    """The quarter (Beijing time) a UTC moment falls in: '2026Q4'."""
    local = at + CHINA.utcoffset(None)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """[start, end) of a quarter as naive UTC."""
    try:
        year, q = int(quarter[:4]), int(quarter[5:])
        if quarter[4] not in "Qq" or not 1 <= q <= 4 or len(quarter) != 6:
            raise ValueError
    except (ValueError, IndexError):
        raise TicketError("季度的写法是“2026Q3”这样的。") from None
    offset = CHINA.utcoffset(None)
    start = datetime(year, 3 * q - 2, 1) - offset
    end = (datetime(year + 1, 1, 1) if q == 4 else datetime(year, 3 * q + 1, 1)) - offset
    return start, end


def previous_quarter(at: datetime) -> str:
    start, _ = quarter_bounds(quarter_of(at))
    return quarter_of(start - timedelta(seconds=1))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _reasons(s: evaluation.CompanyScore, vetoes: list[PropertyVeto]) -> tuple[str, list[str]]:
    if vetoes:
        reasons = [f"{v.compound.name}党支部一票否决：{v.reason}" for v in vetoes]
        if s.score is not None:
            reasons.append(f"综合得分{s.score}")
        return BLACK, reasons
    if s.score is None:
        return NEUTRAL, [f"工单{s.tickets}件，样本不足"]
    if s.score >= evaluation.RED_LIST_SCORE:
        return RED, [
            f"综合得分{s.score}：按时办结{_pct(s.on_time_rate)}，满意度{_pct(s.satisfaction)}"
        ]
    if s.score >= evaluation.WATCH_LIST_SCORE:
        return NEUTRAL, [f"综合得分{s.score}"]
    reasons = [f"综合得分{s.score}，低于{evaluation.WATCH_LIST_SCORE}分"]
    if s.on_time_rate is not None and s.on_time_rate < WEAK_RATE:
        reasons.append(f"按时办结率仅{_pct(s.on_time_rate)}")
    if s.satisfaction is not None and s.satisfaction < WEAK_RATE:
        reasons.append(f"满意度仅{_pct(s.satisfaction)}")
    if s.unhappy:
        reasons.append(f"返工{s.unhappy}件")
    if s.urges:
        reasons.append(f"被催办{s.urges}次")
    return BLACK, reasons


def _figures(s: evaluation.CompanyScore) -> dict:
    return {
        "tickets": s.tickets, "due": s.due, "on_time": s.on_time, "rated": s.rated,
        "satisfied": s.satisfied, "unhappy": s.unhappy, "urges": s.urges,
    }  # fmt: skip


def _vetoes(quarter: str, scope: OrgUnit | None) -> dict[int, list[PropertyVeto]]:
    found: dict[int, list[PropertyVeto]] = {}
    for veto in (
        PropertyVeto.select().where(PropertyVeto.quarter == quarter).order_by(PropertyVeto.id)
    ):
        if scope is None or scope.contains(veto.compound.grid):
            found.setdefault(veto.company_id, []).append(veto)
    return found


def publish(quarter: str, scope: OrgUnit | None = None, actor: User | None = None):
    """Publish a finished quarter's 红榜 / 黑名单 once; returns the stored lines."""
    start, end = quarter_bounds(quarter)
    if end > now():
        raise TicketError(f"{quarter}还没有结束，季度结束后才能公示。", "conflict")
    scope_path = scope.path if scope is not None else ""
    with write_transaction():
        exists = (
            PropertyListing.select()
            .where(
                (PropertyListing.quarter == quarter) & (PropertyListing.scope_path == scope_path)
            )
            .exists()
        )
        if exists:
            raise TicketError(f"{quarter}的物业红黑榜已经公示过了，公示后不再改动。", "conflict")
        vetoes = _vetoes(quarter, scope)
        scores = {s.company_id: s for s in evaluation.evaluate(start, end, scope, at=end)}
        # Every property company is on the record, those without tickets too.
        for company in WorkUnit.select().where(WorkUnit.kind == UnitKind.PROPERTY):
            scores.setdefault(company.id, evaluation.CompanyScore(company.id, company.name))
        at = now()
        for s in scores.values():
            list_name, reasons = _reasons(s, vetoes.get(s.company_id, []))
            PropertyListing.create(
                quarter=quarter, company=s.company_id, scope=scope, scope_path=scope_path,
                list_name=list_name, score=s.score, figures=_figures(s), reasons=reasons,
                published_by=actor, published_at=at,
            )  # fmt: skip
    return published(quarter, scope)


def published(quarter: str | None = None, scope: OrgUnit | None = None) -> list[PropertyListing]:
    """A published quarter's lines (the latest one if no quarter is named), 红榜 first."""
    scope_path = scope.path if scope is not None else ""
    query = PropertyListing.select().where(PropertyListing.scope_path == scope_path)
    if quarter is None:
        quarter = (
            PropertyListing.select(peewee.fn.MAX(PropertyListing.quarter))
            .where(PropertyListing.scope_path == scope_path)
            .scalar()
        )
        if quarter is None:
            return []
    rows = list(query.where(PropertyListing.quarter == quarter))
    order = {RED: 0, BLACK: 1, NEUTRAL: 2}
    return sorted(rows, key=lambda r: (order[r.list_name], -(r.score or 0), r.company_id))


def render_lists(rows: list[PropertyListing]) -> str:
    """The published 红榜 and 黑名单 with reasons, in chat-length Chinese."""
    if not rows:
        return "还没有公示过物业红黑榜。每季度结束后由管理部门公示。"
    lines = [f"{rows[0].quarter} 物业红黑榜（{rows[0].published_at:%Y-%m-%d} 公示）："]
    for name in (RED, BLACK):
        listed = [r for r in rows if r.list_name == name]
        lines.append(f"【{LIST_NAMES[name]}】" + ("" if listed else "无"))
        lines += [f"· {r.company.name}：{'；'.join(r.reasons)}" for r in listed]
    others = [r.company.name for r in rows if r.list_name == NEUTRAL]
    if others:
        lines.append("未上榜：" + "、".join(others))
    return "\n".join(lines)


def _community_branch(actor: User, compound: Compound) -> None:
    if actor.role not in STAFF_ROLES or actor.org_unit_id is None:
        raise TicketError("一票否决由小区所在社区的党组织（社区、网格工作人员）行使。", "forbidden")
    unit = actor.org_unit
    if unit.level not in (Level.COMMUNITY, Level.GRID) or not unit.contains(compound.grid):
        raise TicketError(f"{compound.name}不在您所在的社区，不能对它的物业一票否决。", "forbidden")


def veto(actor: User, company: WorkUnit, compound: Compound, reason: str) -> PropertyVeto:
    """一票否决: recorded with its reason; the company loses this quarter's good standing."""
    reason = " ".join((reason or "").split())
    _community_branch(actor, compound)
    if compound.property_company_id != company.id:
        raise TicketError(f"{compound.name}的物业不是{company.name}。", "invalid")
    if len(reason) < 4:
        raise TicketError(
            "一票否决必须写明理由，比如“一票否决 红管家物业 幸福里小区 消防通道长期堵塞拒不整改”。"
        )
    quarter = quarter_of(now())
    with write_transaction(), outbox_batch():
        try:
            with write_transaction():
                row = PropertyVeto.create(
                    company=company, compound=compound, actor=actor, quarter=quarter,
                    reason=reason[:500], created_at=now(),
                )  # fmt: skip
        except peewee.IntegrityError:
            raise TicketError(
                f"本季度已经对{company.name}在{compound.name}的服务一票否决过了。", "conflict"
            ) from None
        for worker in User.select().where(User.work_unit == company):
            enqueue(
                worker,
                f"【一票否决】{compound.name}党支部对贵公司本季度({quarter})的服务行使一票否决，"
                f"理由：{reason[:80]}。本季度不能评为红榜。请尽快整改并与社区沟通。",
            )
        return row


@dataclass(frozen=True)
class MarketEntry:
    company: WorkUnit
    quarter: str
    score: int | None
    list_name: str
    compounds: int


def market(at: datetime | None = None) -> list[MarketEntry]:
    """物业超市: companies in good standing on the latest published list, best score first.

    Not on it: a company on that list's 黑名单, or vetoed since (this quarter included).
    """
    at = at or now()
    rows = published()
    if not rows:
        return []
    quarter = rows[0].quarter
    vetoed = {
        company_id
        for (company_id,) in PropertyVeto.select(PropertyVeto.company)
        .where(PropertyVeto.quarter >= quarter)
        .tuples()
    }
    served = dict(
        Compound.select(Compound.property_company, peewee.fn.COUNT(Compound.id))
        .where(Compound.property_company.is_null(False))
        .group_by(Compound.property_company)
        .tuples()
    )
    entries = [
        MarketEntry(r.company, quarter, r.score, r.list_name, served.get(r.company_id, 0))
        for r in rows
        if r.list_name != BLACK
        and r.company_id not in vetoed
        and r.company.kind == UnitKind.PROPERTY
    ]
    return sorted(entries, key=lambda e: (e.score is None, -(e.score or 0), e.company.name))


def render_market(entries: list[MarketEntry]) -> str:
    if not entries:
        return "物业超市暂时没有可选的物业公司（还没有公示结果，或都不在良好名单上）。"
    lines = [f"物业超市（按{entries[0].quarter}公示评分，已排除黑名单和被一票否决的）："]
    for i, e in enumerate(entries, 1):
        score = "样本不足" if e.score is None else f"{e.score}分"
        tag = "【红榜】" if e.list_name == RED else ""
        lines.append(f"{i}. {tag}{e.company.name} {score}，在管{e.compounds}个小区")
    lines.append("小区选聘物业时，可由业主投票从中选择。")
    return "\n".join(lines)


def find_company(name: str) -> WorkUnit:
    company = WorkUnit.get_or_none(
        (WorkUnit.name == (name or "").strip()) & (WorkUnit.kind == UnitKind.PROPERTY)
    )
    if company is None:
        raise TicketError(f"没有找到物业公司“{name}”，请写全称，比如“红管家物业”。", "not_found")
    return company


def find_compound(name: str) -> Compound:
    compound = Compound.get_or_none(Compound.name == (name or "").strip())
    if compound is None:
        raise TicketError(f"没有找到小区“{name}”，请写全称。", "not_found")
    return compound
