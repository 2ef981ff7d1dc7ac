"""Resident commands outside a report: my tickets, query, urge, cancel, rate, follow, add to.

Every numbered command answers "someone else's ticket" exactly as "no such ticket": a
resident learns nothing about tickets that are not theirs. Absurd numbers are never echoed.
"""

import re

from handlers import resident_texts as rtexts
from handlers import supplements, texts, views
from handlers.commands import Command, fixed_command, parse_rating
from handlers.places import cn_to_int
from models import lifecycle, notices
from models.access import can_view, is_subscriber, load_ticket, may_follow
from models.enums import OPEN_STATES, State
from models.errors import TicketError
from models.tickets import Ticket

LIST_LIMIT = 5
# Ticket numbers are database ids: anything longer is a typo, not a ticket.
MAX_DIGITS = 12

# What residents type for the commands (typos, synonyms), mapped to the command's verb.
ALIASES = {
    "查寻": "查询", "查看": "查询", "査询": "查询", "查一下": "查询", "看看": "查询",
    "催办": "催单", "催促": "催单", "催一下": "催单", "催": "催单",
    "撤消": "撤销", "撤回": "撤销", "取消": "撤销", "删除": "撤销",
    "评分": "评价", "打分": "评价",
    "追加": "补充", "补充说明": "补充",
}  # fmt: skip
# Residents only: 进度 #N asks how it is going (for a volunteer it reports progress).
RESIDENT_ONLY_ALIASES = {"进度": "查询", "进展": "查询"}
# The whole message, said without a number ('催一下': the only open ticket, as 催单 alone).
BARE_ALIASES = {
    "催一下": "催单", "催下": "催单", "催催": "催单", "催一催": "催单", "帮我催一下": "催单",
    "帮忙催一下": "催单", "催一下吧": "催单", "能催一下吗": "催单",
    "查一下": "我的工单", "查下": "我的工单", "查进度": "我的工单", "查一下进度": "我的工单",
    "看看进度": "我的工单", "看下进度": "我的工单", "进度怎么样": "我的工单", "我的工单呢": "我的工单",
}  # fmt: skip
_ALIAS_RE = re.compile(
    r"^(?P<word>[\u4e00-\u9fff]{1,4}?)\s*(?=[#＃]|\d+\s*(?:号单|号工单|号)?(?:\s|$))"
)
_NUMBER_SUFFIX = re.compile(r"^(\s*[#＃]?\s*\d+)\s*(?:号单|号工单|号)(?=\s|$)")


def canonical(text: str, resident_only: bool) -> str:
    """'查寻 #2' → '查询 #2', '取消#3' → '撤销#3' (only when a ticket number follows);
    '我的工单吧' → '我的工单'."""
    bare = text.rstrip(" 吧呢啊呀哦啦嘛。.!！~")
    if bare != text and fixed_command(bare):
        return bare
    if text in BARE_ALIASES or bare in BARE_ALIASES:
        return BARE_ALIASES.get(text) or BARE_ALIASES[bare]
    match = _ALIAS_RE.match(text)
    if not match:
        return text
    table = {**ALIASES, **(RESIDENT_ONLY_ALIASES if resident_only else {})}
    verb = table.get(match.group("word")) or (
        match.group("word") if match.group("word") in table.values() else None
    )
    if not verb:
        return text
    rest = _NUMBER_SUFFIX.sub(r"\1", text[match.end() :])  # '1号' → '1'
    return f"{verb} {rest}"


def my_tickets(user, cmd, ctx) -> str:
    tickets = _recent(user)
    if not tickets:
        return texts.MY_TICKETS_EMPTY
    return texts.MY_TICKETS.format(n=len(tickets), items=views.lines(tickets, viewer=user))


def _recent(user) -> list[Ticket]:
    return list(
        Ticket.select().where(Ticket.reporter == user).order_by(Ticket.id.desc()).limit(LIST_LIMIT)
    )


def query(user, cmd: Command, ctx) -> str:
    ticket = _ticket(user, cmd, "查询 #12", can_view)
    return texts.DETAIL.format(
        line=views.line(ticket, viewer=user),
        text=views.words(ticket, user),
        timeline=views.timeline(ticket, viewer=user),
    )


def urge(user, cmd: Command, ctx) -> str:
    ticket = _ticket(user, cmd, "催单 #12", _reporter_or_follower, single_open=True)
    ticket = lifecycle.urge(ticket.id, user, cmd.rest)
    return texts.URGED.format(number=ticket.number)


def cancel_ticket(user, cmd: Command, ctx) -> str:
    ticket = _ticket(user, cmd, "撤销 #12", _reporter)
    ticket = lifecycle.cancel(ticket.id, user, cmd.rest)
    return texts.CANCELLED_TICKET.format(number=ticket.number)


def follow(user, cmd: Command, ctx) -> str:
    ticket = _ticket(user, cmd, "关注 #12", may_follow)
    ticket = lifecycle.subscribe(ticket.id, user)
    return texts.DUPLICATE_JOINED.format(number=ticket.number, count=ticket.subscriber_count + 1)


def add_to(user, cmd: Command, ctx):
    """补充 #N 文字 (or 补充 #N, then a photo or location)."""
    ticket = _ticket(user, cmd, "补充 #12 在5号楼东边", _reporter, single_open=True)
    return supplements.command(user, cmd, ctx, ticket)


def rate_command(user, cmd: Command, ctx) -> str:
    """评价 #12 满意 / 评价 满意 (the only ticket waiting)."""
    rating = parse_rating(cmd.rest)
    if rating is None:
        raise TicketError(texts.FORMAT_HINT.format(example="评价 #12 满意"))
    if cmd.number is None and not _number_attempt(cmd.rest):
        ticket = _only_waiting(user)
    else:
        ticket = _ticket(user, cmd, "评价 #12 满意", _reporter)
    return _rate(user, ticket, *rating)


# --- finding the ticket a command names, the same way for every command ----------------


def _reporter(user, ticket) -> bool:
    return ticket.reporter_id == user.id


def _reporter_or_follower(user, ticket) -> bool:
    return ticket.reporter_id == user.id or is_subscriber(user, ticket)


def _number_attempt(rest: str) -> bool:
    """'-1', 'abc', '二' right after the verb: a number was meant but is not one."""
    return bool(re.match(r"^[-+#＃]|^[A-Za-z0-9]+$|^[零〇一二两三四五六七八九十百千]+(\s|$)", rest))


def _number(cmd: Command, example: str) -> int | None:
    """The ticket number typed, None when none was typed; a polite error for a bad one."""
    if cmd.number is not None:
        if not 0 < cmd.number < 10**MAX_DIGITS:
            raise TicketError(rtexts.NOT_FOUND, "not_found")
        if cmd.rest[:1].isdigit():  # more digits than a number holds: cut off by the parser
            raise TicketError(rtexts.NOT_FOUND, "not_found")
        return cmd.number
    first = cmd.rest.split(" ", 1)[0]
    if first and cn_to_int(first) is not None and not first.isdigit():
        return cn_to_int(first)  # 查询 #二
    if _number_attempt(cmd.rest):
        raise TicketError(rtexts.BAD_NUMBER.format(example=example))
    return None


def _ticket(user, cmd: Command, example: str, allowed, *, single_open=False) -> Ticket:
    """The ticket `cmd` names if `allowed(user, ticket)`; otherwise the one answer for
    'not yours' and 'does not exist' alike."""
    number = _number(cmd, example)
    if number is None:
        return _unnumbered(user, example, single_open)
    try:
        ticket = load_ticket(number)
    except TicketError:
        raise TicketError(rtexts.NOT_FOUND, "not_found") from None
    if not allowed(user, ticket):
        raise TicketError(rtexts.NOT_FOUND, "not_found")
    return ticket


def _unnumbered(user, example: str, single_open: bool) -> Ticket:
    """No number: the one open ticket when that is unambiguous, else a list to pick from."""
    if single_open:
        open_ones = [t for t in _recent(user) if t.state in OPEN_STATES]
        if len(open_ones) == 1:
            return open_ones[0]
    recent = _recent(user)
    if not recent:
        raise TicketError(texts.MY_TICKETS_EMPTY)
    raise TicketError(rtexts.NUMBER_MISSING.format(example=example, items=views.lines(recent)))


# --- rating ---------------------------------------------------------------------------------


def waiting_for_rating(user) -> list[Ticket]:
    return list(
        Ticket.select()
        .where((Ticket.reporter == user) & (Ticket.state == State.RESOLVED))
        .order_by(Ticket.resolved_at.desc())
        .limit(3)
    )


def try_rating(user, text: str) -> str | None:
    """A bare '满意' / '4' / '挺好的' when exactly the reporter's tickets wait for a rating."""
    rating = parse_rating(text, colloquial=True)
    if rating is None:
        return None
    waiting = waiting_for_rating(user)
    if not waiting:
        return None
    if len(waiting) > 1:
        return texts.RATE_WHICH
    return _rate(user, waiting[0], *rating)


def nothing_to_rate(user) -> str:
    """A rating word with nothing waiting: thank them, and never start a report from it."""
    last = (
        Ticket.select()
        .where((Ticket.reporter == user) & Ticket.score.is_null(False))
        .order_by(Ticket.id.desc())
        .first()
    )
    if last is not None:
        return rtexts.ALREADY_RATED.format(number=last.number)
    return rtexts.NO_RATING_WAITING


def _only_waiting(user) -> Ticket:
    waiting = waiting_for_rating(user)
    if len(waiting) != 1:
        raise TicketError(texts.RATE_WHICH if waiting else "您现在没有需要评价的工单。")
    return waiting[0]


def _rate(user, ticket: Ticket, score: int, comment: str) -> str:
    rated = lifecycle.rate(ticket.id, user, score, comment)
    if rated.state == State.CLOSED:
        return texts.RATED_HAPPY.format(number=rated.number)
    return notices.reporter_reopened(rated)


COMMANDS = {
    "my_tickets": my_tickets,
    "查询": query,
    "催单": urge,
    "撤销": cancel_ticket,
    "评价": rate_command,
    "关注": follow,
    "补充": add_to,
}
