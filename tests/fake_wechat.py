"""A real local HTTP server that imitates the parts of the WeChat API Sidan calls.

Used by the gateway tests and by the benchmark: the WeChat client talks to it over
real HTTP, so timeouts, status codes and token handling behave as on the wire.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

try:
    import pytest
except ImportError:  # the benchmark may import the server without pytest installed
    pytest = None

ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
}

# Paths that answer without an access_token, as on the real API.
_TOKENLESS = {"/cgi-bin/token", "/sns/jscode2session"}
_SEND_PATHS = {
    "/cgi-bin/message/custom/send",
    "/cgi-bin/message/template/send",
    "/cgi-bin/message/subscribe/send",
}
_KNOWN_PATHS = (
    _TOKENLESS
    | _SEND_PATHS
    | {
        "/cgi-bin/qrcode/create",
        "/cgi-bin/menu/create",
        "/cgi-bin/menu/get",
    }
)


class FakeWeChat:
    """The fake WeChat API: start it, point the client at base_url, inspect sent()."""

    def __init__(self, apps: dict[str, str] | None = None, timeout_sleep: float = 1.0):
        self.apps = apps  # appid -> secret; None accepts any pair
        self.timeout_sleep = timeout_sleep
        # Seconds every send takes after it is recorded (delivered), as a slow network would.
        self.send_latency_s = 0.0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = itertools.count(1)
        self.reset()

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FakeWeChat:
        """Bind a free port on 127.0.0.1 and serve from a daemon thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="fake-wechat", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeWeChat:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The root URL to use as WECHAT_API_BASE, e.g. http://127.0.0.1:54321."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls ---------------------------------------------------------

    def reset(self) -> None:
        """Forget requests, faults, tokens, login codes and closed windows."""
        with self._lock:
            self._requests: list[dict] = []
            self._faults: dict[str | None, deque] = defaultdict(deque)
            self._tokens: dict[str, str] = {}  # appid -> the only valid token
            self._codes: dict[str, dict] = {}
            self._used_codes: set[str] = set()
            self._closed_windows: set[str] = set()

    def fail(self, path: str | None, kind: str | int, times: int = 1) -> None:
        """Make the next `times` calls to `path` (None: any path) fail with `kind`.

        `kind` is "timeout", an HTTP status ("500", "502", ...) or a WeChat errcode
        (40001, 42001, 45009, 45015, 40003, ...).
        """
        kind = str(kind)
        if kind != "timeout" and not kind.lstrip("-").isdigit():
            raise ValueError(f"unknown fault kind: {kind!r}")
        with self._lock:
            self._faults[path].extend([kind] * times)

    def register_code(self, code: str, openid: str, unionid: str | None = None) -> None:
        """Let jscode2session answer `code` with this openid (and unionid)."""
        with self._lock:
            self._codes[code] = {"openid": openid, "unionid": unionid}

    def close_window(self, openid: str) -> None:
        """Make customer-service sends to `openid` fail with 45015 (48 h window closed)."""
        with self._lock:
            self._closed_windows.add(openid)

    def expire_tokens(self) -> None:
        """Invalidate every issued access token, as if WeChat rotated them."""
        with self._lock:
            self._tokens.clear()

    def sent(self, path: str | None = None) -> list[dict]:
        """Recorded requests (method, path, query, body, at, fault, errcode, response)."""
        with self._lock:
            return [dict(r) for r in self._requests if path is None or r["path"] == path]

    # -- request handling (called from handler threads) ------------------------

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for key in (path, None):
                if self._faults.get(key):
                    return self._faults[key].popleft()
        return None

    def _record(self, entry: dict) -> None:
        with self._lock:
            self._requests.append(entry)

    def handle(self, method: str, path: str, query: dict, body) -> tuple[int, dict, float]:
        """Answer one request: (HTTP status, JSON payload, seconds to sleep first)."""
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "body": body,
            "at": time.time(),
            "fault": None,
            "errcode": 0,
            "response": None,
        }
        fault = self._take_fault(path)
        entry["fault"] = fault
        delay = 0.0
        if fault == "timeout":
            delay = self.timeout_sleep
        elif fault is not None and len(fault) == 3:
            entry["response"] = {"error": f"injected HTTP {fault}"}
            self._record(entry)
            return int(fault), entry["response"], 0.0
        if fault not in (None, "timeout"):
            payload = _error(int(fault))
        else:
            payload = self._answer(path, query, body)
        entry["errcode"] = payload.get("errcode", 0)
        entry["response"] = payload
        self._record(entry)
        if path in _SEND_PATHS:
            delay += self.send_latency_s
        return 200, payload, delay

    def _answer(self, path: str, query: dict, body) -> dict:
        if path not in _KNOWN_PATHS:
            return _error(404, "invalid url domain")  # WeChat answers unknown APIs in JSON
        if path == "/cgi-bin/token":
            return self._issue_token(query)
        if path == "/sns/jscode2session":
            return self._code_to_session(query)
        with self._lock:
            if query.get("access_token") not in self._tokens.values():
                return _error(40001)
        body = body if isinstance(body, dict) else {}
        if path in _SEND_PATHS:
            return self._send(path, body)
        if path == "/cgi-bin/qrcode/create":
            scene = body.get("action_info", {}).get("scene", {})
            ticket = "tk_" + _digest(json.dumps(scene, sort_keys=True))
            answer = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{ticket}"}
            if "expire_seconds" in body:
                answer["expire_seconds"] = body["expire_seconds"]
            return answer
        if path == "/cgi-bin/menu/get":
            menus = [r["body"] for r in self.sent("/cgi-bin/menu/create") if not r["errcode"]]
            return {"menu": menus[-1]} if menus else _error(46003, "menu no exist")
        return _error(0)

    def _issue_token(self, query: dict) -> dict:
        appid, secret = query.get("appid"), query.get("secret")
        if query.get("grant_type") != "client_credential" or not appid:
            return _error(40002, "invalid grant_type")
        if self.apps is not None and self.apps.get(appid) != secret:
            return _error(40125)
        token = f"tok_{appid}_{next(self._counter)}"
        with self._lock:
            self._tokens[appid] = token  # each fetch invalidates the previous token
        return {"access_token": token, "expires_in": 7200}

    def _code_to_session(self, query: dict) -> dict:
        code = query.get("js_code", "")
        if query.get("grant_type") != "authorization_code" or not query.get("appid"):
            return _error(40002, "invalid grant_type")
        with self._lock:
            if code in self._used_codes:
                return _error(40163)
            mapped = self._codes.get(code)
            if mapped is None:
                return _error(40029)
            self._used_codes.add(code)  # a login code works once
        answer = {"openid": mapped["openid"], "session_key": "sk_" + _digest(code)}
        if mapped["unionid"]:
            answer["unionid"] = mapped["unionid"]
        return answer

    def _send(self, path: str, body: dict) -> dict:
        openid = body.get("touser")
        if not openid:
            return _error(40003)
        if path == "/cgi-bin/message/custom/send":
            with self._lock:
                if openid in self._closed_windows:
                    return _error(45015)
            return _error(0)
        if not body.get("template_id"):
            return _error(40037, "invalid template_id")
        return {"errcode": 0, "errmsg": "ok", "msgid": next(self._counter)}


def _error(errcode: int, errmsg: str | None = None) -> dict:
    if errmsg is None:
        errmsg = ERRMSGS.get(errcode, "ok" if errcode == 0 else "error")
    return {"errcode": errcode, "errmsg": errmsg}


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, so the benchmark measures the app, not TCP set-up.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms each.
    disable_nagle_algorithm = True
    fake: FakeWeChat

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = raw.decode("utf-8", "replace")
        status, payload, delay = self.fake.handle(method, url.path, query, body)
        if delay:
            time.sleep(delay)
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout fault); that is the point

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass  # keep test output clean


if pytest is not None:

    @pytest.fixture
    def fake_wechat():
        """A started FakeWeChat, stopped after the test."""
        with FakeWeChat() as server:
            yield server
