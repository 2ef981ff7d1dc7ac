"""The Official Account webhook (/wechat): verify, decrypt, deduplicate, answer in budget.

WeChat waits 5 s for an answer and then retries (up to 3 times). A delivery is acted on
once: the first claims its MsgId in Redis, retries get the same answer (or `success` while
it is still being worked on). Work that overruns the budget answers `success` and the reply
goes out later through the outbox as a customer-service message.
"""

import dataclasses
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import requests
from flask import Blueprint, Response, abort, current_app, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bot.api.errors import ApiError
from bot.api.images import MAX_BYTES
from bot.api.photos import keep_photo
from bot.app import services
from bot.inbound import to_inbound
from handlers import router, texts
from handlers.context import Context
from handlers.conversation import ConversationStore
from models.db import database
from models.enums import Channel
from models.org import User
from models.outbox import enqueue

log = logging.getLogger("sidan.webhook")
blueprint = Blueprint("webhook", __name__)

MAX_BODY = 64 * 1024
DEDUP_TTL_S = 600
PENDING = "\x00pending"
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sidan-reply")


@blueprint.get("/wechat")
def verify():
    """WeChat's server check: echo `echostr` when the signature is ours."""
    _check_signature(request.args.get("signature", ""))
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blueprint.post("/wechat")
def receive():
    """One message or event from WeChat."""
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        abort(413)
    crypto = _crypto() if request.args.get("encrypt_type") == "aes" else None
    if crypto is None:
        _check_signature(request.args.get("signature", ""))
        xml = body
    else:
        _check_timestamp()
        xml = _decrypt(crypto, body)
    try:
        message = parse_message(xml)
        inbound = to_inbound(message)
    except Exception:  # malformed XML or fields: WeChat never sends it, so refuse it
        log.info("malformed webhook body refused (%d bytes)", len(body))
        abort(400)
    reply = _answer_once(message, inbound)
    if not reply:
        return Response("success", mimetype="text/plain")
    out = create_reply(reply, message).render()
    if crypto is not None:
        out = crypto.encrypt_message(out, request.args.get("nonce", ""), str(int(time.time())))
    return Response(out, mimetype="application/xml")


def _check_signature(signature: str) -> None:
    args = request.args
    _check_timestamp()
    try:
        check_signature(
            services().config.WECHAT_TOKEN, signature, args.get("timestamp", ""),
            args.get("nonce", ""),
        )  # fmt: skip
    except InvalidSignatureException:
        abort(403)


def _check_timestamp() -> None:
    """A signature is only as fresh as its timestamp: refuse replays of old requests."""
    try:
        stamp = int(request.args.get("timestamp", ""))
    except ValueError:
        abort(403)
    if abs(time.time() - stamp) > services().config.MAX_SIGNATURE_AGE_S:
        abort(403)


def _crypto() -> WeChatCrypto:
    config = services().config
    if not config.WECHAT_AES_KEY:
        abort(400)
    return WeChatCrypto(config.WECHAT_TOKEN, config.WECHAT_AES_KEY, config.WECHAT_APPID)


def _decrypt(crypto: WeChatCrypto, body: bytes) -> str:
    args = request.args
    try:
        return crypto.decrypt_message(
            body, args.get("msg_signature", ""), args.get("timestamp", ""), args.get("nonce", "")
        )
    except (InvalidSignatureException, InvalidAppIdException):
        abort(403)
    except Exception:  # not XML, or not something we can decrypt
        abort(400)


def _dedup_key(message) -> str:
    """FromUserName+MsgId for messages (a MsgId is only unique per sender: two people must never
    share one answer); for events FromUserName+CreateTime, plus the event and its key, since two
    different clicks within one second are not a retry."""
    msgid = getattr(message, "id", None)
    if msgid:
        return services().key("msg", message.source, msgid)
    event = getattr(message, "event", "")
    key = getattr(message, "key", None) or getattr(message, "scene_id", None) or ""
    return services().key("evt", message.source, message.create_time, event, key)


def _answer_once(message, inbound) -> str:
    """Act on a delivery once; a retry gets the first answer (or `success` meanwhile)."""
    svc = services()
    key = _dedup_key(message)
    if not svc.redis.set(key, PENDING, nx=True, ex=DEDUP_TTL_S):
        return _answer_of_earlier_delivery(key, svc)
    reply = _run_in_budget(inbound, key)
    return reply


def _answer_of_earlier_delivery(key: str, svc) -> str:
    deadline = time.monotonic() + min(svc.config.REPLY_BUDGET_S, 3.0)
    while time.monotonic() < deadline:
        value = svc.redis.get(key)
        if value != PENDING:
            return value or ""
        time.sleep(0.05)
    return ""


def _run_in_budget(inbound, key: str) -> str:
    svc = services()
    app = current_app._get_current_object()
    job = _Job()
    future = _executor.submit(_work, app, inbound, key, job)
    try:
        return future.result(timeout=svc.config.REPLY_BUDGET_S)
    except FutureTimeout:
        with job.lock:
            if not future.done():
                job.late = True
                log.warning(
                    "reply to %s overran the budget; it will follow by push", inbound.openid
                )
                return ""
        return future.result()


class _Job:
    def __init__(self):
        self.lock = threading.Lock()
        self.late = False


def _work(app, inbound, key: str, job: _Job) -> str:
    """Handle the message in its own thread with its own DB connection."""
    with app.app_context():
        svc = services()
        ctx = Context(
            store=ConversationStore(svc.redis, svc.config.REDIS_PREFIX),
            redis=svc.redis,
            prefix=svc.config.REDIS_PREFIX,
            conversation_ttl_s=svc.config.CONVERSATION_TTL_S,
        )
        database.connect(reuse_if_open=True)
        try:
            try:
                inbound = _keep_photo(inbound)
                reply = router.handle(inbound, ctx)
            except Exception:
                log.exception("handling a message from %s failed", inbound.openid)
                # Let WeChat's retry try again rather than remember a failure.
                svc.redis.delete(key)
                return texts.ERROR
            svc.redis.set(key, reply, ex=DEDUP_TTL_S)
            with job.lock:
                if job.late and reply:
                    _push_late_reply(inbound.openid, reply)
            return reply
        finally:
            database.close()


PHOTO_FETCH_TIMEOUT_S = 3


def _keep_photo(inbound):
    """A chat photo's PicUrl expires after about three days: fetch it now and keep our own
    cleaned copy. The URL came in a signed message from WeChat; only http(s) is fetched.
    On any failure the PicUrl is kept, so the report still goes through."""
    if inbound.kind != "image" or not inbound.pic_url.startswith(("http://", "https://")):
        return inbound
    try:
        with requests.get(inbound.pic_url, timeout=PHOTO_FETCH_TIMEOUT_S, stream=True) as got:
            got.raise_for_status()
            data = got.raw.read(MAX_BYTES + 1, decode_content=True)  # a cap, not a trust
        stored = keep_photo(data)
    except (requests.RequestException, ApiError, OSError) as exc:
        log.warning("kept the WeChat PicUrl of %s's photo: %s", inbound.openid, exc)
        return inbound
    return dataclasses.replace(inbound, pic_url=stored["url"])


def _push_late_reply(openid: str, reply: str) -> None:
    user = User.get_or_none(User.openid == openid)
    if user is not None:
        enqueue(user, reply, channel=Channel.CS, template="reply")
