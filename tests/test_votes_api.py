"""Owners' votes over the API: open, cast, change, hidden results, close, tally, receipt check."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import hashlib
from datetime import timedelta

import pytest

from models.clock import advance, now
from models.org import Compound
from models.owners import Household
from scheduler import votes as vote_jobs
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401


@pytest.fixture
def home(demo):
    return Compound.get(Compound.name == "幸福里小区")


def _open(client, auth, who, home, **extra):
    body = {
        "compound_id": home.id,
        "question": "是否同意更换物业公司？",
        "options": ["同意", "不同意"],
        "closes_at": (now() + timedelta(days=3)).isoformat() + "Z",
        **extra,
    }
    return client.post("/api/v1/votes", json=body, headers=auth(who))


def test_a_dispatcher_opens_a_vote_and_an_owner_casts_and_gets_a_receipt(client, auth, demo, home):
    opened = _open(client, auth, demo.dispatcher_1, home)
    assert opened.status_code == 201, opened.get_json()
    vote = opened.get_json()
    assert vote["status"] == "open" and vote["result"] is None
    assert vote["turnout"] == {"households": 0, "roll": 4}

    cast = client.post(f"/api/v1/votes/{vote['id']}/ballots", json={"option": 1},
                       headers=auth(demo.resident_1))  # fmt: skip

    assert cast.status_code == 201
    receipts = cast.get_json()["receipts"]
    assert [r["household"] for r in receipts] == ["1-1-101"]
    again = client.post(f"/api/v1/votes/{vote['id']}/ballots", json={"option": 2},
                        headers=auth(demo.resident_1))  # fmt: skip
    assert again.status_code == 409 and "已经" in again.get_json()["error"]["message"]


def test_results_and_tally_are_hidden_until_the_close_then_published(client, auth, demo, home):
    vote = _open(client, auth, demo.dispatcher_1, home).get_json()
    codes = []
    for who, option in (("resident_1", 1), ("resident_2", 1), ("resident_3", 2)):
        response = client.post(f"/api/v1/votes/{vote['id']}/ballots", json={"option": option},
                                headers=auth(demo[f"demo_{who}"]))  # fmt: skip
        codes.append(response.get_json()["receipts"][0]["code"])

    early = client.get(f"/api/v1/votes/{vote['id']}", headers=auth(demo.dispatcher_1)).get_json()
    assert early["result"] is None and early["turnout"]["households"] == 3
    tally = client.get(f"/api/v1/votes/{vote['id']}/tally", headers=auth(demo.resident_1))
    assert tally.status_code == 409
    check = client.post("/api/v1/receipts/check", json={"code": codes[2]},
                        headers=auth(demo.resident_3)).get_json()  # fmt: skip
    assert check["found"] and check["option"] is None

    advance(timedelta(days=3, seconds=1))
    assert vote_jobs.handle_one_closing()

    done = client.get(f"/api/v1/votes/{vote['id']}", headers=auth(demo.resident_2)).get_json()
    assert done["status"] == "closed"
    # 3 of 4 flats, 299.30 of 376.10 m²; 同意 by 2 of 3 owners and 179.00 of 299.30 m².
    assert done["result"]["quorum_met"] and done["result"]["passed_option"] == 1
    assert done["result"]["options"][0]["ballots"] == 2
    published = client.get(f"/api/v1/votes/{vote['id']}/tally",
                           headers=auth(demo.resident_2)).get_json()  # fmt: skip
    mine = hashlib.sha256(f"sidan-receipt:{vote['id']}:{codes[2]}".encode()).hexdigest()
    assert f"2:{mine}" in published["lines"]
    recomputed = hashlib.sha256("\n".join(sorted(published["lines"])).encode()).hexdigest()
    assert recomputed == published["tally_hash"] == done["tally_hash"]
    check = client.post("/api/v1/receipts/check", json={"code": codes[2]},
                        headers=auth(demo.resident_3)).get_json()  # fmt: skip
    assert check["option"] == 2 and check["option_text"] == "不同意"


def test_a_closed_vote_refuses_ballots_over_the_api(client, auth, demo, home):
    vote = _open(client, auth, demo.dispatcher_1, home).get_json()
    advance(timedelta(days=3, seconds=1))
    vote_jobs.handle_one_closing()

    late = client.post(f"/api/v1/votes/{vote['id']}/ballots", json={"option": 1},
                       headers=auth(demo.resident_1))  # fmt: skip

    assert late.status_code == 409 and "截止" in late.get_json()["error"]["message"]


def test_a_ballot_is_changed_with_its_receipt_code(client, auth, demo, home):
    vote = _open(client, auth, demo.dispatcher_1, home).get_json()
    url = f"/api/v1/votes/{vote['id']}/ballots"
    code = client.post(url, json={"option": 1}, headers=auth(demo.resident_2)).get_json()[
        "receipts"][0]["code"]  # fmt: skip

    wrong = client.post(url, json={"option": 2, "receipt_code": "AAAA-BBBB-CCCC"},
                        headers=auth(demo.resident_2))  # fmt: skip
    right = client.post(url, json={"option": 2, "receipt_code": code},
                        headers=auth(demo.resident_2))  # fmt: skip

    assert wrong.status_code == 403
    assert right.status_code == 201 and right.get_json()["changed"] is True


def test_staff_see_who_voted_but_never_what(client, auth, demo, home):
    vote = _open(client, auth, demo.dispatcher_1, home).get_json()
    client.post(f"/api/v1/votes/{vote['id']}/ballots", json={"option": 2},
                headers=auth(demo.resident_1))  # fmt: skip

    audit = client.get(f"/api/v1/votes/{vote['id']}/participants", headers=auth(demo.dispatcher_1))
    refused = client.get(f"/api/v1/votes/{vote['id']}/participants", headers=auth(demo.resident_2))

    assert audit.status_code == 200
    (row,) = audit.get_json()["items"]
    assert row["household"] == "1-1-101" and "option" not in row
    assert refused.status_code == 403


def test_binding_a_household_over_the_api(client, auth, demo, home):
    code = Household.get(Household.label == "1-1-202").bind_code

    bound = client.post("/api/v1/owners/bind", json={"code": code}, headers=auth(demo.resident_4))
    reused = client.post("/api/v1/owners/bind", json={"code": code}, headers=auth(demo.resident_5))

    assert bound.status_code == 200 and bound.get_json()["area_m2"] == "76.80"
    assert reused.status_code == 404
    mine = client.get("/api/v1/owners/households", headers=auth(demo.resident_4)).get_json()
    assert [h["label"] for h in mine] == ["1-1-202"]


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"options": ["同意"]}, 422),
        ({"kind": "everything"}, 422),
        ({"closes_at": "2026-01-01T00:00:00Z"}, 400),
        ({"closes_at": "9999-12-31T23:59:59Z"}, 400),
    ],
)
def test_a_bad_vote_is_refused_in_chinese(client, auth, demo, home, extra, status):
    response = _open(client, auth, demo.dispatcher_1, home, **extra)

    assert response.status_code == status
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.get_json()["error"]["message"])
