"""One error shape for the API: {"error": {"code", "message", "fields"?}}, message in Chinese."""

import logging
import re

import marshmallow as ma
from flask import jsonify
from marshmallow import fields as mf
from marshmallow import validate as mv
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


# -- field messages in Chinese --------------------------------------------------------------
# marshmallow and webargs speak English. Each of their message templates (taken from the
# installed classes, so a reworded upgrade still matches) maps to a Chinese one; anything
# unforeseen becomes FIELD_FALLBACK, so an API client never shows English to a resident.
_R = mv.Range
_FIELD_TEMPLATES = [
    (_R.message_all.format(min_op=_R.message_gte, max_op=_R.message_lte), "应在 {min} 到 {max} 之间。"),
    (_R.message_all.format(min_op=_R.message_gt, max_op=_R.message_lt), "应大于 {min} 且小于 {max}。"),
    (_R.message_min.format(min_op=_R.message_gte), "不能小于 {min}。"),
    (_R.message_min.format(min_op=_R.message_gt), "应大于 {min}。"),
    (_R.message_max.format(max_op=_R.message_lte), "不能大于 {max}。"),
    (_R.message_max.format(max_op=_R.message_lt), "应小于 {max}。"),
    (mv.Length.message_all, "长度应在 {min} 到 {max} 之间。"),
    (mv.Length.message_min, "太短了，至少 {min} 个字。"),
    (mv.Length.message_max, "太长了，最多 {max} 个字。"),
    (mv.Length.message_equal, "长度应为 {equal}。"),
    (mv.OneOf.default_message, "只能是其中之一：{choices}。"),
    (mv.Regexp.default_message, "格式不对。"),
    (mv.Equal.default_message, "应等于 {other}。"),
    (mf.Field.default_error_messages["required"], "必须填写。"),
    (mf.Field.default_error_messages["null"], "不能为空（null）。"),
    (mf.Field.default_error_messages["validator_failed"], "取值不对。"),
    (mf.String.default_error_messages["invalid"], "应为文字。"),
    (mf.String.default_error_messages["invalid_utf8"], "应为 UTF-8 文字。"),
    (mf.Integer.default_error_messages["invalid"], "应为整数。"),
    (mf.Number.default_error_messages["invalid"], "应为数字。"),
    (mf.Number.default_error_messages["too_large"], "数字太大了。"),
    (mf.Float.default_error_messages["special"], "不能是 NaN 或无穷大。"),
    (mf.Boolean.default_error_messages["invalid"], "应为 true 或 false。"),
    (mf.Date.default_error_messages["invalid"], "应为日期，如 2026-11-16。"),
    (
        mf.DateTime.default_error_messages["invalid"].format(obj_type="datetime"),
        "应为时间，如 2026-11-16T09:00:00+08:00。",
    ),
    (mf.List.default_error_messages["invalid"], "应为列表。"),
    (mf.Dict.default_error_messages["invalid"], "应为对象。"),
    (mf.Nested.default_error_messages["type"], "格式不对。"),
    (ma.Schema._default_error_messages["type"], "请求内容应为 JSON 对象。"),
    (ma.Schema._default_error_messages["unknown"], "不认识这一项，请去掉。"),
    ("Invalid JSON body.", "请求内容不是有效的 JSON。"),
]  # fmt: skip
FIELD_FALLBACK = "填写的内容有误。"


def _pattern(template: str) -> re.Pattern:
    escaped = re.escape(template)
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", escaped) + "$")


FIELD_MESSAGES = [(_pattern(english), chinese) for english, chinese in _FIELD_TEMPLATES]
CJK = re.compile(r"[\u4e00-\u9fff]")


def translate(message: str) -> str:
    """One marshmallow/webargs message in Chinese (ours, already Chinese, pass through)."""
    if CJK.search(message):
        return message
    for pattern, chinese in FIELD_MESSAGES:
        match = pattern.match(message)
        if match:
            return chinese.format(**match.groupdict())
    log.debug("untranslated field message: %s", message)
    return FIELD_FALLBACK


def translate_all(messages):
    """Every message of a nested {field: [msg] | {index: [msg]}} structure, in Chinese."""
    if isinstance(messages, dict):
        return {str(key): translate_all(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [translate_all(value) for value in messages]
    return translate(str(messages))


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
        fields = translate_all(fields)
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
