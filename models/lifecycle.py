"""The ticket lifecycle: the one place that changes a ticket's state (DESIGN §4).

Every public function here is one transition. It runs in one transaction, checks who may
do it, moves the ticket with a compare-and-set on (state, version), writes a TicketEvent,
and enqueues the notifications it causes in the same transaction (transactional outbox).
"""

from collections.abc import Iterable
from datetime import timedelta
from functools import wraps

import peewee

from models import notices
from models.access import (
    is_subscriber,
    load_ticket,
    may_take,
    require_assignee,
    require_dispatcher,
    require_reporter,
    require_staff_in_scope,
)
from models.clock import now
from models.db import database, write_transaction
from models.enums import ACTIVE_STATES, OPEN_STATES, Action, Level, Role, State, Step, Urgency
from models.errors import TicketError
from models.matching import rank_volunteers
from models.org import Compound, OrgUnit, User, WorkUnit, responsible_staff
from models.outbox import enqueue
from models.routing import routing
from models.tickets import PointsEntry, Rating, Ticket, TicketAssist, TicketEvent, TicketSubscriber

# Which states each transition may start from.
ALLOWED_FROM = {
    Action.DISPATCH: (State.SUBMITTED, State.DISPATCHED),
    Action.TAKE: (State.DISPATCHED,),
    Action.REASSIGN: (State.DISPATCHED, State.TAKEN),
    Action.HAND_BACK: (State.DISPATCHED, State.TAKEN),
    Action.PROGRESS: (State.TAKEN,),
    Action.RESOLVE: (State.TAKEN,),
    Action.RATE: (State.RESOLVED,),
    Action.REOPEN: (State.RESOLVED, State.CLOSED),
    Action.ESCALATE: OPEN_STATES,
    Action.ASSIST: OPEN_STATES,
    Action.URGE: OPEN_STATES,
    Action.REMIND: ACTIVE_STATES,
    Action.CANCEL: (State.SUBMITTED, State.DISPATCHED),
    Action.CLOSE: ACTIVE_STATES,
    Action.CLOSE_UNRATED: (State.RESOLVED,),
    Action.MERGE: ACTIVE_STATES,
    Action.SUBSCRIBE: ACTIVE_STATES,
    Action.FOLLOW_UP: (State.CLOSED,),
    Action.RATING_REMINDER: (State.RESOLVED,),
}

REFUSALS = {
    State.SUBMITTED: "还在等待派单",
    State.DISPATCHED: "已派单，等待接单",
    State.TAKEN: "正在办理中",
    State.RESOLVED: "已办结，等待评价",
    State.CLOSED: "已经关闭",
    State.CANCELLED: "已经撤销",
}
URGE_INTERVAL_H = 4
STEP_NAMES = {Step.DISPATCH: "派单", Step.TAKE: "接单", Step.RESOLVE: "办理", Step.RATE: "评价"}


def transition(fn):
    """Run a transition in one transaction (nested calls join the outer one)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with write_transaction():
            return fn(*args, **kwargs)

    return wrapper


def check_allowed(ticket: Ticket, action: Action) -> None:
    """Refuse politely when the ticket's state does not allow `action`."""
    if ticket.state not in ALLOWED_FROM[action]:
        raise TicketError(
            f"工单 {ticket.number} {REFUSALS[ticket.state_enum]}，现在不能这样操作。", "conflict"
        )


def _move(ticket, action, actor, *, to_state=None, note="", data=None, **changes) -> Ticket:
    """Compare-and-set the ticket from its read (state, version), and log the hop."""
    check_allowed(ticket, action)
    at = now()
    to_state = to_state or ticket.state
    changes.update(state=to_state, version=ticket.version + 1, updated_at=at)
    moved = (
        Ticket.update(**changes)
        .where(
            (Ticket.id == ticket.id)
            & (Ticket.state == ticket.state)
            & (Ticket.version == ticket.version)
        )
        .execute()
    )
    if not moved:
        if action == Action.TAKE:
            raise TicketError(f"手慢了一步，工单 {ticket.number} 已经被别人接走了。", "conflict")
        raise TicketError(f"工单 {ticket.number} 刚刚有了变化，请查看后再试。", "conflict")
    fresh = Ticket.get_by_id(ticket.id)
    TicketEvent.create(
        ticket=fresh,
        actor=actor,
        action=action,
        from_state=ticket.state,
        to_state=to_state,
        level=fresh.level,
        org_unit=fresh.org_unit_id,
        assignee=fresh.assignee_id,
        note=note,
        data=data,
        created_at=at,
    )
    return fresh


def _clock(urgency: str, step: Step, start=None) -> dict:
    """Columns that restart the per-step clock (the overall one never restarts)."""
    start = start or now()
    due = routing().step_deadline(urgency, step, start)
    return {"step": step, "step_due_at": due, "breach_count": 0, "next_check_at": due}


def _with_overall(clock: dict, ticket: Ticket) -> dict:
    """Look again at the overall deadline if it falls before the step's."""
    if ticket.due_at and ticket.due_at < clock["next_check_at"]:
        clock["next_check_at"] = max(ticket.due_at, now())
    return clock


def _notify_staff(unit: OrgUnit, text: str, ticket: Ticket, role=Role.DISPATCHER, key=None):
    for person in responsible_staff(unit, role):
        enqueue(person, text, ticket=ticket, dedupe_key=f"{key}:{person.id}" if key else None)


def _notify_unit(unit: WorkUnit, text: str, ticket: Ticket) -> None:
    for worker in User.select().where(User.work_unit == unit):
        enqueue(worker, text, ticket=ticket)


def _notify_followers(ticket: Ticket, text: str) -> None:
    for sub in TicketSubscriber.select().where(TicketSubscriber.ticket == ticket):
        enqueue(sub.user, text, ticket=ticket)


def _linked_work_units(category: str, compound: Compound | None) -> list[WorkUnit]:
    units = []
    for link in routing().category(category).linked:
        if link == "property" and compound is not None and compound.property_company_id:
            units.append(compound.property_company)
        elif link.startswith("department:"):
            unit = WorkUnit.get_or_none(WorkUnit.name == link.split(":", 1)[1])
            if unit is not None:
                units.append(unit)
    return units


@transition
def submit(
    reporter: User,
    text: str,
    category: str,
    urgency: str | None = None,
    *,
    compound: Compound | None = None,
    grid: OrgUnit | None = None,
    building: str = "",
    unit_no: str = "",
    room: str = "",
    lat: float | None = None,
    lng: float | None = None,
    photos: Iterable[str] = (),
    channel: str = "chat",
    external_ref: str | None = None,
) -> Ticket:
    """点单: a resident files a ticket; it starts at the level its urgency calls for."""
    text = (text or "").strip()
    if not text:
        raise TicketError("请说一下遇到了什么问题。", "invalid")
    cat = routing().category(category)
    urgency = Urgency(urgency or cat.urgency)
    compound = compound or (None if grid else reporter.compound)
    grid = compound.grid if compound is not None else grid
    if grid is None:
        raise TicketError("请告诉我问题在哪个小区，或者发送一个位置。", "invalid")
    level = routing().start_level(urgency)
    owner = grid.ancestor_at(level)
    at = now()
    clock = _clock(urgency, Step.DISPATCH, at)
    ticket = Ticket.create(
        reporter=reporter, text=text[:2000], category=cat.code, urgency=urgency,
        state=State.SUBMITTED, level=owner.level, org_unit=owner, grid=grid,
        area_path=grid.path, compound=compound, building=building, unit_no=unit_no, room=room,
        lat=lat, lng=lng, photos=list(photos)[:9], channel=channel, external_ref=external_ref,
        due_at=routing().overall_deadline(urgency, at), created_at=at, updated_at=at, **clock,
    )  # fmt: skip
    TicketEvent.create(
        ticket=ticket, actor=reporter, action=Action.SUBMIT, from_state=None,
        to_state=State.SUBMITTED, level=ticket.level, org_unit=owner, note=text[:200],
        data={"category": cat.code, "urgency": urgency, "channel": channel}, created_at=at,
    )  # fmt: skip
    _notify_staff(owner, notices.new_ticket(ticket), ticket)
    if urgency == Urgency.URGENT:
        community = grid.ancestor_at(Level.COMMUNITY)
        for role in (Role.DISPATCHER, Role.SUPERVISOR):
            if community.id != owner.id or role == Role.SUPERVISOR:
                _notify_staff(community, notices.urgent_on_duty(ticket), ticket, role)
    if urgency == Urgency.HOT:
        for unit in _linked_work_units(cat.code, compound):
            TicketAssist.create(ticket=ticket, work_unit=unit, created_at=at)
            _notify_unit(unit, notices.assist_request(ticket), ticket)
    return ticket


def _target_changes(actor, ticket, to_user, to_unit, to_pool) -> dict:
    targets = sum(x is not None and x is not False for x in (to_user, to_unit, to_pool))
    if targets != 1:
        raise TicketError("请指定派给谁：一个人、一个单位，或“志愿者”（接单池）。", "invalid")
    if to_user is not None:
        if to_user.role not in (Role.VOLUNTEER, Role.WORKER):
            raise TicketError(f"{to_user.display_name()}不是志愿者或工作人员，不能接单。")
        if to_user.id == ticket.reporter_id:
            raise TicketError("不能把工单派给提交它的居民本人。")
    return {
        "assignee": to_user,
        "work_unit": to_unit,
        "in_pool": bool(to_pool),
        **_with_overall(_clock(ticket.urgency, Step.TAKE), ticket),
    }


def _announce_target(ticket: Ticket) -> None:
    if ticket.assignee_id:
        enqueue(ticket.assignee, notices.dispatched_to_you(ticket), ticket=ticket)
    elif ticket.work_unit_id:
        _notify_unit(ticket.work_unit, notices.dispatched_to_you(ticket), ticket)
    elif ticket.in_pool:
        for match in rank_volunteers(ticket):
            enqueue(match.volunteer, notices.pool_offer(ticket, match.distance_m), ticket=ticket)


@transition
def dispatch(ticket_id, actor: User, *, to_user=None, to_unit=None, to_pool=False, note=""):
    """派单: to a person, a work unit, or the volunteer pool."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    if ticket.state == State.DISPATCHED and (ticket.assignee_id or ticket.work_unit_id):
        raise TicketError(f"工单 {ticket.number} 已经派出，要换人请用“转单”。", "conflict")
    changes = _target_changes(actor, ticket, to_user, to_unit, to_pool)
    ticket = _move(
        ticket, Action.DISPATCH, actor, to_state=State.DISPATCHED, note=note,
        dispatched_at=now(), **changes,
    )  # fmt: skip
    _announce_target(ticket)
    enqueue(ticket.reporter, notices.reporter_dispatched(ticket), ticket=ticket)
    return ticket


@transition
def take(ticket_id, actor: User) -> Ticket:
    """接单/抢单: the first taker of a pool ticket wins (compare-and-set)."""
    ticket = load_ticket(ticket_id)
    check_allowed(ticket, Action.TAKE)
    may_take(actor, ticket)
    ticket = _move(
        ticket, Action.TAKE, actor, to_state=State.TAKEN, assignee=actor, taken_at=now(),
        **_with_overall(_clock(ticket.urgency, Step.RESOLVE), ticket),
    )  # fmt: skip
    enqueue(ticket.reporter, notices.reporter_taken(ticket, actor), ticket=ticket)
    return ticket


@transition
def reassign(ticket_id, actor: User, *, to_user=None, to_unit=None, to_pool=False, note=""):
    """转单: the dispatcher moves it to another assignee."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    previous = ticket.assignee
    changes = _target_changes(actor, ticket, to_user, to_unit, to_pool)
    ticket = _move(
        ticket, Action.REASSIGN, actor, to_state=State.DISPATCHED, note=note,
        dispatched_at=now(), **changes,
    )  # fmt: skip
    if previous is not None and previous.id != ticket.assignee_id:
        enqueue(previous, notices.reassigned_away(ticket), ticket=ticket)
    _announce_target(ticket)
    return ticket


@transition
def hand_back(ticket_id, actor: User, reason: str) -> Ticket:
    """退单: the assignee gives it back; pool tickets return to the pool."""
    ticket = load_ticket(ticket_id)
    require_assignee(actor, ticket)
    reason = (reason or "").strip()
    if not reason:
        raise TicketError(f"退单请说明原因，比如“退单 {ticket.number} 缺少工具”。")
    ticket = _move(
        ticket, Action.HAND_BACK, actor, to_state=State.DISPATCHED, note=reason,
        assignee=None, work_unit=None if not ticket.in_pool else ticket.work_unit,
        **_with_overall(_clock(ticket.urgency, Step.DISPATCH), ticket),
    )  # fmt: skip
    _notify_staff(ticket.org_unit, notices.handed_back(ticket, reason), ticket)
    if ticket.in_pool:
        _announce_target(ticket)
    return ticket


@transition
def report_progress(ticket_id, actor: User, note: str) -> Ticket:
    """进度: the assignee tells the reporter how it is going."""
    ticket = load_ticket(ticket_id)
    require_assignee(actor, ticket)
    note = (note or "").strip()
    if not note:
        raise TicketError(f"请写上进展，比如“进度 {ticket.number} 已联系物业，明天上门”。")
    ticket = _move(ticket, Action.PROGRESS, actor, note=note)
    enqueue(ticket.reporter, notices.progress(ticket, note), ticket=ticket)
    return ticket


@transition
def resolve(ticket_id, actor: User, note: str = "", photos: Iterable[str] = ()) -> Ticket:
    """办结: the assignee reports it done; the reporter is asked to rate."""
    ticket = load_ticket(ticket_id)
    require_assignee(actor, ticket)
    photos = list(photos)
    if not (note or "").strip() and not photos:
        raise TicketError("办结时请发一张现场照片，或写一句处理结果。")
    at = now()
    ticket = _move(
        ticket, Action.RESOLVE, actor, to_state=State.RESOLVED, note=note or "",
        data={"photos": photos} if photos else None, resolved_at=at,
        rating_reminded=False, **_clock(ticket.urgency, Step.RATE, at),
    )  # fmt: skip
    enqueue(ticket.reporter, notices.rating_request(ticket), ticket=ticket, template="rating")
    _notify_followers(ticket, notices.resolved_for_follower(ticket))
    return ticket


def _reopen_changes(ticket: Ticket) -> dict:
    """Back to dispatched one level up (or at the top), owner changed, assignee cleared."""
    up = Level(ticket.level).up() or Level(ticket.level)
    owner = ticket.grid.ancestor_at(up)
    return {
        "level": owner.level,
        "org_unit": owner,
        "assignee": None,
        "work_unit": None,
        "in_pool": False,
        "resolved_at": None,
        "closed_at": None,
        **_clock(ticket.urgency, Step.DISPATCH),
    }


@transition
def rate(ticket_id, actor: User, score: int, comment: str = "") -> Ticket:
    """评单: the reporter rates 1-5; 3 and up closes and awards points, 2 and below reopens."""
    ticket = load_ticket(ticket_id)
    require_reporter(actor, ticket)
    check_allowed(ticket, Action.RATE)
    if score not in (1, 2, 3, 4, 5):
        raise TicketError("评分请回复 1 到 5 之间的数字，或“满意 / 基本满意 / 不满意”。")
    assignee = ticket.assignee
    Rating.create(
        ticket=ticket, rater=actor, assignee=assignee, score=score, comment=comment or "",
        created_at=now(),
    )  # fmt: skip
    if score <= 2:
        ticket = _move(
            ticket, Action.RATE, actor, to_state=State.DISPATCHED, note=comment or "",
            data={"score": score, "reopened": True}, score=score, **_reopen_changes(ticket),
        )  # fmt: skip
        _notify_staff(ticket.org_unit, notices.reopened(ticket, comment or "居民不满意"), ticket)
        enqueue(actor, notices.reporter_reopened(ticket), ticket=ticket)
        return ticket
    ticket = _move(
        ticket, Action.RATE, actor, to_state=State.CLOSED, note=comment or "",
        data={"score": score}, score=score, closed_at=now(), next_check_at=None,
    )  # fmt: skip
    points = award_points(ticket, assignee, score)
    if assignee is not None:
        enqueue(assignee, notices.rated(ticket, score, points), ticket=ticket)
    return ticket


def award_points(ticket: Ticket, assignee: User | None, score: int) -> int:
    """Credit the assignee once per ticket (the ledger's unique key enforces it)."""
    points = routing().points_for(score, ticket.urgency)
    if assignee is None or assignee.role != Role.VOLUNTEER or points <= 0:
        return 0
    try:
        with database.atomic():
            PointsEntry.create(
                user=assignee, ticket=ticket, reason="rating", points=points, created_at=now()
            )
    except peewee.IntegrityError:
        return 0
    return points


@transition
def reopen(ticket_id, actor: User, reason: str) -> Ticket:
    """重新打开: the reporter says it is not solved, or a dispatcher reopens a closed one."""
    ticket = load_ticket(ticket_id)
    if ticket.state == State.CLOSED or actor.id != ticket.reporter_id:
        require_dispatcher(actor, ticket)
    reason = (reason or "").strip() or "问题没有解决"
    ticket = _move(
        ticket, Action.REOPEN, actor, to_state=State.DISPATCHED, note=reason,
        **_reopen_changes(ticket),
    )  # fmt: skip
    _notify_staff(ticket.org_unit, notices.reopened(ticket, reason), ticket)
    return ticket


def _escalate(ticket: Ticket, actor: User | None, reason: str, **extra) -> Ticket:
    up = Level(ticket.level).up()
    if up is None:
        raise TicketError(f"工单 {ticket.number} 已经在市级办理，不能再提级了。", "conflict")
    owner = ticket.grid.ancestor_at(up)
    ticket = _move(
        ticket, Action.ESCALATE, actor, note=reason, level=owner.level, org_unit=owner,
        data={"to_level": owner.level}, **extra,
    )  # fmt: skip
    for role in (Role.DISPATCHER, Role.SUPERVISOR):
        _notify_staff(owner, notices.escalated(ticket, reason), ticket, role)
    enqueue(ticket.reporter, notices.reporter_escalated(ticket), ticket=ticket)
    return ticket


def _expect(ticket: Ticket, version: int | None) -> None:
    """System steps act only on the version they judged; otherwise someone moved first."""
    if version is not None and ticket.version != version:
        raise TicketError(f"工单 {ticket.number} 刚刚有了变化。", "conflict")


@transition
def escalate(ticket_id, actor: User, reason: str = "") -> Ticket:
    """提级: one level up (grid → community → street → city); state unchanged."""
    ticket = load_ticket(ticket_id)
    require_staff_in_scope(actor, ticket)
    return _escalate(ticket, actor, (reason or "").strip() or "人工提级")


@transition
def breach_escalate(ticket_id, *, expect_version=None, next_check_at=None) -> Ticket:
    """Escalate for an overdue step and set when the sweep looks again (system)."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    return _escalate(
        ticket, None, "超时未办结", breach_count=ticket.breach_count + 1,
        next_check_at=next_check_at,
    )  # fmt: skip


@transition
def assist(ticket_id, actor: User, *, work_unit: WorkUnit | None = None, org_unit=None):
    """协办: attach another unit to help (联合办理)."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    if (work_unit is None) == (org_unit is None):
        raise TicketError("请指定一个协办单位。")
    name = (work_unit or org_unit).name
    ticket = _move(ticket, Action.ASSIST, actor, note=name)
    TicketAssist.create(ticket=ticket, work_unit=work_unit, org_unit=org_unit, created_at=now())
    if work_unit is not None:
        _notify_unit(work_unit, notices.assist_request(ticket), ticket)
    else:
        _notify_staff(org_unit, notices.assist_request(ticket), ticket)
    return ticket


@transition
def urge(ticket_id, actor: User, note: str = "") -> Ticket:
    """催单 / 督办: the reporter or a follower, or a supervisor in scope; rate-limited."""
    ticket = load_ticket(ticket_id)
    by_supervisor = actor.role == Role.SUPERVISOR
    if by_supervisor:
        require_staff_in_scope(actor, ticket)
    elif actor.id != ticket.reporter_id and not is_subscriber(actor, ticket):
        raise TicketError(f"工单 {ticket.number} 不是您提交的，不能催单。", "forbidden")
    check_allowed(ticket, Action.URGE)
    recent = (
        TicketEvent.select()
        .where(
            (TicketEvent.ticket == ticket)
            & (TicketEvent.actor == actor)
            & (TicketEvent.action == Action.URGE)
            & (TicketEvent.created_at > now() - timedelta(hours=URGE_INTERVAL_H))
        )
        .exists()
    )
    if recent:
        raise TicketError(
            f"您刚催过工单 {ticket.number}，我们已在加紧办理，{URGE_INTERVAL_H}小时后可以再催。",
            "rate",
        )
    ticket = _move(ticket, Action.URGE, actor, note=note or "")
    text = notices.urged(ticket, by_supervisor)
    if ticket.assignee_id:
        enqueue(ticket.assignee, text, ticket=ticket)
    _notify_staff(ticket.org_unit, text, ticket)
    return ticket


@transition
def cancel(ticket_id, actor: User, reason: str = "") -> Ticket:
    """撤销: the reporter withdraws it before anyone has taken it."""
    ticket = load_ticket(ticket_id)
    require_reporter(actor, ticket)
    if ticket.state == State.TAKEN:
        raise TicketError(
            f"工单 {ticket.number} 已经有人在办理了，暂时不能撤销；如确实不需要了，请联系网格员。",
            "conflict",
        )
    assignee = ticket.assignee
    ticket = _move(
        ticket, Action.CANCEL, actor, to_state=State.CANCELLED, note=reason or "",
        closed_at=now(), next_check_at=None,
    )  # fmt: skip
    if assignee is not None:
        enqueue(assignee, notices.cancelled(ticket), ticket=ticket)
    return ticket


@transition
def close(ticket_id, actor: User, reason: str) -> Ticket:
    """关闭: a dispatcher closes it with a reason (invalid, duplicate, handled offline)."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    reason = (reason or "").strip()
    if not reason:
        raise TicketError(f"关闭工单请写明原因，比如“关闭 {ticket.number} 重复反映”。")
    ticket = _move(
        ticket, Action.CLOSE, actor, to_state=State.CLOSED, note=reason, closed_at=now(),
        next_check_at=None,
    )  # fmt: skip
    enqueue(ticket.reporter, notices.closed(ticket, reason), ticket=ticket)
    return ticket


@transition
def close_unrated(ticket_id, *, expect_version=None) -> Ticket:
    """72 h without a rating: close it and give the community a follow-up (回访) task."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    ticket = _move(
        ticket, Action.CLOSE_UNRATED, None, to_state=State.CLOSED, note="72小时未评价，自动关闭",
        closed_at=now(), next_check_at=None,
    )  # fmt: skip
    community = ticket.grid.ancestor_at(Level.COMMUNITY)
    _notify_staff(community, notices.follow_up_task(ticket), ticket, key=f"followup:{ticket.id}")
    return ticket


@transition
def follow_up(ticket_id, actor: User, note: str) -> Ticket:
    """回访: staff record what the reporter said when called back."""
    ticket = load_ticket(ticket_id)
    require_staff_in_scope(actor, ticket)
    if not (note or "").strip():
        raise TicketError(f"请写上回访情况，比如“回访 {ticket.number} 居民表示已解决”。")
    return _move(ticket, Action.FOLLOW_UP, actor, note=note.strip())


@transition
def merge(ticket_id, into_id, actor: User) -> Ticket:
    """合并: a duplicate is closed into another; its reporter and followers follow that one."""
    ticket, into = load_ticket(ticket_id), load_ticket(into_id)
    if ticket.id == into.id:
        raise TicketError("不能把工单合并到它自己。")
    require_dispatcher(actor, ticket)
    require_dispatcher(actor, into)
    if not into.is_active:
        raise TicketError(f"工单 {into.number} 已经结束，不能合并进去。", "conflict")
    ticket = _move(
        ticket, Action.MERGE, actor, to_state=State.CLOSED, note=f"合并到 {into.number}",
        merged_into=into, closed_at=now(), next_check_at=None,
    )  # fmt: skip
    followers = {ticket.reporter_id} | {
        s.user_id for s in TicketSubscriber.select().where(TicketSubscriber.ticket == ticket)
    }
    followers.discard(into.reporter_id)
    for user_id in followers:
        _subscribe_row(into, user_id)
    enqueue(ticket.reporter, notices.merged(ticket, into), ticket=into)
    return ticket


def _subscribe_row(ticket: Ticket, user_id: int) -> bool:
    added = (
        TicketSubscriber.insert(ticket=ticket, user=user_id, created_at=now())
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    if added:
        Ticket.update(subscriber_count=Ticket.subscriber_count + 1).where(
            Ticket.id == ticket.id
        ).execute()
    return bool(added)


@transition
def subscribe(ticket_id, actor: User) -> Ticket:
    """+1: a neighbour with the same problem follows this ticket instead of filing another."""
    ticket = load_ticket(ticket_id)
    check_allowed(ticket, Action.SUBSCRIBE)
    if actor.id == ticket.reporter_id:
        return ticket
    if _subscribe_row(ticket, actor.id):
        TicketEvent.create(
            ticket=ticket, actor=actor, action=Action.SUBSCRIBE, from_state=ticket.state,
            to_state=ticket.state, level=ticket.level, org_unit=ticket.org_unit_id,
            assignee=ticket.assignee_id, created_at=now(),
        )  # fmt: skip
        _notify_staff(ticket.org_unit, notices.subscribed(ticket), ticket)
    return Ticket.get_by_id(ticket.id)


@transition
def remind(ticket_id, *, expect_version=None, next_check_at=None) -> Ticket:
    """Overdue reminder to whoever holds the ticket now (system)."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    step_name = STEP_NAMES.get(Step(ticket.step), "办理")
    ticket = _move(
        ticket, Action.REMIND, None, note=f"{step_name}超时提醒",
        breach_count=ticket.breach_count + 1, next_check_at=next_check_at,
    )  # fmt: skip
    text = notices.reminder(ticket, step_name)
    if ticket.assignee_id:
        enqueue(ticket.assignee, text, ticket=ticket)
    _notify_staff(ticket.org_unit, text, ticket)
    return ticket


@transition
def send_rating_reminder(ticket_id, *, expect_version=None, next_check_at=None) -> Ticket:
    """24 h after resolve without a rating: ask once more (system)."""
    ticket = load_ticket(ticket_id)
    _expect(ticket, expect_version)
    ticket = _move(
        ticket, Action.RATING_REMINDER, None, rating_reminded=True, next_check_at=next_check_at
    )
    enqueue(ticket.reporter, notices.rating_reminder(ticket), ticket=ticket, template="rating")
    return ticket
