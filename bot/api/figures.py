"""Supervisor endpoint: the figures of my subtree, the same numbers as the digest."""

import dataclasses
import logging
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask_smorest import Blueprint

from bot.api import errors
from bot.api.auth import auth_required, current_user
from bot.api.dispatch import my_unit
from bot.api.errors import ApiError
from bot.api.schemas import FiguresArgs, FiguresSchema
from bot.api.serialize import org_ref
from models import digest
from models.clock import from_local, now, to_local
from models.enums import Role
from models.org import OrgUnit

log = logging.getLogger("sidan.api")
MAX_DAYS = 366
# Dates a figure can be asked for: anything else is a typo, and date arithmetic near year 1
# or 9999 would overflow.
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)

blp = Blueprint("figures", __name__, url_prefix="/api/v1", description="领导：辖区数据")
errors.install(blp)


def _window(args) -> tuple[date, date]:
    end = args.get("end") or to_local(now()).date()
    if not EARLIEST <= end <= LATEST:
        raise ApiError(422, "日期应在2000年到2099年之间。", "invalid")
    start = args.get("start") or end - timedelta(days=29)
    if not (EARLIEST <= start <= LATEST and EARLIEST <= end <= LATEST):
        raise ApiError(422, "日期应在2000年到2099年之间。", "invalid")
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


def digest_figures(unit: OrgUnit, start_at: datetime, end_at: datetime) -> dict:
    """The digest's figures (models.digest), the same numbers supervisors get by push."""
    result = digest.figures(unit, start_at, end_at)
    rates = {
        name: getattr(result, name)
        for name in ("response_rate", "completion_rate", "satisfaction_rate")
    }
    return {**_jsonable(result), **rates}


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
    return {
        "unit": org_ref(unit),
        "start": start,
        "end": end,
        "figures": digest_figures(unit, start_at, end_at),
    }
