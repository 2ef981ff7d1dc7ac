"""Outbound WeChat transport: the wechatpy client, its token handling and the transports.

Callers (the outbox drain, the REST login, the CLI) hand in plain data; this module
turns WeChat's failures into TransportError so the caller owns retries and backoff.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from abc import ABC, abstractmethod
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

import requests
from wechatpy import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from models.enums import Channel
from models.outbox import OutboundMessage

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TOKEN_KEY_PREFIX = "sidan_wechat"
# Refresh a little before WeChat's expiry so no process sends with a token about to die.
TOKEN_EXPIRY_MARGIN = 300

# requests puts the full URL in its messages; these values must not reach logs or the outbox.
_SECRET_PARAMS = re.compile(r"\b(access_token|secret|js_code)=[^&\s'\"]+")

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # invalid / malformed / expired token
WINDOW_ERRCODES = frozenset({45015, 45047})  # 48 h window closed / cs message count cap
LOGIN_CODE_ERRCODES = frozenset({40029, 40163})  # invalid code / code already used
# errcode -> seconds to wait; anything not here and not above is permanent.
TRANSIENT_ERRCODES = {-1: None, 45009: 300.0, 45011: 60.0}


class TransportError(Exception):
    """An outbound call failed; `permanent` says whether retrying can help."""

    def __init__(
        self,
        message: str,
        permanent: bool = False,
        retry_after: float | None = None,
        errcode: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.errcode = errcode


class WindowClosed(TransportError):
    """The 48 h customer-service window is closed: resend through a template message."""


class InvalidCode(TransportError):
    """A mini-program login code was rejected (unknown, expired or already used)."""


class Transport(ABC):
    """Sends one OutboundMessage; returns WeChat's msgid if any, raises TransportError."""

    @abstractmethod
    def send(self, message: OutboundMessage) -> str | None:
        """Deliver `message` or raise TransportError."""


_CHANNEL_LABELS = {
    Channel.CS: "客服消息",
    Channel.TEMPLATE: "模板消息",
    Channel.SUBSCRIBE: "订阅消息",
}


class ConsoleTransport(Transport):
    """Embedded default without credentials: prints one line per message, never fails."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream  # None: sys.stdout at send time, so redirection is honoured
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> str | None:
        """Print the message as one readable line."""
        label = _CHANNEL_LABELS.get(message.channel, message.channel)
        text = " ".join(message.text.splitlines())
        line = f"[推送 {label}] -> {message.openid}: {text}"
        if message.template_id:
            line += f" (template={message.template_id})"
        if message.page:
            line += f" (page={message.page})"
        try:
            with self._lock:
                stream = self.stream or sys.stdout
                stream.write(line + "\n")
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed console must not stop the outbox
        return None


class RecordingTransport(Transport):
    """Keeps sent messages in memory; tests of other modules can queue failures."""

    def __init__(self):
        self.messages: list[OutboundMessage] = []
        self._failures: list[TransportError] = []
        self._lock = threading.Lock()

    def fail_next(self, error: TransportError, times: int = 1) -> None:
        """Raise `error` on the next `times` sends instead of recording them."""
        with self._lock:
            self._failures.extend([error] * times)

    def send(self, message: OutboundMessage) -> str | None:
        """Record the message (or raise a queued failure)."""
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            self.messages.append(message)
            return f"rec-{len(self.messages)}"


class SidanWeChatClient(WeChatClient):
    """WeChatClient whose every URL, token fetch included, honours one API base."""

    def __init__(self, appid, secret, session, timeout, api_base: str):
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.api_base = api_base.rstrip("/")
        # wechatpy hard-codes https://api.weixin.qq.com in class attributes: the client's
        # own base and some endpoint groups' (wxa, for jscode2session). Endpoint objects are
        # per instance (BaseWeChatClient.__new__), so instance attributes are safe to set.
        self.API_BASE_URL = self._rebase(WeChatClient.API_BASE_URL)
        # vars(), not dir(): getattr on dir() would touch the access_token property.
        for api in vars(self).values():
            if isinstance(api, BaseWeChatAPI) and getattr(api, "API_BASE_URL", None):
                api.API_BASE_URL = self._rebase(api.API_BASE_URL)

    def _rebase(self, url: str) -> str:
        if not url.startswith(DEFAULT_API_BASE):
            return url
        return self.api_base + url[len(DEFAULT_API_BASE) :]

    def fetch_access_token(self, stale: str | None = None) -> dict:
        """Fetch a new token and share it through the session (Redis) with every process.

        One process at a time fetches (a Redis lock): each fetch revokes the token before it,
        so two cold workers fetching at once would leave one holding a dead token. After the
        lock, a token other than `stale` already in Redis is someone else's fresh fetch.
        """
        redis_client = getattr(self.session, "redis", None)
        if redis_client is None:
            return self._fetch_token()
        lock = redis_client.lock(
            f"{self.access_token_key}:refresh", timeout=self.timeout * 3,
            blocking_timeout=self.timeout * 2,
        )  # fmt: skip
        if not lock.acquire():
            raise TransportError("access token refresh is stuck in another process")
        try:
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                self.expires_at = None
                return {"access_token": current}
            return self._fetch_token()
        finally:
            # The lock may have expired under a slow fetch; the token is stored either way.
            with contextlib.suppress(Exception):
                lock.release()

    def _fetch_token(self) -> dict:
        # wechatpy's own fetch ignores API_BASE_URL and sends without a timeout.
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        try:
            res = self._http.get(
                self.api_base + "/cgi-bin/token", params=params, timeout=self.timeout
            )
            res.raise_for_status()
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise TransportError(f"access token fetch failed: {_describe(exc)}") from exc
        if result.get("errcode") or not result.get("access_token"):
            errcode = result.get("errcode")
            raise TransportError(
                f"access token fetch failed: errcode {errcode} {result.get('errmsg')}",
                retry_after=TRANSIENT_ERRCODES.get(errcode),
                errcode=errcode,
            )
        ttl = max(int(result.get("expires_in", 7200)) - TOKEN_EXPIRY_MARGIN, 60)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        # None makes wechatpy trust the shared Redis key (and its TTL) rather than this
        # process's clock, so a token refreshed elsewhere is used as-is.
        self.expires_at = None
        return result


def make_client(
    appid: str,
    secret: str,
    redis_client,
    api_base: str | None = None,
    timeout: float = 5,
    key_prefix: str = TOKEN_KEY_PREFIX,
) -> WeChatClient:
    """Build a WeChatClient with a bounded retry policy and the token shared in Redis."""
    base = api_base or os.environ.get("WECHAT_API_BASE") or DEFAULT_API_BASE
    session = RedisStorage(redis_client, prefix=key_prefix)
    return SidanWeChatClient(appid, secret, session=session, timeout=timeout, api_base=base)


def call_api(client: WeChatClient, func, *args, **kwargs):
    """Run one wechatpy call; on a stale token refresh once and retry once."""
    for attempt in (1, 2):
        try:
            result = func(*args, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode in TOKEN_ERRCODES and attempt == 1:
                _refresh_token(client, _token_used(exc))
                continue
            raise _translate(exc) from exc
        except requests.RequestException as exc:
            # Timeouts and connection errors are raised by requests, not wrapped by wechatpy.
            raise TransportError(f"network error: {_describe(exc)}") from exc
        if not isinstance(result, dict):
            raise TransportError("WeChat answered with something that is not JSON")
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: Exception) -> str:
    text = _SECRET_PARAMS.sub(r"\1=***", str(exc))
    return f"{exc.__class__.__name__}: {text}"


def _token_used(exc: WeChatClientException) -> str | None:
    url = getattr(exc.request, "url", None) or ""
    return parse_qs(urlsplit(url).query).get("access_token", [None])[0]


def _refresh_token(client: WeChatClient, stale: str | None) -> None:
    current = client.session.get(client.access_token_key)
    if current and stale and current != stale:
        return  # another process refreshed already; fetching again would revoke its token
    client.fetch_access_token(stale=stale or current)


def _translate(exc: WeChatClientException) -> TransportError:
    errcode = exc.errcode
    if errcode is None:  # HTTP status error, wrapped by wechatpy without an errcode
        status = getattr(exc.response, "status_code", None)
        return TransportError(f"HTTP {status} from WeChat")
    text = f"WeChat errcode {errcode}: {exc.errmsg}"
    if errcode in TOKEN_ERRCODES:
        return TransportError(text + " (after one token refresh)", errcode=errcode)
    if errcode in TRANSIENT_ERRCODES:
        return TransportError(text, retry_after=TRANSIENT_ERRCODES[errcode], errcode=errcode)
    return TransportError(text, permanent=True, errcode=errcode)


class WeChatTransport(Transport):
    """Real sends: cs and template via the Official Account, subscribe via the mini-program."""

    def __init__(self, client: WeChatClient, mini_client: WeChatClient | None = None):
        self.client = client
        self.mini_client = mini_client

    def send(self, message: OutboundMessage) -> str | None:
        """Send one message; WindowClosed means: resend it as a template message."""
        if message.channel == Channel.CS:
            try:
                result = call_api(
                    self.client, self.client.message.send_text, message.openid, message.text
                )
            except TransportError as exc:
                if exc.errcode in WINDOW_ERRCODES:
                    raise WindowClosed(
                        f"{exc.message}; the 48 h window is closed, fall back to template",
                        permanent=True,
                        errcode=exc.errcode,
                    ) from exc
                raise
        elif message.channel == Channel.TEMPLATE:
            result = call_api(
                self.client,
                self.client.message.send_template,
                message.openid,
                _require_template(message),
                _template_data(message),
                **self._template_link(message.page),
            )
        elif message.channel == Channel.SUBSCRIBE:
            if self.mini_client is None:
                raise TransportError("no mini-program client configured", permanent=True)
            result = call_api(
                self.mini_client,
                self.mini_client.wxa.send_subscribe_message,
                message.openid,
                _require_template(message),
                _template_data(message),
                page=message.page,
            )
        else:
            raise TransportError(f"unknown channel {message.channel!r}", permanent=True)
        msgid = result.get("msgid")
        return str(msgid) if msgid is not None else None

    def _template_link(self, page: str | None) -> dict:
        if not page:
            return {}
        if page.startswith(("http://", "https://")) or self.mini_client is None:
            return {"url": page}
        return {"mini_program": {"appid": self.mini_client.appid, "pagepath": page}}


def _require_template(message: OutboundMessage) -> str:
    if not message.template_id:
        raise TransportError(f"{message.channel} message without template_id", permanent=True)
    return message.template_id


def _template_data(message: OutboundMessage) -> dict:
    # WeChat wants {"key": {"value": ...}}; accept plain values too. Without data the text
    # goes into a "content" field, which our generic templates show as {{content.DATA}}.
    if not message.data:
        return {"content": {"value": message.text}}
    return {
        key: value if isinstance(value, dict) else {"value": str(value)}
        for key, value in message.data.items()
    }


def code_to_session(client: WeChatClient, code: str) -> dict:
    """Exchange a mini-program wx.login() code for {openid, session_key, unionid?}."""
    if not code or not code.strip():
        raise InvalidCode("empty login code", permanent=True)
    try:
        result = call_api(client, client.wxa.code_to_session, code.strip())
    except TransportError as exc:
        if exc.errcode in LOGIN_CODE_ERRCODES:
            raise InvalidCode(
                f"login code rejected: {exc.message}", permanent=True, errcode=exc.errcode
            ) from exc
        raise
    if not result.get("openid"):
        raise TransportError(f"code2session answered without openid: {result}")
    return {key: result[key] for key in ("openid", "session_key", "unionid") if key in result}


def create_menu(client: WeChatClient, menu: dict) -> dict:
    """Publish the Official Account menu."""
    return call_api(client, client.menu.create, menu)


def create_qrcode_scene(
    client: WeChatClient, scene_str: str, expire_seconds: int | None = None
) -> dict:
    """Create a scene QR code (permanent unless expire_seconds); returns ticket and url."""
    data: dict = {"action_info": {"scene": {"scene_str": scene_str}}}
    if expire_seconds:
        data.update(action_name="QR_STR_SCENE", expire_seconds=expire_seconds)
    else:
        data["action_name"] = "QR_LIMIT_STR_SCENE"
    return call_api(client, client.qrcode.create, data)
