"""Building and signing webhook requests exactly as WeChat does (simulator, tests, benchmark)."""

import hashlib
import random
import re
import secrets
import string
import time
from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto


def _new_msg_id() -> int:
    """A random 63-bit MsgId: simulators started in the same millisecond never collide."""
    return secrets.randbits(63)


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """WeChat's SHA1 over the sorted strings (msg_signature adds the ciphertext)."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *extra])).encode()).hexdigest()


def _cdata(value: str) -> str:
    return f"<![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]>"


@dataclass
class WeChatSigner:
    """Makes (query string, body) pairs for POST /wechat from one user."""

    token: str
    openid: str
    account: str = "gh_sidan"
    aes_key: str | None = None
    appid: str = "wx_sidan_dev"

    def xml(self, msg_type: str, fields: dict, *, msg_id: int | None = None, at=None) -> str:
        at = int(at or time.time())
        parts = [
            f"<ToUserName>{_cdata(self.account)}</ToUserName>",
            f"<FromUserName>{_cdata(self.openid)}</FromUserName>",
            f"<CreateTime>{at}</CreateTime>",
            f"<MsgType>{_cdata(msg_type)}</MsgType>",
        ]
        for name, value in fields.items():
            text = value if isinstance(value, int | float) else _cdata(str(value))
            parts.append(f"<{name}>{text}</{name}>")
        if msg_type != "event":
            parts.append(f"<MsgId>{msg_id if msg_id is not None else _new_msg_id()}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, content: str, **kw) -> str:
        return self.xml("text", {"Content": content}, **kw)

    def image(self, pic_url: str = "http://example.invalid/p.jpg", **kw) -> str:
        return self.xml("image", {"PicUrl": pic_url, "MediaId": f"m{_new_msg_id()}"}, **kw)

    def voice(self, recognition: str | None, **kw) -> str:
        fields = {"MediaId": f"v{_new_msg_id()}", "Format": "amr"}
        if recognition is not None:
            fields["Recognition"] = recognition
        return self.xml("voice", fields, **kw)

    def location(self, lat: float, lng: float, label: str = "", **kw) -> str:
        fields = {"Location_X": lat, "Location_Y": lng, "Scale": 15, "Label": label}
        return self.xml("location", fields, **kw)

    def event(self, event: str, key: str = "", **kw) -> str:
        fields = {"Event": event}
        if key:
            fields["EventKey"] = key
        return self.xml("event", fields, **kw)

    def sign(self, body: str, *, timestamp: int | None = None) -> tuple[dict, bytes]:
        """Query parameters and body for one POST, plain or safe (AES) mode."""
        ts = str(int(timestamp or time.time()))
        nonce = "".join(random.choices(string.digits, k=10))
        query = {"timestamp": ts, "nonce": nonce, "signature": signature(self.token, ts, nonce),
                 "openid": self.openid}  # fmt: skip
        if not self.aes_key:
            return query, body.encode()
        crypto = WeChatCrypto(self.token, self.aes_key, self.appid)
        encrypted = crypto.encrypt_message(body, nonce, ts)
        cipher = encrypted.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        query.update(encrypt_type="aes", msg_signature=signature(self.token, ts, nonce, cipher))
        return query, encrypted.encode()

    def decrypt_reply(self, body: str, query: dict) -> str:
        """The plain XML of a safe-mode reply."""
        if not self.aes_key:
            return body
        crypto = WeChatCrypto(self.token, self.aes_key, self.appid)
        sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", body).group(1)
        ts = re.search(r"<TimeStamp>(\d+)</TimeStamp>", body).group(1)
        nonce = re.search(r"<Nonce><!\[CDATA\[(.*?)\]\]>", body).group(1)
        return crypto.decrypt_message(body, sig, ts, nonce)
