"""Subscribe-message grants: counted once per acceptance whoever reports it (the mini-program or
WeChat's push), spent once per send, zeroed on a refusal; the outbox picks the channel from the
ledger and falls back to a template or a note the mini-program shows, so nothing is lost."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import pytest
from click.testing import CliRunner

from bot.app import create_app
from bot.cli import main as cli_main
from bot.gateway import WeChatTransport
from bot.services import make_wechat_client
from bot.wechat_sign import WeChatSigner, _cdata
from models.enums import Channel, OutboundStatus
from models.grants import balances
from models.org import User
from models.outbox import Outbound, enqueue
from scheduler.drain import drain
from scheduler.runner import template_ids
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401

TEMPLATE = "TPL_PROGRESS"
SUBSCRIBE_PATH = "/cgi-bin/message/subscribe/send"
TEMPLATE_PATH = "/cgi-bin/message/template/send"
CS_PATH = "/cgi-bin/message/custom/send"


@pytest.fixture
def wechat(api_config, fake_wechat):
    """Real WeChat clients pointed at the local fake WeChat, and the mini-program's ids."""
    api_config.WECHAT_SECRET = "secret"
    api_config.WECHAT_API_BASE = fake_wechat.base_url
    api_config.TEMPLATE_IDS = {"notice": "OA_NOTICE"}
    api_config.MINI_TEMPLATE_IDS = {"notice": TEMPLATE}
    return fake_wechat


def deliver(config) -> None:
    """One drain with real WeChat clients (the API stays in dev-login mode)."""
    config.MINI_SECRET = "mini-secret"
    try:
        transport = WeChatTransport(make_wechat_client(config),
                                    make_wechat_client(config, mini=True))  # fmt: skip
    finally:
        config.MINI_SECRET = None
    drain(transport, template_ids=template_ids(config))


def mini_only(openid="mini_only_1") -> User:
    """Someone known only from the mini-program (as a real login leaves them)."""
    return User.create(openid=openid, mini_openid=openid)


def push(app, openid: str, event: str, entries: list[tuple[str, str]], *, created=1700000000,
         token=None):  # fmt: skip
    """WeChat's subscribe push to /wechat/mini, signed as WeChat signs it."""
    block, key = {
        "subscribe_msg_popup_event": ("SubscribeMsgPopupEvent", "SubscribeStatusString"),
        "subscribe_msg_change_event": ("SubscribeMsgChangeEvent", "SubscribeStatusString"),
        "subscribe_msg_sent_event": ("SubscribeMsgSentEvent", "ErrorCode"),
    }[event]
    items = "".join(
        f"<List><TemplateId>{_cdata(t)}</TemplateId><{key}>{_cdata(v)}</{key}></List>"
        for t, v in entries
    )
    xml = (f"<xml><ToUserName>{_cdata('gh_mini')}</ToUserName><FromUserName>{_cdata(openid)}"
           f"</FromUserName><CreateTime>{created}</CreateTime><MsgType>{_cdata('event')}"
           f"</MsgType><Event>{_cdata(event)}</Event><{block}>{items}</{block}></xml>")  # fmt: skip
    signer = WeChatSigner(token=token or app.extensions["sidan"].config.WECHAT_TOKEN,
                          openid=openid)  # fmt: skip
    query, data = signer.sign(xml)
    return app.test_client().post("/wechat/mini", query_string=query, data=data)


# -- counting ------------------------------------------------------------------------------


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


def test_one_acceptance_told_by_the_mini_program_and_by_wechat_counts_once(
    api_app, client, auth, demo
):
    headers = auth(demo.resident_1)
    User.update(mini_openid="mini_r1").where(User.id == demo.resident_1.id).execute()
    # The mini-program reports first, WeChat's push follows: one acceptance.
    client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]}, headers=headers)
    assert push(api_app, "mini_r1", "subscribe_msg_popup_event", [(TEMPLATE, "accept")],
                created=1700000001).data == b"success"  # fmt: skip
    assert balances(demo.resident_1) == {TEMPLATE: 1}
    # WeChat first this time, then the mini-program: a second acceptance, counted once.
    push(api_app, "mini_r1", "subscribe_msg_popup_event", [(TEMPLATE, "accept")],
         created=1700000002)  # fmt: skip
    client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]}, headers=headers)
    assert balances(demo.resident_1) == {TEMPLATE: 2}
    # Only one witness (the app was closed before it could report): still counted.
    push(api_app, "mini_r1", "subscribe_msg_popup_event", [(TEMPLATE, "accept")],
         created=1700000003)  # fmt: skip
    assert balances(demo.resident_1) == {TEMPLATE: 3}


def test_wechat_retrying_a_push_does_not_count_it_again(api_app, demo):
    person = mini_only()
    for _ in range(3):  # WeChat retries a push it had no answer to, same CreateTime
        assert push(api_app, person.openid, "subscribe_msg_popup_event",
                    [(TEMPLATE, "accept"), ("TPL_RATE", "reject")]).status_code == 200  # fmt: skip
    assert balances(person) == {TEMPLATE: 1, "TPL_RATE": 0}


def test_a_rejection_in_the_popup_or_the_settings_leaves_nothing_to_send(
    api_app, client, auth, demo
):
    headers = auth(demo.resident_1)
    User.update(mini_openid="mini_r1").where(User.id == demo.resident_1.id).execute()
    for _ in range(3):
        client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE, "TPL_RATE"]},
                    headers=headers)  # fmt: skip
    push(api_app, "mini_r1", "subscribe_msg_change_event", [(TEMPLATE, "reject")])
    assert balances(demo.resident_1) == {TEMPLATE: 0, "TPL_RATE": 3}
    answer = client.post("/api/v1/subscriptions",
                         json={"accepted": [], "rejected": ["TPL_RATE"]}, headers=headers)  # fmt: skip
    assert answer.get_json()["balances"] == {"TPL_RATE": 0}
    # Accepting again later counts from zero.
    client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]}, headers=headers)
    assert balances(demo.resident_1)[TEMPLATE] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><FromUserName>u1</FromUserName><CreateTime>1</CreateTime>"
        b"<Event>subscribe_msg_popup_event</Event></xml>",  # no List
        b"<xml><FromUserName>u1</FromUserName><CreateTime>1</CreateTime>"
        b"<Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent><List><TemplateId>"
        b"a b</TemplateId></List></SubscribeMsgPopupEvent></xml>",  # bad template id
        b"<xml><FromUserName><x>1</x></FromUserName><CreateTime>1</CreateTime>"
        b"<Event>subscribe_msg_popup_event</Event></xml>",  # nested sender
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>',  # entities
        b"not xml",
    ],
)
def test_a_malformed_push_is_refused_with_400_and_counts_nothing(api_app, demo, body):
    signer = WeChatSigner(token=api_app.extensions["sidan"].config.WECHAT_TOKEN, openid="u1")
    query, _ = signer.sign("<xml/>")
    response = api_app.test_client().post("/wechat/mini", query_string=query, data=body)
    assert response.status_code == 400
    assert User.get_or_none(User.openid == "u1") is None


def test_a_push_with_a_wrong_signature_is_refused(api_app, demo):
    response = push(api_app, "mini_only_1", "subscribe_msg_popup_event", [(TEMPLATE, "accept")],
                    token="not-our-token")  # fmt: skip
    assert response.status_code == 403
    assert User.get_or_none(User.openid == "mini_only_1") is None


def test_other_mini_program_pushes_are_answered_and_ignored(api_app, demo):
    signer = WeChatSigner(token=api_app.extensions["sidan"].config.WECHAT_TOKEN, openid="u2")
    query, data = signer.sign(signer.text("你好"))
    response = api_app.test_client().post("/wechat/mini", query_string=query, data=data)
    assert response.status_code == 200 and response.data == b"success"
    assert User.get_or_none(User.openid == "u2") is None


def test_a_real_login_remembers_the_mini_program_openid(api_config, fake_wechat, demo):
    api_config.MINI_SECRET = "mini-secret"
    api_config.WECHAT_API_BASE = fake_wechat.base_url
    app = create_app(api_config).test_client()
    User.update(unionid="union-1").where(User.id == demo.resident_1.id).execute()
    fake_wechat.register_code("c1", "mini-openid-1", unionid="union-1")
    fake_wechat.register_code("c2", "mini-openid-2")
    fake_wechat.register_code("c3", "mini-openid-1", unionid="union-1")
    assert app.post("/api/v1/login", json={"code": "c1"}).status_code == 200
    linked = User.get_by_id(demo.resident_1.id)
    assert (linked.openid, linked.mini_openid) == (demo.resident_1.openid, "mini-openid-1")
    assert app.post("/api/v1/login", json={"code": "c2"}).status_code == 200
    new = User.get(User.openid == "mini-openid-2")
    assert new.mini_openid == "mini-openid-2"
    # The same person again: found by the mini-program openid, nobody new.
    before = User.select().count()
    assert app.post("/api/v1/login", json={"code": "c3"}).get_json()["user"]["id"] == linked.id
    assert User.select().count() == before


# -- sending -------------------------------------------------------------------------------


def test_each_send_spends_one_grant_then_the_notice_becomes_a_note_in_the_mini_program(
    api_app, client, auth, api_config, wechat
):
    person = mini_only()
    push(api_app, person.openid, "subscribe_msg_popup_event", [(TEMPLATE, "accept")])
    for i in range(2):
        enqueue(person, f"您的工单有新进展 {i}")
    deliver(api_config)
    (sent,) = [r for r in wechat.sent(SUBSCRIBE_PATH) if not r["errcode"]]
    assert sent["body"]["touser"] == person.openid
    assert sent["body"]["template_id"] == TEMPLATE
    assert balances(person) == {TEMPLATE: 0}
    # The second had no grant left and no Official Account to go to: kept for the app to show.
    assert not wechat.sent(TEMPLATE_PATH) and not wechat.sent(CS_PATH)
    assert sorted(r.status for r in Outbound.select()) == [OutboundStatus.SENT] * 2
    notes = client.get("/api/v1/notices", headers=auth(person)).get_json()["notices"]
    assert [n["text"] for n in notes] == ["您的工单有新进展 1"]


def test_someone_on_the_official_account_gets_a_template_when_no_grant_is_left(
    api_config, wechat, demo
):
    resident = demo.resident_1
    User.update(mini_openid="mini_r1", last_message_at=None).where(User.id == resident.id).execute()
    Outbound.delete().execute()  # what the demo seeding queued is not this test's
    enqueue(resident, "您的工单已办结")
    deliver(api_config)
    (sent,) = [r for r in wechat.sent(TEMPLATE_PATH) if not r["errcode"]]
    assert sent["body"]["touser"] == resident.openid
    assert not wechat.sent(SUBSCRIBE_PATH)
    assert Outbound.get().sent_channel == Channel.TEMPLATE


def test_a_subscribe_message_goes_to_the_mini_program_openid_of_a_linked_person(
    api_app, api_config, wechat, demo
):
    resident = demo.resident_1
    User.update(mini_openid="mini_r1", last_message_at=None).where(User.id == resident.id).execute()
    push(api_app, "mini_r1", "subscribe_msg_popup_event", [(TEMPLATE, "accept")])
    Outbound.delete().execute()
    enqueue(resident, "您的工单已派给志愿者")
    deliver(api_config)
    (sent,) = [r for r in wechat.sent(SUBSCRIBE_PATH) if not r["errcode"]]
    assert sent["body"]["touser"] == "mini_r1"
    assert not wechat.sent(TEMPLATE_PATH)


def test_errcode_43101_forgets_the_grants_and_the_notice_still_arrives(
    api_app, client, auth, api_config, wechat
):
    person = mini_only()
    for n in range(3):
        push(api_app, person.openid, "subscribe_msg_popup_event", [(TEMPLATE, "accept")],
             created=1700000000 + n)  # fmt: skip
    wechat.fail(SUBSCRIBE_PATH, 43101)
    enqueue(person, "志愿者已接单")
    deliver(api_config)
    assert balances(person) == {TEMPLATE: 0}
    row = Outbound.get()
    assert (row.status, row.sent_channel) == (OutboundStatus.SENT, Channel.NOTE)
    notes = client.get("/api/v1/notices", headers=auth(person)).get_json()["notices"]
    assert [n["text"] for n in notes] == ["志愿者已接单"]


def test_a_failed_send_gives_the_grant_back(client, auth, demo, api_config, wechat):
    client.post("/api/v1/subscriptions", json={"accepted": [TEMPLATE]},
                headers=auth(demo.resident_1))  # fmt: skip
    enqueue(demo.resident_1, "您的工单有新进展", channel=Channel.SUBSCRIBE)
    wechat.fail(SUBSCRIBE_PATH, "500")
    deliver(api_config)
    assert balances(demo.resident_1) == {TEMPLATE: 1}
    assert Outbound.get().status == OutboundStatus.PENDING


def test_the_operator_sees_the_grants_per_template(api_app, demo):
    a, b = mini_only("mini_a"), mini_only("mini_b")
    push(api_app, a.openid, "subscribe_msg_popup_event", [(TEMPLATE, "accept")])
    push(api_app, b.openid, "subscribe_msg_popup_event", [(TEMPLATE, "accept")])
    push(api_app, b.openid, "subscribe_msg_change_event", [(TEMPLATE, "reject")], created=2)
    result = CliRunner().invoke(cli_main, ["grants"], obj=_script_info(api_app))
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith(TEMPLATE))
    assert line.split("\t") == [TEMPLATE, "1", "1", "1", "0", "1"]


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)
