"""Subscribe-message grants: counted per person and template, spent once per send, never below 0."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

from bot.gateway import WeChatTransport
from bot.services import make_wechat_client
from models.enums import Channel, OutboundStatus
from models.grants import balances
from models.outbox import Outbound, enqueue
from scheduler.drain import drain
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401

TEMPLATE = "TPL_PROGRESS"


def test_accepted_templates_are_counted_per_person(client, auth, demo):
    headers = auth(demo.resident_1)
    for _ in range(2):
        response = client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE, "TPL_RATE"]},
                               headers=headers)  # fmt: skip
        assert response.status_code == 200
    assert response.get_json()["balances"] == {TEMPLATE: 2, "TPL_RATE": 2}
    assert client.get("/api/v1/subscriptions", headers=auth(demo.resident_2)).get_json() == {
        "balances": {}
    }
    bad = client.post("/api/v1/subscriptions", json={"accepted": ["<script>"]}, headers=headers)
    assert bad.status_code == 422


def test_each_send_spends_one_grant_and_none_left_is_a_visible_dead_letter(
    client, auth, demo, config, fake_wechat
):
    client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]},
                headers=auth(demo.resident_1))  # fmt: skip
    for i in range(2):
        enqueue(demo.resident_1, f"您的工单有新进展 {i}", channel=Channel.SUBSCRIBE)
    config.MINI_SECRET = "mini-secret"
    config.WECHAT_SECRET = "secret"
    config.WECHAT_API_BASE = fake_wechat.base_url
    transport = WeChatTransport(make_wechat_client(config), make_wechat_client(config, mini=True))
    drain(transport, template_ids={"notice": TEMPLATE})
    sent = [r for r in fake_wechat.sent("/cgi-bin/message/subscribe/send") if not r["errcode"]]
    assert len(sent) == 1
    assert balances(demo.resident_1) == {TEMPLATE: 0}
    statuses = sorted(row.status for row in Outbound.select())
    assert statuses == [OutboundStatus.DEAD, OutboundStatus.SENT]
    assert "no subscribe grant" in Outbound.get(Outbound.status == OutboundStatus.DEAD).last_error


def test_a_failed_send_gives_the_grant_back(client, auth, demo, config, fake_wechat):
    client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]},
                headers=auth(demo.resident_1))  # fmt: skip
    enqueue(demo.resident_1, "您的工单有新进展", channel=Channel.SUBSCRIBE)
    fake_wechat.fail("/cgi-bin/message/subscribe/send", "500")
    config.MINI_SECRET = "mini-secret"
    config.WECHAT_SECRET = "secret"
    config.WECHAT_API_BASE = fake_wechat.base_url
    transport = WeChatTransport(make_wechat_client(config), make_wechat_client(config, mini=True))
    drain(transport, template_ids={"notice": TEMPLATE})
    assert balances(demo.resident_1) == {TEMPLATE: 1}
    assert Outbound.get().status == OutboundStatus.PENDING
