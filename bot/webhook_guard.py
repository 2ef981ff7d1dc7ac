"""Checks on a webhook delivery before anything acts on it: field types, replays, rate, photo URL.

Everything here refuses with a clear outcome (a 4xx, or a reply the person reads) instead of
letting a strange value reach the database or the network.
"""

import hashlib
import ipaddress
import re
import socket
from urllib.parse import urlsplit

# WeChat's MsgId is a 64-bit integer; CreateTime is Unix seconds.
_DIGITS = re.compile(r"\d{1,20}")
_OPENID = re.compile(r"[\w\-.:@]{1,64}")
CREATE_TIME_MAX = 4_102_444_800  # 2100-01-01: anything later is not a real clock
_NUMERIC_FIELDS = ("Location_X", "Location_Y", "Scale", "Latitude", "Longitude", "Precision")

# Hosts WeChat serves chat photos from (PicUrl). Overridable with PHOTO_HOSTS.
DEFAULT_PHOTO_HOSTS = ("mmbiz.qpic.cn", "mmbiz.qlogo.cn", "mmsns.qpic.cn", "wx.qlogo.cn")

# The webhook's per-person rate limit counts messages in fixed windows of this length (the
# check itself is part of bot.webhook's admission script).
RATE_WINDOW_S = 60


class BadField(ValueError):
    """A field WeChat would never send in this shape."""


def check_fields(data: dict) -> None:
    """Every field a flat string; ids and times plain integers in range; numbers finite.

    xmltodict turns a nested tag into a dict and a repeated one into a list, which would
    otherwise reach the database as "{'x': '1'}"; wechatpy converts MsgId and CreateTime only
    when read, so a bad one would raise deep inside the handler.
    """
    for name, value in data.items():
        if value is not None and not isinstance(value, str):
            raise BadField(f"{name} is not a flat value")
    if not _OPENID.fullmatch(data.get("FromUserName") or ""):
        raise BadField("FromUserName missing or malformed")
    msgid = data.get("MsgId")
    if msgid is not None and (not _DIGITS.fullmatch(msgid) or int(msgid) >= 2**64):
        raise BadField("MsgId is not a 64-bit integer")
    stamp = data.get("CreateTime")
    if stamp is not None and (not _DIGITS.fullmatch(stamp) or int(stamp) > CREATE_TIME_MAX):
        raise BadField("CreateTime is not a Unix time")
    for name in _NUMERIC_FIELDS:
        raw = data.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise BadField(f"{name} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise BadField(f"{name} is not finite")


def nonce_key(prefix: str, query: dict) -> str:
    """One key per signed URL (timestamp, nonce, signature): the thing a replayer reuses."""
    parts = "|".join(query.get(k, "") for k in ("timestamp", "nonce", "signature"))
    return f"{prefix}nonce:{hashlib.sha1(parts.encode()).hexdigest()}"


def photo_url_allowed(url: str, hosts, *, allow_private: bool = False) -> bool:
    """Only WeChat's media hosts (or subdomains), over http(s), never a private address."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    if port not in (None, 80, 443) and not allow_private:
        return False
    if not any(host == h or host.endswith("." + h) for h in hosts):
        return False
    return allow_private or _resolves_public(host)


def _resolves_public(host: str) -> bool:
    """Every address the host resolves to is public (no loopback, private or link-local)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return False
    return bool(infos)
