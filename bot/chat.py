"""`sidan chat`: a terminal WeChat for any role, talking to a running server over HTTP.

Messages are built and signed exactly as WeChat does; replies are shown as WeChat would show
them, and pushes sent to this user (from the outbox) appear as they go out.
"""

import shlex
import threading
import time
from xml.etree import ElementTree

import requests

from bot.wechat_sign import WeChatSigner

HELP = """Type a message and press Enter. Commands:
  /loc LAT LNG [label]   send a location        /photo [url]    send a photo
  /voice TEXT            send a voice message   /scan SCENE     scan a QR code (e.g. compound_1)
  /click KEY             click a menu item (REPORT, MY_TICKETS, VOLUNTEER, HELP)
  /subscribe [SCENE]     follow the account     /quit           leave"""


class ChatClient:
    """One WeChat user talking to the webhook at `base_url`."""

    def __init__(self, base_url: str, token: str, openid: str, aes_key: str | None = None,
                 appid: str = "wx_sidan_dev", timeout: float = 10.0):  # fmt: skip
        self.url = base_url.rstrip("/") + "/wechat"
        self.signer = WeChatSigner(token=token, openid=openid, aes_key=aes_key, appid=appid)
        self.http = requests.Session()
        self.timeout = timeout

    def post(self, body: str) -> requests.Response:
        query, data = self.signer.sign(body)
        return self.http.post(self.url, params=query, data=data, timeout=self.timeout,
                              headers={"Content-Type": "text/xml"})  # fmt: skip

    def send(self, body: str) -> str:
        """Post one message; the reply's text ('' for `success`)."""
        response = self.post(body)
        response.raise_for_status()
        return reply_text(self.signer.decrypt_reply(response.text, {}))

    def say(self, text: str, **kw) -> str:
        return self.send(self.signer.text(text, **kw))

    def photo(self, url: str = "http://example.invalid/photo.jpg") -> str:
        return self.send(self.signer.image(url))

    def voice(self, recognition: str | None) -> str:
        return self.send(self.signer.voice(recognition))

    def location(self, lat: float, lng: float, label: str = "") -> str:
        return self.send(self.signer.location(lat, lng, label))

    def event(self, event: str, key: str = "") -> str:
        return self.send(self.signer.event(event, key))


def reply_text(body: str) -> str:
    """The Content of a passive reply; '' for `success` or an empty body."""
    if not body or body.strip() == "success":
        return ""
    node = ElementTree.fromstring(body).find("Content")
    return node.text if node is not None and node.text else ""


def _command(client: ChatClient, line: str) -> str | None:
    parts = shlex.split(line)
    name, args = parts[0], parts[1:]
    if name == "/loc" and len(args) >= 2:
        return client.location(float(args[0]), float(args[1]), " ".join(args[2:]))
    if name == "/photo":
        return client.photo(args[0] if args else "http://example.invalid/photo.jpg")
    if name == "/voice" and args:
        return client.voice(" ".join(args))
    if name == "/scan" and args:
        return client.event("SCAN", args[0])
    if name == "/click" and args:
        return client.event("CLICK", args[0])
    if name == "/subscribe":
        return client.event("subscribe", f"qrscene_{args[0]}" if args else "")
    return None


def _watch_pushes(openid: str, stop: threading.Event, printer) -> None:
    """Show outbox messages to this user once they are sent (shared database)."""
    from models.enums import OutboundStatus
    from models.outbox import Outbound

    last = Outbound.select(Outbound.id).order_by(Outbound.id.desc()).scalar() or 0
    while not stop.is_set():
        rows = list(
            Outbound.select()
            .where((Outbound.openid == openid) & (Outbound.id > last))
            .order_by(Outbound.id)
        )
        for row in rows:
            if row.status in (OutboundStatus.PENDING, OutboundStatus.SENDING):
                break  # keep the order: wait until this one is settled
            last = row.id
            if row.status == OutboundStatus.SENT:
                printer(f"\n[推送] {row.text}\n")
            else:  # dead-lettered: say so rather than wait for ever
                printer(f"\n[推送失败，已转人工] {row.text}\n")
        stop.wait(1.0)


def run_repl(client: ChatClient, openid: str, watch_pushes: bool = True) -> None:
    """The interactive loop behind `sidan chat`."""
    print(f"Chatting as {openid} with {client.url}\n{HELP}\n")
    stop = threading.Event()
    if watch_pushes:
        threading.Thread(target=_watch_pushes, args=(openid, stop, print), daemon=True).start()
    try:
        while True:
            try:
                line = input("我> ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            try:
                reply = _command(client, line) if line.startswith("/") else client.say(line)
            except requests.RequestException as exc:
                print(f"(could not reach the server: {exc})")
                continue
            if reply is None:
                print(HELP)
            else:
                print(f"公众号> {reply or '(无回复)'}")
            time.sleep(0.05)
    finally:
        stop.set()
