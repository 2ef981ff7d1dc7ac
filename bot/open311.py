"""Open311 GeoReport v2 at /open311/v2: discovery, services, requests (GET and POST), JSON and XML.

Our 21 categories are the service codes; `service_request_id` is our ticket number; a request
imported from another system (e.g. the 12345 hotline) keeps that system's id in
Ticket.external_ref, and posting the same id again returns the ticket already filed.
"""

import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import peewee
from flask import Blueprint, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from bot.api.places import compound_by_id
from bot.api.serialize import photo_refs
from models import lifecycle, privacy
from models.clock import CHINA, now
from models.db import database
from models.enums import OPEN_STATES, Action, State
from models.errors import TicketError
from models.org import User
from models.places import nearest_compound
from models.routing import routing
from models.tickets import Ticket, TicketEvent

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-01T00:00:00+08:00"
MAX_RESULTS = 200
DEFAULT_DAYS = 90
MAX_IDS = 50
SYSTEM_OPENID = "open311"
FORMAT = "<any(json,xml):fmt>"
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
PRIVATE_NOTES = {Action.SUBMIT, Action.URGE, Action.SUBSCRIBE, Action.RATE}
# What the public reads as status_notes when residents' and volunteers' words stay private.
STATUS_NOTES = {
    State.SUBMITTED: "已受理，等待派单。",
    State.DISPATCHED: "已派单，等待接单。",
    State.TAKEN: "正在办理。",
    State.RESOLVED: "已办结，等待评价。",
    State.CLOSED: "已关闭。",
    State.CANCELLED: "已撤销。",
}
# Root and item element names of the XML forms (GeoReport v2).
XML_NAMES = {"services": ("services", "service"), "requests": ("service_requests", "request")}

blueprint = Blueprint("open311", __name__, url_prefix="/open311/v2")


class Open311Error(Exception):
    """A refusal in GeoReport's own error format."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


# -- rendering -----------------------------------------------------------------------------


def _xml_value(parent: ET.Element, key: str, value) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(child, k, v)
    elif isinstance(value, list):
        for item in value:
            _xml_value(child, key[:-1] if key.endswith("s") else "item", item)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def render(fmt: str, payload, kind: str | None = None, status: int = 200) -> Response:
    """JSON as is; XML with GeoReport's element names (kind: services/requests/errors)."""
    if fmt == "json":
        body = json.dumps(payload, ensure_ascii=False)
    elif isinstance(payload, list):
        root_name, item_name = XML_NAMES.get(kind, (kind, kind[:-1]))
        root = ET.Element(root_name)
        for item in payload:
            element = ET.SubElement(root, item_name)
            for key, value in item.items():
                _xml_value(element, key, value)
        body = ET.tostring(root, encoding="unicode", xml_declaration=True)
    else:
        root = ET.Element(kind)
        for key, value in payload.items():
            _xml_value(root, key, value)
        body = ET.tostring(root, encoding="unicode", xml_declaration=True)
    return Response(body, status=status, content_type=f"{CONTENT_TYPES[fmt]}; charset=utf-8")


def _fmt_from_path() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


def _error(status: int, description: str) -> Response:
    return render(
        _fmt_from_path(), [{"code": status, "description": description}], "errors", status
    )


@blueprint.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    return _error(exc.status, exc.description)


@blueprint.errorhandler(TicketError)
def _ticket_error(exc: TicketError):
    return _error(exc.http_status, exc.message)


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    messages = {
        413: "请求内容太大了。",
        429: "请求太频繁了，请稍后再试。",
        405: "不支持这种请求方式。",
    }
    return _error(exc.code or 400, messages.get(exc.code, "请求格式不对。"))


# -- discovery and services ----------------------------------------------------------------


def _base_url() -> str:
    return current_app.extensions["sidan"].config.PUBLIC_BASE_URL.rstrip("/") + "/open311/v2"


@blueprint.get(f"/discovery.{FORMAT}")
def discovery(fmt):
    """Where the endpoint is and which formats it speaks."""
    endpoint = {
        "specification": SPEC_URL,
        "url": _base_url(),
        "changeset": CHANGESET,
        "type": "production",
        "formats": list(CONTENT_TYPES.values()),
    }
    payload = {
        "changeset": CHANGESET,
        "contact": "请联系当地网格员或拨打 12345。",
        "key_service": "API key 由市物业管理服务中心发放。",
        "endpoints": [endpoint],
    }
    return render(fmt, payload, "discovery")


def _service(category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": f"{category.name}类问题",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(category.skills),
        "group": "社区治理",
    }


@blueprint.get(f"/services.{FORMAT}")
def services_list(fmt):
    """Our categories as GeoReport services."""
    return render(fmt, [_service(c) for c in routing().categories.values()], "services")


@blueprint.get(f"/services/<string:code>.{FORMAT}")
def service_definition(code, fmt):
    """No extra attributes are asked for any service (metadata is false)."""
    if code not in routing().categories:
        raise Open311Error(404, "没有这个服务类别。")
    return render(fmt, {"service_code": code, "attributes": []}, "service_definition")


# -- requests ------------------------------------------------------------------------------


def _w3c(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).astimezone(CHINA).isoformat() if value else None


def _parse_w3c(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(
            400, f"{name} 应为 W3C 时间格式，如 2026-11-16T09:00:00+08:00。"
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=CHINA)
    return value.astimezone(UTC).replace(tzinfo=None)


def _status(ticket: Ticket) -> str:
    return "open" if ticket.state in OPEN_STATES else "closed"


def _latest_notes(ticket_ids: list[int]) -> dict[int, str]:
    """The newest shareable event note of each ticket, in one query."""
    notes: dict[int, str] = {}
    events = (
        TicketEvent.select(TicketEvent.ticket, TicketEvent.note)
        .where(TicketEvent.ticket.in_(ticket_ids) & (TicketEvent.note != ""))
        .where(TicketEvent.action.not_in(list(PRIVATE_NOTES)))
        .order_by(TicketEvent.id.desc())
    )
    for event in events:
        notes.setdefault(event.ticket_id, event.note)
    return notes


def _public_text() -> bool:
    return bool(getattr(current_app.extensions["sidan"].config, "OPEN311_PUBLIC_TEXT", False))


def request_payload(ticket: Ticket, notes: dict[int, str], public_text: bool = False) -> dict:
    """One ticket as a GeoReport service request, as models.privacy shows it to the public:
    category, status, the compound and its pin; words and photos only with OPEN311_PUBLIC_TEXT."""
    seen = privacy.see(ticket, None, public_text=public_text)
    photos = [p["url"] for p in photo_refs(seen.photos) if p["url"]]
    compound = ticket.compound if ticket.compound_id else None
    lat, lng = seen.pin
    return {
        "service_request_id": str(ticket.id),
        "status": _status(ticket),
        "status_notes": seen.words(notes.get(ticket.id, "")) or STATUS_NOTES[State(ticket.state)],
        "service_name": routing().category(ticket.category).name,
        "service_code": ticket.category,
        "description": seen.text,
        "agency_responsible": ticket.work_unit.name
        if ticket.work_unit_id
        else ticket.org_unit.name,
        "service_notice": "",
        "requested_datetime": _w3c(ticket.created_at),
        "updated_datetime": _w3c(ticket.updated_at),
        "expected_datetime": _w3c(ticket.due_at),
        "address": seen.place,
        "address_id": str(compound.id) if compound else "",
        "zipcode": "",
        "lat": lat,
        "long": lng,
        "media_url": photos[0] if photos else "",
    }


def _render_requests(fmt: str, tickets: list[Ticket], status: int = 200) -> Response:
    public_text = _public_text()
    notes = _latest_notes([t.id for t in tickets]) if tickets and public_text else {}
    payload = [request_payload(t, notes, public_text) for t in tickets]
    return render(fmt, payload, "requests", status)


def _filtered_query():
    query = Ticket.select()
    ids = request.args.get("service_request_id")
    if ids:
        parts = [p.strip() for p in ids.split(",") if p.strip()]
        if len(parts) > MAX_IDS or not all(p.isdigit() and len(p) < 12 for p in parts):
            raise Open311Error(400, f"service_request_id 应为最多{MAX_IDS}个以逗号分隔的数字。")
        return query.where(Ticket.id.in_([int(p) for p in parts]))
    code = request.args.get("service_code")
    if code:
        if code not in routing().categories:
            raise Open311Error(400, "没有这个服务类别（service_code）。")
        query = query.where(Ticket.category == code)
    status = request.args.get("status")
    if status:
        if status not in ("open", "closed"):
            raise Open311Error(400, "status 只能是 open 或 closed。")
        in_open = Ticket.state.in_(list(OPEN_STATES))
        query = query.where(in_open if status == "open" else ~in_open)
    start, end = _parse_w3c("start_date"), _parse_w3c("end_date")
    if start is None and end is None:
        start = now() - timedelta(days=DEFAULT_DAYS)
    if start is not None:
        query = query.where(Ticket.created_at >= start)
    if end is not None:
        query = query.where(Ticket.created_at <= end)
    return query


@blueprint.get(f"/requests.{FORMAT}")
def requests_list(fmt):
    """Service requests, newest first: by default the last 90 days, at most 200."""
    query = _filtered_query().order_by(Ticket.id.desc()).limit(MAX_RESULTS)
    return _render_requests(fmt, list(query))


@blueprint.get(f"/requests/<string:request_id>.{FORMAT}")
def request_detail(request_id, fmt):
    """One service request, as a one-element list (as the spec says)."""
    ticket = None
    if request_id.isdigit() and len(request_id) < 12:
        ticket = Ticket.get_or_none(Ticket.id == int(request_id))
    if ticket is None:
        raise Open311Error(404, f"没有找到服务请求 {request_id[:20]}。")
    return _render_requests(fmt, [ticket])


def _form() -> dict:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Open311Error(400, "请求内容应为表单或 JSON 对象。")
        return {k: str(v) for k, v in body.items() if v is not None}
    return request.form.to_dict()


def _check_key(form: dict) -> None:
    given = form.get("api_key", "")
    keys = current_app.extensions["sidan"].config.OPEN311_API_KEYS
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a 403).
    given_b = given.encode("utf-8", "replace")
    if not given or not any(hmac.compare_digest(given_b, key.encode()) for key in keys):
        raise Open311Error(403, "api_key 无效，不能创建服务请求。")


def _number(form: dict, name: str, low: float, high: float) -> float | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise Open311Error(400, f"{name} 不是有效的坐标。")
    return round(value, 6)  # PostgreSQL's REAL underflows on values such as 1e-58


def _place(form: dict):
    lat, lng = _number(form, "lat", -90, 90), _number(form, "long", -180, 180)
    address_id = form.get("address_id", "").strip()
    if address_id:
        if not address_id.isdigit() or len(address_id) > 9:
            raise Open311Error(400, "address_id 应为小区编号。")
        return compound_by_id(int(address_id)), lat, lng
    if lat is None or lng is None:
        raise Open311Error(400, "请提供 lat 和 long，或者 address_id（小区编号）。")
    compound, _ = nearest_compound(lat, lng)
    if compound is None:
        raise Open311Error(400, "该位置500米内没有我们服务的小区，请核对位置或提供 address_id。")
    return compound, lat, lng


def reporter_for(form: dict) -> User:
    """One user per phone (else email), so callers can be called back; else the system user."""
    phone = form.get("phone", "").strip()[:32]
    email = form.get("email", "").strip().lower()[:100]
    if not (phone or email):
        return _get_or_create(SYSTEM_OPENID, name="Open311", phone="")
    ident = f"phone:{phone}" if phone else f"email:{email}"
    openid = "open311:" + hashlib.sha256(ident.encode()).hexdigest()[:40]
    name = (form.get("last_name", "") + form.get("first_name", "")).strip()[:50]
    return _get_or_create(openid, name=name, phone=phone)


def _get_or_create(openid: str, **fields) -> User:
    user = User.get_or_none(User.openid == openid)
    if user is not None:
        return user
    # No WeChat account behind it: nothing is pushed to these users (subscribed=False).
    with database.atomic():
        User.insert(
            openid=openid, subscribed=False, created_at=now(), **fields
        ).on_conflict_ignore().execute()
    return User.get(User.openid == openid)


@blueprint.post(f"/requests.{FORMAT}")
def create_request(fmt):
    """Create a ticket (channel open311); a repeated service_request_id returns the first."""
    form = _form()
    _check_key(form)
    code = form.get("service_code", "")
    if code not in routing().categories:
        raise Open311Error(400, "service_code 无效，请先查询 services。")
    description = form.get("description", "").strip()
    if not description:
        raise Open311Error(400, "请填写 description（问题描述）。")
    external = form.get("service_request_id", "").strip()[:64] or None
    if external:
        existing = _filed_as(external)
        if existing is not None:
            return _created(fmt, existing, 200)
    compound, lat, lng = _place(form)
    try:
        ticket = lifecycle.submit(
            reporter_for(form), description[:2000], code, compound=compound, lat=lat, lng=lng,
            channel="open311", external_ref=external,
        )  # fmt: skip
    except peewee.IntegrityError:
        # A concurrent POST with the same id won the unique index (channel, external_ref).
        existing = _filed_as(external) if external else None
        if existing is None:
            raise
        return _created(fmt, existing, 200)
    return _created(fmt, ticket, 201)


def _filed_as(external: str) -> Ticket | None:
    return Ticket.get_or_none((Ticket.external_ref == external) & (Ticket.channel == "open311"))


def _created(fmt: str, ticket: Ticket, status: int) -> Response:
    notice = "已受理，我们会尽快派单处理。" if ticket.state == State.SUBMITTED else ""
    payload = [{"service_request_id": str(ticket.id), "service_notice": notice, "account_id": None}]
    return render(fmt, payload, "requests", status)


def init_app(app) -> None:
    """Register the Open311 blueprint."""
    app.register_blueprint(blueprint)
