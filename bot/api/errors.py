"""One error shape for the API: {"error": {"code", "message", "fields"?}}, message in Chinese."""

import logging

import marshmallow as ma
from flask import jsonify
from werkzeug.exceptions import HTTPException

from models.errors import TicketError

log = logging.getLogger("sidan.api")

# Chinese messages for the HTTP errors the API can raise itself.
HTTP_MESSAGES = {
    400: "请求格式不对，请检查后再试。",
    401: "请先登录。",
    403: "您没有权限做这个操作。",
    404: "没有找到。",
    405: "不支持这种请求方式。",
    409: "操作冲突，请刷新后再试。",
    413: "内容太大了。",
    415: "不支持这种内容格式。",
    422: "填写的内容有误，请检查后再试。",
    429: "操作太频繁了，请稍后再试。",
}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Machine-readable code"})
    message = ma.fields.String(required=True, metadata={"description": "Polite Chinese text"})
    field_errors = ma.fields.Dict(
        data_key="fields", metadata={"description": "Per-field problems of a rejected body"}
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


class ApiError(Exception):
    """An HTTP-level refusal raised by API code (auth, uploads, lookups)."""

    def __init__(self, status: int, message: str | None = None, code: str | None = None):
        super().__init__(message or HTTP_MESSAGES.get(status, ""))
        self.status = status
        self.message = message or HTTP_MESSAGES.get(status, "请求有误。")
        self.code = code or HTTP_CODES.get(status, "error")


def error_response(status: int, code: str, message: str, fields=None, headers=None):
    """The one JSON error response of the API."""
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _ticket_error(exc: TicketError):
    return error_response(exc.http_status, exc.code, exc.message)


def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message)


def _http_error(exc: HTTPException):
    status = exc.code or 500
    fields = None
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # webargs validation errors: {"json": {"field": ["msg"]}} -> {"field": ["msg"]}
        fields = {}
        for location, part in data["messages"].items():
            fields.update(part if isinstance(part, dict) else {location: part})
    headers = {}
    if status == 429 and exc.get_response().headers.get("Retry-After"):
        headers["Retry-After"] = exc.get_response().headers["Retry-After"]
    message = HTTP_MESSAGES.get(status, "请求有误。")
    return error_response(status, HTTP_CODES.get(status, "error"), message, fields, headers)


def install(blueprint) -> None:
    """Give a blueprint the API's error shape for domain, API and HTTP errors."""
    blueprint.register_error_handler(TicketError, _ticket_error)
    blueprint.register_error_handler(ApiError, _api_error)
    blueprint.register_error_handler(HTTPException, _http_error)
