"""Who is looking at the dashboard: one-time login links, session cookies, subtree checks."""

import hashlib
import hmac
import json
import secrets

from flask import abort, g, request

from bot.app import services
from models import links
from models.enums import STAFF_ROLES
from models.org import OrgUnit, User

COOKIE = "sidan_dash"


def _key(*parts) -> str:
    return services().key("dash", *parts)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def consume_link(token: str) -> User | None:
    """The staff member a fresh, unused login token names; the token is spent (once only)."""
    payload = links.read_login_token(token or "", services().config.secret_key)
    if payload is None:
        return None
    # SET NX: of two requests with the same link, only the first gets a session.
    fresh = services().redis.set(_key("used", payload["n"]), 1, nx=True, ex=int(payload["t"]) + 60)
    if not fresh:
        return None
    user = User.get_or_none(User.id == payload["u"])
    if user is None or user.role not in STAFF_ROLES or user.org_unit_id is None:
        return None
    return user


def start_session(user: User) -> str:
    """A new session token kept (hashed) in Redis with the configured lifetime."""
    token = secrets.token_urlsafe(32)
    ttl = services().config.DASHBOARD_SESSION_TTL_S
    services().redis.set(_key("session", _digest(token)), json.dumps({"u": user.id}), ex=ttl)
    return token


def end_session(token: str | None) -> None:
    if token:
        services().redis.delete(_key("session", _digest(token)))


def csrf_token() -> str:
    """A form token bound to this session (forms post only with it)."""
    token = request.cookies.get(COOKIE, "")
    return hmac.new(services().config.secret_key.encode(), token.encode(), "sha256").hexdigest()


def check_csrf(value: str | None) -> None:
    if not value or not hmac.compare_digest(value, csrf_token()):
        abort(403)


def _session_user() -> User | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    raw = services().redis.get(_key("session", _digest(token)))
    if not raw:
        return None
    return User.get_or_none(User.id == json.loads(raw)["u"])


def _bearer_user() -> User | None:
    # The mini-program's own session token (Authorization: Bearer …) is good here too.
    from bot.api.auth import bearer_token, token_user_id

    user_id = token_user_id(bearer_token())
    return User.get_or_none(User.id == user_id) if user_id else None


def viewer() -> User | None:
    """The dispatcher or supervisor behind this request, or None."""
    if "dash_viewer" not in g:
        user = _session_user() or _bearer_user()
        ok = user is not None and user.role in STAFF_ROLES and user.org_unit_id is not None
        g.dash_viewer = user if ok else None
    return g.dash_viewer


def unit_in_view(unit_id: int) -> OrgUnit:
    """The unit named in the URL, if it is the viewer's or below it; else 404 / 403."""
    unit = OrgUnit.get_or_none(OrgUnit.id == unit_id)
    if unit is None:
        abort(404)
    if not viewer().org_unit.contains(unit):
        abort(403)
    return unit
