"""The dispatcher's corrections through the API: 改类, merges that need a confirmation, 撤销合并."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

from models import lifecycle
from models.corrections import Correction
from models.enums import Level, State
from models.tickets import Ticket
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401


def post(client, headers, path, body=None):
    return client.post(path, headers=headers, json=body or {})


def lamp(demo):
    return lifecycle.submit(demo.resident_1, "3号楼楼道灯坏了", "power_lighting", building="3")


def test_recategorize_by_code_or_chinese_name_writes_one_correction_each(client, auth, demo):
    ticket, dispatcher = lamp(demo), auth(demo.dispatcher_1)
    path = f"/api/v1/tickets/{ticket.id}/recategorize"
    response = post(client, dispatcher, path, {"category": "elevator", "urgency": "urgent"})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["category"], response.get_json()["urgency"]) == (
        "elevator", "urgent",
    )  # fmt: skip
    again = post(client, dispatcher, path, {"category": "物业收费", "urgency": "热点"})
    assert again.status_code == 200 and again.get_json()["level"] == Level.STREET
    pairs = [(c.old_category, c.new_category) for c in Correction.select().order_by(Correction.id)]
    assert pairs == [("power_lighting", "elevator"), ("elevator", "property_fee")]


def test_recategorize_refuses_unknown_categories_wrong_roles_and_no_change(client, auth, demo):
    ticket = lamp(demo)
    path = f"/api/v1/tickets/{ticket.id}/recategorize"
    dispatcher = auth(demo.dispatcher_1)
    assert post(client, dispatcher, path, {"category": "外星人"}).status_code == 400
    assert (
        post(client, dispatcher, path, {"category": "elevator", "urgency": "x"}).status_code == 422
    )
    assert post(client, dispatcher, path, {"category": "power_lighting"}).status_code == 409
    assert post(client, auth(demo.volunteer_1), path, {"category": "elevator"}).status_code == 403
    assert post(client, auth(demo.supervisor_1), path, {"category": "elevator"}).status_code == 403
    assert Correction.select().count() == 0


def test_merging_unlike_tickets_needs_confirm_and_unmerge_restores(client, auth, demo):
    light = lamp(demo)
    trapped = lifecycle.submit(demo.resident_2, "电梯困人了", "elevator", "urgent", building="3")
    dispatcher = auth(demo.dispatcher_1)
    path = f"/api/v1/tickets/{trapped.id}/merge"
    refused = post(client, dispatcher, path, {"into": light.id})
    assert refused.status_code == 409 and "不是同一件事" in refused.get_json()["error"]["message"]
    assert Ticket.get_by_id(trapped.id).state == State.SUBMITTED
    merged = post(client, dispatcher, path, {"into": light.id, "confirm": True})
    assert merged.status_code == 200 and merged.get_json()["merged_into"] == light.id
    undone = post(client, dispatcher, f"/api/v1/tickets/{trapped.id}/unmerge")
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["state"] == State.SUBMITTED
    assert undone.get_json()["merged_into"] is None
    assert post(client, dispatcher, f"/api/v1/tickets/{trapped.id}/unmerge").status_code == 409


def test_the_timeline_names_a_correction(client, auth, demo):
    ticket, dispatcher = lamp(demo), auth(demo.dispatcher_1)
    post(client, dispatcher, f"/api/v1/tickets/{ticket.id}/recategorize", {"category": "电梯"})
    events = client.get(f"/api/v1/tickets/{ticket.id}", headers=dispatcher).get_json()["events"]
    assert events[-1]["action_name"] == "改类"
