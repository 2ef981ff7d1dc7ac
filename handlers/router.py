"""Turning one incoming message into a reply: events, conversations, commands, reports."""

import logging
import re

from redis.exceptions import LockError

from handlers import (
    incentives,
    refusals,
    report,
    resident,
    resident_chat,
    smalltalk,
    staff,
    supplements,
    texts,
    votes,
    worker,
)
from handlers.commands import (
    asks_for_orders,
    fixed_command,
    normalize,
    parse_command,
    staff_asks,
    staff_canonical,
)
from handlers.context import Context, ConversationBusy
from handlers.conversation import END, NOT_MINE, Conversation, Session
from handlers.inbound import Inbound
from models.enums import ASSIGNEE_ROLES, Role
from models.errors import TicketError
from models.org import User, redeem_invite, touch_user

log = logging.getLogger("sidan.handlers")

CONVERSATIONS: dict[str, Conversation] = {
    c.name: c
    for c in (
        report.REPORT,
        worker.RESOLVE,
        staff.MERGE_CONFIRM,
        supplements.SUPPLEMENT,
        votes.BALLOT,
    )
}
COMMANDS = {
    Role.RESIDENT: resident.COMMANDS,
    Role.VOLUNTEER: {**resident.COMMANDS, **worker.COMMANDS},
    Role.WORKER: {**resident.COMMANDS, **worker.COMMANDS},
    Role.DISPATCHER: staff.DISPATCHER_COMMANDS,
    Role.SUPERVISOR: staff.SUPERVISOR_COMMANDS,
}
# Incentives (points shop, wishes, service menu, property lists) for every role.
COMMANDS = {role: {**table, **incentives.COMMANDS[role]} for role, table in COMMANDS.items()}
STAFF_COMMANDS = set(staff.DISPATCHER_COMMANDS) | set(staff.SUPERVISOR_COMMANDS)
MENU_KEYS = {"REPORT": "report", "MY_TICKETS": "my_tickets", "VOLUNTEER": "nearby", "HELP": "help"}
MENU_KEYS["DASHBOARD"] = "dashboard"
SCENE_INVITE = "invite_"


def handle(message: Inbound, ctx: Context) -> str:
    """The reply text for one message ('' means reply nothing)."""
    user = touch_user(message.openid)
    # One message per person at a time: a photo and a text sent together must not race. This
    # runs off the request thread, so waiting here costs a late push, never a lost message.
    lock = ctx.store.person_lock(message.openid, ctx.key("lock", message.openid), timeout=60,
                                 blocking_timeout=ctx.lock_wait_s,
                                 marks=resident_chat.marks(user, ctx))  # fmt: skip
    if not lock.acquire():
        raise ConversationBusy(f"conversation lock for {message.openid} held too long")
    try:
        return _handle(message, user, ctx)
    except TicketError as exc:
        return exc.message
    finally:
        try:
            lock.release()
        except LockError:  # the lock expired under a slow request; nothing to undo
            log.warning("conversation lock for %s expired before release", message.openid)


def _handle(message: Inbound, user, ctx: Context) -> str:
    if message.kind == "event":
        return _event(message, user, ctx)
    if message.kind == "voice" and not message.recognised:
        return texts.VOICE_UNHEARD
    if message.kind not in ("text", "voice", "image", "location"):
        return texts.UNSUPPORTED
    if message.kind in ("text", "voice") and not _meaningful(message.text):
        return resident_chat.EMOJI_ONLY if message.text.strip() else texts.EMPTY
    text = normalize(message.text) if message.kind in ("text", "voice") else ""
    if text and _residentish(user):
        text = resident.canonical(text, resident_only=user.role == Role.RESIDENT)
    elif text:
        text = staff_canonical(text)  # '把3号单派给志愿者' → '派单 #3 给 志愿者'
    fixed = fixed_command(text) if text else None
    if text and not fixed and user.role in ASSIGNEE_ROLES:
        fixed = asks_for_orders(text)  # '有单吗': the volunteer wants work, not to report
    elif text and not fixed and not _residentish(user):
        fixed = staff_asks(text)  # '有新单吗', '超时的有几个'
        if fixed == "todo":
            fixed = "queue" if "queue" in COMMANDS[user.role_enum] else "overdue"
        if fixed not in COMMANDS[user.role_enum]:
            fixed = None
    if fixed == "help":
        return texts.HELP[user.role_enum]
    if fixed == "cancel":
        had = ctx.store.load(user.openid) or resident_chat.drop_rebind(user, ctx)
        ctx.store.clear(user.openid)
        return texts.CANCELLED if had else texts.NOTHING_TO_CANCEL
    if text.startswith("邀请码"):
        return _invite(user, text.removeprefix("邀请码").strip())
    voting = votes.command(text, user, ctx) if text else None
    if voting is not None:
        return voting
    active = ctx.store.load(user.openid)
    command = parse_command(text) if text else None
    if active and command is not None and resident_chat.part_of_draft(active, command):
        command = None
    if active and not fixed and command is None:
        if _residentish(user):
            early = resident_chat.during_draft(message, text, user, ctx)
            if early is not None:
                return early
        reply = _continue(active, message, user, ctx)
        if reply is not None:
            return reply
    if fixed or command:
        return _command(fixed or command.verb, command, user, ctx)
    if not _residentish(user):
        return _staff_small_talk(text, user)
    reply = resident_chat.outside_draft(message, text, user, ctx)
    if reply is not None:
        return reply
    return _start(report.REPORT, message, user, ctx, {})


# A dispatcher owning up to a slip ('派错了', '刚才那个类别分错了', '重复派了').
_OWN_MISTAKE = re.compile(r"[派分发弄搞选填]错|错了|不对|重复派|派重")


def _staff_small_talk(text: str, user) -> str:
    """A dispatcher's or supervisor's '你好' or '谢谢' gets a friendly word, not a puzzle."""
    kind = smalltalk.kind(text) if text else None
    if kind in (smalltalk.THANKS, smalltalk.BYE):
        return texts.STAFF_THANKS
    if kind in (smalltalk.GREETING, smalltalk.ACK, smalltalk.TEST, smalltalk.ABOUT):
        return texts.STAFF_SMALL_TALK.get(user.role_enum, texts.NOT_UNDERSTOOD)
    if user.role_enum == Role.DISPATCHER and _OWN_MISTAKE.search(text or ""):
        return texts.STAFF_FIX_HINT
    return texts.STAFF_NOT_UNDERSTOOD.get(user.role_enum, texts.NOT_UNDERSTOOD)


def _residentish(user) -> bool:
    """Residents, and volunteers and workers, who report as residents do."""
    return user.role == Role.RESIDENT or user.role in ASSIGNEE_ROLES


def _meaningful(text: str) -> bool:
    """Empty text, or only emoji and punctuation, tells us nothing."""
    return any(ch.isalnum() for ch in normalize(text))


def _command(name: str, command, user, ctx: Context) -> str:
    table = COMMANDS[user.role_enum]
    fn = table.get(name)
    if fn is None:
        # Someone else's command: say whose it is and what this person can do instead.
        known = name in worker.COMMANDS or name in STAFF_COMMANDS or name in resident.COMMANDS
        return refusals.refusal(user.role_enum, name) if known else texts.NOT_UNDERSTOOD
    result = fn(user, command, ctx)
    if isinstance(result, tuple) and result[0] == "start":
        _, conversation, data, reply = result
        _save(conversation, conversation_first_state(conversation), data, user, ctx)
        return reply
    return result


def conversation_first_state(conversation: Conversation) -> str:
    return next(iter(conversation.states))


def _start(conversation: Conversation, message, user, ctx: Context, data: dict) -> str:
    session = Session(user=user, data=data, services=ctx)
    result = conversation.run(conversation.entry_points, message, session)
    if result is NOT_MINE:
        return texts.NOT_UNDERSTOOD
    reply, state = result
    _save(conversation, state, session.data, user, ctx)
    return reply


def _continue(active: dict, message, user, ctx: Context) -> str | None:
    conversation = CONVERSATIONS.get(active["conv"])
    if conversation is None or active["state"] not in conversation.states:
        ctx.store.clear(user.openid)
        return None
    session = Session(user=user, data=active["data"], services=ctx)
    steps = conversation.states[active["state"]] + conversation.fallbacks
    result = conversation.run(steps, message, session)
    if result is NOT_MINE:
        return None
    reply, state = result
    _save(conversation, state or active["state"], session.data, user, ctx)
    return reply


def _save(conversation: Conversation, state, data: dict, user, ctx: Context) -> None:
    if state in (None, END):
        ctx.store.clear(user.openid)
    else:
        ctx.store.save(user.openid, conversation.name, state, data, conversation.timeout_s)


def _event(message: Inbound, user, ctx: Context) -> str:
    if message.event == "unsubscribe":
        User.update(subscribed=False).where(User.id == user.id).execute()
        ctx.store.clear(user.openid)
        return ""
    if message.event == "location":
        User.update(lat=message.lat, lng=message.lng).where(User.id == user.id).execute()
        return ""
    if message.event == "click":
        name = MENU_KEYS.get(message.event_key)
        if name == "help":
            return texts.HELP[user.role_enum]
        if name == "report":
            return texts.REPORT_ASK_WHAT
        return _command(name, None, user, ctx) if name else texts.NOT_UNDERSTOOD
    if message.event in ("subscribe", "scan"):
        scene = message.event_key
        if scene.startswith(SCENE_INVITE):
            return _invite(user, scene.removeprefix(SCENE_INVITE))
        if scene:
            reply = resident_chat.scanned(user, scene, ctx)
            if reply is not None:
                return f"{texts.WELCOME}\n{reply}" if message.event == "subscribe" else reply
        return texts.WELCOME if message.event == "subscribe" else texts.NOT_UNDERSTOOD
    return ""


def _invite(user, code: str) -> str:
    invite = redeem_invite(user, code) if code else None
    if invite is None:
        return texts.INVITE_BAD
    unit = invite.org_unit.name if invite.org_unit_id else invite.work_unit.name
    return texts.ROLE_GRANTED.format(unit=unit, role=texts.ROLE_NAMES[Role(invite.role)])
