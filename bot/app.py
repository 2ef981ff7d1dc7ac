"""The Flask app factory: config, shared clients, blueprints, error pages."""

import logging
import threading
from dataclasses import dataclass

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from bot import gateway
from bot.config import Config
from bot.services import connect_database, make_redis, make_transport
from models.db import database

log = logging.getLogger("sidan")


@dataclass
class Services:
    """What a request needs besides the database, hung off the app."""

    config: Config
    redis: object
    transport: gateway.Transport

    def key(self, *parts) -> str:
        """A Redis key in this deployment's namespace."""
        return self.config.REDIS_PREFIX + ":".join(str(p) for p in parts)


def services() -> Services:
    return current_app.extensions["sidan"]


def create_app(config: Config | None = None, *, warm_classifier: bool = True, **overrides) -> Flask:
    """Build the web app; `overrides` replace config values (tests)."""
    config = config or Config(**overrides)
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

    @app.before_request
    def _open_db():
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close_db(exc):
        if not database.is_closed():
            database.close()

    _register_blueprints(app)
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
    from bot import webhook

    app.register_blueprint(webhook.blueprint)
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
        database.execute_sql("SELECT 1")
        services().redis.ping()
        return {"ok": True}


def _wants_json() -> bool:
    return request.path.startswith(("/api", "/open311")) or request.is_json


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _wants_json():
            body = {"error": {"code": exc.name.lower().replace(" ", "_"), "message": _cn(exc)}}
            return jsonify(body), exc.code
        return _cn(exc), exc.code

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
    429: "操作太频繁了，请稍后再试。",
}


def _cn(exc: HTTPException) -> str:
    return _CN.get(exc.code, exc.description or exc.name)
