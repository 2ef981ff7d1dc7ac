"""Incentives over the API: shop, wishes, service menu, points review, property lists."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from models import clock, lifecycle, property_lists
from models.org import Compound, OrgUnit, User
from models.shop import ShopItem
from models.tickets import PointsEntry, Ticket
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401


def item_id(name: str) -> int:
    return ShopItem.get(ShopItem.name == name).id


def test_a_volunteer_redeems_and_the_shop_confirms(client, auth, demo):
    PointsEntry.create(user=demo.volunteer_1, reason="rating", points=25)
    me, keeper = auth(demo.volunteer_1), auth(demo["shopkeeper_1"])
    listing = client.get("/api/v1/shop/items", headers=me).get_json()
    assert listing["balance"] == 25 and listing["items"][0]["name"] == "洗衣皂两块"
    redeemed = client.post(f"/api/v1/shop/items/{item_id('洗衣皂两块')}/redeem", headers=me)
    assert redeemed.status_code == 201
    body = redeemed.get_json()
    assert (body["state"], body["points"], body["balance"]) == ("issued", 10, 15)
    short = client.post(f"/api/v1/shop/items/{item_id('大米5斤')}/redeem", headers=me)
    assert short.status_code == 409 and "需要 30 积分" in short.get_json()["error"]["message"]
    assert client.post("/api/v1/shop/items/9999/redeem", headers=me).status_code == 404
    stranger = client.post("/api/v1/shop/confirm", headers=auth(demo.volunteer_2),
                           json={"code": body["code"]})  # fmt: skip
    assert stranger.status_code == 404
    done = client.post("/api/v1/shop/confirm", headers=keeper, json={"code": body["code"]})
    assert done.status_code == 200 and done.get_json()["state"] == "confirmed"
    again = client.post("/api/v1/shop/confirm", headers=keeper, json={"code": body["code"]})
    assert again.status_code == 409
    mine = client.get("/api/v1/shop/redemptions", headers=me).get_json()["items"]
    assert [r["state"] for r in mine] == ["confirmed"]


def test_twenty_simultaneous_redemptions_over_http_never_oversell(api_app, auth, demo):
    volunteers = list(User.select().where(User.role == "volunteer").order_by(User.id).limit(20))
    happy = OrgUnit.get(OrgUnit.name == "幸福社区")
    User.update(org_unit=happy).where(User.id.in_([v.id for v in volunteers])).execute()
    for v in volunteers:
        PointsEntry.create(user=v, reason="rating", points=40)
    headers = [auth(v) for v in volunteers]
    url = f"/api/v1/shop/items/{item_id('大米5斤')}/redeem"

    def attempt(h):
        return api_app.test_client().post(url, headers=h).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(attempt, headers))
    assert statuses == [201] * 5 + [409] * 15
    assert ShopItem.get_by_id(item_id("大米5斤")).stock == 0


def test_a_redemption_is_cancelled_for_a_refund(client, auth, demo):
    PointsEntry.create(user=demo.volunteer_1, reason="rating", points=10)
    me = auth(demo.volunteer_1)
    rid = client.post(f"/api/v1/shop/items/{item_id('洗衣皂两块')}/redeem", headers=me).get_json()
    cancelled = client.post(f"/api/v1/shop/redemptions/{rid['id']}/cancel", headers=me)
    assert cancelled.status_code == 200
    assert (cancelled.get_json()["state"], cancelled.get_json()["balance"]) == ("refunded", 10)
    other = client.post(f"/api/v1/shop/redemptions/{rid['id']}/cancel", headers=me)
    assert other.status_code == 409


def test_residents_have_no_shop_and_volunteers_no_proxy_wishes(client, auth, demo):
    assert client.get("/api/v1/shop/items", headers=auth(demo.resident_1)).status_code == 403
    body = {"name": "张奶奶", "text": "想请人帮忙买菜", "compound_id": 1}
    assert client.post("/api/v1/wishes/on-behalf", headers=auth(demo.volunteer_1),
                       json=body).status_code == 403  # fmt: skip


def test_a_wish_is_posted_reviewed_and_claimed(client, auth, demo):
    posted = client.post("/api/v1/wishes", headers=auth(demo.resident_1),
                         json={"text": "想请人帮忙理个发，我腿脚不方便"})  # fmt: skip
    assert posted.status_code == 201
    wish = posted.get_json()
    assert (wish["category"], wish["state"], wish["channel"]) == (
        "elderly_help", "submitted", "miniapp",
    )  # fmt: skip
    volunteer = auth(demo.volunteer_2)
    assert client.get("/api/v1/wishes", headers=volunteer).get_json()["items"] == []
    lifecycle.dispatch(wish["id"], demo.dispatcher_1, to_pool=True)
    wall = client.get("/api/v1/wishes", headers=volunteer).get_json()["items"]
    assert [w["id"] for w in wall] == [wish["id"]]
    claimed = client.post(f"/api/v1/wishes/{wish['id']}/claim", headers=volunteer)
    assert claimed.status_code == 200 and claimed.get_json()["state"] == "taken"
    late = client.post(f"/api/v1/wishes/{wish['id']}/claim", headers=auth(demo.volunteer_4))
    assert late.status_code == 409


def test_a_grid_worker_posts_a_wish_on_behalf(client, auth, demo):
    home = Compound.get(Compound.name == "幸福里小区")
    body = {"name": "张奶奶", "text": "想请人陪同去医院", "compound_id": home.id,
            "building": "3", "room": "101"}  # fmt: skip
    posted = client.post("/api/v1/wishes/on-behalf", headers=auth(demo.dispatcher_1), json=body)
    assert posted.status_code == 201 and posted.get_json()["in_pool"] is True
    body["compound_id"] = 99999
    assert client.post("/api/v1/wishes/on-behalf", headers=auth(demo.dispatcher_1),
                       json=body).status_code == 400  # fmt: skip


def test_the_service_menu_is_listed_booked_and_withdrawn(client, auth, demo):
    volunteer, resident = auth(demo.volunteer_1), auth(demo.resident_1)
    added = client.post("/api/v1/services", headers=volunteer,
                        json={"title": "家电维修", "times": "周六上午"})  # fmt: skip
    assert added.status_code == 201
    offer = added.get_json()
    refused = client.post("/api/v1/services", headers=volunteer, json={"title": "理发"})
    assert refused.status_code == 400
    menu = client.get("/api/v1/services", headers=resident).get_json()["items"]
    assert {"id": offer["id"], "title": "家电维修", "times": "周六上午",
            "category": "public_facility", "volunteer": "王**"} in menu  # fmt: skip
    booked = client.post(f"/api/v1/services/{offer['id']}/book", headers=resident,
                         json={"note": "洗衣机不转了"})  # fmt: skip
    assert booked.status_code == 201
    ticket = Ticket.get_by_id(booked.get_json()["id"])
    assert (ticket.kind, ticket.assignee_id) == ("booking", demo.volunteer_1.id)
    gone = client.delete(f"/api/v1/services/{offer['id']}", headers=volunteer)
    assert gone.status_code == 204
    assert client.post(f"/api/v1/services/{offer['id']}/book", headers=resident,
                       json={}).status_code == 404  # fmt: skip


def test_held_points_are_reviewed_over_the_api(client, auth, demo):
    for _ in range(3):
        ticket = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting")
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1)
        lifecycle.take(ticket.id, demo.volunteer_1)
        lifecycle.resolve(ticket.id, demo.volunteer_1, "换好了")
        lifecycle.rate(ticket.id, demo.resident_1, 5)
    headers = auth(demo.dispatcher_1)
    (flag,) = client.get("/api/v1/points/flags", headers=headers).get_json()["items"]
    assert flag["pair_ratings"] == 3 and flag["points"] == 10
    reviewed = client.post(f"/api/v1/points/flags/{flag['id']}/review", headers=headers,
                           json={"approve": True})  # fmt: skip
    assert reviewed.status_code == 200 and reviewed.get_json()["state"] == "approved"
    assert client.get("/api/v1/points/flags", headers=headers).get_json()["items"] == []


def test_property_lists_market_and_veto(client, auth, demo):
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    resident, dispatcher = auth(demo.resident_1), auth(demo.dispatcher_1)
    empty = client.get("/api/v1/property/lists", headers=resident).get_json()
    assert empty == {"quarter": None, "published_at": None, "items": []}
    property_lists.publish("2026Q3")
    lists = client.get("/api/v1/property/lists?quarter=2026q3", headers=resident).get_json()
    assert lists["quarter"] == "2026Q3" and len(lists["items"]) == 2
    market = client.get("/api/v1/property/market", headers=resident).get_json()
    assert {e["company"] for e in market["items"]} == {"红管家物业", "安居物业"}
    home = Compound.get(Compound.name == "幸福里小区")
    body = {"company": "红管家物业", "compound_id": home.id, "reason": "消防通道长期堵塞"}
    assert client.post("/api/v1/property/vetoes", headers=resident, json=body).status_code == 403
    vetoed = client.post("/api/v1/property/vetoes", headers=dispatcher, json=body)
    assert vetoed.status_code == 201 and vetoed.get_json()["quarter"] == "2026Q4"
    again = client.post("/api/v1/property/vetoes", headers=dispatcher, json=body)
    assert again.status_code == 409
    market = client.get("/api/v1/property/market", headers=resident).get_json()
    assert [e["company"] for e in market["items"]] == ["安居物业"]
