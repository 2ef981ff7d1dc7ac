"""Nothing is lost when a service fails: the database down, Redis down, a conversation stuck."""

# ruff: noqa: F811 (the `sidan` fixture is imported from tests.test_cli)

import time

import peewee
import pytest
import redis as redis_lib
import requests
from playhouse.db_url import connect

from bot import replay
from bot import webhook_texts as says
from bot.app import create_app
from bot.chat import ChatClient, reply_text
from bot.config import Config
from bot.gateway import WeChatTransport, make_client
from bot.wechat_sign import signature
from handlers import texts
from models.db import database
from models.enums import Channel
from models.inbound_parked import InboundParked
from models.outbox import Outbound
from models.tickets import Ticket
from scheduler.drain import drain
from tests.test_cli import sidan  # noqa: F401

URGENT = "楼道里飞线充电的电线着火了，正在冒烟"


@pytest.fixture
def database_down(db, tmp_path):
    """Point the models at a database that cannot be reached; put the real one back after."""
    real = database.obj
    database.close()
    if isinstance(real, peewee.PostgresqlDatabase):
        gone = connect("postgresql://sidan@127.0.0.1:1/gone", connect_timeout=1)
    else:
        gone = connect(f"sqlite:///{tmp_path}/no/such/dir/sidan.db")
    database.initialize(gone)

    def restore():
        if not database.is_closed():
            database.close()
        database.initialize(real)
        database.connect(reuse_if_open=True)

    yield restore
    if database.obj is gone:
        restore()


def replay_now(app) -> int:
    with app.app_context():
        return replay.replay_due(app.extensions["sidan"])


def pushes_to(openid: str) -> list[str]:
    return [
        row.text
        for row in Outbound.select()
        .where((Outbound.openid == openid) & (Outbound.channel == Channel.CS))
        .order_by(Outbound.id)
    ]


def test_with_the_database_down_a_report_is_kept_and_filed_once_it_returns(
    app, chat, demo, database_down
):
    resident = chat("demo_resident_1")
    body = resident.signer.text(URGENT, msg_id=880001)
    assert resident.send(body) == says.PARKED
    database_down()  # the database is back
    assert Ticket.select().count() == 0
    assert replay_now(app) == 1
    assert Ticket.select().count() == 1
    [push] = pushes_to("demo_resident_1")
    assert "工单号" in push
    # Replaying again, or WeChat retrying the first delivery, files nothing more.
    assert replay_now(app) == 0
    assert "工单号" in resident.send(body)
    assert Ticket.select().count() == 1


def test_the_next_message_replays_what_was_parked_before_it(app, chat, demo, database_down):
    assert chat("demo_resident_1").say(URGENT) == says.PARKED
    database_down()
    reply = chat("demo_resident_2").say("帮助")
    assert "我的工单" in reply
    assert Ticket.select().where(Ticket.reporter == demo.resident_1).count() == 1
    assert any("工单号" in text for text in pushes_to("demo_resident_1"))


def test_with_the_database_down_verification_and_health_still_answer(
    app, live_server, config, database_down
):
    ts, nonce = str(int(time.time())), "778899"
    query = {"timestamp": ts, "nonce": nonce, "echostr": "ok-echo",
             "signature": signature(config.WECHAT_TOKEN, ts, nonce)}  # fmt: skip
    assert requests.get(f"{live_server}/wechat", params=query, timeout=10).text == "ok-echo"
    assert requests.get(f"{live_server}/healthz", timeout=10).status_code == 200
    ready = requests.get(f"{live_server}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["database"] is False
    login = requests.post(f"{live_server}/api/v1/login", json={"code": "dev:demo_resident_1"},
                          timeout=10)  # fmt: skip
    assert login.status_code == 503 and login.headers["Retry-After"]
    assert login.json()["error"]["code"] == "unavailable"
    open311 = requests.get(f"{live_server}/open311/v2/requests.json", timeout=10)
    assert open311.status_code == 503
    assert "维护" in open311.json()["error"]["message"]


@pytest.fixture
def redis_down_server(db, config, live_server_factory):
    application = create_app(Config(**{**config.as_dict(), "REDIS_URL": "redis://127.0.0.1:1/0"}))
    return live_server_factory(application)


def pushed_by_wechat(fake_wechat, openid: str) -> list[str]:
    """Customer-service texts the (fake) WeChat API accepted for `openid`."""
    return [
        req["body"]["text"]["content"]
        for req in fake_wechat.sent("/cgi-bin/message/custom/send")
        if req["errcode"] == 0 and req["body"].get("touser") == openid
    ]


@pytest.fixture
def wechat_transport(fake_wechat, redis_client, redis_prefix):
    client = make_client("wx_test", "secret", redis_client, api_base=fake_wechat.base_url,
                         key_prefix=redis_prefix + "wx")  # fmt: skip
    return WeChatTransport(client)


def test_with_redis_down_a_report_is_kept_in_the_database_and_filed_once_redis_returns(
    app, chat, redis_down_server, config, demo, fake_wechat, wechat_transport
):
    resident = ChatClient(redis_down_server, config.WECHAT_TOKEN, "demo_resident_1",
                          appid=config.WECHAT_APPID)  # fmt: skip
    body = resident.signer.text(URGENT, msg_id=770001)
    assert resident.send(body) == says.PARKED
    assert "110" in says.PARKED and "不用重发" in says.PARKED
    # WeChat's retry (a new signature) and a repeat of the same signed request keep nothing more.
    assert resident.send(body) == says.PARKED
    query, data = resident.signer.sign(body)
    for _ in range(2):
        again = resident.http.post(f"{redis_down_server}/wechat", params=query, data=data,
                                   timeout=10)  # fmt: skip
        assert again.status_code == 200 and says.PARKED in again.text
    assert InboundParked.select().count() == 1
    assert Ticket.select().count() == 0
    # Redis is back: the scheduler's replay files it once and the reply goes out by push.
    assert replay_now(app) == 1
    assert InboundParked.select().count() == 0
    assert Ticket.select().where(Ticket.reporter == demo.resident_1).count() == 1
    [push] = pushes_to("demo_resident_1")
    assert "工单号" in push
    drain(wechat_transport)
    [sent] = pushed_by_wechat(fake_wechat, "demo_resident_1")
    assert "工单号" in sent
    # Nothing is replayed twice: not by another run, nor on a late WeChat retry.
    assert replay_now(app) == 0
    chat("demo_resident_1").send(body)
    assert Ticket.select().count() == 1
    assert len(pushes_to("demo_resident_1")) == 1


def test_with_redis_down_a_signed_url_cannot_be_reused_with_another_body(
    redis_down_server, config, demo
):
    resident = ChatClient(redis_down_server, config.WECHAT_TOKEN, "demo_resident_1",
                          appid=config.WECHAT_APPID)  # fmt: skip
    query, data = resident.signer.sign(resident.signer.text("楼道灯坏了", msg_id=770002))
    assert resident.http.post(f"{redis_down_server}/wechat", params=query, data=data,
                              timeout=10).status_code == 200  # fmt: skip
    forged = resident.signer.text("我要投诉", msg_id=770003).replace(
        "demo_resident_1", "demo_resident_2"
    )
    refused = resident.http.post(f"{redis_down_server}/wechat", params=query,
                                 data=forged.encode(), timeout=10)  # fmt: skip
    assert refused.status_code == 403
    assert [row.openid for row in InboundParked.select()] == ["demo_resident_1"]


def test_a_persons_kept_messages_are_replayed_in_the_order_they_came(
    app, redis_down_server, config, demo
):
    resident = ChatClient(redis_down_server, config.WECHAT_TOKEN, "demo_resident_2",
                          appid=config.WECHAT_APPID)  # fmt: skip
    assert resident.say("小区门口的路灯坏了好几天了") == says.PARKED
    assert resident.say("取消") == says.PARKED
    assert replay_now(app) == 2
    # The report was started, then cancelled: in the other order nothing would be cancelled.
    [started, cancelled] = pushes_to("demo_resident_2")
    assert "工单号" not in started and cancelled == texts.CANCELLED
    assert Ticket.select().count() == 0


def test_only_a_persons_oldest_parked_message_can_be_claimed(app, demo):
    from handlers.inbound import Inbound

    svc = app.extensions["sidan"]
    box = replay.inbox(svc)
    first = box.park(Inbound("demo_resident_1", "text", text="一"), svc.key("msg", "a", 1), "t")
    second = box.park(Inbound("demo_resident_1", "text", text="二"), svc.key("msg", "a", 2), "t")
    other = box.park(Inbound("demo_resident_2", "text", text="三"), svc.key("msg", "b", 3), "t")
    assert box.claim().id == first.id
    # While the first is being replayed (by another replayer), the person's second waits.
    assert box.claim().id == other.id
    assert box.claim() is None
    box.later(first, 0)  # an outage: it goes back, still ahead of the second
    assert box.claim().id == first.id
    box.done(first)
    assert box.claim().id == second.id


def test_with_redis_and_the_database_down_the_webhook_says_so_and_wechat_retries(
    redis_down_server, config, demo, database_down
):
    resident = ChatClient(redis_down_server, config.WECHAT_TOKEN, "demo_resident_1",
                          appid=config.WECHAT_APPID)  # fmt: skip
    response = resident.post(resident.signer.text(URGENT, msg_id=770004))
    assert response.status_code == 503  # not 2xx: WeChat tries again
    assert reply_text(response.text) == says.BUSY
    database_down()
    assert InboundParked.select().count() == 0
    assert Ticket.select().count() == 0


def test_with_redis_down_health_answers_and_readiness_says_which(redis_down_server):
    assert requests.get(f"{redis_down_server}/healthz", timeout=10).status_code == 200
    ready = requests.get(f"{redis_down_server}/readyz", timeout=10).json()
    assert ready == {"ok": False, "database": True, "redis": False}


def test_a_message_stuck_behind_a_held_lock_is_replayed_not_dropped(app, chat, demo, redis_client):
    svc = app.extensions["sidan"]
    svc.config.REPLY_BUDGET_S = 0.3
    svc.config.CONVERSATION_LOCK_WAIT_S = 1.0
    lock = redis_client.lock(svc.key("lock", "demo_resident_1"), timeout=30)
    assert lock.acquire()
    resident = chat("demo_resident_1")
    assert resident.say(URGENT) == ""  # `success`: WeChat will not retry
    deadline = time.time() + 10
    while replay.inbox(svc).waiting() == 0 and time.time() < deadline:
        time.sleep(0.1)
    assert replay.inbox(svc).waiting() == 1
    lock.release()
    assert replay_now(app) == 1
    assert Ticket.select().count() == 1
    assert any("工单号" in text for text in pushes_to("demo_resident_1"))


def test_a_message_that_fails_every_replay_is_kept_for_the_operator(app, demo, monkeypatch):
    from bot import inbox as inbox_module
    from handlers.inbound import Inbound

    svc = app.extensions["sidan"]
    box = replay.inbox(svc)
    box.park(Inbound("demo_resident_1", "text", text="楼道灯坏了"), svc.key("msg", "x", 1), "test")

    def broken(*args, **kwargs):
        raise ValueError("a bug in a handler")

    monkeypatch.setattr(replay, "handle_inbound", broken)
    for _ in range(inbox_module.MAX_ATTEMPTS):
        with app.app_context():
            replay.replay_one(svc, box)
        for entry_id in box.redis.zrange(box.queue, 0, -1):
            box.redis.zadd(box.queue, {entry_id: 0})  # due now, not after its backoff
    assert box.waiting() == 0
    [dead] = box.dead_entries()
    assert dead.inbound.text == "楼道灯坏了" and "a bug" in dead.reason
    assert box.revive() == 1 and box.waiting() == 1


def test_the_operator_sees_and_replays_parked_messages(app, demo, sidan):
    from handlers.inbound import Inbound

    svc = app.extensions["sidan"]
    replay.inbox(svc).park(Inbound("demo_resident_1", "text", text=URGENT),
                           svc.key("msg", "demo_resident_1", 7), "OperationalError: down")  # fmt: skip
    assert "1 waiting for replay" in sidan("inbox", "status").output
    assert "1 message(s) replayed" in sidan("inbox", "replay").output
    assert Ticket.select().count() == 1
    assert "0 waiting for replay" in sidan("inbox", "status").output


def test_the_operator_sees_and_replays_messages_kept_while_redis_was_down(
    redis_down_server, config, demo, sidan
):
    resident = ChatClient(redis_down_server, config.WECHAT_TOKEN, "demo_resident_3",
                          appid=config.WECHAT_APPID)  # fmt: skip
    assert resident.say(URGENT) == says.PARKED
    assert "1 kept in the database while Redis was down" in sidan("inbox", "status").output
    assert "1 message(s) replayed" in sidan("inbox", "replay").output
    assert Ticket.select().where(Ticket.reporter == demo.resident_3).count() == 1
    assert "0 kept in the database" in sidan("inbox", "status").output


def test_a_message_that_cannot_be_parked_in_redis_is_kept_in_the_database(
    app, chat, demo, monkeypatch
):
    """The database failed under the handler, then Redis went before the message was parked."""
    from bot import inbox as inbox_module
    from bot import webhook

    def database_fails(*args, **kwargs):
        raise peewee.OperationalError("server closed the connection")

    def redis_fails(*args, **kwargs):
        raise redis_lib.ConnectionError("Connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(webhook, "handle_inbound", database_fails)
        patch.setattr(inbox_module.Inbox, "park", redis_fails)
        assert chat("demo_resident_1").say(URGENT) == says.PARKED
    assert InboundParked.select().count() == 1
    # The delivery's own pending mark (its worker gone) does not stop the replay.
    assert replay_now(app) == 1
    assert Ticket.select().where(Ticket.reporter == demo.resident_1).count() == 1
    assert any("工单号" in text for text in pushes_to("demo_resident_1"))
