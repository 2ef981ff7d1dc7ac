"""Open311 GeoReport v2: field lists, JSON and XML, filters, POST through submit."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import xml.etree.ElementTree as ET

import pytest

from bot import open311
from models import lifecycle
from models.outbox import Outbound
from models.routing import CATEGORY_CODES, routing
from models.tickets import Ticket
from tests.test_api_support import (  # noqa: F401
    api_app,
    api_config,
    auth,
    client,
    compound,
    file_ticket,
)

DISCOVERY_FIELDS = {"changeset", "contact", "key_service", "endpoints"}
ENDPOINT_FIELDS = {"specification", "url", "changeset", "type", "formats"}
SERVICE_FIELDS = {
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
}  # fmt: skip
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
}  # fmt: skip
CREATED_FIELDS = {"service_request_id", "service_notice", "account_id"}
BASE = "/open311/v2"


def new_request(client, **form):
    data = {"api_key": "test-key", "service_code": "power_lighting", "description": "路灯不亮"}
    data.update(form)
    return client.post(f"{BASE}/requests.json", data=data)


def xml_items(response, root: str, item: str) -> list[dict]:
    tree = ET.fromstring(response.data)
    assert tree.tag == root
    return [{child.tag: child.text for child in element} for element in tree.findall(item)]


def test_discovery_lists_the_endpoint_in_both_formats(client):
    body = client.get(f"{BASE}/discovery.json").get_json()

    assert set(body) == DISCOVERY_FIELDS
    (endpoint,) = body["endpoints"]
    assert set(endpoint) == ENDPOINT_FIELDS
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert {"application/json", "text/xml"} == set(endpoint["formats"])
    tree = ET.fromstring(client.get(f"{BASE}/discovery.xml").data)
    assert tree.tag == "discovery"
    assert [f.text for f in tree.find("endpoints/endpoint/formats")] == endpoint["formats"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_our_21_categories_with_chinese_names(client, fmt):
    response = client.get(f"{BASE}/services.{fmt}")

    assert response.status_code == 200
    items = response.get_json() if fmt == "json" else xml_items(response, "services", "service")
    assert [s["service_code"] for s in items] == list(CATEGORY_CODES)
    assert all(set(s) == SERVICE_FIELDS for s in items)
    names = {s["service_code"]: s["service_name"] for s in items}
    assert names["fire_safety"] == "消防安全" == routing().category("fire_safety").name
    assert response.mimetype == ("application/json" if fmt == "json" else "text/xml")


def test_service_definition_and_unknown_service(client):
    assert client.get(f"{BASE}/services/noise.json").get_json()["attributes"] == []
    missing = client.get(f"{BASE}/services/nope.json")
    assert missing.status_code == 404
    assert set(missing.get_json()[0]) == {"code", "description"}


def test_post_creates_a_ticket_the_dispatcher_is_told_about(client, auth, demo):
    place = compound("幸福里小区")

    response = new_request(client, lat=str(place.lat + 0.001), long=str(place.lng))

    assert response.status_code == 201
    (created,) = response.get_json()
    assert set(created) == CREATED_FIELDS
    ticket = Ticket.get_by_id(int(created["service_request_id"]))
    assert (ticket.channel, ticket.compound_id, ticket.category) == (
        "open311", place.id, "power_lighting",
    )  # fmt: skip
    told = Outbound.select().where(
        (Outbound.user == demo.dispatcher_1) & (Outbound.ticket == ticket)
    )
    assert told.exists()
    queue = client.get("/api/v1/queue", headers=auth(demo.dispatcher_1)).get_json()["items"]
    assert ticket.id in [t["id"] for t in queue]


def test_a_hotline_id_is_kept_and_a_repeat_returns_the_same_ticket(client, demo):
    place = compound("丹桂苑")
    form = {"address_id": str(place.id), "service_request_id": "12345-2026-0001"}

    first = new_request(client, **form)
    again = new_request(client, **form)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    ticket = Ticket.get_by_id(int(first.get_json()[0]["service_request_id"]))
    assert ticket.external_ref == "12345-2026-0001"


def test_reporters_are_one_user_per_phone_or_the_system_user(client, demo):
    place = str(compound("丹桂苑").id)
    a = new_request(client, address_id=place, phone="13911112222", last_name="王")
    b = new_request(client, address_id=place, phone="13911112222")
    c = new_request(client, address_id=place)

    ids = [int(r.get_json()[0]["service_request_id"]) for r in (a, b, c)]
    reporters = [Ticket.get_by_id(i).reporter for i in ids]
    assert reporters[0].id == reporters[1].id and reporters[0].phone == "13911112222"
    assert reporters[2].openid == "open311" and not reporters[2].subscribed


@pytest.mark.parametrize(
    "form, status",
    [
        ({"api_key": "wrong"}, 403),
        ({"api_key": ""}, 403),
        ({"service_code": "nope"}, 400),
        ({"description": " "}, 400),
        ({}, 400),  # no place at all
        ({"lat": "10", "long": "10"}, 400),  # nowhere near a compound
        ({"lat": "abc", "long": "1"}, 400),
        ({"address_id": "999999"}, 400),
        ({"address_id": "-1"}, 400),
    ],
)
def test_bad_posts_get_open311_errors(client, demo, form, status):
    response = new_request(client, **form)

    assert response.status_code == status
    (error,) = response.get_json()
    assert set(error) == {"code", "description"} and error["code"] == status
    assert Ticket.select().count() == 0


def test_errors_in_xml_follow_the_spec(client, demo):
    response = client.post(f"{BASE}/requests.xml", data={"api_key": "wrong"})

    assert response.status_code == 403
    (error,) = xml_items(response, "errors", "error")
    assert error["code"] == "403" and error["description"]


def test_get_requests_has_every_field_and_status_notes_from_the_state(client, demo):
    ticket = file_ticket(demo.resident_1, text="路灯坏了，电话13812345678")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.report_progress(ticket.id, demo.volunteer_1, "明天上午来换")

    (item,) = client.get(f"{BASE}/requests.json").get_json()

    assert set(item) == REQUEST_FIELDS
    # No resident's or volunteer's words in public unless OPEN311_PUBLIC_TEXT (test_privacy).
    assert item["status"] == "open" and item["status_notes"] == "正在办理。"
    assert item["description"] == "" and "13812345678" not in str(item)
    assert item["requested_datetime"].endswith("+08:00")
    (one,) = xml_items(
        client.get(f"{BASE}/requests/{ticket.id}.xml"), "service_requests", "request"
    )
    assert set(one) == REQUEST_FIELDS and one["service_request_id"] == str(ticket.id)


def test_filters_by_status_service_and_dates(client, demo):
    open_one = file_ticket(demo.resident_1)
    closed_one = file_ticket(demo.resident_2, text="垃圾没清", category="sanitation")
    lifecycle.close(closed_one.id, demo.dispatcher_1, "重复反映")

    def ids(query):
        response = client.get(f"{BASE}/requests.json?{query}")
        assert response.status_code == 200
        return [int(r["service_request_id"]) for r in response.get_json()]

    assert ids("status=open") == [open_one.id]
    assert ids("status=closed") == [closed_one.id]
    assert ids("service_code=sanitation") == [closed_one.id]
    assert ids("start_date=2030-01-01T00:00:00Z") == []
    assert ids("end_date=2030-01-01T00:00:00%2B08:00") == [closed_one.id, open_one.id]
    assert ids(f"service_request_id={open_one.id},{closed_one.id}") == [closed_one.id, open_one.id]


@pytest.mark.parametrize(
    "query", ["status=pending", "service_code=x", "start_date=yesterday", "service_request_id=a"]
)
def test_bad_filters_are_400(client, query):
    response = client.get(f"{BASE}/requests.json?{query}")

    assert response.status_code == 400
    assert response.get_json()[0]["code"] == 400


def test_lists_are_capped(client, demo, monkeypatch):
    monkeypatch.setattr(open311, "MAX_RESULTS", 2)
    for _ in range(3):
        file_ticket(demo.resident_1)

    assert len(client.get(f"{BASE}/requests.json").get_json()) == 2


def test_unknown_request_and_format(client):
    assert client.get(f"{BASE}/requests/999.json").status_code == 404
    assert client.get(f"{BASE}/requests/999.json").get_json()[0]["code"] == 404
    assert client.get(f"{BASE}/requests.csv").status_code == 404
