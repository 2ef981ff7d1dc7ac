"""Supervisor endpoint: the figures of my subtree (the digest's numbers when it is available)."""

import dataclasses
import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import peewee
from flask_smorest import Blueprint

from bot.api import errors
from bot.api.auth import auth_required, current_user
from bot.api.dispatch import my_unit
from bot.api.errors import ApiError
from bot.api.schemas import FiguresArgs, FiguresSchema
from bot.api.serialize import org_ref
from models.clock import from_local, now, to_local
from models.db import under_path
from models.enums import OPEN_STATES, Role, State
from models.org import OrgUnit
from models.tickets import Rating, Ticket

log = logging.getLogger("sidan.api")
MAX_DAYS = 366

blp = Blueprint("figures", __name__, url_prefix="/api/v1", description="领导：辖区数据")
errors.install(blp)


def _window(args) -> tuple[date, date]:
    end = args.get("end") or to_local(now()).date()
    start = args.get("start") or end - timedelta(days=29)
    if start > end or (end - start).days >= MAX_DAYS:
        raise ApiError(422, "起止日期不对：开始不能晚于结束，且最多查询一年。", "invalid")
    return start, end


def _jsonable(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _from_digest(unit: OrgUnit, start_at: datetime, end_at: datetime):
    try:
        from models import digest
    except ImportError:
        return None
    try:
        result = digest.figures(unit, start_at, end_at)
        rates = {
            name: getattr(result, name)
            for name in ("completion_rate", "satisfaction_rate")
            if hasattr(result, name)
        }
        return {**_jsonable(result), **rates}
    except Exception:  # the digest is optional here; the SQL counts still answer
        log.exception("models.digest.figures failed; falling back to SQL counts")
        return None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def sql_figures(unit: OrgUnit, start_at: datetime, end_at: datetime) -> dict:
    """Minimal counts straight from SQL: received, by state, closed, satisfaction, overdue."""
    area = under_path(Ticket.area_path, unit.path)
    received = Ticket.select().where(
        area & (Ticket.created_at >= start_at) & (Ticket.created_at < end_at)
    )
    by_state = dict(
        received.select(Ticket.state, peewee.fn.COUNT(Ticket.id)).group_by(Ticket.state).tuples()
    )
    by_category = dict(
        received.select(Ticket.category, peewee.fn.COUNT(Ticket.id))
        .group_by(Ticket.category)
        .tuples()
    )
    total = sum(by_state.values())
    done = by_state.get(State.CLOSED, 0) + by_state.get(State.RESOLVED, 0)
    ratings = (
        Rating.select(Rating.score)
        .join(Ticket)
        .where(area & (Rating.created_at >= start_at) & (Rating.created_at < end_at))
    )
    scores = [r.score for r in ratings]
    at = now()
    overdue = (
        Ticket.select()
        .where(area & Ticket.state.in_(OPEN_STATES))
        .where((Ticket.step_due_at < at) | (Ticket.due_at < at))
        .count()
    )
    return {
        "received": total,
        "by_state": {str(k): v for k, v in by_state.items()},
        "by_category": {str(k): v for k, v in by_category.items()},
        "completion_rate": _rate(done, total),
        "ratings": len(scores),
        "satisfaction_rate": _rate(sum(1 for s in scores if s >= 3), len(scores)),
        "average_score": round(sum(scores) / len(scores), 2) if scores else None,
        "overdue_open": overdue,
    }


@blp.route("/figures", methods=["GET"])
@auth_required(Role.SUPERVISOR)
@blp.arguments(FiguresArgs, location="query")
@blp.response(200, FiguresSchema)
def figures(args):
    """Figures for my subtree (or a unit below me) over a window of days, Beijing time."""
    unit = my_unit(current_user())
    if "unit_id" in args:
        below = OrgUnit.get_or_none(OrgUnit.id == args["unit_id"])
        if below is None or not unit.contains(below):
            raise ApiError(404, "没有找到您辖区内的这个单位。", "not_found")
        unit = below
    start, end = _window(args)
    start_at = from_local(datetime.combine(start, time.min))
    end_at = from_local(datetime.combine(end + timedelta(days=1), time.min))
    digest = _from_digest(unit, start_at, end_at)
    return {
        "unit": org_ref(unit),
        "start": start,
        "end": end,
        "source": "digest" if digest is not None else "sql",
        "figures": digest if digest is not None else sql_figures(unit, start_at, end_at),
    }
