"""The webhook as WeChat reaches it: signatures, safe mode, retries, bad input."""

import threading
import time

import pytest
import requests

from bot.chat import reply_text
from bot.wechat_sign import WeChatSigner, signature
from handlers.classifier import get_model
from models.tickets import Ticket, TicketEvent

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_server_verification_echoes_only_with_a_good_signature(live_server, config):
    ts, nonce = str(int(time.time())), "12345"
    good = {"timestamp": ts, "nonce": nonce, "echostr": "hello",
            "signature": signature(config.WECHAT_TOKEN, ts, nonce)}  # fmt: skip
    assert requests.get(f"{live_server}/wechat", params=good).text == "hello"
    bad = {**good, "signature": "0" * 40}
    assert requests.get(f"{live_server}/wechat", params=bad).status_code == 403


def test_a_bad_signature_is_refused_and_nothing_happens(live_server, config, demo):
    signer = WeChatSigner(token="not-our-token", openid="demo_resident_1")
    query, body = signer.sign(signer.text("楼道灯坏了"))
    response = requests.post(f"{live_server}/wechat", params=query, data=body)
    assert response.status_code == 403
    assert Ticket.select().count() == 0


def test_an_old_timestamp_is_refused(live_server, config, demo):
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1")
    query, body = signer.sign(signer.text("帮助"), timestamp=int(time.time()) - 3600)
    assert requests.post(f"{live_server}/wechat", params=query, data=body).status_code == 403


def test_safe_mode_round_trip(live_server, app, config, demo, chat):
    app.extensions["sidan"].config.WECHAT_AES_KEY = AES_KEY
    client = chat("demo_resident_1", aes_key=AES_KEY)
    query, body = client.signer.sign(client.signer.text("帮助"))
    assert b"<Encrypt>" in body and "帮助".encode() not in body
    response = requests.post(client.url, params=query, data=body)
    assert response.status_code == 200
    assert "<Encrypt>" in response.text
    assert "我的工单" in reply_text(client.signer.decrypt_reply(response.text, query))


def test_safe_mode_with_a_wrong_message_signature_is_refused(live_server, app, config, demo):
    app.extensions["sidan"].config.WECHAT_AES_KEY = AES_KEY
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1", aes_key=AES_KEY,
                          appid=config.WECHAT_APPID)  # fmt: skip
    query, body = signer.sign(signer.text("帮助"))
    query["msg_signature"] = "f" * 40
    assert requests.post(f"{live_server}/wechat", params=query, data=body).status_code == 403


def test_the_same_msgid_three_times_at_once_acts_once(live_server, config, demo, chat):
    get_model()  # as the production app does at start: loading it is not the point here
    client = chat("demo_resident_1")
    body = client.signer.text("楼道里飞线充电，插座在冒火花", msg_id=777001)
    barrier = threading.Barrier(3)
    replies = []

    def deliver():
        barrier.wait()
        response = client.post(body)
        replies.append((response.status_code, reply_text(response.text)))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert [code for code, _ in replies] == [200, 200, 200]
    assert Ticket.select().count() == 1
    assert TicketEvent.select().count() == 1
    filed = [text for _, text in replies if "工单号" in text]
    assert filed, replies
    # A later retry of the same delivery gets the same answer, and still files nothing new.
    assert reply_text(client.post(body).text) == filed[0]
    assert Ticket.select().count() == 1


@pytest.mark.parametrize(
    "body, status",
    [
        ("<xml><ToUserName>x</ToUserName", 400),
        ("this is not xml at all", 400),
        ("<xml></xml>", 400),
    ],
)
def test_malformed_bodies_get_a_4xx(live_server, config, demo, body, status):
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1")
    query, data = signer.sign(body)
    assert requests.post(f"{live_server}/wechat", params=query, data=data).status_code == status


def test_a_one_megabyte_body_is_refused_with_413(live_server, config, demo):
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1")
    query, data = signer.sign(signer.text("灯" * (1024 * 1024 // 3)))
    response = requests.post(f"{live_server}/wechat", params=query, data=data)
    assert response.status_code == 413
    assert Ticket.select().count() == 0


def test_unknown_message_types_get_a_friendly_reply(chat, demo):
    client = chat("demo_resident_1")
    reply = client.send(client.signer.xml("video", {"MediaId": "v1", "ThumbMediaId": "t1"}))
    assert "文字、图片、语音和位置" in reply


@pytest.mark.parametrize("content", ["", "   ", "😀😀😀", "🙏！！"])
def test_empty_and_emoji_only_text_get_a_clear_reply(chat, demo, content):
    reply = chat("demo_resident_1").say(content)
    assert "文字、语音、照片或位置告诉我" in reply and "请确认" not in reply
    assert Ticket.select().count() == 0


def test_voice_without_recognition_asks_again(chat, demo):
    assert "没听清" in chat("demo_resident_1").voice(None)


def test_a_slow_reply_answers_success_and_follows_by_push(app, chat, demo, monkeypatch):
    from handlers import router
    from models.outbox import Outbound

    app.extensions["sidan"].config.REPLY_BUDGET_S = 0.2
    original = router._handle

    def slow(message, user, ctx):
        time.sleep(0.8)
        return original(message, user, ctx)

    monkeypatch.setattr(router, "_handle", slow)
    assert chat("demo_resident_1").say("帮助") == ""
    deadline = time.time() + 5
    while time.time() < deadline and not Outbound.select().where(Outbound.template == "reply"):
        time.sleep(0.05)
    late = Outbound.get(Outbound.template == "reply")
    assert late.openid == "demo_resident_1" and "我的工单" in late.text and late.channel == "cs"


def test_a_retried_event_acts_once(live_server, config, demo, chat):
    from models.org import InviteCode

    code = InviteCode.create(code="VOL-ONCE", role="volunteer", org_unit=demo.dispatcher_1.org_unit)
    client = chat("scanner")
    body = client.signer.event("subscribe", f"qrscene_invite_{code.code}")
    first = reply_text(client.post(body).text)
    again = reply_text(client.post(body).text)
    assert "幸福社区的志愿者" in first and again == first  # the same answer, not "already used"


def test_two_senders_with_the_same_msgid_each_get_their_own_reply(live_server, config, demo):
    """A MsgId is unique per sender only: sharing one must not hand one person's reply to another."""
    replies = {}
    for openid, text in (("demo_resident_1", "帮助"), ("demo_volunteer_1", "我的积分")):
        signer = WeChatSigner(token=config.WECHAT_TOKEN, openid=openid)
        query, body = signer.sign(signer.xml("text", {"Content": text}, msg_id=4242))
        replies[openid] = reply_text(
            requests.post(f"{live_server}/wechat", params=query, data=body).text
        )
    assert "积分" in replies["demo_volunteer_1"]
    assert replies["demo_resident_1"] != replies["demo_volunteer_1"]


def test_simulated_message_ids_do_not_collide_across_simulators():
    ids = set()
    for n in range(2000):
        signer = WeChatSigner(token="t", openid=f"u{n % 7}")
        ids.add(int(signer.text("你好").split("<MsgId>")[1].split("<")[0]))
    assert len(ids) == 2000


def test_a_message_that_waited_in_a_queue_answers_at_once_and_follows_by_push(
    live_server, config, demo, monkeypatch
):
    """In a burst a request can reach us seconds after WeChat sent it (its signed timestamp):
    what is left of WeChat's 5 s is the budget, and the reply follows by push."""
    from handlers import router
    from models.outbox import Outbound

    original = router._handle

    def slow(message, user, ctx):
        time.sleep(0.5)
        return original(message, user, ctx)

    monkeypatch.setattr(router, "_handle", slow)
    # Shedding off, so this measures the budget (a shed message never starts work at all:
    # tests/test_webhook_backlog.py).
    monkeypatch.setattr(config, "SHED_AFTER_S", 30.0)
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1")
    query, body = signer.sign(signer.text("帮助"), timestamp=int(time.time()) - 5)
    started = time.monotonic()
    response = requests.post(f"{live_server}/wechat", params=query, data=body)
    assert response.status_code == 200 and reply_text(response.text) == ""
    assert time.monotonic() - started < 0.45  # not the 3.5 s budget, nor the 0.5 s of work
    deadline = time.time() + 10
    while time.time() < deadline and not Outbound.select().where(Outbound.template == "reply"):
        time.sleep(0.05)
    late = Outbound.get(Outbound.template == "reply")
    assert late.openid == "demo_resident_1" and "我的工单" in late.text
    # A fresh one is answered in the reply itself, as always.
    query, body = signer.sign(signer.text("我的工单"))
    assert "工单" in reply_text(
        requests.post(f"{live_server}/wechat", params=query, data=body).text
    )
