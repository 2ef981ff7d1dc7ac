"""Outbound delivery: claim one outbox row, pick the channel, send it, settle it.

The transport is injected (bot.gateway builds it). scheduler/ may not import bot/, so the
contract with it is structural: `transport.send(message)` takes a
models.outbox.OutboundMessage and raises an exception with a `permanent` attribute
(TransportError) on failure; a WindowClosed error (by class name or
by WeChat's window errcodes) means "send it as a template message instead". Duck typing
keeps `run_forever(redis, transport, config)` free of a message-factory argument and
keeps the gateway free to grow, while tests still run against the real WeChatTransport.
"""

import logging
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from models import grants, outbox, trace
from models.clock import now
from models.db import database
from models.enums import Channel, OutboundStatus
from models.org import User
from models.outbox import Outbound, OutboundMessage
from scheduler import metrics

log = logging.getLogger("sidan.scheduler.drain")

CS_WINDOW = timedelta(hours=48)
# 45015: window closed (or unsubscribed); 45047: cs message count cap within the window.
WINDOW_ERRCODES = frozenset({45015, 45047})


class Transport(Protocol):
    def send(self, message) -> str | None: ...


def choose_channel(row: Outbound, at=None, window: timedelta = CS_WINDOW,
                   template_ids: dict | None = None, person: User | None = None) -> str:  # fmt: skip
    """For an `auto` row: customer service when the person wrote to the Official Account
    within the window; else a subscribe message while they have a grant left for its template;
    else a template message on the Official Account; and for someone known only from the
    mini-program, a note it shows them. Explicit channels stay. `person`: the row's user as
    _person reads them, when the caller has them already."""
    if row.channel != Channel.AUTO:
        return row.channel
    person = person or _person(row)
    if person is None:
        return Channel.TEMPLATE
    official = _official(person)
    at = at or now()
    if official and person.last_message_at is not None and person.last_message_at >= at - window:
        return Channel.CS
    if person.mini_openid and grants.available(row.user_id, _subscribe_template(row, template_ids)):
        return Channel.SUBSCRIBE
    return Channel.TEMPLATE if official else Channel.NOTE


def _official(person: User | None) -> bool:
    """Known to the Official Account (an openid that is not the mini-program's)."""
    return person is not None and person.mini_openid != person.openid


def _person(row: Outbound) -> User | None:
    """What channel choice needs of the row's user (None for a row without one)."""
    if not row.user_id:
        return None
    return (
        User.select(User.openid, User.mini_openid, User.last_message_at)
        .where(User.id == row.user_id)
        .first()
    )


def _subscribe_template(row: Outbound, template_ids: dict | None) -> str:
    """The mini-program's template for the row's kind: `template_ids["subscribe"]` (the
    mini-program's own ids) first, then the shared ones."""
    ids = template_ids or {}
    mini = ids.get("subscribe") if isinstance(ids.get("subscribe"), dict) else {}
    return (
        mini.get(row.template)
        or mini.get("notice")
        or ids.get(row.template)
        or ids.get("notice")
        or ""
    )


def build_message(row: Outbound, channel: str, template_ids: dict | None = None) -> OutboundMessage:
    """The message for one row on one channel (template id picked by the row's kind)."""
    ids = template_ids or {}
    template_id = None
    if channel == Channel.TEMPLATE:
        template_id = ids.get(row.template) or ids.get("notice")
    elif channel == Channel.SUBSCRIBE:
        template_id = _subscribe_template(row, template_ids) or None
    data = row.data if isinstance(row.data, dict) else None
    page = data.get("page") if data else None
    fields = {k: v for k, v in data.items() if k != "page"} if data else None
    return OutboundMessage(
        openid=row.openid,
        channel=channel,
        text=row.text,
        template_id=template_id,
        data=fields or None,
        page=page,
    )


def is_window_closed(exc: BaseException) -> bool:
    """True for the gateway's WindowClosed (or a raw 48 h window errcode)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "WindowClosed" in names or getattr(exc, "errcode", None) in WINDOW_ERRCODES


class NoGrant(Exception):
    """The person has no subscribe-message authorisation left for this template."""

    permanent = True


def _send_subscribe(transport: Transport, row: Outbound, template_ids, person) -> tuple[str, str]:
    """Spend one of the person's grants for the template and send to their mini-program
    openid; give the grant back if the send fails, forget them all on a refusal."""
    message = build_message(row, Channel.SUBSCRIBE, template_ids)
    if person is not None and person.mini_openid:
        message = replace(message, openid=person.mini_openid)
    if not row.user_id or not grants.spend(row.user_id, message.template_id or ""):
        raise NoGrant(f"no subscribe grant left for template {message.template_id}")
    try:
        return Channel.SUBSCRIBE, transport.send(message)
    except Exception as exc:
        if getattr(exc, "errcode", None) == grants.REFUSED_ERRCODE:
            grants.refuse(row.user_id, [message.template_id])
        else:
            grants.refund(row.user_id, message.template_id)
        raise


def _send(transport: Transport, row: Outbound, channel: str, template_ids,
          person: User | None) -> tuple[str, str]:  # fmt: skip
    """Send on `channel`, falling back (once, remembered on the row) when WeChat will not take
    it there: a closed 48 h window goes by template; a subscribe message with no grant left
    or refused goes by template, or as a note for someone the Official Account cannot reach.
    Returns (channel, provider's msgid)."""
    if channel == Channel.NOTE:
        return Channel.NOTE, None
    try:
        if channel == Channel.SUBSCRIBE:
            return _send_subscribe(transport, row, template_ids, person)
        return channel, transport.send(build_message(row, channel, template_ids))
    except Exception as exc:
        fallback = _fallback(channel, exc, person)
        if fallback is None:
            raise
        log.info("outbound %s: %s not possible (%s), sending by %s", row.id, channel,
                 type(exc).__name__, fallback)  # fmt: skip
        # Remember the fallback, so a retry does not knock on the closed door again.
        (
            Outbound.update(channel=fallback)
            .where((Outbound.id == row.id) & (Outbound.claim_token == row.claim_token))
            .execute()
        )
        if fallback == Channel.NOTE:
            return Channel.NOTE, None
        return fallback, transport.send(build_message(row, fallback, template_ids))


def _fallback(channel: str, exc: BaseException, person: User | None) -> str | None:
    if channel == Channel.CS and is_window_closed(exc):
        return Channel.TEMPLATE
    if channel == Channel.SUBSCRIBE and (
        isinstance(exc, NoGrant) or getattr(exc, "errcode", None) == grants.REFUSED_ERRCODE
    ):
        return Channel.TEMPLATE if _official(person) else Channel.NOTE
    return None


def handle_one_outbound(
    transport: Transport,
    *,
    window: timedelta = CS_WINDOW,
    template_ids: dict | None = None,
    max_attempts: int = outbox.MAX_ATTEMPTS,
) -> bool:
    """Claim and deliver one due outbox row; False when nothing was due."""
    row = outbox.claim_next()
    if row is None:
        return False
    # Log lines about this row carry the id of the request that queued it.
    token = trace.request_id.set(row.request_id or "")
    try:
        return _deliver(transport, row, window, template_ids, max_attempts)
    finally:
        trace.request_id.reset(token)


class _Heartbeat:
    """While a send runs past HEARTBEAT_S, extend the row's claim every HEARTBEAT_S (a timer
    that never fires for the usual sub-second send)."""

    def __init__(self, row: Outbound, every_s: float | None = None):
        self.row, self.every_s = row, every_s or outbox.HEARTBEAT_S
        self._stopped = threading.Event()
        self._timer: threading.Timer | None = None

    def __enter__(self):
        self._schedule()
        return self

    def __exit__(self, *exc_info):
        self._stopped.set()
        if self._timer is not None:
            self._timer.cancel()

    def _schedule(self):
        if not self._stopped.is_set():
            self._timer = threading.Timer(self.every_s, self._beat)
            self._timer.daemon = True
            self._timer.start()

    def _beat(self):
        try:
            with database.connection_context():
                outbox.heartbeat(self.row)
        except Exception:
            log.exception("outbound %s: heartbeat failed", self.row.id)
        self._schedule()


def _deliver(transport, row: Outbound, window, template_ids, max_attempts) -> bool:
    person = _person(row)
    channel = choose_channel(row, window=window, template_ids=template_ids, person=person)
    try:
        with _Heartbeat(row):
            sent_channel, msgid = _send(transport, row, channel, template_ids, person)
    except Exception as exc:
        permanent = getattr(exc, "permanent", None)
        if permanent is None:  # not a transport error: a bug or an unexpected failure
            log.exception("outbound %s: unexpected error while sending", row.id)
        error = f"{type(exc).__name__}: {exc}"
        status = outbox.mark_failed(
            row, error, permanent=bool(permanent), max_attempts=max_attempts,
            retry_after=getattr(exc, "retry_after", None),
        )  # fmt: skip
        log.warning("outbound %s attempt %s failed (%s): %s", row.id, row.attempts, status, error)
        metrics.OUTBOX.labels(outcome="dead" if status == OutboundStatus.DEAD else "retried").inc()
        return True
    if not outbox.mark_sent(row, channel=sent_channel, msgid=msgid):
        log.error("outbound %s was sent but its claim had expired; check for a duplicate", row.id)
        metrics.OUTBOX.labels(outcome="lost_claim").inc()
    metrics.OUTBOX.labels(outcome="sent").inc()
    return True


def drain(transport: Transport, limit: int = 200, **options) -> int:
    """Deliver up to `limit` due rows; returns how many rows were handled."""
    handled = 0
    while handled < limit and handle_one_outbound(transport, **options):
        handled += 1
    return handled
