"""The WeChat gateway against a real local fake API over HTTP and the real Redis."""

import io
import time
import uuid

import pytest
import redis

from bot.gateway import (
    Channel,
    ConsoleTransport,
    InvalidCode,
    OutboundMessage,
    RecordingTransport,
    TransportError,
    WeChatTransport,
    WindowClosed,
    call_api,
    code_to_session,
    create_menu,
    create_qrcode_scene,
    make_client,
)
from tests.fake_wechat import fake_wechat  # noqa: F401 (imported as a fixture)

CS = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"
SUBSCRIBE = "/cgi-bin/message/subscribe/send"
TOKEN = "/cgi-bin/token"
FAST_TIMEOUT = 0.3


@pytest.fixture
def wechat(fake_wechat):  # noqa: F811 (the imported fixture, requested by name)
    """The fake WeChat API this test talks to."""
    return fake_wechat


@pytest.fixture
def redis_client():
    """The real Redis at 127.0.0.1:6379; a missing server is a failure, not a skip."""
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def key_prefix(redis_client):
    """A token key prefix used by this test only; its keys are deleted afterwards."""
    prefix = f"sidan_test_gateway_{uuid.uuid4().hex}"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + ":*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def client_factory(wechat, redis_client, key_prefix):
    """Build clients pointed at the fake server, sharing this test's Redis prefix."""

    def build(appid="wx_oa", timeout=FAST_TIMEOUT):
        return make_client(
            appid,
            "secret",
            redis_client,
            api_base=wechat.base_url,
            timeout=timeout,
            key_prefix=key_prefix,
        )

    return build


@pytest.fixture
def transport(client_factory):
    return WeChatTransport(client_factory(), mini_client=client_factory("wx_mini"))


def cs_message(openid="o_resident", text="您的工单 SD-0001 已受理"):
    return OutboundMessage(openid=openid, channel=Channel.CS, text=text)


def test_cs_send_lands_with_the_right_openid_and_text(transport, wechat):
    assert transport.send(cs_message()) is None  # cs sends carry no msgid

    (sent,) = wechat.sent(CS)
    assert sent["body"] == {
        "touser": "o_resident",
        "msgtype": "text",
        "text": {"content": "您的工单 SD-0001 已受理"},
    }


def test_template_send_carries_template_id_data_and_link(transport, wechat):
    message = OutboundMessage(
        openid="o_resident",
        channel=Channel.TEMPLATE,
        text="工单已超时",
        template_id="TPL_OVERDUE",
        data={"first": "工单已超时", "keyword1": {"value": "SD-0002", "color": "#f00"}},
        page="pages/ticket?id=2",
    )

    msgid = transport.send(message)

    (sent,) = wechat.sent(TEMPLATE)
    assert msgid == str(sent["response"]["msgid"])
    assert sent["body"]["template_id"] == "TPL_OVERDUE"
    assert sent["body"]["data"] == {
        "first": {"value": "工单已超时"},
        "keyword1": {"value": "SD-0002", "color": "#f00"},
    }
    assert sent["body"]["miniprogram"] == {"appid": "wx_mini", "pagepath": "pages/ticket?id=2"}


def test_template_without_data_puts_the_text_in_a_content_field(transport, wechat):
    transport.send(OutboundMessage("o_x", Channel.TEMPLATE, "请评价", template_id="TPL"))

    assert wechat.sent(TEMPLATE)[0]["body"]["data"] == {"content": {"value": "请评价"}}


def test_subscribe_send_goes_through_the_mini_program_token(transport, wechat):
    message = OutboundMessage(
        "mp_resident", Channel.SUBSCRIBE, "已办结", template_id="SUB_DONE", page="pages/rate"
    )

    assert transport.send(message).isdigit()

    (sent,) = wechat.sent(SUBSCRIBE)
    assert sent["body"]["touser"] == "mp_resident"
    assert sent["body"]["page"] == "pages/rate"
    assert sent["query"]["access_token"].startswith("tok_wx_mini_")


def test_template_message_without_template_id_is_permanent(transport, wechat):
    with pytest.raises(TransportError) as caught:
        transport.send(OutboundMessage("o_x", Channel.TEMPLATE, "hi"))

    assert caught.value.permanent
    assert wechat.sent(TEMPLATE) == []


def test_token_is_fetched_once_and_shared_by_two_clients(client_factory, wechat):
    first, second = WeChatTransport(client_factory()), WeChatTransport(client_factory())

    first.send(cs_message())
    second.send(cs_message())

    assert len(wechat.sent(TOKEN)) == 1
    tokens = {r["query"]["access_token"] for r in wechat.sent(CS)}
    assert len(tokens) == 1


def test_invalid_token_is_refreshed_once_and_the_send_succeeds(transport, wechat):
    transport.send(cs_message())
    wechat.fail(CS, 40001)

    transport.send(cs_message(text="第二条"))

    assert len(wechat.sent(TOKEN)) == 2
    attempts = wechat.sent(CS)
    assert [a["errcode"] for a in attempts] == [0, 40001, 0]
    assert attempts[1]["query"]["access_token"] != attempts[2]["query"]["access_token"]


def test_a_token_revoked_by_wechat_is_replaced(transport, wechat):
    transport.send(cs_message())
    wechat.expire_tokens()

    transport.send(cs_message())

    assert [a["errcode"] for a in wechat.sent(CS)] == [0, 40001, 0]


def test_expired_token_twice_gives_up_after_exactly_two_attempts(transport, wechat):
    wechat.fail(CS, 42001, times=5)

    with pytest.raises(TransportError) as caught:
        transport.send(cs_message())

    assert not caught.value.permanent
    assert caught.value.errcode == 42001
    assert len(wechat.sent(CS)) == 2


def force_refresh(client):
    """What a worker does when WeChat told it its token is stale: fetch past that token."""
    client.fetch_access_token(stale=client.session.get(client.access_token_key))


def test_token_refreshed_by_another_process_is_picked_up_from_redis(
    client_factory,
    wechat,
):
    ours, theirs = WeChatTransport(client_factory()), client_factory()
    ours.send(cs_message())
    force_refresh(theirs)  # another worker refreshed; WeChat revoked our old token

    ours.send(cs_message())

    assert len(wechat.sent(TOKEN)) == 2
    assert [a["errcode"] for a in wechat.sent(CS)] == [0, 0]


def test_losing_a_refresh_race_reuses_the_winners_token(client_factory, wechat):
    ours, theirs = client_factory(), client_factory()
    read_tokens = []

    def send_while_another_worker_refreshes():
        token = ours.access_token
        if not read_tokens:
            force_refresh(theirs)  # lands while our request is in flight
        read_tokens.append(token)
        body = {"touser": "o_x", "msgtype": "text", "text": {"content": "hi"}}
        return ours.post("message/custom/send", params={"access_token": token}, data=body)

    call_api(ours, send_while_another_worker_refreshes)

    assert [a["errcode"] for a in wechat.sent(CS)] == [40001, 0]
    assert len(wechat.sent(TOKEN)) == 2  # our first fetch and theirs; no third
    assert read_tokens[0] != read_tokens[1]


@pytest.mark.parametrize("kind", ["timeout", "500", "502", "45009", "-1"])
def test_transient_faults_raise_a_retryable_error_quickly(transport, wechat, kind):
    transport.send(cs_message())  # warm the token so only the send is timed
    wechat.fail(CS, kind)

    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.send(cs_message())

    assert time.monotonic() - started < FAST_TIMEOUT + 0.5
    assert not caught.value.permanent
    assert not isinstance(caught.value, WindowClosed)
    assert len(wechat.sent(CS)) == 2  # no hidden retry


def test_api_quota_error_suggests_when_to_retry(transport, wechat):
    wechat.fail(CS, 45009)

    with pytest.raises(TransportError) as caught:
        transport.send(cs_message())

    assert caught.value.retry_after and caught.value.retry_after > 0


def test_token_endpoint_down_is_a_retryable_error(transport, wechat):
    wechat.fail(TOKEN, "timeout")

    with pytest.raises(TransportError) as caught:
        transport.send(cs_message())

    assert not caught.value.permanent
    assert "access token" in str(caught.value)
    assert wechat.sent(CS) == []


def test_errors_never_carry_the_app_secret_or_token(transport, wechat):
    wechat.fail(TOKEN, "500")

    with pytest.raises(TransportError) as caught:
        transport.send(cs_message())

    assert "500" in str(caught.value)
    assert "secret=secret" not in str(caught.value)
    assert "secret=***" in str(caught.value)


def test_api_base_comes_from_the_environment_when_not_given(
    monkeypatch, redis_client, key_prefix, wechat
):
    monkeypatch.setenv("WECHAT_API_BASE", wechat.base_url + "/")
    client = make_client("wx_env", "secret", redis_client, key_prefix=key_prefix)

    WeChatTransport(client).send(cs_message())

    assert len(wechat.sent(CS)) == 1


def test_template_link_to_a_web_page_uses_url(client_factory, wechat):
    transport = WeChatTransport(client_factory())
    page = "https://sidan.example/t/3"

    transport.send(OutboundMessage("o_x", Channel.TEMPLATE, "x", template_id="T", page=page))

    assert wechat.sent(TEMPLATE)[0]["body"]["url"] == page


def test_closed_window_asks_for_a_template_fallback(transport, wechat):
    wechat.close_window("o_silent")

    with pytest.raises(WindowClosed) as caught:
        transport.send(cs_message(openid="o_silent"))

    assert caught.value.permanent
    assert "template" in str(caught.value)


def test_injected_45015_on_a_cs_send_is_window_closed(transport, wechat):
    wechat.fail(CS, "45015")

    with pytest.raises(WindowClosed):
        transport.send(cs_message())


def test_invalid_openid_is_permanent(transport, wechat):
    wechat.fail(TEMPLATE, 40003)
    message = OutboundMessage("o_gone", Channel.TEMPLATE, "x", template_id="TPL")

    with pytest.raises(TransportError) as caught:
        transport.send(message)

    assert caught.value.permanent
    assert caught.value.errcode == 40003
    assert not isinstance(caught.value, WindowClosed)
    assert len(wechat.sent(TEMPLATE)) == 1


def test_code_to_session_returns_the_mapped_openid(client_factory, wechat):
    wechat.register_code("code-123", "mp_abc", unionid="u_abc")

    session = code_to_session(client_factory("wx_mini"), "code-123")

    assert session["openid"] == "mp_abc"
    assert session["unionid"] == "u_abc"
    assert session["session_key"]
    (login,) = wechat.sent("/sns/jscode2session")
    assert login["query"]["appid"] == "wx_mini"
    assert login["query"]["js_code"] == "code-123"


@pytest.mark.parametrize("code", ["never-issued", "used-once", "", "   "])
def test_a_bad_login_code_fails_clearly(client_factory, wechat, code):
    client = client_factory("wx_mini")
    wechat.register_code("used-once", "mp_abc")
    if code == "used-once":
        code_to_session(client, code)

    with pytest.raises(InvalidCode) as caught:
        code_to_session(client, code)

    assert caught.value.permanent
    assert "code" in str(caught.value)


def test_menu_and_qrcode_wrappers_reach_the_api(client_factory, wechat):
    client = client_factory()
    menu = {"button": [{"type": "click", "name": "我要报事", "key": "REPORT"}]}

    create_menu(client, menu)
    permanent = create_qrcode_scene(client, "grid:12")
    temporary = create_qrcode_scene(client, "invite:7", expire_seconds=600)

    assert wechat.sent("/cgi-bin/menu/create")[0]["body"] == menu
    bodies = [r["body"] for r in wechat.sent("/cgi-bin/qrcode/create")]
    assert bodies[0]["action_name"] == "QR_LIMIT_STR_SCENE"
    assert bodies[0]["action_info"] == {"scene": {"scene_str": "grid:12"}}
    assert bodies[1]["action_name"] == "QR_STR_SCENE"
    assert permanent["ticket"] and permanent["url"]
    assert temporary["expire_seconds"] == 600


def test_every_wechatpy_endpoint_points_at_the_configured_base(client_factory, wechat):
    client = client_factory()

    base = wechat.base_url
    own_bases = {"client": client.API_BASE_URL, "wxa": client.wxa.API_BASE_URL}
    assert own_bases == {"client": f"{base}/cgi-bin/", "wxa": f"{base}/"}
    bases = [api.API_BASE_URL for api in vars(client).values() if hasattr(api, "API_BASE_URL")]
    assert bases and all(url.startswith(base) for url in bases)


def test_client_never_uses_wechatpys_unbounded_retry(client_factory):
    assert client_factory().auto_retry is False


def test_console_transport_prints_openid_and_text_on_one_line():
    stream = io.StringIO()

    ConsoleTransport(stream).send(cs_message(text="第一行\n第二行"))

    (line,) = stream.getvalue().splitlines()
    assert "o_resident" in line
    assert "第一行 第二行" in line
    assert "客服消息" in line


def test_console_transport_defaults_to_stdout(capsys):
    ConsoleTransport().send(OutboundMessage("o_a", "template", "请评价", template_id="TPL"))

    assert "o_a" in capsys.readouterr().out


def test_recording_transport_records_and_replays_queued_failures():
    recorder = RecordingTransport()
    recorder.fail_next(TransportError("down"), times=1)

    with pytest.raises(TransportError):
        recorder.send(cs_message())
    recorder.send(cs_message())

    assert recorder.messages == [cs_message()]


def test_cold_workers_fetching_at_once_share_one_token(client_factory, wechat):
    import threading

    clients = [client_factory() for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    tokens = []

    def first_use(client):
        barrier.wait()
        tokens.append(client.access_token)

    threads = [threading.Thread(target=first_use, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    # One fetch: a second would have revoked the first worker's token.
    assert len(wechat.sent(TOKEN)) == 1
    assert len(set(tokens)) == 1 and len(tokens) == 4
