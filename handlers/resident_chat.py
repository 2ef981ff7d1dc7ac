"""The resident's chat around the report draft: what a message is before it becomes one.

A draft starts only from something that describes a problem. Greetings, thanks, "ok", tests
and gibberish get a short friendly answer; rating words never open a draft; details sent
just after filing go to the filed ticket; a QR scan in another compound asks before it
moves the resident's home.
"""

import re

from handlers import report, resident, smalltalk, supplements, texts, views
from handlers import resident_texts as rtexts
from handlers.commands import UNSOLVED, parse_rating
from models import lifecycle
from models.enums import ASSIGNEE_ROLES, OPEN_STATES, State
from models.org import Compound, bind_compound
from models.tickets import Ticket

EMOJI_ONLY = rtexts.EMOJI_ONLY
REBIND_TTL_S = 600
REBIND_YES = {"1", "确认", "是", "是的", "好", "好的", "对", "改", "改吧", "确认改绑", "ok", "可以"}
REBIND_NO = {"2", "不", "不用", "不是", "不改", "否", "算了"}


def part_of_draft(active: dict, command) -> bool:
    """'补充一下，灯一直闪' inside a report draft adds to the draft; it is no 补充 #N command."""
    return (
        active.get("conv") == report.REPORT.name and command.verb == "补充" and not command.number
    )


def during_draft(message, text: str, user, ctx) -> str | None:
    """Before a draft step sees the message: second thoughts, a rating. (No rebind question
    is ever pending during a draft: a scan mid-draft is answered without one.)"""
    if not text:
        return None
    if smalltalk.kind(text) == smalltalk.NEVER_MIND:
        ctx.store.clear(user.openid)
        return texts.CANCELLED
    progress = _progress_in_own_words(text, user)
    if progress is not None:  # a taker's '到了，正在修' answers no draft menu: it is the job's
        ctx.store.clear(user.openid)
        return progress + rtexts.DRAFT_DROPPED
    if _word_rating(text, colloquial=True):  # '挺好的 谢谢' rates too; a digit answers the draft
        rated = resident.try_rating(user, text)
        if rated:
            return rated + rtexts.RATED_DRAFT_KEPT
    return None


def outside_draft(message, text: str, user, ctx) -> str | None:
    """The reply to a message outside any conversation, or None to start a report draft."""
    # Both marks were read with the person's lock (marks()): no round trip.
    rebind, filed = (ctx.store.mark(key) for key in marks(user, ctx))
    answered = _answer_rebind(text, user, ctx, rebind)
    if answered is not None:
        return answered
    just_filed = filed is not None
    if message.kind in ("image", "location"):
        return supplements.after_filing(message, user, just_filed)
    rated = resident.try_rating(user, text)
    if rated:
        return rated
    if _word_rating(text) and not smalltalk.describes_problem(parse_rating(text)[1]):
        return resident.nothing_to_rate(user)
    praise = _praise_for_a_rating(text, user)
    if praise is not None:
        return praise
    kind = smalltalk.kind(text)
    if kind == smalltalk.ACK and ctx.store.lapsed(user.openid) == report.REPORT.name:
        return texts.TIMEOUT  # "确认" to a draft that timed out: say so, file nothing
    if kind == smalltalk.WANT_REPORT:
        ctx.store.save(user.openid, report.REPORT.name, "describe", {}, report.REPORT.timeout_s)
        return rtexts.ASK_WHAT
    if kind == smalltalk.CHASE:
        return supplements.after_filing(message, user, just_filed) or _latest_open(user)
    if kind == smalltalk.WHEN:
        return _latest_open(user, with_deadline=True)
    if kind is not None:
        return (
            rtexts.SMALL_TALK[kind] + _recent_note(user, kind, just_filed) + _taker_note(user, kind)
        )
    attached = supplements.after_filing(message, user, just_filed)
    if attached is not None:
        return attached
    progress = _progress_in_own_words(text, user)
    if progress is not None:
        return progress
    if smalltalk.introduces_self(text):  # '我是物业的' opens no draft
        return rtexts.INTRO_ASK_WHAT + _taker_note(user, smalltalk.GREETING)
    if not smalltalk.describes_problem(text):
        return rtexts.UNCLEAR
    return None


# Words a volunteer or worker uses about a job in hand ('我到了，正在处理', '修好了'),
# never the start of a new problem.
PROGRESS_CUES = (
    *smalltalk.DONE_CUES, "到了", "到现场", "在现场", "在修", "正在", "处理中", "完成", "联系了", "联系过",
    "联系不上", "马上", "稍后", "在路上", "出发", "换了", "买了", "配件", "看过了", "检查了",
    "已处理", "已经处理", "接了", "已接", "这就去", "我去看", "交给我",
)  # fmt: skip


# A taker who took the wrong job or cannot do it ('接错了', '这个我弄不了'): how to hand it back.
_GIVES_UP = re.compile(r"接错|点错|不接了|不想接|接不了|弄不了|修不了|搞不定|干不了|办不了")


def _held(user) -> list[Ticket]:
    return list(
        Ticket.select(Ticket.id)
        .where((Ticket.assignee == user) & (Ticket.state == State.TAKEN))
        .order_by(Ticket.id)
        .limit(5)
    )


def _progress_in_own_words(text: str, user) -> str | None:
    """A taker's free words about the job in hand are its progress, not a new report: with
    one job in hand they are recorded on it; with several, the taker is asked which. Words
    that give the job up ('接错了') are told how to hand it back."""
    gives_up = _GIVES_UP.search(text) is not None
    if user.role not in ASSIGNEE_ROLES or not (gives_up or any(c in text for c in PROGRESS_CUES)):
        return None
    held = _held(user)
    if not held:
        return None
    if gives_up:  # handing back is a choice with a reason: say how, change nothing
        return rtexts.HAND_BACK_HOW.format(number=f"#{held[-1].id}")
    if len(held) > 1:
        numbers = "、".join(f"#{t.id}" for t in held)
        return rtexts.PROGRESS_WHICH.format(numbers=numbers, number=held[0].id)
    ticket = lifecycle.report_progress(held[0].id, user, text)
    done = smalltalk.says_done(text)
    return (rtexts.PROGRESS_DONE_IN_OWN_WORDS if done else rtexts.PROGRESS_IN_OWN_WORDS).format(
        number=ticket.number
    )


def _taker_note(user, kind: str) -> str:
    """A volunteer's or worker's hello also says where their orders are."""
    if user.role not in ASSIGNEE_ROLES or kind not in (smalltalk.GREETING, smalltalk.ABOUT):
        return ""
    return rtexts.TAKER_NOTE


# Praise of the work done ('修得挺快的 谢谢师傅'): while a rating waits, the rating's business,
# never a new problem. The words of thanks and praise (smalltalk's, which take in the good
# colloquial ratings) and words about how the work went; a complaint in the same words ('但是又
# 坏了', '没修好') is no praise.
_PRAISE = re.compile(
    "|".join(
        sorted(
            {w for w in smalltalk.PHRASES[smalltalk.THANKS].split() if len(w) >= 2}
            | {
                "挺快",
                "很快",
                "真快",
                "及时",
                "麻利",
                "利索",
                "效率",
                "专业",
                "热情",
                "耐心",
                "满意",
            },
            key=len,
            reverse=True,
        )
    )
)
_COMPLAINT = re.compile("|".join(("但", "可是", "不过", "又坏", "还是", "还没", "不行", "不满", "差",
                                  *UNSOLVED)))  # fmt: skip


def _praise_for_a_rating(text: str, user) -> str | None:
    """While a ticket waits for this person's rating, words of praise ask for the score in one
    tap instead of opening a report draft about '修得挺快的'."""
    if not _PRAISE.search(text) or _COMPLAINT.search(text) or smalltalk.kind(text) is not None:
        return None  # a bare '谢谢' is answered as thanks, as before
    waiting = resident.waiting_for_rating(user)
    if len(waiting) != 1:
        return None
    return rtexts.PRAISE_ASK_SCORE.format(number=waiting[0].number)


def _word_rating(text: str, colloquial: bool = False) -> bool:
    """满意 / 不满意 / 好评 / 5星 … (with `colloquial`, also 挺好的 / 还可以 …), not a bare
    digit (digits answer menus: the danger question's 1, a category pick)."""
    rating = parse_rating(text, colloquial=colloquial)
    return rating is not None and not text.strip(" 。.!！").isdigit()


def _recent_note(user, kind: str, just_filed: bool) -> str:
    """Just after filing, 'ok' or 'thanks' is about that ticket: say it is in hand; '算了' is
    too: say it stays open unless cancelled."""
    if kind == smalltalk.NEVER_MIND:
        return supplements.take_back_note(supplements.recent_open_ticket(user, just_filed))
    if kind not in (smalltalk.ACK, smalltalk.THANKS, smalltalk.GREETING):
        return ""
    ticket = supplements.recent_open_ticket(user, just_filed)
    return rtexts.RECENT_NOTE.format(number=ticket.number) if ticket is not None else ""


def _latest_open(user, with_deadline: bool = False) -> str:
    ticket = (
        Ticket.select()
        .where((Ticket.reporter == user) & Ticket.state.in_(list(OPEN_STATES)))
        .order_by(Ticket.id.desc())
        .first()
    )
    if ticket is None:
        return rtexts.CHASE_NO_TICKET
    due = ""
    if with_deadline and ticket.due_at is not None:
        due = rtexts.DUE_BY.format(when=views.when(ticket.due_at)) + "\n"
    return rtexts.CHASE_LATEST.format(line=views.line(ticket), due=due, number=ticket.number)


# --- QR scans: a scan in another compound asks before it moves the resident's home -------


def marks(user, ctx) -> tuple[str, str]:
    """The person's marks that a message outside a draft reads: a pending rebind question
    and "just filed" (read with the person's lock, ConversationStore.mark)."""
    return _rebind_key(user, ctx), supplements.filed_key(ctx, user)


def _rebind_key(user, ctx) -> str:
    return ctx.key("rebind", user.openid)


def scanned(user, scene: str, ctx) -> str | None:
    """Bind on a first scan; ask before moving an existing binding; None for unknown scenes."""
    compound = Compound.get_or_none(Compound.scene == scene)
    if compound is None:
        return None
    if user.compound_id is None:
        bind_compound(user, scene)
        return texts.BOUND.format(compound=compound.name)
    if user.compound_id == compound.id:
        return rtexts.ALREADY_BOUND.format(compound=compound.name)
    if ctx.store.load(user.openid):
        # A "回复 1" now would collide with the draft's own numbered answers.
        return rtexts.REBIND_AFTER_DRAFT.format(old=user.compound.name, new=compound.name)
    ctx.store.set_mark(_rebind_key(user, ctx), compound.id, ex=REBIND_TTL_S)
    return rtexts.REBIND_ASK.format(old=user.compound.name, new=compound.name)


def drop_rebind(user, ctx) -> bool:
    """Forget a pending rebind question; True if there was one."""
    return ctx.store.drop_mark(_rebind_key(user, ctx))


def _answer_rebind(text: str, user, ctx, pending) -> str | None:
    """'1' rebinds, '不' keeps; anything else lets the question lapse and goes on as usual."""
    if not pending:
        return None
    ctx.store.drop_mark(_rebind_key(user, ctx))
    compound = Compound.get_or_none(Compound.id == int(pending))
    answer = text.lower().strip(" 。.!！")
    if compound is not None and answer in REBIND_YES:
        bind_compound(user, compound.scene)
        return rtexts.REBIND_DONE.format(new=compound.name)
    if answer in REBIND_NO and user.compound is not None:
        return rtexts.REBIND_KEPT.format(old=user.compound.name)
    return None
