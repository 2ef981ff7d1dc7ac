"""The outbox drain against the fake WeChat API over real HTTP, with injected faults."""

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import redis

from bot.gateway import RecordingTransport, TransportError, WeChatTransport, make_client
from models import clock, outbox
from models.db import database
from models.enums import OutboundStatus
from models.org import User
from models.outbox import Outbound, OutboundMessage
from scheduler.drain import choose_channel, drain, handle_one_outbound
from tests.fake_wechat import FakeWeChat

CS = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"
TEMPLATE_IDS = {"notice": "TPL_NOTICE", "rating": "TPL_RATING"}


@pytest.fixture
def wechat():
    with FakeWeChat(timeout_sleep=0.6) as server:
        yield server


@pytest.fixture
def transport(wechat):
    raw = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    prefix = f"sidan_test_drain_{uuid.uuid4().hex}"
    client = make_client("wx_oa", "secret", raw, api_base=wechat.base_url, timeout=0.3,
                         key_prefix=prefix)  # fmt: skip
    yield WeChatTransport(client)
    for key in raw.scan_iter(match=prefix + ":*"):
        raw.delete(key)
    raw.close()


def person(openid: str, wrote_ago: timedelta | None = timedelta(hours=1)) -> User:
    last = clock.now() - wrote_ago if wrote_ago is not None else None
    return User.create(openid=openid, name="测试", last_message_at=last)


def delivered(wechat) -> Counter:
    """(openid, text) of every send WeChat accepted without a fault."""
    seen = Counter()
    for req in wechat.sent(CS) + wechat.sent(TEMPLATE):
        if req["fault"] is None and req["errcode"] == 0:
            body = req["body"]
            text = body.get("text", {}).get("content") or body["data"]["content"]["value"]
            seen[(body["touser"], text)] += 1
    return seen


def drain_until_quiet(transport, rounds: int = 12) -> None:
    """Drain, then let the backoff pass, until nothing is pending."""
    for _ in range(rounds):
        drain(transport, template_ids=TEMPLATE_IDS)
        if not Outbound.select().where(Outbound.status == OutboundStatus.PENDING).exists():
            return
        clock.advance(timedelta(hours=2))


def test_user_who_wrote_recently_gets_a_customer_service_message(db, wechat, transport):
    outbox.enqueue(person("o_recent"), "您好")
    assert handle_one_outbound(transport, template_ids=TEMPLATE_IDS) is True
    row = Outbound.get()
    assert (row.status, row.sent_channel, row.attempts) == ("sent", "cs", 1)
    assert [r["body"]["touser"] for r in wechat.sent(CS)] == ["o_recent"]
    assert wechat.sent(TEMPLATE) == []
    assert handle_one_outbound(transport) is False


def test_user_silent_for_two_days_gets_a_template_message(db, wechat, transport):
    outbox.enqueue(person("o_old", timedelta(hours=49)), "评价一下", template="rating")
    outbox.enqueue(person("o_never", None), "通知")
    drain(transport, template_ids=TEMPLATE_IDS)
    sent = {r["body"]["touser"]: r["body"]["template_id"] for r in wechat.sent(TEMPLATE)}
    assert sent == {"o_old": "TPL_RATING", "o_never": "TPL_NOTICE"}
    assert wechat.sent(CS) == []
    assert {r.sent_channel for r in Outbound.select()} == {"template"}


def test_window_boundary_is_forty_eight_hours(db):
    outbox.enqueue(person("o_edge", timedelta(hours=48)), "x")
    outbox.enqueue(person("o_past", timedelta(hours=48, seconds=1)), "y")
    rows = {r.openid: r for r in Outbound.select()}
    assert choose_channel(rows["o_edge"]) == "cs"
    assert choose_channel(rows["o_past"]) == "template"


def test_closed_window_falls_back_to_template_once(db, wechat, transport):
    outbox.enqueue(person("o_closed"), "您的工单已办结")
    wechat.close_window("o_closed")
    drain(transport, template_ids=TEMPLATE_IDS)
    row = Outbound.get()
    assert (row.status, row.sent_channel, row.attempts) == ("sent", "template", 1)
    assert len(wechat.sent(CS)) == 1 and len(wechat.sent(TEMPLATE)) == 1
    assert delivered(wechat) == {("o_closed", "您的工单已办结"): 1}


def test_fallback_that_fails_retries_as_template_only(db, wechat, transport):
    outbox.enqueue(person("o_closed2"), "提醒")
    wechat.close_window("o_closed2")
    wechat.fail(TEMPLATE, "500")
    drain(transport, template_ids=TEMPLATE_IDS)
    assert Outbound.get().status == "pending"
    clock.advance(timedelta(minutes=5))
    drain(transport, template_ids=TEMPLATE_IDS)
    assert len(wechat.sent(CS)) == 1  # the closed window is not knocked on again
    assert delivered(wechat) == {("o_closed2", "提醒"): 1}


@pytest.mark.parametrize("fault", ["timeout", "500", "502", 45009, -1])
def test_transient_faults_are_retried_until_delivered_once(db, wechat, transport, fault):
    users = [person(f"o_{i}") for i in range(3)]
    for i, user in enumerate(users):
        outbox.enqueue(user, f"消息{i}")
    wechat.fail(CS, fault, times=4)
    drain_until_quiet(transport)
    rows = list(Outbound.select())
    assert {r.status for r in rows} == {"sent"}
    assert delivered(wechat) == {(f"o_{i}", f"消息{i}"): 1 for i in range(3)}
    assert sum(r.attempts for r in rows) == 3 + 4  # each fault cost exactly one attempt


def test_stale_token_is_refreshed_within_the_same_attempt(db, wechat, transport):
    outbox.enqueue(person("o_tok"), "token")
    drain(transport)
    wechat.expire_tokens()
    outbox.enqueue(User.get(User.openid == "o_tok"), "token2")
    wechat.fail(CS, 40001)
    drain(transport)
    assert {r.status for r in Outbound.select()} == {"sent"}
    assert Outbound.get(Outbound.text == "token2").attempts == 1
    assert delivered(wechat) == {("o_tok", "token"): 1, ("o_tok", "token2"): 1}


def test_quota_error_waits_at_least_what_wechat_asks(db, wechat, transport):
    outbox.enqueue(person("o_quota"), "q")
    wechat.fail(CS, 45009)
    drain(transport)
    row = Outbound.get()
    assert row.status == "pending"
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=300)
    clock.advance(timedelta(seconds=299))
    assert handle_one_outbound(transport) is False
    clock.advance(timedelta(seconds=2))
    assert handle_one_outbound(transport) is True
    assert Outbound.get().status == "sent"


def test_message_dead_letters_after_n_tries_and_retry_brings_it_back(db, wechat, transport):
    outbox.enqueue(person("o_dead"), "坚持")
    wechat.fail(CS, "500", times=3)
    for _ in range(3):
        drain(transport, max_attempts=3)
        clock.advance(timedelta(hours=2))
    row = Outbound.get()
    assert (row.status, row.attempts) == ("dead", 3)
    assert "HTTP 500" in row.last_error
    assert [r.id for r in outbox.dead_letters()] == [row.id]
    assert drain(transport) == 0  # dead letters are not picked up by themselves
    assert outbox.retry_dead() == 1
    drain(transport)
    assert Outbound.get().status == "sent"
    assert list(outbox.dead_letters()) == []
    assert delivered(wechat) == {("o_dead", "坚持"): 1}


def test_permanent_error_dead_letters_at_once(db, wechat, transport):
    outbox.enqueue(person("o_bad"), "x")
    wechat.fail(CS, 40003)
    drain(transport)
    row = Outbound.get()
    assert (row.status, row.attempts) == ("dead", 1)
    assert "40003" in row.last_error


def test_unexpected_exception_is_retried_not_lost(db):
    class Broken:
        calls = 0

        def send(self, message):
            Broken.calls += 1
            if Broken.calls == 1:
                raise ValueError("boom")
            return "ok"

    outbox.enqueue(person("o_x"), "x")
    drain(Broken())
    assert Outbound.get().status == "pending"
    clock.advance(timedelta(minutes=1))
    drain(Broken())
    assert (Outbound.get().status, Broken.calls) == ("sent", 2)


def test_recording_transport_gets_plain_message_fields(db):
    rec = RecordingTransport()
    rec.fail_next(TransportError("down"))
    outbox.enqueue(person("o_rec"), "正文", data={"page": "pages/t?id=1", "first": "标题"},
                   template="notice")  # fmt: skip
    User.update(last_message_at=None).execute()
    drain(rec, template_ids=TEMPLATE_IDS)
    clock.advance(timedelta(minutes=1))
    drain(rec, template_ids=TEMPLATE_IDS)
    assert rec.messages == [
        OutboundMessage(
            "o_rec", "template", "正文", "TPL_NOTICE", {"first": "标题"}, "pages/t?id=1"
        )
    ]


def _drain_in_thread(transport, results, barrier):
    try:
        barrier.wait()
        results.append(drain(transport, limit=1000))
    finally:
        database.close()


def test_two_drainers_at_once_send_nothing_twice(db, wechat, transport):
    users = [person(f"o_two_{i}") for i in range(6)]
    for n in range(60):
        outbox.enqueue(users[n % 6], f"第{n}条")
    # One token up front: two first fetches at once would revoke each other (a gateway matter).
    transport.client.fetch_access_token()
    wechat.fail(CS, "500", times=5)
    results, barrier = [], threading.Barrier(2)
    threads = [
        threading.Thread(target=_drain_in_thread, args=(transport, results, barrier))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(results) == 60
    drain_until_quiet(transport)
    assert {r.status for r in Outbound.select()} == {"sent"}
    assert delivered(wechat) == {(f"o_two_{n % 6}", f"第{n}条"): 1 for n in range(60)}
    assert sum(r["fault"] == "500" for r in wechat.sent(CS)) == 5
    assert sum(r.attempts for r in Outbound.select()) == 65
