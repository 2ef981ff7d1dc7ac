"""Strange webhook input gets a 4xx or a clear reply, never a 5xx and never a strange row."""

import hashlib
import time

import pytest
import requests

from bot.wechat_sign import WeChatSigner
from models.org import User
from models.tickets import Ticket

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def xml(fields: str, openid: str = "demo_resident_1") -> str:
    return (f"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
            f"{fields}</xml>")  # fmt: skip


def post(live_server, config, body: str | bytes, aes: bool = False) -> requests.Response:
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1",
                          aes_key=AES_KEY if aes else None, appid=config.WECHAT_APPID)  # fmt: skip
    if isinstance(body, bytes):
        query, _ = signer.sign("")
        data = body
    else:
        query, data = signer.sign(body)
    return requests.post(f"{live_server}/wechat", params=query, data=data, timeout=10)


@pytest.fixture
def safe_mode(app):
    app.extensions["sidan"].config.WECHAT_AES_KEY = AES_KEY


@pytest.mark.parametrize("aes", [False, True])
@pytest.mark.parametrize("msgid", ["abc", "1.5", "-3", "99999999999999999999999", ""])
def test_a_msgid_that_is_not_an_integer_is_refused(live_server, app, config, demo, msgid, aes):
    app.extensions["sidan"].config.WECHAT_AES_KEY = AES_KEY
    body = xml(f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType>"
               f"<Content>楼道灯坏了</Content><MsgId>{msgid}</MsgId>")  # fmt: skip
    response = post(live_server, config, body, aes=aes)
    if msgid == "":  # no MsgId at all is an event-like delivery: answered, deduplicated by time
        assert response.status_code == 200
    else:
        assert response.status_code == 400
    assert Ticket.select().count() == 0


@pytest.mark.parametrize("stamp", ["abc", "1e30", "99999999999999999999", "-99999999999", "1.5"])
def test_an_event_with_a_strange_create_time_is_refused(live_server, config, demo, stamp):
    body = xml(f"<CreateTime>{stamp}</CreateTime><MsgType>event</MsgType>"
               "<Event>CLICK</Event><EventKey>HELP</EventKey>")  # fmt: skip
    assert post(live_server, config, body).status_code == 400


def test_nested_tags_never_become_a_user(live_server, config, demo):
    users = User.select().count()
    body = ("<xml><ToUserName>gh</ToUserName><FromUserName><x>1</x></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType>"
            "<Content>你好</Content><MsgId>12345</MsgId></xml>")  # fmt: skip
    assert post(live_server, config, body).status_code == 400
    repeated = xml(f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType>"
                   "<Content>a</Content><Content>b</Content><MsgId>12346</MsgId>")  # fmt: skip
    assert post(live_server, config, repeated).status_code == 400
    assert User.select().count() == users
    assert not User.select().where(User.openid.contains("{")).exists()


@pytest.mark.parametrize(
    "lat, lng", [("NaN", "120.1"), ("30.2", "Infinity"), ("-inf", "0"), ("91", "0"), ("x", "1")]
)
def test_a_location_event_that_is_not_a_place_is_refused(live_server, config, demo, lat, lng):
    body = xml(f"<CreateTime>{int(time.time())}</CreateTime><MsgType>event</MsgType>"
               f"<Event>LOCATION</Event><Latitude>{lat}</Latitude><Longitude>{lng}</Longitude>"
               "<Precision>10</Precision>")  # fmt: skip
    assert post(live_server, config, body).status_code == 400
    user = User.get(User.openid == "demo_resident_1")
    assert user.lat is None or user.lat == user.lat  # never NaN


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>demo_resident_1</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&h;</Content>
<MsgId>4242</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>demo_resident_1</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&secret;</Content>
<MsgId>4243</MsgId></xml>"""


@pytest.mark.parametrize("aes", [False, True])
@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "external"])
def test_entities_are_refused_quickly(live_server, app, config, demo, body, aes):
    app.extensions["sidan"].config.WECHAT_AES_KEY = AES_KEY
    started = time.monotonic()
    response = post(live_server, config, body, aes=aes)
    assert response.status_code == 400
    assert time.monotonic() - started < 2
    assert "root:" not in response.text
    assert Ticket.select().count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"<xml><FromUserName>demo_resident_1</FromUserName><MsgType>text</MsgType>"
        b"<Content>\x00</Content></xml>",
        "<xml><FromUserName>demo_resident_1</FromUserName><MsgType>text</MsgType>"
        "<Content>楼道</Content></xml>".encode("gbk"),
        b"<xml><FromUserName>demo_resident_1</FromUserName><MsgType>text</MsgType>"
        b"<Content>&#0;</Content><MsgId>1</MsgId></xml>",
        b"\xff\xfe<\x00x\x00",
    ],
    ids=["nul", "gbk", "char-ref-nul", "utf16"],
)
def test_null_bytes_and_other_encodings_are_refused(live_server, config, demo, raw):
    assert post(live_server, config, raw).status_code == 400
    assert Ticket.select().count() == 0


def test_a_huge_text_field_within_the_body_cap_is_answered(chat, demo):
    reply = chat("demo_resident_1").say("灯" * 20000)
    assert reply  # a reply the person reads, not an error page
    assert Ticket.select().count() == 0


def test_a_captured_signed_url_cannot_carry_another_body(live_server, config, demo):
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1")
    query, body = signer.sign(signer.text("帮助", msg_id=55501))
    assert requests.post(f"{live_server}/wechat", params=query, data=body).status_code == 200
    # WeChat's own retry (same URL, same body) is still answered ...
    assert requests.post(f"{live_server}/wechat", params=query, data=body).status_code == 200
    # ... but the same URL with a message as someone else is refused.
    forged = WeChatSigner(token="unknown", openid="demo_dispatcher_1").text("待派单")
    response = requests.post(f"{live_server}/wechat", params=query, data=forged.encode())
    assert response.status_code == 403
    assert hashlib.sha1(forged.encode()).hexdigest() not in response.text


def test_a_person_sending_too_fast_is_asked_to_wait(app, chat, demo):
    app.extensions["sidan"].config.WEBHOOK_RATE_PER_MIN = 3
    resident = chat("demo_resident_1")
    replies = [resident.say("帮助") for _ in range(4)]
    assert "我的工单" in replies[2]
    assert "太快" in replies[3]
    assert "我的工单" in chat("demo_resident_2").say("帮助")  # others are not slowed


@pytest.fixture
def internal_service():
    """Something on the private network that must never be fetched on a message's say-so."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server naming)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, hits
    server.shutdown()


def test_a_picurl_is_fetched_only_from_wechats_media_hosts(app, chat, demo, internal_service):
    port, hits = internal_service
    resident = chat("demo_resident_1")
    resident.photo(f"http://127.0.0.1:{port}/admin/secrets.jpg")
    # A name on the allowed list that resolves to a private address is refused too.
    app.extensions["sidan"].config.PHOTO_HOSTS = ("localhost",)
    resident.photo(f"http://localhost:{port}/admin/secrets.jpg")
    assert hits == []
