"""Mini-program login (code → openid → session token in Redis) and the auth decorator."""

import hashlib
import logging
import re
import secrets
from functools import wraps

import marshmallow as ma
from flask import current_app, g, request
from flask_smorest import Blueprint

from bot import gateway
from bot.api import errors
from bot.api.errors import ApiError
from bot.api.schemas import MeSchema
from bot.api.serialize import me_payload
from bot.app import services
from models.org import User, mini_program_user

log = logging.getLogger("sidan.api")

DEFAULT_SESSION_TTL_S = 7 * 24 * 3600
DEV_CODE = re.compile(r"^dev:([A-Za-z0-9_\-]{1,60})$")
BEARER = re.compile(r"^Bearer\s+([A-Za-z0-9_\-]{20,100})$")
SECURITY = [{"bearerAuth": []}]

LOGIN_DOC = """Exchange a mini-program `wx.login()` code for a session token.

Send the token back as `Authorization: Bearer <token>`. The same person as in the
Official Account chat is recognised through the WeChat unionid.

**Developer login:** when the server has no `MINI_SECRET` (the embedded default), WeChat
is not called and only codes of the form `dev:<openid>` are accepted, e.g.
`dev:demo_resident_1` — never run a public server that way.
"""

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="登录与当前用户")
errors.install(blp)


class LoginSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=128))


class TokenSchema(ma.Schema):
    token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True)
    user = ma.fields.Nested(MeSchema, required=True)


def _session_key(token: str) -> str:
    # Only a hash reaches Redis: a dump of it does not hand out live sessions.
    return services().key("api", "session", hashlib.sha256(token.encode()).hexdigest())


def session_ttl() -> int:
    """How long a session token lives, in seconds."""
    return int(getattr(services().config, "API_SESSION_TTL_S", DEFAULT_SESSION_TTL_S))


def issue_token(user: User) -> str:
    """A fresh bearer token for `user`, kept in Redis with an expiry."""
    token = secrets.token_urlsafe(32)
    services().redis.set(_session_key(token), user.id, ex=session_ttl())
    return token


def bearer_token() -> str | None:
    """The well-formed bearer token of this request, if any."""
    match = BEARER.match(request.headers.get("Authorization", "").strip())
    return match.group(1) if match else None


def token_user_id(token: str | None) -> int | None:
    """The user id a live token stands for (cached on the request)."""
    if token is None:
        return None
    if "api_token_user" not in g:
        raw = services().redis.get(_session_key(token))
        g.api_token_user = int(raw) if raw and str(raw).isdigit() else None
    return g.api_token_user


def current_user() -> User:
    """The caller, or a 401."""
    if "api_user" not in g:
        user_id = token_user_id(bearer_token())
        user = User.get_or_none(User.id == user_id) if user_id else None
        if user is None:
            raise ApiError(401, "登录已过期，请重新登录。", "unauthorized")
        g.api_user = user
    return g.api_user


def auth_required(*roles):
    """Decorator: a logged-in caller, optionally holding one of `roles` (else 403)."""

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            user = current_user()
            if roles and user.role not in roles:
                raise ApiError(403, "您的身份不能做这个操作。", "forbidden")
            return fn(*args, **kwargs)

        return Blueprint.doc(security=SECURITY)(wrapper)

    return decorator


def _wechat_client():
    ext = current_app.extensions["sidan_api"]
    if ext.get("mini_client") is None:
        config = services().config
        ext["mini_client"] = gateway.make_client(
            config.MINI_APPID, config.MINI_SECRET, services().redis,
            api_base=config.WECHAT_API_BASE,
        )  # fmt: skip
    return ext["mini_client"]


def identity_for_code(code: str) -> tuple[str, str | None]:
    """(openid, unionid) for a login code; dev codes only when no MINI_SECRET is set."""
    code = code.strip()
    if not services().config.MINI_SECRET:
        match = DEV_CODE.match(code)
        if not match:
            raise ApiError(401, "开发模式下请用 dev:<openid> 登录。", "invalid_code")
        return match.group(1), None
    try:
        session = gateway.code_to_session(_wechat_client(), code)
    except gateway.InvalidCode:
        raise ApiError(401, "登录码无效或已使用，请重新打开小程序。", "invalid_code") from None
    except gateway.TransportError as exc:
        log.warning("code2session failed: %s", exc.message)
        raise ApiError(503, "微信登录暂时不可用，请稍后再试。", "upstream") from None
    return session["openid"], session.get("unionid")


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.doc(description=LOGIN_DOC, security=[])
def login(body):
    """Log in with a mini-program code."""
    openid, unionid = identity_for_code(body["code"])
    from_code = bool(services().config.MINI_SECRET)  # else a dev code: a chat user's openid
    user = mini_program_user(openid, unionid, from_code=from_code)
    return {
        "token": issue_token(user),
        "token_type": "Bearer",
        "expires_in": session_ttl(),
        "user": me_payload(user),
    }


@blp.route("/logout", methods=["POST"])
@auth_required()
@blp.response(204)
def logout():
    """End this session (the token stops working at once)."""
    services().redis.delete(_session_key(bearer_token()))
    return None


@blp.route("/me", methods=["GET"])
@auth_required()
@blp.response(200, MeSchema)
def me():
    """Who the token belongs to, with role and units."""
    return me_payload(current_user())
