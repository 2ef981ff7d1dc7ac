"""The mini-program's message push (/wechat/mini): what people did with subscribe-message popups.

WeChat pushes `subscribe_msg_popup_event` when a person answers `wx.requestSubscribeMessage`
(accept or reject per template), `subscribe_msg_change_event` when they turn a template off in
the settings, and `subscribe_msg_sent_event` with the result of a send. Each feeds the grant
ledger (models.grants): an acceptance counts once even when the mini-program reports it too; a
refusal leaves nothing to send. Configure the mini-program's push URL as `/wechat/mini`, XML,
plain mode, with MINI_TOKEN (the webhook's token when unset).

Nothing here waits on a person's conversation, so it is answered inline.
"""

import hashlib
import logging
import re
import time

import peewee
import redis
import xmltodict
from flask import Blueprint, Response, abort, request

from bot import webhook_guard as guard
from bot.app import services
from bot.logs import mask
from bot.webhook import check_signature_of, read_body
from models import grants
from models.org import mini_program_user

log = logging.getLogger("sidan.mini_push")

blueprint = Blueprint("mini_push", __name__)

POPUP, CHANGE, SENT = (
    "subscribe_msg_popup_event",
    "subscribe_msg_change_event",
    "subscribe_msg_sent_event",
)
BLOCKS = {
    POPUP: "SubscribeMsgPopupEvent",
    CHANGE: "SubscribeMsgChangeEvent",
    SENT: "SubscribeMsgSentEvent",
}
_TEMPLATE = re.compile(r"[\w\-]{1,64}")
SEEN_TTL_S = 3600  # WeChat retries within 15 s; an hour is plenty


class BadPush(ValueError):
    """A push WeChat would never send in this shape."""


@blueprint.get("/wechat/mini")
def verify():
    """WeChat's server check for the push URL."""
    check_signature_of(services().config.MINI_TOKEN)
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blueprint.post("/wechat/mini")
def receive():
    """One push from the mini-program; 'success' once it is counted (or was already)."""
    svc = services()
    if request.args.get("encrypt_type") == "aes":
        abort(400)  # plain mode only (the payload holds template ids and a decision)
    check_signature_of(svc.config.MINI_TOKEN)
    body = read_body()
    try:
        push = parse(body)
    except BadPush as exc:
        log.info("mini push refused: %s", exc)
        abort(400)
    if push is None:
        return _success()  # another event: nothing to count
    seen = _first_delivery(svc, push, body)
    if seen is None:
        return _success()
    try:
        apply(push)
    except peewee.DatabaseError as exc:  # WeChat retries: let the retry count it
        log.error("mini push from %s not counted (database: %s)", mask(push["openid"]), exc)
        _forget(svc, seen)
        return Response("busy", status=503, headers={"Retry-After": "5"}, mimetype="text/plain")
    return _success()


def parse(body: bytes) -> dict | None:
    """{openid, event, created, entries: [(template_id, status, errcode)]} for a subscribe
    event; None for any other well-formed push."""
    try:
        data = xmltodict.parse(body, disable_entities=True)["xml"]
    except Exception as exc:  # not XML, an entity declaration, no <xml> root
        raise BadPush(f"not a WeChat XML push ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise BadPush("empty push")
    openid, created, event = data.get("FromUserName"), data.get("CreateTime"), data.get("Event")
    if not isinstance(openid, str) or not isinstance(created, str):
        raise BadPush("FromUserName and CreateTime must be flat values")
    try:
        guard.check_fields({"FromUserName": openid, "CreateTime": created})
    except guard.BadField as exc:
        raise BadPush(str(exc)) from None
    if event not in BLOCKS:  # a customer-service message or another event: not ours to count
        return None
    block = data.get(BLOCKS[event])
    items = block.get("List") if isinstance(block, dict) else None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items or len(items) > 20:
        raise BadPush(f"{BLOCKS[event]} has no List")
    entries = []
    for item in items:
        template_id = item.get("TemplateId") if isinstance(item, dict) else None
        if not isinstance(template_id, str) or not _TEMPLATE.fullmatch(template_id):
            raise BadPush("TemplateId missing or malformed")
        status = item.get("SubscribeStatusString") or ""
        errcode = item.get("ErrorCode") or ""
        if not isinstance(status, str) or not isinstance(errcode, str):
            raise BadPush("status fields must be flat values")
        entries.append((template_id, status, errcode))
    return {"openid": openid, "event": event, "created": created, "entries": entries}


def apply(push: dict) -> dict:
    """Feed one push to the ledger; returns what it counted (for logs and tests)."""
    accepted, refused = [], []
    event = push["event"]
    for template_id, status, errcode in push["entries"]:
        if event == POPUP and status == "accept":
            accepted.append(template_id)
        elif _refusal(event, status, errcode):
            refused.append(template_id)
    if not accepted and not refused:
        return {"accepted": [], "refused": []}
    user = mini_program_user(push["openid"])
    if accepted:
        grants.record_grants(user, list(dict.fromkeys(accepted)), source=grants.EVENT)
    if refused:
        grants.refuse(user, list(dict.fromkeys(refused)))
    log.info("subscribe push from %s: accepted %s, refused %s", mask(push["openid"]),
             accepted, refused)  # fmt: skip
    return {"accepted": accepted, "refused": refused}


def _refusal(event: str, status: str, errcode: str) -> bool:
    """A reject in the popup or the settings, or a send WeChat refused for the person."""
    if event in (POPUP, CHANGE):
        return status == "reject"
    return errcode == str(grants.REFUSED_ERRCODE)


def _first_delivery(svc, push: dict, body: bytes) -> str | None:
    """WeChat retries a push it got no answer to: count it once (by sender, time and event).
    Returns the key that marks it seen, or None when it was seen already. A signed URL reused
    with another body is a replay, refused. Without Redis the push is counted anyway: a rare
    double count beats a lost acceptance."""
    seen = svc.key("mini", "seen", push["openid"], push["created"], push["event"])
    nonce = guard.nonce_key(svc.key("mini:"), request.args)
    digest = hashlib.sha256(body).hexdigest()
    ttl = max(SEEN_TTL_S, svc.config.MAX_SIGNATURE_AGE_S * 2)
    try:
        if not svc.redis.set(nonce, digest, nx=True, ex=ttl):
            earlier = svc.redis.get(nonce)
            earlier = earlier.decode() if isinstance(earlier, bytes) else earlier
            if earlier != digest:
                log.warning("mini push: signed URL replayed with another body, refused")
                abort(403)
        return seen if svc.redis.set(seen, str(int(time.time())), nx=True, ex=ttl) else None
    except redis.RedisError as exc:
        log.warning("mini push counted without dedup (Redis unreachable: %s)", exc)
        return ""


def _forget(svc, seen: str) -> None:
    if not seen:
        return
    try:
        svc.redis.delete(seen)
    except redis.RedisError:
        log.warning("mini push: could not forget %s; WeChat's retry will be taken as seen", seen)


def _success() -> Response:
    return Response("success", mimetype="text/plain")
