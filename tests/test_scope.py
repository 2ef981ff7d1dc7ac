"""Scope: the pool reaches a volunteer's own street; dispatchers send work within their branch."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import pytest

from models import lifecycle
from models.access import in_pool_reach
from models.enums import Role, State
from models.errors import TicketError
from models.org import InviteCode, User
from models.tickets import Ticket
from tests.test_api_support import api_app, api_config, auth, client, file_ticket  # noqa: F401


def pool_ticket(demo) -> Ticket:
    ticket = file_ticket(demo.resident_1)
    return lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)


def volunteer_of_another_street(ticket: Ticket) -> User:
    others = [u for u in User.select().where(User.role == Role.VOLUNTEER)
              if not in_pool_reach(u, ticket)]  # fmt: skip
    assert others, "the demo city has volunteers in two streets"
    return others[0]


def test_a_volunteer_of_another_street_cannot_take_a_pool_ticket_in_chat(chat, demo):
    ticket = pool_ticket(demo)
    stranger = volunteer_of_another_street(ticket)
    assert "#" + str(ticket.id) not in chat(stranger.openid).say("附近工单")
    reply = chat(stranger.openid).say(f"接单 #{ticket.id}")
    assert "接单成功" not in reply
    assert "没有找到" in chat(stranger.openid).say(f"查询 #{ticket.id}")
    assert Ticket.get_by_id(ticket.id).state == State.DISPATCHED
    assert "接单成功" in chat("demo_volunteer_1").say(f"接单 #{ticket.id}")


def test_a_volunteer_of_another_street_cannot_open_or_take_it_through_the_api(client, auth, demo):
    ticket = pool_ticket(demo)
    stranger = volunteer_of_another_street(ticket)
    headers = auth(stranger)
    pool = client.get("/api/v1/pool", headers=headers).get_json()
    assert ticket.id not in [item["id"] for item in pool["items"]]
    assert client.get(f"/api/v1/tickets/{ticket.id}", headers=headers).status_code == 404
    taken = client.post(f"/api/v1/tickets/{ticket.id}/take", headers=headers)
    assert taken.status_code in (403, 404)
    assert Ticket.get_by_id(ticket.id).assignee_id is None


def test_a_dispatcher_cannot_dispatch_to_a_volunteer_outside_their_branch(demo):
    ticket = file_ticket(demo.resident_1)
    stranger = volunteer_of_another_street(ticket)
    with pytest.raises(TicketError, match="辖区内"):
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=stranger)
    assert Ticket.get_by_id(ticket.id).state == State.SUBMITTED
    moved = lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1)
    assert moved.assignee_id == demo.volunteer_1.id


def test_the_demo_invite_code_makes_any_new_user_a_volunteer(chat, demo):
    for openid in ("newcomer_a", "newcomer_b", "newcomer_c"):
        assert "志愿者" in chat(openid).say("邀请码 VOL-DEMO")
        assert User.get(User.openid == openid).role == Role.VOLUNTEER
    # It never turns staff into volunteers.
    assert "无效" in chat("demo_dispatcher_1").say("邀请码 VOL-DEMO")
    assert demo.dispatcher_1.role == Role.DISPATCHER
    assert InviteCode.get(InviteCode.code == "VOL-DEMO").used_by_id is None


def test_a_one_use_invite_code_works_once(chat, demo):
    InviteCode.create(code="ONCE-1", role=Role.VOLUNTEER, org_unit=demo.dispatcher_1.org_unit)
    assert "志愿者" in chat("first_comer").say("邀请码 ONCE-1")
    assert "无效或已经用过" in chat("second_comer").say("邀请码 ONCE-1")
    assert User.get(User.openid == "second_comer").role == Role.RESIDENT
