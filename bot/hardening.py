"""Input that must never reach the database as it came: deep JSON, NUL, lone surrogates.

PostgreSQL refuses NUL in text and cannot store a lone surrogate, and Python's JSON parser
recurses once per nesting level: each would otherwise surface as a 500 deep in a handler.
"""

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32


class BadText(ValueError):
    """Text that cannot be stored."""


def check_text(value: str) -> None:
    """Refuse NUL and anything that is not encodable as UTF-8 (lone surrogates)."""
    if "\x00" in value:
        raise BadText("NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadText("not valid Unicode text") from None


def check_tree(value, depth: int = 0) -> None:
    """Walk parsed JSON: bounded depth, storable strings (keys too)."""
    if depth > MAX_DEPTH:
        raise BadText("nested too deeply")
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_tree(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_tree(item, depth + 1)


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing what check_tree refuses (as a 400, via ValueError).

    It is the app's one JSON (API, Open311, error pages): Chinese as UTF-8, not \\uXXXX."""

    ensure_ascii = False
    mimetype = "application/json; charset=utf-8"

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise BadText("nested too deeply") from None
        check_tree(value)
        return value


def init_app(app: Flask) -> None:
    """Install the JSON provider and refuse NUL or bad text in query strings and forms."""
    app.json_provider_class = SafeJSONProvider
    app.json = SafeJSONProvider(app)

    @app.before_request
    def _refuse_bad_text():
        try:
            for source in (request.args, request.form) if _has_form() else (request.args,):
                for key, value in source.items(multi=True):
                    check_text(key)
                    check_text(value)
        except BadText:
            abort(400)
        if request.is_json and request.content_length:
            # webargs parses the body with json.loads on its own: check it here first (the
            # parsed body is cached, and the API caps bodies at 64 KB).
            request.get_json()


def _has_form() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
