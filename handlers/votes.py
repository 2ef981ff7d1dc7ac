"""Owners' votes and the 议事会 in chat.

Owners: `绑定 房屋码` binds a household; `投票` lists open votes and walks through numbered
options, `确认`, and a receipt code; `改票` changes a ballot (the receipt code confirms it);
`核对 回执码` checks a receipt; `表决结果` shows closed votes; `议事会` the latest decisions;
`提议 内容` puts an item on this month's agenda.
Staff and the owners' committee: `发起投票 小区｜问题｜选项1/选项2｜时长（7天、3小时、30分钟）｜一般或重大`, and
`表决进度 V3` (turnout only: how anyone voted is never shown).

    stateDiagram-v2
        [*] --> pick_vote: 投票 (several open)
        [*] --> choose: 投票 (one open) / 改票
        pick_vote --> choose: number
        choose --> confirm: number (new ballot)
        choose --> receipt: number (change)
        confirm --> [*]: 确认 → receipt codes
        receipt --> [*]: receipt code → changed
"""

import re
from datetime import timedelta

from handlers import vote_texts as T
from handlers.commands import normalize
from handlers.conversation import END, NOT_MINE, Conversation
from models import council, owners, vote_notices, votes
from models.ballots import cast, change, check_receipt, has_voted
from models.clock import now, to_local
from models.errors import TicketError
from models.org import Compound
from models.votes import Vote, VoteStatus

NAME = "vote"
LIST_LIMIT = 5


def _open_votes(user) -> list[Vote]:
    compounds = {h.compound_id for h in owners.households_of(user)}
    if not compounds:
        return []
    at = now()
    return list(
        Vote.select()
        .where(
            Vote.compound.in_(compounds) & (Vote.status == VoteStatus.OPEN) & (Vote.closes_at > at)
        )  # fmt: skip
        .order_by(Vote.closes_at)
        .limit(LIST_LIMIT)
    )


def _paper(vote: Vote) -> str:
    return T.PAPER.format(
        number=vote.number, question=vote.question, options=vote_notices.options_text(vote),
        kind=votes.kind(vote.kind).name, closes=f"{to_local(vote.closes_at):%m月%d日 %H:%M}",
    )  # fmt: skip


def _all_voted(vote: Vote, user) -> bool:
    mine = owners.households_of(user, vote.compound_id)
    return bool(mine) and len(has_voted(vote, [h.id for h in mine])) == len(mine)


def _show(vote: Vote, user) -> tuple[str, dict]:
    """The ballot paper for one vote, and whether the user is casting or changing."""
    if _all_voted(vote, user):
        if not vote.allow_change:
            raise TicketError(T.ALREADY_FINAL.format(number=vote.number), "conflict")
        return _paper(vote) + "\n" + T.ALREADY_CHANGE, {"vote": vote.id, "mode": "change"}
    return _paper(vote) + "\n" + T.PICK_OPTION, {"vote": vote.id, "mode": "cast"}


def start_voting(user, ctx) -> str:
    """投票: one open vote goes straight to its paper; several are listed by number."""
    if not owners.households_of(user):
        return T.NOT_BOUND
    open_now = _open_votes(user)
    if not open_now:
        return T.NONE_OPEN
    if len(open_now) == 1:
        reply, data = _show(open_now[0], user)
        _save(user, ctx, "choose", data)
        return reply
    items = "\n".join(f"{i}. {v.number} {v.question}" for i, v in enumerate(open_now, 1))
    _save(user, ctx, "pick_vote", {"votes": [v.id for v in open_now]})
    return T.WHICH_VOTE.format(items=items)


def start_change(user, ctx, rest: str) -> str:
    """改票 [V3]: the paper again, then the receipt code confirms the change."""
    open_now = _open_votes(user)
    if rest:
        open_now = [v for v in open_now if v.number == rest.upper().replace(" ", "")]
    if len(open_now) != 1:
        return T.CHANGE_WHICH if open_now else T.NONE_OPEN
    vote = open_now[0]
    if not _all_voted(vote, user):
        reply, data = _show(vote, user)  # nothing to change yet: this is a first ballot
        _save(user, ctx, "choose", data)
        return reply
    if not vote.allow_change:
        return T.ALREADY_FINAL.format(number=vote.number)
    _save(user, ctx, "choose", {"vote": vote.id, "mode": "change"})
    return _paper(vote) + "\n" + T.PICK_OPTION


def _save(user, ctx, state: str, data: dict) -> None:
    ctx.store.save(user.openid, NAME, state, data, ctx.conversation_ttl_s)


def _number(message) -> int | None:
    text = normalize(message.text or "")
    return int(text) if re.fullmatch(r"\d{1,2}", text) else None


def pick_vote(message, session):
    n = _number(message)
    ids = session.data.get("votes", [])
    if n is None or not 1 <= n <= len(ids):
        return T.PICK_NUMBER.format(n=len(ids)), None
    reply, data = _show(votes.load_vote(ids[n - 1]), session.user)
    session.data.clear()
    session.data.update(data)
    return reply, "choose"


def choose(message, session):
    vote = votes.load_vote(session.data["vote"])
    n = _number(message)
    if n is None or not 1 <= n <= len(vote.options):
        return T.PICK_NUMBER.format(n=len(vote.options)), None
    session.data["option"] = n
    chosen = vote.options[n - 1]
    if session.data.get("mode") == "change":
        return T.ASK_RECEIPT.format(option=chosen), "receipt"
    return T.CONFIRM.format(option=chosen, number=vote.number), "confirm"


def confirm(message, session):
    text = normalize(message.text or "")
    if text not in ("确认", "确定", "是", "好", "确认投票"):
        if _number(message) is not None:
            return choose(message, session)
        return T.CONFIRM_HINT, None
    try:
        receipts = cast(session.data["vote"], session.user, session.data["option"])
    except TicketError as exc:  # closed meanwhile, or cast elsewhere: nothing left to confirm
        return exc.message, END
    vote = votes.load_vote(session.data["vote"])
    lines = "\n".join(f"{r.household}：{r.code}" for r in receipts)
    return T.CAST.format(number=vote.number, receipts=lines), END


def receipt(message, session):
    code = normalize(message.text or "")
    done = change(session.data["vote"], session.user, session.data["option"], code)
    vote = votes.load_vote(session.data["vote"])
    return T.CHANGED.format(number=vote.number, household=done.household,
                            option=vote.options[session.data["option"] - 1]), END  # fmt: skip


BALLOT = Conversation(
    name=NAME,
    entry_points=[lambda message, session: NOT_MINE],
    states={
        "pick_vote": [pick_vote],
        "choose": [choose],
        "confirm": [confirm],
        "receipt": [receipt],
    },  # fmt: skip
    timeout_s=1800,
)


# ---------------------------------------------------------------- one-shot commands


def bind(user, rest: str) -> str:
    household = owners.bind_by_code(user, rest)
    return T.BOUND.format(compound=household.compound.name, label=household.label,
                          area=household.area_text)  # fmt: skip


def check(user, rest: str) -> str:
    found = check_receipt(rest)
    if found is None:
        return T.RECEIPT_UNKNOWN
    vote = found.vote
    if found.option is None:
        return T.RECEIPT_PENDING.format(number=vote.number)
    return T.RECEIPT_COUNTED.format(
        number=vote.number, option=vote.options[found.option - 1], hash=vote.tally_hash
    )


def results(user, rest: str) -> str:
    compounds = {h.compound_id for h in owners.households_of(user)}
    if user.compound_id:
        compounds.add(user.compound_id)
    closed = list(
        Vote.select()
        .where(Vote.compound.in_(compounds or [0]) & (Vote.status == VoteStatus.CLOSED))
        .order_by(Vote.closed_at.desc())
        .limit(3)
    )
    if not closed:
        return T.NO_RESULTS
    return "\n\n".join(vote_notices.result_text(v) for v in closed)


def progress(user, rest: str) -> str:
    vote = votes.load_vote(rest.strip() or "0")
    votes.require_manager(user, vote.compound)
    figures = votes.turnout(vote)
    return T.PROGRESS.format(number=vote.number, question=vote.question, **figures,
                             status=T.STATUS[vote.status])  # fmt: skip


UNITS = {"天": "days", "": "days", "小时": "hours", "分钟": "minutes"}


def _duration(text: str) -> timedelta | None:
    """'7' or '7天', '3小时', '10分钟' (short votes on the spot at a 议事会)."""
    match = re.fullmatch(r"(\d{1,4})\s*(天|小时|分钟)?", text)
    if match is None:
        return None
    return timedelta(**{UNITS[match.group(2) or ""]: int(match.group(1))})


KINDS = {"一般": "ordinary", "一般事项": "ordinary", "重大": "major", "重大事项": "major"}


def open_by_chat(user, rest: str) -> str:
    """发起投票 小区｜问题｜选项1/选项2｜时长｜一般或重大."""
    parts = [p.strip() for p in re.split(r"[|｜]", rest)]
    if len(parts) < 4:
        raise TicketError(T.OPEN_FORMAT)
    name, question, options, duration = parts[:4]
    kind_code = KINDS.get(parts[4] if len(parts) > 4 else "一般")
    length = _duration(duration)
    compound = Compound.get_or_none(Compound.name == name)
    if compound is None or kind_code is None or length is None:
        raise TicketError(T.OPEN_FORMAT)
    vote = votes.create_vote(
        user, compound, question, re.split(r"[/／、]", options), kind_code=kind_code,
        closes_at=now() + length,
    )  # fmt: skip
    return T.OPENED.format(number=vote.number, compound=compound.name,
                           households=vote.roll.count())  # fmt: skip


def decisions(user, rest: str) -> str:
    compound = user.compound
    if compound is None:
        mine = owners.households_of(user)
        compound = mine[0].compound if mine else None
    if compound is None:
        return T.NO_COMPOUND
    found = council.decisions(compound, limit=5)
    if not found:
        return T.NO_DECISIONS.format(compound=compound.name)
    lines = []
    for d in found:
        extra = f"（已立工单 {d.ticket.number}）" if d.ticket_id else ""
        extra += f"（已发起表决 V{d.vote_id}）" if d.vote_id else ""
        lines.append(f"· {d.meeting.month} {d.text}{extra}")
    return T.DECISIONS.format(compound=compound.name, items="\n".join(lines))


def propose(user, rest: str) -> str:
    mine = owners.households_of(user)
    if not mine:
        return T.NOT_BOUND
    item = council.propose(user, mine[0].compound, rest)
    return T.PROPOSED.format(month=item.meeting.month, compound=mine[0].compound.name)


COMMANDS = {
    "绑定": bind, "核对": check, "表决结果": results, "投票结果": results, "表决进度": progress,
    "发起投票": open_by_chat, "议事会": decisions, "提议": propose,
}  # fmt: skip


def command(text: str, user, ctx) -> str | None:
    """The reply when `text` is a vote or 议事会 command, else None (the router carries on)."""
    if text in ("投票", "参加投票", "业主投票", "我要投票"):
        return start_voting(user, ctx)
    if text.startswith("改票"):
        return start_change(user, ctx, text.removeprefix("改票").strip())
    for verb in sorted(COMMANDS, key=len, reverse=True):
        if text.startswith(verb):
            rest = text.removeprefix(verb).strip()
            if verb == "提议" and not rest:
                return T.PROPOSE_FORMAT
            return COMMANDS[verb](user, rest)
    return None
