"""The permission matrix: every endpoint × every role × own/other's ticket → 2xx/403/404."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import io

import pytest

from models import lifecycle
from models.enums import Role
from models.org import User
from tests.test_api_support import (  # noqa: F401
    api_app,
    api_config,
    auth,
    client,
    compound,
    jpeg_bytes,
)

ROLES = ("resident", "volunteer", "worker", "dispatcher", "supervisor")
ACTOR = {
    "resident": "resident_1",
    "volunteer": "volunteer_1",
    "worker": "worker_1",
    "dispatcher": "dispatcher_1",
    "supervisor": "supervisor_1",
}
OK, NO, GONE = 200, 403, 404


def row(ok_for: dict, default_own=NO, default_other=None) -> dict:
    """Expected status per role: {role: (own, other)}; unlisted roles get the defaults."""
    other = default_other if default_other is not None else default_own
    return {role: ok_for.get(role, (default_own, other)) for role in ROLES}


# endpoint -> (stage the ticket is in, request body, expected per role)
TICKET_ENDPOINTS = {
    "detail": ("taken", None, row({r: (OK, GONE) for r in ROLES})),
    "urge": ("taken", {}, row(
        {"resident": (OK, GONE), "supervisor": (OK, GONE)}, NO, GONE)),
    "cancel": ("submitted", {}, row(
        {"resident": (OK, GONE), "volunteer": (GONE, GONE), "worker": (GONE, GONE)}, NO, GONE)),
    "rate": ("resolved", {"score": 5}, row({"resident": (OK, GONE)}, NO, GONE)),
    "take": ("assigned", None, row({"volunteer": (OK, GONE), "worker": (OK, GONE)})),
    "progress": ("taken", {"note": "在办"}, row({"volunteer": (OK, GONE), "worker": (OK, GONE)})),
    "resolve": ("taken", {"note": "好了"}, row({"volunteer": (OK, GONE), "worker": (OK, GONE)})),
    "hand-back": ("taken", {"reason": "没工具"}, row(
        {"volunteer": (OK, GONE), "worker": (OK, GONE)})),
    "dispatch": ("submitted", {"pool": True}, row({"dispatcher": (OK, GONE)})),
    "reassign": ("taken", "reassign", row({"dispatcher": (OK, GONE)})),
    "escalate": ("submitted", {}, row({"dispatcher": (OK, GONE), "supervisor": (OK, GONE)})),
    "assist": ("submitted", "assist", row({"dispatcher": (OK, GONE)})),
    "merge": ("submitted", "merge", row({"dispatcher": (OK, GONE)})),
    "close": ("submitted", {"reason": "重复"}, row({"dispatcher": (OK, GONE)})),
}  # fmt: skip

ASSIGNEES = ("volunteer", "worker")
# (method, path, body, roles allowed; success status)
PLAIN_ENDPOINTS = {
    "me": ("GET", "/api/v1/me", None, ROLES, 200),
    "mine": ("GET", "/api/v1/tickets/mine", None, ROLES, 200),
    "create": ("POST", "/api/v1/tickets", "create", ROLES, 201),
    "photos": ("POST", "/api/v1/photos", "photo", ROLES, 201),
    "pool": ("GET", "/api/v1/pool", None, ASSIGNEES, 200),
    "tasks": ("GET", "/api/v1/tasks", None, ASSIGNEES, 200),
    "points": ("GET", "/api/v1/points", None, ASSIGNEES, 200),
    "queue": ("GET", "/api/v1/queue", None, ("dispatcher",), 200),
    "figures": ("GET", "/api/v1/figures", None, ("supervisor",), 200),
}


def _outsider(demo) -> User:
    """A resident of the other street (西山街道), out of every demo actor's reach."""
    place = compound("翠园小区")
    existing = User.get_or_none(User.openid == "outsider")
    return existing or User.create(
        openid="outsider", name="外街居民", phone="13900000000", compound=place,
        household=f"{place.id}-9-901",
    )  # fmt: skip


def make_ticket(demo, stage: str, role: str, own: bool):
    """A ticket at `stage`; `own` ties it to the role's demo actor (reporter/assignee/scope)."""
    reporter = demo.resident_1 if own else _outsider(demo)
    ticket = lifecycle.submit(reporter, "楼道灯坏了", "power_lighting", compound=reporter.compound)
    if stage == "submitted":
        return ticket
    city = demo["city_dispatcher"]
    mine = own and role in ASSIGNEES
    assignee = demo[f"demo_{ACTOR[role]}"] if mine else demo.volunteer_2
    lifecycle.dispatch(ticket.id, city, to_user=assignee)
    if stage == "assigned":
        return ticket
    lifecycle.take(ticket.id, assignee)
    if stage == "resolved":
        lifecycle.resolve(ticket.id, assignee, "好了")
    return ticket


def _body(spec, demo, role, own):
    if spec == "reassign":
        return {"user_id": demo.volunteer_3.id}
    if spec == "assist":
        return {"work_unit_id": demo.worker_1.work_unit_id}
    if spec == "merge":
        return {"into": make_ticket(demo, "submitted", role, own).id}
    return spec


TICKET_CASES = [
    pytest.param(endpoint, role, own, expected[role][0 if own else 1],
                 id=f"{endpoint}-{role}-{'own' if own else 'other'}")
    for endpoint, (_stage, _body_spec, expected) in TICKET_ENDPOINTS.items()
    for role in ROLES
    for own in (True, False)
]  # fmt: skip


@pytest.mark.parametrize("endpoint, role, own, expected", TICKET_CASES)
def test_ticket_endpoint_permissions(client, auth, demo, endpoint, role, own, expected):
    stage, body_spec, _ = TICKET_ENDPOINTS[endpoint]
    ticket = make_ticket(demo, stage, role, own)
    body = _body(body_spec, demo, role, own)
    headers = auth(demo[f"demo_{ACTOR[role]}"])

    if endpoint == "detail":
        response = client.get(f"/api/v1/tickets/{ticket.id}", headers=headers)
    else:
        path = f"/api/v1/tickets/{ticket.id}/{endpoint}"
        response = client.post(path, headers=headers, json=body or {})

    assert response.status_code == expected, response.get_json()
    if expected >= 400:
        assert response.get_json()["error"]["message"]


PLAIN_CASES = [
    pytest.param(name, role, id=f"{name}-{role}") for name in PLAIN_ENDPOINTS for role in ROLES
]


@pytest.mark.parametrize("name, role", PLAIN_CASES)
def test_role_endpoint_permissions(client, auth, demo, name, role):
    method, path, body_spec, allowed, success = PLAIN_ENDPOINTS[name]
    headers = auth(demo[f"demo_{ACTOR[role]}"])
    kwargs = {"headers": headers}
    if body_spec == "create":
        kwargs["json"] = {"text": "路灯坏了", "compound_id": compound("幸福里小区").id}
    elif body_spec == "photo":
        kwargs["data"] = {"file": (io.BytesIO(jpeg_bytes()), "a.jpg")}

    response = client.open(path, method=method, **kwargs)

    assert response.status_code == (success if role in allowed else 403), response.get_json()


@pytest.mark.parametrize("role", ROLES)
def test_staff_without_a_unit_are_refused_not_crashed(client, auth, demo, role):
    user = User.create(openid=f"unbound_{role}", role=Role(role))
    headers = auth(user)

    codes = {
        p: client.get(p, headers=headers).status_code for p in ("/api/v1/queue", "/api/v1/figures")
    }

    assert all(code == 403 for code in codes.values())
