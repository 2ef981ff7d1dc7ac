"""Signed one-time login links to the dashboard (大屏), for chat replies and digest pushes.

A link carries a signed token (itsdangerous) holding the user id, a nonce and its lifetime.
Issuing needs only the secret, so the scheduler can put one in a digest; the web side
accepts a nonce once (Redis SET NX) and turns it into a session. Configured at start-up like
models.routing; unconfigured (unit tests of other parts), no link is made.
"""

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "sidan-dashboard-login"


@dataclass(frozen=True)
class LinkSettings:
    secret: str
    base_url: str
    login_ttl_s: int = 600
    digest_ttl_s: int = 86400


_settings: LinkSettings | None = None


def configure(settings: LinkSettings | None) -> None:
    global _settings
    _settings = settings


def configure_from(config) -> None:
    """Read the settings from a bot.config.Config (the web app and the scheduler both call it)."""
    configure(
        LinkSettings(
            secret=config.secret_key,
            base_url=config.PUBLIC_BASE_URL,
            login_ttl_s=int(config.DASHBOARD_LINK_TTL_S),
            digest_ttl_s=int(config.DASHBOARD_DIGEST_LINK_TTL_S),
        )
    )


def settings() -> LinkSettings | None:
    return _settings


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def login_token(user_id: int, ttl_s: int, secret: str | None = None) -> str:
    """A signed token for `user_id`, good once within `ttl_s` seconds."""
    secret = secret or _settings.secret
    return _serializer(secret).dumps({"u": user_id, "n": secrets.token_hex(12), "t": ttl_s})


def read_login_token(token: str, secret: str | None = None) -> dict | None:
    """{"u": user id, "n": nonce, "t": ttl} if the token is genuine and still fresh, else None."""
    secret = secret or _settings.secret
    try:
        payload, signed_at = _serializer(secret).loads(token, return_timestamp=True)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(payload, dict) or not {"u", "n", "t"} <= payload.keys():
        return None
    if time.time() - signed_at.timestamp() > int(payload["t"]):
        return None
    return payload


def dashboard_link(user, *, for_digest: bool = False) -> str | None:
    """The one-time login URL for `user`, or None when links are not configured."""
    if _settings is None:
        return None
    ttl = _settings.digest_ttl_s if for_digest else _settings.login_ttl_s
    token = login_token(user.id, ttl)
    return f"{_settings.base_url.rstrip('/')}/dashboard/login?t={token}"
