"""API and Open311 input that used to 500: deep JSON, NUL, lone surrogates, odd dates, floats,
huge images, duplicate external ids posted at once, floods."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import io
import json
import struct
import threading
import zlib

import pytest

from models import lifecycle
from models.tickets import Ticket
from tests.test_api_support import api_app, api_config, auth, client, file_ticket  # noqa: F401

OPEN311 = "/open311/v2/requests.json"


def open311_form(**extra) -> dict:
    return {"api_key": "test-key", "service_code": "power_lighting", "description": "路灯不亮",
            "address_id": "1", **extra}  # fmt: skip


def test_deeply_nested_json_is_a_400(client, auth, demo):
    body = "[" * 30000
    for path in ("/api/v1/tickets", "/api/v1/login"):
        response = client.post(path, data=body, headers={**auth(demo.resident_1),
                               "Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 400, path
    response = client.post(OPEN311, data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("text", ["路灯\u0000坏了", "路灯\ud800坏了"], ids=["nul", "surrogate"])
def test_text_that_cannot_be_stored_is_a_400(client, auth, demo, text):
    # As a client sends it: JSON text with \u escapes (a lone surrogate has no UTF-8 form).
    body = json.dumps({"text": text, "compound_id": 1})
    response = client.post("/api/v1/tickets", data=body, content_type="application/json",
                           headers=auth(demo.resident_1))  # fmt: skip
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert Ticket.select().count() == 0


@pytest.mark.parametrize("field", ["description", "first_name", "service_request_id", "email"])
def test_nul_in_open311_fields_is_a_400(client, demo, field):
    response = client.post(OPEN311, data=open311_form(**{field: "a\u0000b"}))
    assert response.status_code == 400
    escaped = json.dumps(open311_form(**{field: "a\ud800b"}))
    json_body = client.post(OPEN311, data=escaped, content_type="application/json")
    assert json_body.status_code == 400
    query = client.get("/open311/v2/requests.json?status=open%00")
    assert query.status_code == 400
    assert Ticket.select().count() == 0


@pytest.mark.parametrize("start, end", [("0001-01-01", "0001-01-05"), ("9999-12-25", "9999-12-31"),
                                        (None, "9999-12-31")])  # fmt: skip
def test_figures_for_impossible_years_are_a_422(client, auth, demo, start, end):
    query = f"end={end}" + (f"&start={start}" if start else "")
    response = client.get(f"/api/v1/figures?{query}", headers=auth(demo.supervisor_1))
    assert response.status_code == 422


def test_a_score_of_five_and_a_half_is_refused_not_rounded(client, auth, demo):
    ticket = file_ticket(demo.resident_1)
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, note="修好了")
    response = client.post(f"/api/v1/tickets/{ticket.id}/rate", json={"score": 5.5},
                           headers=auth(demo.resident_1))  # fmt: skip
    assert response.status_code == 422
    assert Ticket.get_by_id(ticket.id).score is None


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size (header only): enough for a decoder to refuse it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_20000_by_20000_png_is_too_large_not_the_wrong_type(client, auth, demo):
    data = {"file": (io.BytesIO(png_header(20000, 20000)), "big.png")}
    response = client.post("/api/v1/photos", headers=auth(demo.resident_1), data=data)
    assert response.status_code == 413


def test_ten_concurrent_open311_posts_with_one_id_file_one_ticket(api_app, demo):
    barrier = threading.Barrier(10)
    statuses = []

    def post():
        with api_app.test_client() as own:
            barrier.wait()
            response = own.post(OPEN311, data=open311_form(service_request_id="EXT-42"))
            statuses.append((response.status_code, response.get_json()[0]["service_request_id"]))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Ticket.select().where(Ticket.external_ref == "EXT-42").count() == 1
    assert sorted(code for code, _ in statuses).count(201) == 1
    assert {number for _, number in statuses} == {str(Ticket.get().id)}


def test_open311_creation_is_rate_limited(api_app, demo):
    api_app.extensions["sidan"].config.OPEN311_RATE_LIMIT = "3/minute"
    from bot.app import create_app

    limited = create_app(api_app.extensions["sidan"].config).test_client()
    codes = [limited.post(OPEN311, data=open311_form(description=f"路灯{i}")).status_code
             for i in range(4)]  # fmt: skip
    assert codes == [201, 201, 201, 429]
    assert Ticket.select().count() == 3
