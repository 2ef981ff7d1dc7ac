"""Rate limits per user and per IP, kept in Redis (memory when the app runs without Redis)."""

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from bot.api.auth import bearer_token, token_user_id

DEFAULTS = {
    "API_RATE_LIMIT_USER": "120/minute;3000/hour",
    "API_RATE_LIMIT_IP": "600/minute",
    "API_RATE_LIMIT_LOGIN": "20/minute",
    "API_RATE_LIMIT_UPLOAD": "30/minute",
}


def user_key() -> str:
    """The caller's user id when the token is live, else their address."""
    user_id = token_user_id(bearer_token())
    return f"user:{user_id}" if user_id else f"ip:{get_remote_address()}"


def _setting(config, name: str) -> str:
    return getattr(config, name, None) or DEFAULTS[name]


def init_app(app, config, blueprints: dict) -> Limiter:
    """Attach a limiter to `app` covering only the API's own blueprints."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=config.REDIS_URL or "memory://",
        key_prefix=f"{config.REDIS_PREFIX}limits",
        headers_enabled=True,
        # A Redis hiccup must not turn every request into a 500: let it through and log.
        swallow_errors=True,
    )
    per_user = limiter.shared_limit(
        _setting(config, "API_RATE_LIMIT_USER"), scope="api-user", key_func=user_key
    )
    per_ip = limiter.shared_limit(_setting(config, "API_RATE_LIMIT_IP"), scope="api-ip")
    for blueprint in blueprints.values():
        per_user(blueprint)
        per_ip(blueprint)
    limiter.limit(
        _setting(config, "API_RATE_LIMIT_LOGIN"),
        exempt_when=lambda: request.endpoint != "auth.login",
    )(blueprints["auth"])
    limiter.limit(
        _setting(config, "API_RATE_LIMIT_UPLOAD"),
        key_func=user_key,
        exempt_when=lambda: request.method != "POST",
    )(blueprints["photos"])
    open311_name = _limit_open311(limiter, config)
    # Only those blueprints have limits: every other request (the webhook above all, which has
    # its own rate window in its admission script) skips the limiter's per-request work.
    limited = {blueprint.name for blueprint in blueprints.values()} | {open311_name}
    limiter.request_filter(lambda: request.blueprint not in limited)
    return limiter


def _limit_open311(limiter: Limiter, config) -> str:
    """Open311 callers are other systems with a key: a cap per address on creating requests.
    Returns the name of the blueprint limited."""
    from bot import open311

    limiter.limit(
        getattr(config, "OPEN311_RATE_LIMIT", None) or "60/minute",
        scope="open311-post",
        exempt_when=lambda: request.method != "POST",
    )(open311.blueprint)
    return open311.blueprint.name
