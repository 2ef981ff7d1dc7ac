"""One error shape and one JSON encoding for the whole API, with field errors in Chinese.

A sweep sends bad input to every operation of the served OpenAPI document, as every role,
and checks each refusal: the same envelope, UTF-8 JSON with Chinese as is, and no English.
"""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import re

import pytest

from bot.api.errors import translate
from models import lifecycle
from tests.test_api_support import (  # noqa: F401
    api_app,
    api_config,
    auth,
    client,
    compound,
    file_ticket,
)

ROLES = ("resident_1", "volunteer_1", "worker_1", "dispatcher_1", "supervisor_1")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Words of marshmallow's and webargs' English messages (JSON, true, null … are fine in Chinese).
ENGLISH = re.compile(
    r"\b(?:Must|Not|valid|Missing|Unknown|Length|Longer|Shorter|Invalid|field|value|equal|"
    r"between|pattern|one of|greater|less|input|type|data|body)\b"
)
JSON_TYPE = "application/json; charset=utf-8"
METHODS = {"get", "post", "put", "patch", "delete"}
WRONG = {"integer": "abc", "number": "abc", "string": ["x"], "boolean": "maybe", "array": 5}


def messages_in(value):
    """Every string message of an error body's `fields` (nested dicts and lists)."""
    if isinstance(value, dict):
        for part in value.values():
            yield from messages_in(part)
    elif isinstance(value, list):
        for part in value:
            yield from messages_in(part)
    else:
        yield value


def assert_one_shape(response) -> dict:
    """{"error": {"code", "message", "fields"?}}, UTF-8 JSON, Chinese, nothing else."""
    assert response.content_type == JSON_TYPE, response.content_type
    raw = response.get_data(as_text=True)
    assert "\\u" not in raw and CJK.search(raw), raw  # Chinese as is, not \uXXXX escapes
    body = response.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "fields"} and {"code", "message"} <= set(error)
    assert re.fullmatch(r"[a-z_]+", error["code"]) and CJK.search(error["message"]), error
    for message in messages_in(error.get("fields", {})):
        assert CJK.search(message) and not ENGLISH.search(message), error
    return error


def _schema_of(document, ref_or_schema):
    ref = ref_or_schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def bad_request_for(document, path: str, method: str, op: dict, ticket_id: int) -> dict:
    """The request `op` refuses: unknown fields, and a wrong type in every known one."""
    # Every id in the path names a real row's id (the ticket's): the body is what is wrong.
    kwargs = {"path": re.sub(r"\{\w+_id\}", str(ticket_id), path)}
    query = {p["name"]: WRONG.get(p["schema"].get("type"), "?") for p in op.get("parameters", [])
             if p["in"] == "query"}  # fmt: skip
    if query or method == "get":
        kwargs["query_string"] = {**query, "zzz": "1"}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = _schema_of(document, content["application/json"]["schema"])
        props = schema.get("properties", {})
        kwargs["json"] = {name: WRONG.get(p.get("type"), 5) for name, p in props.items()}
        kwargs["json"]["zzz"] = 1
    elif "multipart/form-data" in content:
        kwargs["data"] = {"not_the_file": "x"}
    return kwargs


@pytest.fixture
def ticket(demo):
    made = file_ticket(demo.resident_1)
    lifecycle.dispatch(made.id, demo.dispatcher_1, to_pool=True)
    return made


def test_every_operation_refuses_bad_input_in_one_chinese_shape(client, auth, demo, ticket):
    document = client.get("/api/v1/openapi.json").get_json()
    headers = [auth(demo[f"demo_{who}"]) for who in ROLES]
    validated, refusals = set(), 0

    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if method not in METHODS or path == "/api/v1/logout":
                continue  # logout would end the sessions the sweep relies on
            request = bad_request_for(document, path, method, op, ticket.id)
            for who in headers:
                response = client.open(method=method.upper(), headers=who, **request)
                assert response.status_code < 500, (method, path, response.get_data())
                if response.status_code >= 400:
                    refusals += 1
                    error = assert_one_shape(response)
                    if response.status_code in (400, 422) and error.get("fields"):
                        validated.add(f"{method.upper()} {path}")

    with_input = {
        f"{m.upper()} {p}" for p, ops in document["paths"].items() for m, op in ops.items()
        if m in METHODS and (op.get("requestBody") or any(x["in"] == "query" for x in op.get("parameters", [])))
        and p != "/api/v1/logout"
    }  # fmt: skip
    assert refusals > len(with_input)
    assert with_input <= validated, sorted(with_input - validated)


@pytest.mark.parametrize(
    "method, path, body, field, message",
    [
        ("post", "/tickets/{id}/rate", {"score": 9}, "score", "应在 1 到 5 之间。"),
        ("get", "/tickets/mine?limit=0", None, "limit", "应在 1 到 50 之间。"),
        ("get", "/tickets/mine?limit=abc", None, "limit", "应为整数。"),
        ("get", "/tickets/mine?state=lost", None, "state", "只能是其中之一："),
        ("post", "/tickets", {"text": ""}, "text", "长度应在 1 到 2000 之间。"),
        ("post", "/tickets", {"text": "灯坏了", "room": None}, "room", "不能为空（null）。"),
        ("post", "/tickets", {"text": "灯坏了", "zzz": 1}, "zzz", "不认识这一项，请去掉。"),
        ("post", "/tickets", {}, "text", "必须填写。"),
        ("post", "/login", {}, "code", "必须填写。"),
    ],
)
def test_field_errors_read_in_chinese(client, auth, demo, method, path, body, field, message):
    ticket = file_ticket(demo.resident_1)
    url = "/api/v1" + path.replace("{id}", str(ticket.id))

    response = client.open(url, method=method.upper(), headers=auth(demo.resident_1), json=body)

    error = assert_one_shape(response)
    assert response.status_code == 422 and error["code"] == "invalid"
    assert error["fields"][field][0].startswith(message), error


@pytest.mark.parametrize(
    "request_kw, status",
    [
        ({"path": "/api/v1/tickets", "method": "POST", "data": "{oops",
          "content_type": "application/json"}, 400),
        ({"path": "/api/v1/tickets", "method": "POST", "json": [1, 2]}, 422),
        ({"path": "/api/v1/nowhere", "method": "GET"}, 404),
        ({"path": "/api/v1/tickets/mine", "method": "DELETE"}, 405),
        ({"path": "/api/v1/tickets/999999", "method": "GET"}, 404),
    ],
)  # fmt: skip
def test_broken_requests_get_the_same_envelope(client, auth, demo, request_kw, status):
    response = client.open(headers=auth(demo.resident_1), **request_kw)

    assert response.status_code == status
    assert_one_shape(response)


def test_a_missing_login_gets_the_same_envelope(client):
    response = client.get("/api/v1/me")

    assert response.status_code == 401 and assert_one_shape(response)["code"] == "unauthorized"


def test_successes_share_one_json_encoding(client, auth, demo):
    ticket = file_ticket(demo.resident_1)
    headers = auth(demo.resident_1)
    responses = {
        "detail (flask-smorest)": client.get(f"/api/v1/tickets/{ticket.id}", headers=headers),
        "list (ETag)": client.get("/api/v1/tickets/mine", headers=headers),
        "profile": client.get("/api/v1/me", headers=headers),
        "open311": client.get("/open311/v2/services.json"),
    }

    for name, response in responses.items():
        raw = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert response.content_type == JSON_TYPE, name
        assert CJK.search(raw) and "\\u" not in raw, name


def test_open311_errors_keep_their_own_spec_shape_in_chinese(client):
    response = client.get("/open311/v2/requests.json?status=pending")

    assert response.status_code == 400 and response.content_type == JSON_TYPE
    ((error),) = response.get_json()
    assert set(error) == {"code", "description"} and CJK.search(error["description"])


def test_unforeseen_english_never_reaches_a_client():
    assert translate("Some message marshmallow adds next year.") == "填写的内容有误。"
    assert translate("请只选一个：user_id、work_unit_id 或 pool。").startswith("请只选一个")


def test_a_vanishingly_small_coordinate_is_stored_not_a_crash(client, auth, demo):
    body = {"text": "路灯不亮", "lat": -1.2094842534011944e-58, "lng": 120.1551}

    response = client.post("/api/v1/tickets", headers=auth(demo.resident_1), json=body)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["lat"] == 0.0
