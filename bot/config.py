"""Configuration from environment variables, with embedded defaults for a bare machine."""

import json
import os
import secrets
from pathlib import Path

from bot.webhook_guard import DEFAULT_PHOTO_HOSTS


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


OPTIONAL_API_SETTINGS = (
    "API_SESSION_TTL_S",
    "API_DOCS_CDN",
    "API_RATE_LIMIT_USER",
    "API_RATE_LIMIT_IP",
    "API_RATE_LIMIT_LOGIN",
    "API_RATE_LIMIT_UPLOAD",
)


class Config:
    """Read once at app creation; tests pass overrides to create_app()."""

    def __init__(self, **overrides):
        var = Path(_env("SIDAN_VAR_DIR", "var")).resolve()
        self.VAR_DIR = str(var)
        self.DATABASE_URL = _env("DATABASE_URL", f"sqlite:///{var / 'sidan.db'}")
        # Unset: an in-process stand-in (fakeredis); `sidan run` shares one over TCP.
        self.REDIS_URL = _env("REDIS_URL")
        self.REDIS_PREFIX = _env("REDIS_PREFIX", "sidan:")
        self.WECHAT_TOKEN = _env("WECHAT_TOKEN", "sidan-dev-token")
        self.WECHAT_APPID = _env("WECHAT_APPID", "wx_sidan_dev")
        self.WECHAT_SECRET = _env("WECHAT_SECRET")
        self.WECHAT_AES_KEY = _env("WECHAT_AES_KEY")
        self.WECHAT_API_BASE = _env("WECHAT_API_BASE", "https://api.weixin.qq.com")
        # The mini-program is its own WeChat app. Without MINI_SECRET the API accepts only
        # "dev:<openid>" login codes (local use).
        self.MINI_APPID = _env("MINI_APPID", "wx_sidan_mini_dev")
        self.MINI_SECRET = _env("MINI_SECRET")
        # Number of reverse proxies in front (X-Forwarded-For is trusted that many hops).
        self.PROXY_HOPS = int(_env("PROXY_HOPS", "0"))
        # Template ids per notice kind, e.g. {"notice": "TPL1", "rating": "TPL2"}.
        self.TEMPLATE_IDS = json.loads(_env("WECHAT_TEMPLATE_IDS", "{}"))
        # The mini-program's subscribe-message template ids per notice kind (its own ids).
        self.MINI_TEMPLATE_IDS = json.loads(_env("MINI_TEMPLATE_IDS", "{}"))
        # Token of the mini-program's message push (/wechat/mini); the webhook's by default.
        self.MINI_TOKEN = _env("MINI_TOKEN")
        self.OPEN311_API_KEYS = [k for k in (_env("OPEN311_API_KEYS", "") or "").split(",") if k]
        # Public Open311 lists carry no resident text or photos unless the operator says so.
        self.OPEN311_PUBLIC_TEXT = _env("OPEN311_PUBLIC_TEXT", "0").lower() in ("1", "true", "yes")
        self.MEDIA_ROOT = _env("MEDIA_ROOT", str(var / "media"))
        self.PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
        # WeChat refuses a reply after 5 s; answer "success" and push later past this.
        self.REPLY_BUDGET_S = float(_env("REPLY_BUDGET_S", "3.5"))
        # How far WeChat's signed timestamp may trail this server's clock before the wait
        # counts against the budget (the stamp is cut to the second; clocks drift).
        self.CLOCK_SLACK_S = float(_env("CLOCK_SLACK_S", "1"))
        # A message that waited longer than this in a backlog (beyond CLOCK_SLACK_S) is parked
        # and answered at once; the scheduler replays it and the reply goes out by push.
        self.SHED_AFTER_S = float(_env("SHED_AFTER_S", "2"))
        # ... and so is a message arriving while more than this many wait for a handler
        # thread in this process (0: only the wait counts).
        self.SHED_QUEUE = int(_env("SHED_QUEUE", "16"))
        self.MAX_SIGNATURE_AGE_S = int(_env("MAX_SIGNATURE_AGE_S", "300"))
        self.DIGEST_HOUR = int(_env("DIGEST_HOUR", "8"))
        self.CONVERSATION_TTL_S = int(_env("CONVERSATION_TTL_S", "1800"))
        # Operations (docs/operations.md).
        self.WEBHOOK_RATE_PER_MIN = int(_env("WEBHOOK_RATE_PER_MIN", "30"))
        self.OPEN311_RATE_LIMIT = _env("OPEN311_RATE_LIMIT", "60/minute")
        self.CONVERSATION_LOCK_WAIT_S = float(_env("CONVERSATION_LOCK_WAIT_S", "45"))
        # Chat photos are fetched only from these hosts (and their subdomains).
        self.PHOTO_HOSTS = tuple(
            h.strip().lower()
            for h in (_env("PHOTO_HOSTS", ",".join(DEFAULT_PHOTO_HOSTS)) or "").split(",")
            if h.strip()
        )
        self.PHOTO_ALLOW_PRIVATE = False  # tests only: a stand-in media host on 127.0.0.1
        # Connections per process (web worker or scheduler); see docs/operations.md for sizing.
        self.DB_POOL_SIZE = int(_env("DB_POOL_SIZE", "8"))
        # The scheduler's leader lease (a standby takes over within about this long) and the
        # outbox drain interval.
        self.SCHEDULER_LEASE_TTL_S = float(_env("SCHEDULER_LEASE_TTL_S", "10"))
        self.SCHEDULER_DRAIN_EVERY_S = float(_env("SCHEDULER_DRAIN_EVERY_S", "5"))
        # Days after closing that a ticket's personal data is kept (`sidan retention`).
        self.RETENTION_DAYS = int(_env("RETENTION_DAYS", "730"))
        self.LOG_FORMAT = _env("LOG_FORMAT", "json")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        # Signs dashboard login links and session cookies; unset, a random key kept in VAR_DIR.
        self.SECRET_KEY = _env("SECRET_KEY")
        self.DASHBOARD_LINK_TTL_S = int(_env("DASHBOARD_LINK_TTL_S", "600"))
        self.DASHBOARD_DIGEST_LINK_TTL_S = int(_env("DASHBOARD_DIGEST_LINK_TTL_S", "86400"))
        self.DASHBOARD_SESSION_TTL_S = int(_env("DASHBOARD_SESSION_TTL_S", "28800"))
        self.DASHBOARD_EXPORT_SYNC_MAX = int(_env("DASHBOARD_EXPORT_SYNC_MAX", "5000"))
        self.TESTING = False
        # Optional API settings; each has a default in bot/api when unset.
        for name in OPTIONAL_API_SETTINGS:
            if _env(name) is not None:
                setattr(self, name, _env(name))
        for key, value in overrides.items():
            setattr(self, key, value)

    @property
    def wechat_live(self) -> bool:
        """True when real credentials are set: outbound goes to WeChat, not the console."""
        return bool(self.WECHAT_APPID and self.WECHAT_SECRET)

    @property
    def secret_key(self) -> str:
        """SECRET_KEY, or one made once and kept in VAR_DIR (shared by processes on a host)."""
        if self.SECRET_KEY:
            return self.SECRET_KEY
        path = Path(self.VAR_DIR) / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_hex(32))
        self.SECRET_KEY = path.read_text().strip()
        return self.SECRET_KEY

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
