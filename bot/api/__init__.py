"""The mini-program REST API (/api/v1) and Open311 GeoReport v2 (/open311/v2).

`init_app(app)` is called by bot.app.create_app. The OpenAPI document is generated from the
blueprints' schemas by flask-smorest and served at /api/v1/openapi.json, docs at /api/v1/docs
(Swagger UI served from the installed flask-swagger-ui package, so it works offline).
"""

from flask import request, send_from_directory
from flask_smorest import Api

from bot.api.errors import ErrorSchema
from bot.storage import LocalStorage

JSON_BODY_MAX = 64 * 1024
DOCS_ASSETS = "/api/v1/docs/assets/"
DESCRIPTION = """JSON API of the Sidan (四单联办) mini-program: residents report and rate,
volunteers and workers take and resolve, dispatchers dispatch, supervisors read figures.

Log in with `POST /api/v1/login` and send `Authorization: Bearer <token>`. Errors always look
like `{"error": {"code": "...", "message": "中文提示", "fields": {"score": ["应在 1 到 5 之间。"]}}}`
(`fields` only for a rejected body or query). Every answer is UTF-8 JSON. Lists take `limit` (at
most 50) and `offset`, and answer `304` to a matching `If-None-Match`.

Personal data follows one policy: the reporter, and the assignee once they have taken it, see
names, phones and the exact place; staff and offered volunteers see them masked (张**,
138****5678, the building but not the room); nobody else sees them.

Without `MINI_SECRET` (the embedded default) login accepts only `dev:<openid>` codes, so a
developer can log in as any demo user, e.g. `dev:demo_resident_1`.
"""


class SidanApi(Api):
    """flask-smorest's Api with our error schema, leaving app-wide error pages to bot.app."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are handled per blueprint (bot.api.errors.install), not app-wide."""


def _blueprints() -> dict:
    from bot.api import auth, dispatch, figures, grants, incentives, photos, tasks, tickets, votes

    modules = (auth, tickets, tasks, dispatch, figures, photos, incentives, grants, votes)
    return {m.blp.name: m.blp for m in modules}


def _configure(app, config) -> None:
    app.config.update(
        API_TITLE="Sidan mini-program API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI from the installed flask-swagger-ui wheel: the page works offline.
        OPENAPI_SWAGGER_UI_URL=getattr(config, "API_DOCS_CDN", None) or DOCS_ASSETS,
        # No badge from Swagger's online validator (the only request it would make outside).
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={
            "info": {"description": DESCRIPTION},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )


def _docs_assets(app) -> None:
    """Serve Swagger UI's JS and CSS from the flask-swagger-ui package (pinned in pyproject)."""
    from importlib.resources import files

    folder = str(files("flask_swagger_ui") / "dist")

    def asset(name):
        return send_from_directory(folder, name, max_age=86400)

    app.add_url_rule(f"{DOCS_ASSETS}<path:name>", "api_docs_asset", asset, methods=["GET"])


def init_app(app) -> None:
    """Register /api/v1 (with its OpenAPI document and docs page) and /open311/v2."""
    from bot import open311
    from bot.api import limits

    config = app.extensions["sidan"].config
    base = config.PUBLIC_BASE_URL.rstrip("/")
    app.extensions["sidan_api"] = {
        "storage": LocalStorage(config.MEDIA_ROOT, f"{base}/api/v1/photos"),
        "mini_client": None,
    }
    _configure(app, config)
    _docs_assets(app)
    api = SidanApi(app)
    blueprints = _blueprints()
    for blueprint in blueprints.values():
        api.register_blueprint(blueprint)
    limits.init_app(app, config, blueprints)
    open311.init_app(app)

    own = set(blueprints) | {open311.blueprint.name}

    @app.before_request
    def _body_cap():
        if request.blueprint in own and request.blueprint != "photos":
            request.max_content_length = JSON_BODY_MAX
