"""Routes of the dashboard blueprint."""

import json
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from bot.app import services
from bot.dashboard import auth, export
from models import figures, lifecycle, links, privacy
from models.clock import now, to_local
from models.enums import Urgency
from models.errors import TicketError
from models.figures_lists import (
    COLUMNS,
    METRICS,
    NOW_METRICS,
    PERSON_METRICS,
    drill,
    rows,
)
from models.org import Compound, OrgUnit, User, WorkUnit
from models.panels import PANELS
from models.routing import routing
from models.tickets import Ticket

blueprint = Blueprint(
    "dashboard", __name__, url_prefix="/dashboard",
    template_folder="templates", static_folder="static",
)  # fmt: skip

PAGE_ROWS = 50
PERIOD_NAMES = {"today": "今日", "7d": "近7天", "30d": "近30天", "90d": "近90天"}
WALL_REFRESH_S = 60


def jsonable(value):
    """Panel data as JSON: times in Beijing local ISO form."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return to_local(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _need_viewer(as_json: bool = False):
    if auth.viewer() is None:
        if as_json:
            body = {"error": {"code": "unauthorized", "message": "请先登录：在公众号发送“大屏”。"}}
            abort(make_response(jsonify(body), 401))
        abort(make_response(render_template("dashboard/message.html", title="请先登录",
                                            message=LOGIN_HINT), 401))  # fmt: skip


LOGIN_HINT = (
    "请在公众号里发送“大屏”（或点菜单），用收到的链接打开大屏。链接只能用一次，10分钟内有效。"
)


def _page(template: str, status: int = 200, **context):
    context.setdefault("viewer", auth.viewer())
    return render_template(f"dashboard/{template}", **context), status


@blueprint.get("/login")
def login():
    """Spend a one-time link and start a session."""
    user = auth.consume_link(request.args.get("t", ""))
    if user is None:
        message = "这个链接已失效或已经用过了。请在公众号重新发送“大屏”获取新链接。"
        return _page("message.html", 403, title="链接已失效", message=message)
    token = auth.start_session(user)
    response = redirect(url_for("dashboard.unit_page", unit_id=user.org_unit_id))
    secure = services().config.PUBLIC_BASE_URL.startswith("https://")
    response.set_cookie(
        auth.COOKIE, token, max_age=services().config.DASHBOARD_SESSION_TTL_S,
        httponly=True, samesite="Lax", secure=secure, path="/dashboard",
    )  # fmt: skip
    return response


@blueprint.post("/logout")
def logout():
    auth.check_csrf(request.form.get("csrf"))
    auth.end_session(request.cookies.get(auth.COOKIE))
    response = redirect(url_for("dashboard.home"))
    response.delete_cookie(auth.COOKIE, path="/dashboard")
    return response


@blueprint.post("/link")
def link():
    """A one-time login link for the mini-program's session (Authorization: Bearer …)."""
    _need_viewer(as_json=True)
    return jsonify({"url": links.dashboard_link(auth.viewer())})


@blueprint.get("/")
def home():
    _need_viewer()
    return redirect(url_for("dashboard.unit_page", unit_id=auth.viewer().org_unit_id))


def _trail(unit: OrgUnit) -> list[OrgUnit]:
    """The viewer's unit down to `unit` (the breadcrumb; nothing above the viewer)."""
    top = auth.viewer().org_unit
    ids = [int(p) for p in unit.path.strip("/").split("/")]
    chain = {u.id: u for u in OrgUnit.select().where(OrgUnit.id.in_(ids))}
    return [chain[i] for i in ids if chain[i].path.startswith(top.path)]


@blueprint.get("/u/<int:unit_id>/")
def unit_page(unit_id: int):
    """The whole dashboard for one unit of the viewer's subtree."""
    _need_viewer()
    unit = auth.unit_in_view(unit_id)
    at = now()
    with figures.fast_plans():
        data = {name: panel(unit, at=at) for name, panel in PANELS.items()}
    wall = request.args.get("wall") == "1"
    refresh = max(5, min(_int_arg("refresh") or WALL_REFRESH_S, 3600))
    charts = {k: data[k] for k in ("daily", "hotspots", "ranking", "volunteers")}
    # Inside <script>: "</" must not close the tag whatever a compound is called.
    chart_data = json.dumps(jsonable(charts), ensure_ascii=False).replace("</", "<\\/")

    def drill_url(metric, **params):
        return url_for("dashboard.tickets", unit_id=unit.id, metric=metric, **params)

    return _page(
        "dashboard.html", unit=unit, trail=_trail(unit), data=data, at=at, wall=wall,
        refresh=refresh, chart_data=chart_data, drill_url=drill_url, periods=PERIOD_NAMES,
        csrf=auth.csrf_token(), opened=_int_arg("opened"), pct=_pct, signed=_signed,
        local=_local,
    )  # fmt: skip


@blueprint.get("/u/<int:unit_id>/api/<panel>")
def panel_json(unit_id: int, panel: str):
    """One panel's figures as JSON (the wall display and the mini-program read these)."""
    _need_viewer(as_json=True)
    unit = auth.unit_in_view(unit_id)
    if panel not in PANELS:
        abort(404)
    with figures.fast_plans():
        body = jsonable(PANELS[panel](unit))
    return jsonify({"unit": {"id": unit.id, "name": unit.name, "level": unit.level},
                    "at": jsonable(now()), panel: body})  # fmt: skip


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        abort(400)
    return int(raw)


def _drill_args(unit: OrgUnit) -> dict:
    metric = request.args.get("metric", "")
    if metric not in METRICS and metric not in PERSON_METRICS:
        abort(404)
    if metric in PERSON_METRICS and _int_arg("handler") is None:
        abort(400)
    period = request.args.get("period", "30d")
    if period not in PERIOD_NAMES:
        abort(400)
    category = request.args.get("category") or None
    if category and category not in routing().categories:
        abort(400)
    child = None
    child_id = _int_arg("child")
    if child_id is not None:
        child = auth.unit_in_view(child_id)
        if not unit.contains(child):
            abort(403)
    return {"metric": metric, "period": period, "child": child, "category": category,
            "compound": _int_arg("compound"), "handler": _int_arg("handler"),
            "company": _int_arg("company")}  # fmt: skip


def _drill_title(unit, args, title) -> str:
    parts = [args["child"].name if args["child"] else unit.name, title]
    if args["metric"] not in NOW_METRICS:
        parts.insert(1, PERIOD_NAMES[args["period"]])
    if args["category"]:
        parts.append(routing().category(args["category"]).name)
    if args["compound"]:
        compound = Compound.get_or_none(Compound.id == args["compound"])
        parts.append(compound.name if compound else "")
    if args["company"]:
        company = WorkUnit.get_or_none(WorkUnit.id == args["company"])
        parts.append(company.name if company else "")
    if args["handler"]:
        person = User.get_or_none(User.id == args["handler"])
        parts.append(privacy.mask_name(person.name) if person and person.name else "")
    return " · ".join(p for p in parts if p)


@blueprint.get("/u/<int:unit_id>/tickets")
def tickets(unit_id: int):
    """The tickets behind a number, masked, 50 a page (keyset: ?before=<id>)."""
    _need_viewer()
    unit = auth.unit_in_view(unit_id)
    args = _drill_args(unit)
    title, query = drill(unit, **args)
    total = query.count()
    before = _int_arg("before")
    page = query.where(Ticket.id < before) if before else query
    shown = list(rows(page, limit=PAGE_ROWS))
    params = {k: v for k, v in request.args.items() if k != "before"}
    more = None
    if len(shown) == PAGE_ROWS and page.where(Ticket.id < shown[-1][0]).exists():
        more = url_for("dashboard.tickets", unit_id=unit.id, **params, before=shown[-1][0])
    return _page(
        "tickets.html", unit=unit, trail=_trail(unit), title=_drill_title(unit, args, title),
        total=total, columns=COLUMNS, rows=shown, more=more, query=urlencode(params),
    )  # fmt: skip


@blueprint.get("/u/<int:unit_id>/tickets.<fmt>")
def tickets_export(unit_id: int, fmt: str):
    """CSV or Excel of a whole list; past DASHBOARD_EXPORT_SYNC_MAX rows, in the background."""
    _need_viewer()
    unit = auth.unit_in_view(unit_id)
    if fmt not in export.FORMATS:
        abort(404)
    args = _drill_args(unit)
    title, query = drill(unit, **args)
    filename = f"{unit.name}-{args['metric']}-{to_local(now()):%Y%m%d%H%M}.{fmt}"
    total = query.count()
    if total > services().config.DASHBOARD_EXPORT_SYNC_MAX:
        job = _jobs().start(fmt, query, total, auth.viewer().id, filename)
        return redirect(url_for("dashboard.export_status", job_id=job), code=303)
    return _download(export.to_bytes(fmt, query), fmt, filename)


def _download(body, fmt: str, filename: str) -> Response:
    response = Response(body, mimetype=export.FORMATS[fmt])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=export.{fmt}; filename*=UTF-8''{quote(filename)}"
    )
    return response


def _jobs() -> export.Jobs:
    config = services().config
    return export.Jobs(services().redis, config.REDIS_PREFIX, str(Path(config.VAR_DIR) / "exports"))


def _own_job(job_id: str) -> dict:
    _need_viewer()
    job = _jobs().status(job_id) if len(job_id) < 40 else None
    if job is None or job.get("owner") != auth.viewer().id:
        abort(404)
    return job


@blueprint.get("/exports/<job_id>")
def export_status(job_id: str):
    """The status line of a background export, refreshing itself until the file is ready."""
    job = _own_job(job_id)
    return _page("export.html", job=job, job_id=job_id)


@blueprint.get("/exports/<job_id>/status")
def export_status_json(job_id: str):
    return jsonify(_own_job(job_id))


@blueprint.get("/exports/<job_id>/file")
def export_file(job_id: str):
    job = _own_job(job_id)
    if job["status"] != "done":
        abort(404)
    path = _jobs().path(job_id, job["fmt"])
    return send_file(path, mimetype=export.FORMATS[job["fmt"]], as_attachment=True,
                     download_name=job["filename"])  # fmt: skip


@blueprint.post("/u/<int:unit_id>/theme")
def open_theme(unit_id: int):
    """每月一题: open one joint-handling (热点, 联合办理) ticket for a recurring problem."""
    _need_viewer()
    unit = auth.unit_in_view(unit_id)
    auth.check_csrf(request.form.get("csrf"))
    category = request.form.get("category", "")
    compound_id = request.form.get("compound", "")
    if category not in routing().categories or not compound_id.isdigit():
        abort(400)
    compound = Compound.get_or_none(Compound.id == int(compound_id))
    if compound is None or not unit.contains(compound.grid):
        abort(403)
    ref = figures.theme_ref(unit, category, compound.id)
    ticket = Ticket.get_or_none(Ticket.external_ref == ref)
    if ticket is None:
        text = (f"每月一题：{compound.name}{routing().category(category).name}问题近30天反复出现，"
                f"请各单位联合办理，从根子上解决。")  # fmt: skip
        try:
            ticket = lifecycle.submit(
                auth.viewer(), text, category, Urgency.HOT, compound=compound,
                channel="dashboard", external_ref=ref,
            )  # fmt: skip
        except TicketError as exc:
            return _page("message.html", 422, title="没能立项", message=exc.message)
    return redirect(url_for("dashboard.unit_page", unit_id=unit.id, opened=ticket.id))


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _signed(change) -> str:
    if change is None:
        return ""
    points = change * 100
    arrow = "▲" if points > 0 else "▼" if points < 0 else "＝"
    return f"{arrow}{abs(points):.1f}"


def _local(value) -> str:
    return f"{to_local(value):%m-%d %H:%M}" if value else ""
