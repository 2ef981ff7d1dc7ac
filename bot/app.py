"""The Flask app factory: config, shared clients, blueprints, error pages."""

import logging
import threading
from dataclasses import dataclass, field

import peewee
import redis
from flask import Flask, current_app, jsonify, request
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException

from bot import gateway, hardening, logs, metrics
from bot.config import Config
from bot.services import connect_database, make_redis, make_transport
from models.db import database
from models.privacy import install_log_redaction

log = logging.getLogger("sidan")


@dataclass
class Services:
    """What a request needs besides the database, hung off the app."""

    config: Config
    redis: object
    transport: gateway.Transport
    _inbox: object = field(default=None, repr=False, compare=False)  # bot.replay.inbox's

    def key(self, *parts) -> str:
        """A Redis key in this deployment's namespace."""
        return self.config.REDIS_PREFIX + ":".join(str(p) for p in parts)


def services() -> Services:
    return current_app.extensions["sidan"]


def create_app(config: Config | None = None, *, warm_classifier: bool = True, **overrides) -> Flask:
    """Build the web app; `overrides` replace config values (tests)."""
    config = config or Config(**overrides)
    install_log_redaction()  # no phone or room number reaches a log line (models.privacy)
    app = Flask(__name__)
    app.config.update(config.as_dict())
    if config.PROXY_HOPS:
        # Behind a load balancer the client address (for per-IP limits) is in X-Forwarded-For.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.PROXY_HOPS, x_proto=config.PROXY_HOPS)
    # Webhook bodies are small; the API's photo upload raises its own cap per route.
    app.config["MAX_CONTENT_LENGTH"] = 48 * 1024 * 1024
    connect_database(config)
    redis_client = make_redis(config)
    app.extensions["sidan"] = Services(config, redis_client, make_transport(config, redis_client))

    # No connection is opened before a route runs: the first query opens one (peewee's
    # autoconnect), so GET verification, /healthz and /metrics work with the database down.
    @app.teardown_request
    def _close_db(exc):
        if not database.is_closed():
            database.close()

    logs.init_app(app)
    metrics.init_app(app)
    _register_blueprints(app)
    hardening.init_app(app)  # after the API's per-route body caps
    _register_errors(app)
    if warm_classifier and not config.TESTING:
        # Loading jieba and training the classifier takes a second or two: do it now, off the
        # request path, so the first resident's message still answers within WeChat's 5 s.
        threading.Thread(target=_warm_classifier, daemon=True).start()
    return app


def _warm_classifier() -> None:
    from handlers.classifier import get_model

    try:
        get_model()
    except Exception:
        log.exception("classifier warm-up failed; it will load on first use")


def _register_blueprints(app: Flask) -> None:
    from bot import mini_push, webhook

    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(mini_push.blueprint)
    try:
        from bot import api
    except ImportError:  # the API blueprint is optional while it is being built
        api = None
    if api is not None:
        api.init_app(app)
    from bot import dashboard

    dashboard.init_app(app)

    @app.get("/healthz")
    def healthz():
        """The process is up (needs neither the database nor Redis)."""
        return {"ok": True}

    @app.get("/readyz")
    def readyz():
        """The database and Redis answer: this worker can take traffic."""
        checks = {"database": _probe(lambda: database.execute_sql("SELECT 1")),
                  "redis": _probe(lambda: services().redis.ping())}  # fmt: skip
        ready = all(checks.values())
        return {"ok": ready, **checks}, 200 if ready else 503


def _probe(check) -> bool:
    try:
        check()
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        return False
    return True


def _wants_json() -> bool:
    return request.path.startswith(("/api", "/open311")) or request.is_json


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            body = {"error": {"code": exc.name.lower().replace(" ", "_"), "message": _cn(exc)}}
            return jsonify(body), exc.code
        return _cn(exc), exc.code

    @app.errorhandler(peewee.OperationalError)
    @app.errorhandler(peewee.InterfaceError)
    @app.errorhandler(MaxConnectionsExceeded)
    @app.errorhandler(redis.RedisError)
    def _outage(exc: Exception):
        # A service is down, not a bug: say so (503 with Retry-After) rather than crash.
        log.error("service unavailable on %s %s: %s", request.method, request.path, exc)
        message = "系统正在维护，请稍后再试。"
        headers = {"Retry-After": "30"}
        if _wants_json():
            return jsonify({"error": {"code": "unavailable", "message": message}}), 503, headers
        return message, 503, headers

    @app.errorhandler(Exception)
    def _crash(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = "系统开小差了，请稍后再试。"
        if _wants_json():
            return jsonify({"error": {"code": "internal", "message": message}}), 500
        return message, 500


_CN = {
    400: "请求格式不对。",
    403: "没有权限。",
    404: "没有找到。",
    405: "不支持这种请求方式。",
    413: "内容太大了。",
    415: "不支持这种内容格式。",
    429: "操作太频繁了，请稍后再试。",
}


def _cn(exc: HTTPException) -> str:
    return _CN.get(exc.code, exc.description or exc.name)
