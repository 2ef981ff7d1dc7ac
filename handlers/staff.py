"""Dispatcher (派单) and supervisor (督办) commands."""

from datetime import timedelta

from handlers import texts, views
from handlers.commands import Command, number_in, strip_target
from handlers.conversation import END, Conversation
from models import digest, evaluation, lifecycle, links, notices
from models.access import load_ticket, require_dispatcher, require_staff_in_scope
from models.clock import now
from models.db import under_path
from models.deadlines import overdue_query
from models.enums import STAFF_ROLES, Role, State, Urgency
from models.errors import TicketError
from models.lifecycle.core import holder_name
from models.org import OrgUnit, User, WorkUnit
from models.routing import routing
from models.tickets import Ticket

POOL_WORDS = {"志愿者", "接单池", "志愿者池", "志愿者接单池", "抢单池", "党员志愿者", "红管家"}
LIST_LIMIT = 8


def _require(user, *roles) -> None:
    if user.role not in roles or user.org_unit_id is None:
        raise TicketError(texts.NEED_STAFF, "forbidden")


def _number(cmd: Command, example: str) -> int:
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example=example))
    return cmd.number


def _subtree_tickets(user):
    unit = user.org_unit
    return Ticket.select().where(
        under_path(Ticket.area_path, unit.path) | Ticket.org_unit.in_(
            OrgUnit.select(OrgUnit.id).where(under_path(OrgUnit.path, unit.path))
        )
    )  # fmt: skip


def queue(user, cmd, ctx) -> str:
    """待派单: submitted, or dispatched back to the dispatcher with nobody on it."""
    _require(user, Role.DISPATCHER)
    waiting = (
        _subtree_tickets(user)
        .where(
            (Ticket.state == State.SUBMITTED)
            | (
                (Ticket.state == State.DISPATCHED)
                & Ticket.assignee.is_null()
                & Ticket.work_unit.is_null()
                & ~Ticket.in_pool
            )  # fmt: skip
        )
        .order_by(Ticket.urgency != "urgent", Ticket.id)
    )
    total = waiting.count()
    if not total:
        return texts.QUEUE_EMPTY
    return texts.QUEUE.format(n=total, items=views.lines(waiting.limit(LIST_LIMIT)))


def resolve_target(name: str) -> dict:
    """'志愿者' → the pool; a work unit's name; a volunteer's or worker's name or openid."""
    name = name.strip()
    if not name:
        raise TicketError(texts.FORMAT_HINT.format(example="派单 #12 给 志愿者"))
    if name in POOL_WORDS:
        return {"to_pool": True}
    unit = WorkUnit.get_or_none(WorkUnit.name == name)
    if unit is not None:
        return {"to_unit": unit}
    people = list(
        User.select().where(
            ((User.name == name) | (User.openid == name))
            & User.role.in_([Role.VOLUNTEER, Role.WORKER])
        )
    )
    if len(people) > 1:
        raise TicketError(texts.TARGET_AMBIGUOUS.format(name=name))
    if not people:
        raise TicketError(texts.TARGET_UNKNOWN.format(name=name), "not_found")
    return {"to_user": people[0]}


def _target_name(target: dict) -> str:
    if target.get("to_pool"):
        return "志愿者接单池"
    if target.get("to_unit"):
        return target["to_unit"].name
    return target["to_user"].display_name()


def dispatch(user, cmd: Command, ctx) -> str:
    number = _number(cmd, "派单 #12 给 志愿者")
    target = resolve_target(strip_target(cmd.rest))
    ticket = lifecycle.dispatch(number, user, **target)
    return texts.DISPATCHED.format(brief=notices.brief(ticket), target=_target_name(target))


def reassign(user, cmd: Command, ctx) -> str:
    number = _number(cmd, "转单 #12 给 红管家物业")
    target = resolve_target(strip_target(cmd.rest))
    ticket = lifecycle.reassign(number, user, **target)
    return texts.DISPATCHED.format(brief=notices.brief(ticket), target=_target_name(target))


def escalate(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.escalate(_number(cmd, "提级 #12"), user, cmd.rest)
    return texts.DONE.format(what=f"已提级到{ticket.org_unit.name}", brief=notices.brief(ticket))


def assist(user, cmd: Command, ctx) -> str:
    number = _number(cmd, "协办 #12 红管家物业")
    name = strip_target(cmd.rest)
    unit = WorkUnit.get_or_none(WorkUnit.name == name)
    org = OrgUnit.get_or_none(OrgUnit.name == name) if unit is None else None
    if unit is None and org is None:
        raise TicketError(texts.TARGET_UNKNOWN.format(name=name or "（空）"), "not_found")
    ticket = lifecycle.assist(number, user, work_unit=unit, org_unit=org)
    return texts.DONE.format(what=f"已请{name}协办", brief=notices.brief(ticket))


def close(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.close(_number(cmd, "关闭 #12 重复反映"), user, cmd.rest)
    return texts.DONE.format(what="已关闭", brief=notices.brief(ticket))


CONFIRM_WORDS = {"确认", "确认合并", "确定", "确定合并", "是", "是的", "对", "要", "合并吧"}
DECLINE_WORDS = {"不", "不是", "否", "不合并", "不要", "别合并"}


def merge(user, cmd: Command, ctx):
    """合并 #12 到 #13: at once when they look alike; otherwise ask first (or `… 确认`)."""
    number = _number(cmd, "合并 #12 到 #13")
    target = strip_target(cmd.rest)
    into = number_in(target)
    if into is None:
        raise TicketError(texts.FORMAT_HINT.format(example="合并 #12 到 #13"))
    confirmed = target.rstrip("。.!！ ").endswith(("确认", "确定"))
    ticket, other = load_ticket(number), load_ticket(into)
    require_dispatcher(user, ticket)
    require_dispatcher(user, other)
    doubts = lifecycle.merge_doubts(ticket, other)
    if doubts and not confirmed:
        question = texts.MERGE_ASK.format(
            a=ticket.number, b=other.number, doubts="\n".join(f"· {d}" for d in doubts)
        )
        return ("start", MERGE_CONFIRM, {"ticket": ticket.id, "into": other.id}, question)
    return _merge(user, ticket.id, other.id, confirmed)


def _merge(user, number: int, into: int, confirmed: bool) -> str:
    lifecycle.merge(number, into, user, confirmed=confirmed)
    return texts.MERGED.format(a=f"#{number}", b=f"#{into}")


def confirm_merge(message, session):
    """The dispatcher's answer to "确定要合并吗？"."""
    data = session.data
    a, b = f"#{data['ticket']}", f"#{data['into']}"
    answer = (message.clean_text or "").strip("。.!！ ") if message.kind == "text" else ""
    if answer in CONFIRM_WORDS:
        return _merge(session.user, data["ticket"], data["into"], True), END
    if answer in DECLINE_WORDS:
        return texts.MERGE_DECLINED.format(a=a, b=b), END
    return texts.MERGE_ASK_AGAIN.format(a=a, b=b), None


MERGE_CONFIRM = Conversation(
    name="merge_confirm",
    entry_points=[confirm_merge],
    states={"confirm": [confirm_merge]},
    timeout_s=600,
)


def unmerge(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.unmerge(_number(cmd, "撤销合并 #12"), user)
    state = texts.STATE_NAMES.get(ticket.state, ticket.state)
    return texts.UNMERGED.format(brief=notices.brief(ticket), state=state)


URGENCY_WORDS = {
    "紧急": Urgency.URGENT, "加急": Urgency.URGENT, "一般": Urgency.NORMAL,
    "普通": Urgency.NORMAL, "疑难": Urgency.DIFFICULT, "热点": Urgency.HOT,
}  # fmt: skip


def find_category(words: str) -> str | None:
    """A category from its code, its Chinese name, one part of it (“照明”), or a unique
    fragment (“漏水”); None if nothing or several fit."""
    words = words.strip().lower()
    if not words:
        return None
    cats = routing().categories
    if words in cats:
        return words
    words = {"其它": "其他"}.get(words, words)
    for code, cat in cats.items():
        if words in (cat.name, cat.name.replace("/", "")) or words in cat.name.split("/"):
            return code
    fits = [code for code, cat in cats.items() if words in cat.name or cat.name in words]
    return fits[0] if len(fits) == 1 else None


def _parse_recategorize(rest: str) -> tuple[str | None, str | None, str]:
    """'电梯 紧急' → ('elevator', 'urgent', '电梯')."""
    text = strip_target(rest)
    text = text.removeprefix("为").removeprefix("成").strip()
    urgency = None
    for word, value in URGENCY_WORDS.items():
        if word in text:
            urgency, text = value, text.replace(word, " ")
    words = " ".join(text.replace("类", " ").split())
    return find_category(words.replace(" ", "")), urgency, words


def recategorize(user, cmd: Command, ctx) -> str:
    """改类 #12 电梯 紧急: correct the category (and/or urgency)."""
    number = _number(cmd, "改类 #12 电梯 紧急")
    category, urgency, words = _parse_recategorize(cmd.rest)
    before = load_ticket(number)
    if category is None and (words or urgency is None):
        names = "、".join(c.name for c in routing().categories.values())
        raise TicketError(texts.RECATEGORIZE_WHICH.format(names=names))
    old = lifecycle.category_label(before.category, before.urgency)
    holder = holder_name(before)
    ticket = lifecycle.recategorize(number, user, category or before.category, urgency)
    extra = ""
    if holder and not holder_name(ticket):
        extra += texts.RECATEGORIZED_RELEASED.format(
            holder=holder, number=ticket.number, target=_suggested_target(ticket)
        )
    if ticket.org_unit_id != before.org_unit_id:
        extra += texts.RECATEGORIZED_MOVED.format(
            urgency=notices.URGENCY_WORDS[ticket.urgency], unit=ticket.org_unit.name
        )
    if ticket.urgency == Urgency.URGENT != before.urgency:
        extra += texts.RECATEGORIZED_ON_DUTY
    new = lifecycle.category_label(ticket.category, ticket.urgency)
    return texts.RECATEGORIZED.format(number=ticket.number, old=old, new=new, extra=extra)


def _suggested_target(ticket) -> str:
    """Who usually does this kind of work (routing's `responsible`), as a 派单 target."""
    responsible = routing().category(ticket.category).responsible
    if responsible == "property" and ticket.compound_id and ticket.compound.property_company_id:
        return ticket.compound.property_company.name
    return "志愿者" if responsible == "volunteer" else "人名或单位名"


def follow_up(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.follow_up(_number(cmd, "回访 #12 居民表示已解决"), user, cmd.rest)
    return texts.DONE.format(what="回访已记录", brief=notices.brief(ticket))


def urge(user, cmd: Command, ctx) -> str:
    _require(user, Role.SUPERVISOR)
    ticket = lifecycle.urge(_number(cmd, "督办 #12"), user, cmd.rest)
    return texts.DONE.format(what="已督办", brief=notices.brief(ticket))


def overdue(user, cmd, ctx) -> str:
    _require(user, *STAFF_ROLES)
    rows = overdue_query().where(
        under_path(Ticket.area_path, user.org_unit.path)
        | Ticket.org_unit.in_(
            OrgUnit.select(OrgUnit.id).where(under_path(OrgUnit.path, user.org_unit.path))
        )
    )
    total = rows.count()
    if not total:
        return texts.OVERDUE_EMPTY
    oldest = rows.order_by(Ticket.step_due_at).limit(LIST_LIMIT)
    return texts.OVERDUE.format(n=total, items=views.lines(oldest))


def today(user, cmd, ctx) -> str:
    _require(user, *STAFF_ROLES)
    return digest.render(digest.today(user.org_unit), "today")


def this_week(user, cmd, ctx) -> str:
    _require(user, *STAFF_ROLES)
    return digest.render(digest.this_week(user.org_unit), "this_week")


def dashboard(user, cmd, ctx) -> str:
    """大屏: a one-time login link to the dashboard of the caller's subtree."""
    _require(user, *STAFF_ROLES)
    url = links.dashboard_link(user)
    if url is None:
        return texts.DASHBOARD_OFF
    minutes = max(links.settings().login_ttl_s // 60, 1)
    return texts.DASHBOARD_LINK.format(unit=user.org_unit.name, url=url, minutes=minutes)


REPORT_DAYS = 90


def property_report(user, cmd, ctx) -> str:
    """物业评价: property companies in the subtree over the last quarter, 红榜 / 重点监督."""
    _require(user, *STAFF_ROLES)
    end = now()
    scores = evaluation.evaluate(end - timedelta(days=REPORT_DAYS), end, user.org_unit)
    return evaluation.render(scores, f"{user.org_unit.name}近{REPORT_DAYS}天物业评价")


def query(user, cmd: Command, ctx) -> str:
    ticket = load_ticket(_number(cmd, "查询 #12"))
    require_staff_in_scope(user, ticket)
    return texts.DETAIL.format(
        line=views.line(ticket, viewer=user),
        text=views.words(ticket, user, 120),
        timeline=views.timeline(ticket, 10, viewer=user),
    )


DISPATCHER_COMMANDS = {
    "queue": queue,
    "overdue": overdue,
    "today": today,
    "this_week": this_week,
    "property_report": property_report,
    "dashboard": dashboard,
    "查询": query,
    "派单": dispatch,
    "转单": reassign,
    "提级": escalate,
    "协办": assist,
    "关闭": close,
    "合并": merge,
    "撤销合并": unmerge,
    "取消合并": unmerge,
    "改类": recategorize,
    "回访": follow_up,
}
SUPERVISOR_COMMANDS = {
    "today": today,
    "this_week": this_week,
    "property_report": property_report,
    "dashboard": dashboard,
    "overdue": overdue,
    "查询": query,
    "督办": urge,
    "催单": urge,
    "提级": escalate,
    "回访": follow_up,
}
