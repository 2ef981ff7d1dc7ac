"""Filing and reading tickets: classifier, place, photos, masking, pages and ETags."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import re

from handlers.classifier import classify
from models import lifecycle
from models.org import User
from tests.test_api_support import (  # noqa: F401
    api_app,
    api_config,
    auth,
    client,
    compound,
    file_ticket,
)


def create(client, headers, **body):
    return client.post("/api/v1/tickets", headers=headers, json=body)


def test_without_a_category_the_classifier_decides(client, auth, demo):
    text = "楼道里有人飞线充电，电线都冒烟了"

    body = create(client, auth(demo.resident_1), text=text).get_json()

    guess = classify(text)
    assert (body["category"], body["urgency"]) == (guess.category, str(guess.urgency))
    assert body["channel"] == "miniapp"


def test_a_point_picks_the_nearest_compound_within_500_m(client, auth, demo):
    place = compound("金桥花园")
    stranger = User.create(openid="no_home")

    near = create(client, auth(stranger), text="井盖丢了", lat=place.lat + 0.002, lng=place.lng)
    far = create(client, auth(stranger), text="井盖丢了", lat=place.lat + 0.02, lng=place.lng)

    assert near.status_code == 201 and near.get_json()["compound"]["id"] == place.id
    assert far.status_code == 400 and "小区" in far.get_json()["error"]["message"]


def test_bad_places_and_photos_are_4xx_and_file_nothing(client, auth, demo):
    headers = auth(demo.resident_1)
    before = client.get("/api/v1/tickets/mine", headers=headers).get_json()["items"]

    assert create(client, headers, text="x", compound_id=99999).status_code == 400
    assert create(client, headers, text="x", lat=30.0).status_code == 422
    assert create(client, headers, text="x", photos=["a" * 32 + ".jpg"]).status_code == 400
    assert create(client, headers, text="x", photos=["a" * 32 + ".jpg"] * 10).status_code == 422
    assert create(client, headers, text="").status_code == 422
    assert create(client, headers, text="x", category="weather").status_code == 422
    assert client.get("/api/v1/tickets/mine", headers=headers).get_json()["items"] == before


def test_personal_data_is_masked_for_everyone_but_reporter_and_assignee(client, auth, demo):
    ticket = file_ticket(demo.resident_1, building="3", room="301")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    path = f"/api/v1/tickets/{ticket.id}"
    reporter = demo.resident_1

    own = client.get(path, headers=auth(reporter)).get_json()
    pool_view = client.get(path, headers=auth(demo.volunteer_1)).get_json()
    staff_view = client.get(path, headers=auth(demo.dispatcher_1)).get_json()
    lifecycle.take(ticket.id, demo.volunteer_1)
    taker_view = client.get(path, headers=auth(demo.volunteer_1)).get_json()

    assert own["reporter"]["phone"] == reporter.phone and "301" in own["place"]
    for masked in (pool_view, staff_view):
        assert masked["reporter"]["phone"] != reporter.phone
        assert masked["reporter"]["name"] != reporter.name and "301" not in masked["place"]
        assert reporter.name not in str(masked["events"])
    assert taker_view["reporter"]["phone"] == reporter.phone and "301" in taker_view["place"]


def test_pages_are_capped_and_chained(client, auth, demo):
    headers = auth(demo.resident_1)
    made = [file_ticket(demo.resident_1, text=f"问题{i}").id for i in range(3)]

    first = client.get("/api/v1/tickets/mine?limit=2", headers=headers).get_json()
    second = client.get("/api/v1/tickets/mine?limit=2&offset=2", headers=headers).get_json()

    assert [t["id"] for t in first["items"] + second["items"]] == made[::-1]
    assert (first["next_offset"], second["next_offset"]) == (2, None)
    assert client.get("/api/v1/tickets/mine?limit=51", headers=headers).status_code == 422


def test_lists_answer_304_until_something_changes(client, auth, demo):
    headers = auth(demo.resident_1)
    file_ticket(demo.resident_1)
    first = client.get("/api/v1/tickets/mine", headers=headers)
    etag = first.headers["ETag"]

    same = client.get("/api/v1/tickets/mine", headers={**headers, "If-None-Match": etag})
    file_ticket(demo.resident_1, text="又一个问题")
    changed = client.get("/api/v1/tickets/mine", headers={**headers, "If-None-Match": etag})

    assert same.status_code == 304 and same.data == b""
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_pool_respects_skills_and_distance(client, auth, demo):
    lamp = file_ticket(demo.resident_1)  # power_lighting: 电工, which volunteer_1 has
    help_needed = file_ticket(demo.resident_2, text="帮老人买菜", category="elderly_help")
    for ticket in (lamp, help_needed):
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    headers = auth(demo.volunteer_1)

    fitting = client.get("/api/v1/pool", headers=headers).get_json()["items"]
    everything = client.get("/api/v1/pool?match_skills=false", headers=headers).get_json()
    far_away = client.get("/api/v1/pool?lat=30.30&lng=120.30&radius_m=1000", headers=headers)

    assert [t["id"] for t in fitting] == [lamp.id]
    assert {t["id"] for t in everything["items"]} == {lamp.id, help_needed.id}
    assert all(t["distance_m"] is not None for t in everything["items"])
    assert far_away.get_json()["items"] == []


def test_pool_lists_orders_in_the_same_order_as_chat(client, auth, demo, chat):
    pets = file_ticket(demo.resident_1, text="狗一直叫", category="pets")
    lamp = file_ticket(demo.resident_2, text="路灯坏了", category="power_lighting")
    for ticket in (pets, lamp):
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    for volunteer in (demo.volunteer_1, demo.volunteer_3):  # electrician, mediator
        api = client.get("/api/v1/pool?match_skills=false", headers=auth(volunteer))
        api_order = [t["id"] for t in api.get_json()["items"]]
        reply = chat(volunteer.openid).say("附近工单")
        chat_order = [int(n) for n in re.findall(r"^#(\d+) ", reply, re.M)]
        assert api_order == chat_order and len(api_order) == 2
    assert chat_order == [pets.id, lamp.id]  # the mediator sees the dog first


def test_a_worker_sees_orders_sent_to_their_unit_in_chat(demo, chat):
    from models.org import WorkUnit

    ticket = file_ticket(demo.resident_1, text="单元门禁坏了", category="public_facility")
    lifecycle.dispatch(
        ticket.id, demo.dispatcher_1, to_unit=WorkUnit.get(WorkUnit.name == "红管家物业")
    )
    assert f"#{ticket.id} " in chat("demo_worker_1").say("附近工单")
