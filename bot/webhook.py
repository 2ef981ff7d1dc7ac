"""The Official Account webhook (/wechat): verify, decrypt, deduplicate, answer in budget.

WeChat waits 5 s for an answer and then retries (up to 3 times). A delivery is acted on
once: the first claims its MsgId in Redis, retries get the same answer (or `success` while
it is still being worked on). Work that overruns the budget answers `success` and the reply
goes out later through the outbox as a customer-service message.
"""

import contextlib
import hashlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import redis
from flask import Blueprint, Response, abort, current_app, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bot import metrics, replay, webhook_texts
from bot import webhook_guard as guard
from bot.app import services
from bot.handling import handle_inbound, make_context
from bot.inbound import to_inbound
from bot.logs import bind_request_id, current_request_id, mask
from models.db import database

log = logging.getLogger("sidan.webhook")
blueprint = Blueprint("webhook", __name__)

MAX_BODY = 64 * 1024
DEDUP_TTL_S = 600
PENDING = "\x00pending"
# A request replays at most this much parked work before its own message (in the background
# thread, so the budget still holds: anything slower goes out by push).
REPLAY_ON_REQUEST = 5
REPLAY_ON_REQUEST_S = 1.0
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sidan-reply")


@blueprint.get("/wechat")
def verify():
    """WeChat's server check: echo `echostr` when the signature is ours."""
    _check_signature(request.args.get("signature", ""))
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@blueprint.post("/wechat")
def receive():
    """One message or event from WeChat."""
    started = time.monotonic()
    body = read_body()
    crypto = _crypto() if request.args.get("encrypt_type") == "aes" else None
    if crypto is None:
        _check_signature(request.args.get("signature", ""))
        xml = body
    else:
        _check_timestamp()
        xml = _decrypt(crypto, body)
    try:
        message = parse_message(xml)
        guard.check_fields(message._data)
        inbound = to_inbound(message)
    except Exception:  # malformed XML or fields: WeChat never sends it, so refuse it
        log.info("malformed webhook body refused (%d bytes)", len(body))
        metrics.webhook_done("malformed", "refused", started)
        abort(400)
    status = 200
    try:
        reply, outcome = _admit_and_answer(message, inbound, body, crypto is None)
    except redis.RedisError as exc:
        reply, outcome = _keep_without_redis(message, inbound, body, crypto is None, exc)
        if outcome == "busy":
            status = 503  # nothing kept: WeChat must try again
    metrics.webhook_done(inbound.kind, outcome, started)
    if not reply:
        return Response("success", mimetype="text/plain")
    out = create_reply(reply, message).render()
    if crypto is not None:
        out = crypto.encrypt_message(out, request.args.get("nonce", ""), str(int(time.time())))
    headers = {"Retry-After": "5"} if status != 200 else None
    return Response(out, status=status, headers=headers, mimetype="application/xml")


def _keep_without_redis(message, inbound, body: bytes, plain: bool, exc) -> tuple[str, str]:
    """Redis is unreachable: no dedup, no conversation, so acting now could file a report twice
    on WeChat's retry. Keep the message in the database instead (replayed once Redis is back)
    and say it will be handled; with the database down too, say plainly it was not received
    (the caller answers 503, so WeChat tries again)."""
    nonce = guard.nonce_key(services().key(""), request.args) if plain else None
    reason = f"{type(exc).__name__}: {exc}"
    try:
        kept = replay.park_without_redis(inbound, _dedup_key(message), reason, body=body,
                                         nonce_key=nonce)  # fmt: skip
    except Exception as db_exc:  # the database is unreachable too: nothing can be kept
        log.error("webhook: Redis and the database unreachable, message from %s not taken: "
                  "%s; %s", mask(inbound.openid), exc, db_exc)  # fmt: skip
        return webhook_texts.BUSY, "busy"
    if kept == "replayed":
        log.warning("webhook: signed URL replayed with another body while Redis is down, refused")
        abort(403)
    if kept == "parked":
        metrics.PARKED.labels(reason="redis").inc()
        return webhook_texts.parked(inbound), "parked"
    metrics.DEDUP_HITS.inc()
    return webhook_texts.parked(inbound), "retry"


def _admit_and_answer(message, inbound, body: bytes, plain: bool) -> tuple[str, str]:
    """Replay and rate checks and the MsgId claim (one Redis round trip), then the answer;
    returns (reply, outcome)."""
    svc = services()
    key = _dedup_key(message)
    nonce = guard.nonce_key(svc.key(""), request.args) if plain else ""
    admit = svc.redis.register_script(_ADMIT)
    box = replay.inbox(svc)
    verdict, queued, behind = admit(
        keys=[nonce, svc.key("rate", "wechat", inbound.openid), key, key + ALIVE, box.queue,
              box.sender_key(inbound.openid)],
        args=["1" if plain else "0", hashlib.sha256(body).hexdigest(),
              svc.config.MAX_SIGNATURE_AGE_S * 2, svc.config.WEBHOOK_RATE_PER_MIN,
              guard.RATE_WINDOW_S, PENDING, DEDUP_TTL_S, ALIVE_TTL_S],
    )  # fmt: skip
    verdict = verdict.decode() if isinstance(verdict, bytes) else verdict
    if verdict == "replayed":
        log.warning("webhook: signed URL replayed with another body, refused")
        abort(403)
    if verdict == "too_fast":
        return webhook_texts.TOO_FAST, "rate_limited"
    if verdict == "seen":
        metrics.DEDUP_HITS.inc()
        return _answer_of_earlier_delivery(key, inbound, svc)
    waited = _waited(svc.config.CLOCK_SLACK_S)
    if waited > svc.config.SHED_AFTER_S or _swamped(svc.config.SHED_QUEUE):
        return _shed(svc, inbound, key, waited), "shed"
    return _run_in_budget(inbound, key, queued=bool(queued), behind=bool(behind))


# One round trip for what a delivery must pass before it is acted on, in this order:
# 1. the signed URL (plain mode) is new, or comes again with the same body (WeChat's retry):
#    the signature covers timestamp and nonce but not the body, so a captured URL could carry
#    any message as anyone for the whole freshness window (else 'replayed': 403);
# 2. the person is under WEBHOOK_RATE_PER_MIN in a fixed one-minute window (else 'too_fast');
# 3. the FromUserName+MsgId claim: the first delivery marks it pending and its worker alive
#    ('new'); a retry gets 'seen' and waits for the first one's answer.
# Also returns whether parked messages wait (so the handler replays them first), and whether
# this sender's do (so this message goes after them).
# KEYS: nonce, rate, dedup, alive, inbox queue, the sender's parked entries. ARGV: plain, body
# digest, nonce TTL, rate limit, rate window, PENDING, dedup TTL, alive TTL.
_ADMIT = """
if ARGV[1] == '1' and not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[3]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then
    return {'replayed', 0, 0}
  end
end
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[5], 'NX')
if count > tonumber(ARGV[4]) then
  return {'too_fast', 0, 0}
end
if not redis.call('SET', KEYS[3], ARGV[6], 'NX', 'EX', ARGV[7]) then
  return {'seen', 0, 0}
end
redis.call('SET', KEYS[4], '1', 'EX', ARGV[8])
return {'new', redis.call('EXISTS', KEYS[5]), redis.call('EXISTS', KEYS[6])}
"""


def read_body() -> bytes:
    """The request body, refused with 413 past MAX_BODY (declared or actual)."""
    if (request.content_length or 0) > MAX_BODY:
        abort(413)
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        abort(413)
    return body


def check_signature_of(token: str | None = None) -> None:
    """The request's `signature` is ours (the webhook's token unless `token`), and fresh."""
    _check_signature(request.args.get("signature", ""), token)


def _check_signature(signature: str, token: str | None = None) -> None:
    args = request.args
    _check_timestamp()
    try:
        check_signature(
            token or services().config.WECHAT_TOKEN, signature, args.get("timestamp", ""),
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
    different clicks within one second are not a retry. Raw strings, checked by the guard."""
    data = message._data
    msgid = data.get("MsgId")
    if msgid:
        return services().key("msg", message.source, msgid)
    event = data.get("Event") or ""
    key = getattr(message, "key", None) or getattr(message, "scene_id", None) or ""
    return services().key("evt", message.source, data.get("CreateTime") or "", event, key)


def _answer_of_earlier_delivery(key: str, inbound, svc) -> tuple[str, str]:
    """Wait for the first delivery's answer. If the worker handling it died (its liveness key
    lapsed while the answer is still pending), this retry takes the message over: WeChat
    retries exactly because it got no answer, and the person must not lose the message."""
    deadline = time.monotonic() + min(svc.config.REPLY_BUDGET_S, 3.0)
    takeover = svc.redis.register_script(_TAKEOVER)
    while time.monotonic() < deadline:
        value = svc.redis.get(key)
        if value != PENDING:
            return value or "", "retry"
        if takeover(keys=[key, key + ALIVE], args=[PENDING, ALIVE_TTL_S]):
            log.warning("webhook: the worker on %s's message died; this retry takes it over",
                        mask(inbound.openid))  # fmt: skip
            reply, _ = _run_in_budget(inbound, key)
            return reply, "takeover"
        time.sleep(0.05)
    return "", "retry"


# Liveness of the worker handling a message: refreshed while it works, gone soon after a kill.
ALIVE = ":alive"
ALIVE_TTL_S = 3
_TAKEOVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
  return 1
end
return 0
"""


class _Heartbeat:
    """Keeps `key:alive` fresh for every message this process is handling: one thread for all
    of them, refreshing them together (a thread per message cost more than its Redis work)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, object] = {}  # alive key → its Redis client
        self._pid = None

    def watch(self, redis_client, key: str) -> "_Alive":
        alive = _Alive(self, redis_client, key + ALIVE)
        with self._lock:
            self._keys[alive.key] = redis_client
            if self._pid != os.getpid():  # none yet, or the one of a parent before a fork
                self._pid = os.getpid()
                threading.Thread(target=self._run, daemon=True, name="sidan-alive").start()
        return alive

    def forget(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def _run(self):
        while True:
            time.sleep(ALIVE_TTL_S / 3)
            with self._lock:
                by_client: dict[int, tuple[object, list[str]]] = {}
                for key, client in self._keys.items():
                    by_client.setdefault(id(client), (client, []))[1].append(key)
            for client, keys in by_client.values():
                try:
                    pipe = client.pipeline(transaction=False)
                    for key in keys:
                        pipe.set(key, "1", ex=ALIVE_TTL_S)
                    pipe.execute()
                except Exception:  # Redis trouble: the handlers will meet it too
                    pass


class _Alive:
    """One message's liveness key, refreshed by the heartbeat until stopped."""

    def __init__(self, heartbeat: _Heartbeat, redis_client, key: str):
        self.heartbeat, self.redis, self.key = heartbeat, redis_client, key
        self.stopped = False

    def stop(self, pipe=None):
        """No longer refreshed, and deleted (in `pipe` when given, else now)."""
        if self.stopped:
            return
        self.stopped = True
        self.heartbeat.forget(self.key)
        if pipe is not None:
            pipe.delete(self.key)
            return
        with contextlib.suppress(Exception):
            self.redis.delete(self.key)


_heartbeat = _Heartbeat()


def _run_in_budget(inbound, key: str, queued: bool | None = None,
                   behind: bool = False) -> tuple[str, str]:  # fmt: skip
    """`queued`: whether parked messages waited when this one was admitted (None: look);
    `behind`: whether messages of this sender did."""
    svc = services()
    app = current_app._get_current_object()
    job = _Job()
    request_id = current_request_id()
    alive = _heartbeat.watch(svc.redis, key)
    waited = _waited(svc.config.CLOCK_SLACK_S)
    future = _executor.submit(_work, app, inbound, key, job, request_id, alive,
                              (queued, behind, waited > 0))  # fmt: skip
    try:
        return future.result(timeout=_budget_left(svc.config.REPLY_BUDGET_S, waited))
    except FutureTimeout:
        with job.lock:
            if not future.done():
                job.late = True
                log.warning("reply to %s overran the budget; it will follow by push",
                            mask(inbound.openid))  # fmt: skip
                return "", "late"
        return future.result()


# WeChat signs each request with the second it sent it. A request that waited in a queue
# before reaching us (a burst) has less of WeChat's 5 s left: the inline budget shrinks by the
# wait, so the answer past it still goes by push instead of arriving after WeChat gave up.
# The stamp is cut to the second and clocks drift: a wait counts beyond CLOCK_SLACK_S only.
MIN_BUDGET_S = 0.05


def _budget_left(budget: float, waited: float) -> float:
    return min(budget, max(MIN_BUDGET_S, budget - waited))


def _waited(slack: float) -> float:
    """How long this request waited before reaching us, beyond `slack` (0 when unknown)."""
    try:
        sent = int(request.args.get("timestamp", ""))
    except ValueError:
        return 0.0
    return max(0.0, time.time() - sent - slack)


# Shedding. A request that waited past SHED_AFTER_S in a backlog (a burst beyond what the
# workers can handle), or that arrives while more than SHED_QUEUE messages of this process wait
# for a handler thread, is parked as it is and answered at once: handling it now would make
# every request behind it wait longer still, until WeChat gives up on them (5 s) and retries,
# adding load. Parking costs one Redis transaction; the scheduler's replay handles the backlog
# in arrival order, each person's messages in their order, and the replies go out by push.
_shed_log = {"at": 0.0, "count": 0}


def _swamped(limit: int) -> bool:
    """More than `limit` messages of this process wait for a handler thread: a backlog is
    forming here before any request has waited long (0: never)."""
    return limit > 0 and _executor._work_queue.qsize() > limit


def _shed(svc, inbound, key: str, waited: float) -> str:
    _park_answered(svc, inbound, key, f"shed after waiting {waited:.1f} s", "shed", quiet=True)
    # key:alive lapses by itself within ALIVE_TTL_S: the answer is set, so nothing takes over.
    _shed_log["count"] += 1
    now = time.monotonic()
    if now - _shed_log["at"] >= 1.0:  # one line a second, not one per message
        log.warning("webhook backlog: %d message(s) parked for replay (this one waited %.1f s)",
                    _shed_log["count"], waited)  # fmt: skip
        _shed_log.update(at=now, count=0)
    return webhook_texts.parked(inbound)


def _park_answered(svc, inbound, key: str, reason: str, label: str, quiet: bool = False) -> None:
    """Park a message for replay with the parked answer set for WeChat's retries, at once."""
    answer = (webhook_texts.parked(inbound), DEDUP_TTL_S)
    replay.inbox(svc).park(inbound, key, reason, answer=answer, quiet=quiet)
    metrics.PARKED.labels(reason=label).inc()


class _Job:
    def __init__(self):
        self.lock = threading.Lock()
        self.late = False


def _work(app, inbound, key: str, job: _Job, request_id: str, alive,
          waits: tuple) -> tuple[str, str]:  # fmt: skip
    """Handle the message in its own thread with its own DB connection. `waits`: whether
    parked messages waited, whether this sender's did, and whether this request waited in a
    backlog."""
    queued, behind, backlogged = waits
    with app.app_context(), bind_request_id(request_id):
        svc = services()
        try:
            if behind and _sender_still_waits(svc, inbound):
                return _queue_behind(svc, inbound, key, job), "behind"
            return _handle_and_remember(svc, inbound, key, job, alive, queued, backlogged)
        finally:
            alive.stop()
            database.close()


def _sender_still_waits(svc, inbound) -> bool:
    """The sender's parked messages go first; whether one of theirs still waits after that
    (its cause not gone yet), or cannot be looked at now."""
    try:
        return replay.replay_sender(svc, inbound.openid, limit=REPLAY_ON_REQUEST,
                                    budget_s=REPLAY_ON_REQUEST_S)  # fmt: skip
    except Exception:
        log.exception("replaying %s's parked messages first failed", mask(inbound.openid))
        return True


def _queue_behind(svc, inbound, key: str, job: _Job) -> str:
    """Park a message behind the same person's earlier ones, so they are answered in order."""
    _park_answered(svc, inbound, key, "behind the sender's earlier parked message", "behind")
    with job.lock:
        return "" if job.late else webhook_texts.parked(inbound)


def _handle_and_remember(svc, inbound, key: str, job: _Job, alive, queued,
                         backlogged: bool = False) -> tuple[str, str]:  # fmt: skip
    _replay_first(svc, queued, backlogged)
    try:
        reply = handle_inbound(inbound, make_context(svc), svc.config)
    except Exception as exc:
        return _park(svc, inbound, key, exc, job), "parked"
    try:
        # The answer for retries, and the worker no longer alive: one round trip.
        pipe = svc.redis.pipeline(transaction=False)
        pipe.set(key, reply, ex=DEDUP_TTL_S)
        alive.stop(pipe)
        pipe.execute()
    except redis.RedisError as exc:  # Redis went away after the handling: it is done all
        # the same, so answer it (parking it now would handle it twice)
        log.warning("answer to %s not remembered (Redis): %s", mask(inbound.openid), exc)
    with job.lock:
        if job.late and reply:
            _push_late(svc, inbound, key, reply)
            return reply, "late"
    return reply, "ok"


def _replay_first(svc, queued: bool | None = None, backlogged: bool = False) -> None:
    """Older parked messages first (the person's own went first already, see _work). Not in a
    backlog: replaying there would slow every request behind this one, and the scheduler
    replays anyway. A failure here is the replay's business: it never costs the live message."""
    if backlogged:
        return
    try:
        replay.replay_due(svc, limit=REPLAY_ON_REQUEST, budget_s=REPLAY_ON_REQUEST_S,
                          adopt=False, queued=queued)  # fmt: skip
    except Exception:
        log.exception("replaying parked messages before a live one failed")


def _push_late(svc, inbound, key: str, reply: str) -> None:
    """The answer missed WeChat's window: push it. If even that cannot be queued (the database
    went away meanwhile), park the answer itself so the replay only pushes it."""
    dedupe = "late:" + hashlib.sha1(key.encode()).hexdigest()
    try:
        replay.push_reply(inbound.openid, reply, dedupe_key=dedupe)
        metrics.LATE_PUSHES.inc()
    except Exception as exc:
        log.warning("late reply to %s parked: %s", mask(inbound.openid), exc)
        box = replay.inbox(svc)
        entry = box.park(inbound, key, f"late push failed: {type(exc).__name__}")
        entry.reply = reply
        box.save(entry)


def _park(svc, inbound, key: str, exc: Exception, job: _Job) -> str:
    """Keep a message we could not act on, so it is replayed instead of lost."""
    if not replay.is_outage(exc):
        log.exception("handling a message from %s failed; parked", mask(inbound.openid))
    reason = f"{type(exc).__name__}: {exc}"
    try:
        replay.inbox(svc).park(inbound, key, reason)
        svc.redis.set(key, webhook_texts.parked(inbound), ex=DEDUP_TTL_S)
    except redis.RedisError as redis_exc:
        # Redis went away meanwhile: keep it in the database. With both gone nothing can be
        # kept: the error propagates and the request answers 503 (WeChat tries again).
        try:
            replay.park_without_redis(inbound, key, f"{reason}; {redis_exc}", body=b"")
        except Exception:
            log.exception("message from %s not kept: Redis and the database unreachable",
                          mask(inbound.openid))  # fmt: skip
            raise
    metrics.PARKED.labels(reason=replay.reason_label(exc)).inc()
    with job.lock:
        return "" if job.late else webhook_texts.parked(inbound)
