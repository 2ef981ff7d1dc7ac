"""Each role's full loop through the API alone, and a loop mixing chat (lifecycle) and API."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import io

from models import lifecycle
from models.enums import State
from models.tickets import PointsEntry, Ticket, TicketEvent
from tests.test_api_support import (  # noqa: F401
    api_app,
    api_config,
    auth,
    client,
    compound,
    file_ticket,
    jpeg_bytes,
)


def upload(client, headers) -> str:
    data = {"file": (io.BytesIO(jpeg_bytes()), "scene.jpg")}
    response = client.post("/api/v1/photos", headers=headers, data=data)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def post(client, headers, path, body=None, status=200):
    response = client.post(path, headers=headers, json=body or {})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_resident_volunteer_dispatcher_loop_through_the_api(client, auth, demo):
    resident, dispatcher = auth(demo.resident_1), auth(demo.dispatcher_1)
    volunteer = auth(demo.volunteer_1)
    photo = upload(client, resident)
    created = post(
        client, resident, "/api/v1/tickets",
        {"text": "3号楼楼道灯坏了", "category": "power_lighting", "building": "3",
         "photos": [photo]},
        status=201,
    )  # fmt: skip
    number = created["id"]
    assert created["state"] == State.SUBMITTED and created["photos"][0]["id"] == photo

    queue = client.get("/api/v1/queue", headers=dispatcher).get_json()["items"]
    assert [t["id"] for t in queue] == [number]
    post(client, dispatcher, f"/api/v1/tickets/{number}/dispatch", {"pool": True})

    pool = client.get("/api/v1/pool", headers=volunteer).get_json()["items"]
    assert number in [t["id"] for t in pool]
    post(client, volunteer, f"/api/v1/tickets/{number}/take")
    post(client, volunteer, f"/api/v1/tickets/{number}/progress", {"note": "已买好灯泡"})
    fix_photo = upload(client, volunteer)
    post(client, volunteer, f"/api/v1/tickets/{number}/resolve",
         {"note": "已更换", "photos": [fix_photo]})  # fmt: skip
    tasks = client.get("/api/v1/tasks", headers=volunteer).get_json()["items"]
    assert [t["state"] for t in tasks] == [State.RESOLVED]

    rated = post(client, resident, f"/api/v1/tickets/{number}/rate", {"score": 5})

    assert rated["state"] == State.CLOSED and rated["score"] == 5
    actions = [e["action"] for e in rated["events"]]
    assert actions == ["submit", "dispatch", "take", "progress", "resolve", "rate"]
    assert rated["events"][4]["photos"][0]["id"] == fix_photo
    points = client.get("/api/v1/points", headers=volunteer).get_json()
    assert points["total"] > 0 and points["items"][0]["ticket_id"] == number


def test_worker_loop_with_unhappy_rating_escalate_reassign_and_close(client, auth, demo):
    resident, dispatcher = auth(demo.resident_1), auth(demo.dispatcher_1)
    worker = auth(demo.worker_1)
    number = post(client, resident, "/api/v1/tickets",
                  {"text": "电梯异响", "category": "elevator"}, status=201)["id"]  # fmt: skip
    post(client, dispatcher, f"/api/v1/tickets/{number}/dispatch",
         {"work_unit_id": demo.worker_1.work_unit_id})  # fmt: skip
    offered = client.get("/api/v1/pool", headers=worker).get_json()["items"]
    assert [t["id"] for t in offered] == [number]
    post(client, worker, f"/api/v1/tickets/{number}/take")
    post(client, worker, f"/api/v1/tickets/{number}/resolve", {"note": "已检修"})

    reopened = post(client, resident, f"/api/v1/tickets/{number}/rate",
                    {"score": 1, "comment": "还在响"})  # fmt: skip
    assert reopened["state"] == State.SUBMITTED and reopened["level"] == "community"

    escalated = post(client, dispatcher, f"/api/v1/tickets/{number}/escalate", {"reason": "难"})
    assert escalated["level"] == "street"
    target = {"work_unit_id": demo.worker_1.work_unit_id}
    refused = client.post(f"/api/v1/tickets/{number}/reassign", headers=dispatcher, json=target)
    assert refused.status_code == 403  # the street owns it now
    street = auth(demo[f"street_{Ticket.get_by_id(number).org_unit_id}_dispatcher"])
    post(client, street, f"/api/v1/tickets/{number}/dispatch", target)
    post(client, worker, f"/api/v1/tickets/{number}/take")
    post(client, worker, f"/api/v1/tickets/{number}/resolve", {"note": "更换了导轨"})
    closed = post(client, resident, f"/api/v1/tickets/{number}/rate", {"score": 3})
    assert closed["state"] == State.CLOSED


def test_dispatcher_reassign_assist_merge_close_and_hand_back(client, auth, demo):
    resident, dispatcher = auth(demo.resident_1), auth(demo.dispatcher_1)
    volunteer, other = auth(demo.volunteer_1), auth(demo.volunteer_2)
    first = post(client, resident, "/api/v1/tickets",
                 {"text": "楼下垃圾没人清", "category": "sanitation"}, status=201)["id"]  # fmt: skip
    dup = post(client, auth(demo.resident_2), "/api/v1/tickets",
               {"text": "垃圾堆了三天", "category": "sanitation"}, status=201)["id"]  # fmt: skip

    post(client, dispatcher, f"/api/v1/tickets/{first}/dispatch", {"user_id": demo.volunteer_1.id})
    post(client, volunteer, f"/api/v1/tickets/{first}/take")
    handed = post(client, volunteer, f"/api/v1/tickets/{first}/hand-back", {"reason": "缺少工具"})
    assert handed["state"] == State.SUBMITTED and handed["assignee"] is None
    post(client, dispatcher, f"/api/v1/tickets/{first}/reassign", {"user_id": demo.volunteer_2.id})
    post(client, other, f"/api/v1/tickets/{first}/take")
    assisted = post(client, dispatcher, f"/api/v1/tickets/{first}/assist",
                    {"work_unit_id": demo.worker_1.work_unit_id})  # fmt: skip
    assert assisted["assists"] == [demo.worker_1.work_unit.name]
    merged = post(client, dispatcher, f"/api/v1/tickets/{dup}/merge", {"into": first})
    assert merged["state"] == State.CLOSED and merged["merged_into"] == first

    closed = post(client, dispatcher, f"/api/v1/tickets/{first}/close", {"reason": "已线下处理"})

    assert closed["state"] == State.CLOSED


def test_resident_urges_then_cancels(client, auth, demo):
    resident = auth(demo.resident_1)
    number = post(client, resident, "/api/v1/tickets", {"text": "小区门禁坏了"}, status=201)["id"]

    post(client, resident, f"/api/v1/tickets/{number}/urge", {"note": "请快一点"})
    again = client.post(f"/api/v1/tickets/{number}/urge", headers=resident, json={})
    cancelled = post(client, resident, f"/api/v1/tickets/{number}/cancel", {"reason": "自己修好了"})

    assert again.status_code == 429 and again.get_json()["error"]["code"] == "rate"
    assert cancelled["state"] == State.CANCELLED


def window_of(start: str, end: str):
    """[start 00:00, end+1 00:00) Beijing time, as the API reads its dates."""
    from datetime import date, datetime, time, timedelta

    from models.clock import from_local

    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return (
        from_local(datetime.combine(first, time.min)),
        from_local(datetime.combine(last + timedelta(days=1), time.min)),
    )


def test_supervisor_reads_the_digest_figures_of_their_subtree(client, auth, demo):
    resident = auth(demo.resident_1)
    for text in ("路灯坏了", "楼道堆物"):
        post(client, resident, "/api/v1/tickets", {"text": text}, status=201)

    response = client.get("/api/v1/figures", headers=auth(demo.supervisor_1))

    assert response.status_code == 200
    body = response.get_json()
    assert body["unit"]["id"] == demo.supervisor_1.org_unit_id
    assert body["figures"]["new"] == 2 and "satisfaction_rate" in body["figures"]
    # The same numbers the digest pushes to this supervisor.
    from bot.api.figures import digest_figures

    assert body["figures"] == digest_figures(
        demo.supervisor_1.org_unit, *window_of(body["start"], body["end"])
    )


def test_figures_of_a_unit_outside_my_subtree_are_404(client, auth, demo):
    outside = demo["city_dispatcher"].org_unit_id  # the city is above the community
    headers = auth(demo.supervisor_1)

    response = client.get(f"/api/v1/figures?unit_id={outside}", headers=headers)
    backwards = client.get("/api/v1/figures?start=2026-11-10&end=2026-11-01", headers=headers)

    assert response.status_code == 404 and backwards.status_code == 422


def test_mixed_loop_filed_in_chat_taken_in_api_rated_in_chat(client, auth, demo):
    ticket = file_ticket(demo.resident_1)
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    volunteer = auth(demo.volunteer_1)

    post(client, volunteer, f"/api/v1/tickets/{ticket.id}/take")
    post(client, volunteer, f"/api/v1/tickets/{ticket.id}/resolve", {"note": "换好了"})
    lifecycle.rate(ticket.id, demo.resident_1, 5)

    detail = client.get(f"/api/v1/tickets/{ticket.id}", headers=auth(demo.resident_1)).get_json()
    assert detail["state"] == State.CLOSED
    assert [e["action"] for e in detail["events"]][-3:] == ["take", "resolve", "rate"]
    assert PointsEntry.select().where(PointsEntry.user == demo.volunteer_1).count() == 1
    actors = {e.actor_id for e in TicketEvent.select().where(TicketEvent.ticket == ticket.id)}
    assert demo.volunteer_1.id in actors
