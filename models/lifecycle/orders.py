"""Transitions people make: submit, dispatch, take, reassign, hand back, progress, resolve,
rate, reopen, cancel, close, follow up, merge, subscribe."""

from collections.abc import Iterable

import peewee

from models import gaming, notices
from models.access import (
    load_ticket,
    may_take,
    require_assignee,
    require_dispatcher,
    require_reporter,
    require_staff_in_scope,
    require_target_in_scope,
)
from models.clock import now
from models.db import database, insert_new
from models.enums import Action, Level, Role, State, Step, TicketKind, Urgency
from models.errors import TicketError
from models.lifecycle.core import (
    check_allowed,
    dispatcher_title,
    linked_work_units,
    move,
    notify_followers,
    notify_staff,
    notify_unit,
    step_clock,
    tell_holder,
    transition,
    with_overall,
)
from models.matching import rank_volunteers
from models.org import Compound, OrgUnit, User
from models.outbox import enqueue
from models.routing import routing
from models.tickets import PointsEntry, Rating, Ticket, TicketAssist, TicketEvent, TicketSubscriber


def _required(text: str | None, message: str) -> str:
    """The trimmed text, or a polite refusal saying what to write."""
    text = (text or "").strip()
    if not text:
        raise TicketError(message)
    return text


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
    clock = step_clock(urgency, Step.DISPATCH, at)
    ticket = insert_new(Ticket(
        reporter=reporter, text=text[:2000], category=cat.code, urgency=urgency,
        state=State.SUBMITTED, level=owner.level, org_unit=owner, grid=grid,
        area_path=grid.path, compound=compound, building=building, unit_no=unit_no, room=room,
        lat=lat, lng=lng, photos=list(photos)[:9], channel=channel, external_ref=external_ref,
        due_at=routing().overall_deadline(urgency, at), created_at=at, updated_at=at, **clock,
        respond_due_at=clock["step_due_at"],
    ))  # fmt: skip
    insert_new(TicketEvent(
        ticket=ticket, actor=reporter, action=Action.SUBMIT, from_state=None,
        to_state=State.SUBMITTED, level=ticket.level, org_unit=owner, note=text[:200],
        data={"category": cat.code, "urgency": urgency, "channel": channel}, created_at=at,
    ))  # fmt: skip
    told = notify_staff(owner, notices.new_ticket(ticket), ticket)
    if urgency == Urgency.URGENT:
        _alert_on_duty(ticket, notices.urgent_on_duty(ticket), skip=told)
    if urgency == Urgency.HOT:
        for unit in linked_work_units(cat.code, compound):
            TicketAssist.create(ticket=ticket, work_unit=unit, created_at=at)
            notify_unit(unit, notices.assist_request(ticket), ticket)
    return ticket


def _alert_on_duty(ticket: Ticket, text: str, skip=()) -> None:
    """The community's on-duty staff (dispatchers and supervisors), once each."""
    community = ticket.grid.ancestor_at(Level.COMMUNITY)
    told = list(skip)
    for role in (Role.DISPATCHER, Role.SUPERVISOR):
        told += notify_staff(community, text, ticket, role, skip=told)


def _target_changes(actor, ticket, to_user, to_unit, to_pool) -> dict:
    targets = sum(x is not None and x is not False for x in (to_user, to_unit, to_pool))
    if targets != 1:
        raise TicketError("请指定派给谁：一个人、一个单位，或“志愿者”（接单池）。", "invalid")
    require_target_in_scope(actor, to_user, to_unit)
    if to_user is not None:
        if to_user.role not in (Role.VOLUNTEER, Role.WORKER):
            raise TicketError(f"{to_user.display_name()}不是志愿者或工作人员，不能接单。")
        if to_user.id == ticket.reporter_id:
            raise TicketError("不能把工单派给提交它的居民本人。")
    return {
        "assignee": to_user,
        "work_unit": to_unit,
        "in_pool": bool(to_pool),
        **with_overall(step_clock(ticket.urgency, Step.TAKE), ticket),
    }


def _announce_target(ticket: Ticket, skip=()) -> None:
    skipped = {p.id for p in skip if p is not None}
    if ticket.assignee_id:
        enqueue(ticket.assignee, notices.dispatched_to_you(ticket), ticket=ticket)
    elif ticket.work_unit_id:
        notify_unit(ticket.work_unit, notices.dispatched_to_you(ticket), ticket)
    elif ticket.in_pool:
        for match in rank_volunteers(ticket):
            if match.volunteer.id not in skipped:
                offer = notices.pool_offer(ticket, match.distance_m)
                enqueue(match.volunteer, offer, ticket=ticket)


@transition
def dispatch(ticket_id, actor: User, *, to_user=None, to_unit=None, to_pool=False, note=""):
    """派单: to a person, a work unit, or the volunteer pool."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    if ticket.state == State.DISPATCHED and (ticket.assignee_id or ticket.work_unit_id):
        raise TicketError(f"工单 {ticket.number} 已经派出，要换人请用“转单”。", "conflict")
    if ticket.state == State.DISPATCHED and ticket.in_pool and to_pool:
        raise TicketError(
            f"工单 {ticket.number} 已经在志愿者接单池里，正等志愿者接单；"
            f"要指定人办理请用“转单 {ticket.number} 给 姓名”。",
            "conflict",
        )
    changes = _target_changes(actor, ticket, to_user, to_unit, to_pool)
    ticket = move(
        ticket, Action.DISPATCH, actor, to_state=State.DISPATCHED, note=note,
        dispatched_at=now(), responded_at=ticket.responded_at or now(), **changes,
    )  # fmt: skip
    _announce_target(ticket)
    enqueue(ticket.reporter, notices.reporter_dispatched(ticket), ticket=ticket)
    return ticket


@transition
def take(ticket_id, actor: User) -> Ticket:
    """接单/抢单: the first taker of a pool ticket wins (compare-and-set)."""
    ticket = load_ticket(ticket_id)
    _refuse_taken(ticket, actor)
    check_allowed(ticket, Action.TAKE)
    may_take(actor, ticket)
    ticket = move(
        ticket, Action.TAKE, actor, to_state=State.TAKEN, assignee=actor, taken_at=now(),
        **with_overall(step_clock(ticket.urgency, Step.RESOLVE), ticket),
    )  # fmt: skip
    enqueue(ticket.reporter, notices.reporter_taken(ticket, actor), ticket=ticket)
    return ticket


def _refuse_taken(ticket: Ticket, actor: User) -> None:
    """Say plainly when someone already took it (the loser of a race reads this)."""
    if ticket.state == State.TAKEN and ticket.assignee_id == actor.id:
        raise TicketError(
            f"工单 {ticket.number} 已经在您手上了。办好后回复“办结 {ticket.number}”。", "conflict"
        )
    if ticket.state == State.TAKEN:
        raise TicketError(
            f"手慢了一步，工单 {ticket.number} 已经被别人接走了。"
            "回复“附近工单”看看还有哪些需要帮忙的。",
            "conflict",
        )


@transition
def reassign(ticket_id, actor: User, *, to_user=None, to_unit=None, to_pool=False, note=""):
    """转单: the dispatcher moves it to another assignee."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    previous = ticket.assignee
    changes = _target_changes(actor, ticket, to_user, to_unit, to_pool)
    ticket = move(
        ticket, Action.REASSIGN, actor, to_state=State.DISPATCHED, note=note,
        dispatched_at=now(), responded_at=ticket.responded_at or now(), **changes,
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
    reason = _required(reason, f"退单请说明原因，比如“退单 {ticket.number} 缺少工具”。")
    # A pool ticket goes back to the pool (still dispatched, waiting for a taker); anything
    # else waits for the dispatcher again, and says so wherever its state is shown.
    to_state = State.DISPATCHED if ticket.in_pool else State.SUBMITTED
    step = Step.TAKE if ticket.in_pool else Step.DISPATCH
    ticket = move(
        ticket, Action.HAND_BACK, actor, to_state=to_state, note=reason,
        assignee=None, work_unit=None if not ticket.in_pool else ticket.work_unit,
        **with_overall(step_clock(ticket.urgency, step), ticket),
    )  # fmt: skip
    notify_staff(ticket.org_unit, notices.handed_back(ticket, reason), ticket, skip=(actor,))
    if ticket.in_pool:
        _announce_target(ticket, skip=(actor,))
    return ticket


@transition
def report_progress(ticket_id, actor: User, note: str) -> Ticket:
    """进度: the assignee tells the reporter how it is going."""
    ticket = load_ticket(ticket_id)
    require_assignee(actor, ticket)
    note = _required(note, f"请写上进展，比如“进度 {ticket.number} 已联系物业，明天上门”。")
    ticket = move(ticket, Action.PROGRESS, actor, note=note)
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
    if ticket.kind == TicketKind.WISH and not photos:
        raise TicketError(f"实现心愿请发一张照片：回复“办结 {ticket.number}”，再发照片。")
    at = now()
    ticket = move(
        ticket, Action.RESOLVE, actor, to_state=State.RESOLVED, note=note or "",
        data={"photos": photos} if photos else None, resolved_at=at,
        rating_reminded=False, **step_clock(ticket.urgency, Step.RATE, at),
    )  # fmt: skip
    enqueue(ticket.reporter, notices.rating_request(ticket), ticket=ticket, template="rating")
    notify_followers(ticket, notices.resolved_for_follower(ticket))
    return ticket


def _reopen(ticket: Ticket, actor: User | None, reason: str) -> Ticket:
    """Back to waiting for dispatch, one level up (or at the top): the timeline shows both
    hops, the new owner's dispatchers and the previous handler hear why."""
    assignee = ticket.assignee if ticket.assignee_id else None
    work_unit = ticket.work_unit if ticket.work_unit_id else None
    ticket = move(
        ticket, Action.REOPEN, actor, to_state=State.SUBMITTED, note=reason, assignee=None,
        work_unit=None, in_pool=False, resolved_at=None, closed_at=None,
        **with_overall(step_clock(ticket.urgency, Step.DISPATCH), ticket),
    )  # fmt: skip
    up = Level(ticket.level).up()
    if up is not None:
        owner = ticket.grid.ancestor_at(up)
        ticket = move(
            ticket, Action.ESCALATE, actor, note=f"重新打开后提级到{owner.name}",
            level=owner.level, org_unit=owner, data={"to_level": owner.level},
        )  # fmt: skip
    notify_staff(ticket.org_unit, notices.reopened(ticket, reason), ticket, skip=(actor,))
    text = notices.reopened_for_previous(ticket, reason)
    tell_holder(assignee, work_unit, text, ticket, skip=(actor,))
    return ticket


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
        # The reporter reads the reopening in the reply; no push repeats it.
        ticket = move(
            ticket, Action.RATE, actor, note=comment or "", data={"score": score, "reopened": True},
            score=score,
        )  # fmt: skip
        reason = f"居民不满意：{comment}" if comment else "居民不满意"
        return _reopen(ticket, actor, reason)
    ticket = move(
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
    if not gaming.may_award(ticket, assignee, points):
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
    return _reopen(ticket, actor, reason)


@transition
def cancel(ticket_id, actor: User, reason: str = "") -> Ticket:
    """撤销: the reporter withdraws it before anyone has taken it."""
    ticket = load_ticket(ticket_id)
    require_reporter(actor, ticket)
    if ticket.state == State.TAKEN:
        raise TicketError(
            f"工单 {ticket.number} 已经有人在办理了，暂时不能撤销；如确实不需要了，"
            f"请联系{dispatcher_title(ticket)}。",
            "conflict",
        )
    assignee = ticket.assignee if ticket.assignee_id else None
    work_unit = ticket.work_unit if ticket.work_unit_id else None
    ticket = move(
        ticket, Action.CANCEL, actor, to_state=State.CANCELLED, note=reason or "",
        closed_at=now(), next_check_at=None,
    )  # fmt: skip
    # Everyone who was alerted hears it is off: the holder, the owner's dispatchers, and for
    # an urgent ticket the community's on-duty staff.
    text = notices.cancelled(ticket)
    tell_holder(assignee, work_unit, text, ticket, skip=(actor,))
    told = notify_staff(ticket.org_unit, text, ticket, skip=(actor,))
    if ticket.urgency == Urgency.URGENT:
        _alert_on_duty(ticket, text, skip=[actor, *told])
    return ticket


@transition
def close(ticket_id, actor: User, reason: str) -> Ticket:
    """关闭: a dispatcher closes it with a reason (invalid, duplicate, handled offline)."""
    ticket = load_ticket(ticket_id)
    require_dispatcher(actor, ticket)
    reason = _required(reason, f"关闭工单请写明原因，比如“关闭 {ticket.number} 重复反映”。")
    ticket = move(
        ticket, Action.CLOSE, actor, to_state=State.CLOSED, note=reason, closed_at=now(),
        next_check_at=None,
    )  # fmt: skip
    enqueue(ticket.reporter, notices.closed(ticket, reason), ticket=ticket)
    return ticket


@transition
def follow_up(ticket_id, actor: User, note: str) -> Ticket:
    """回访: staff record what the reporter said when called back."""
    ticket = load_ticket(ticket_id)
    require_staff_in_scope(actor, ticket)
    note = _required(note, f"请写上回访情况，比如“回访 {ticket.number} 居民表示已解决”。")
    return move(ticket, Action.FOLLOW_UP, actor, note=note)


def _place_key(ticket: Ticket) -> tuple:
    return (ticket.compound_id or f"grid{ticket.grid_id}", ticket.building or None)


def merge_doubts(ticket: Ticket, into: Ticket) -> list[str]:
    """Why two tickets may not be the same matter: a dispatcher confirms before merging."""
    doubts = []
    if ticket.category != into.category:
        names = f"{notices.category_name(ticket.category)} / {notices.category_name(into.category)}"
        doubts.append(f"类别不同（{names}）")
    (place_a, building_a), (place_b, building_b) = _place_key(ticket), _place_key(into)
    if place_a != place_b or (building_a and building_b and building_a != building_b):
        where = f"{ticket.place or '未填地点'} / {into.place or '未填地点'}"
        doubts.append(f"地点不同（{where}）")
    if ticket.urgency == Urgency.URGENT and into.urgency != Urgency.URGENT:
        doubts.append(f"{ticket.number} 是紧急工单，{into.number} 不是，合并后会按一般时限办理")
    return doubts


@transition
def merge(ticket_id, into_id, actor: User, *, confirmed: bool = False) -> Ticket:
    """合并: a duplicate is closed into another; its reporter and followers follow that one.
    Tickets that differ in category, place or urgency merge only when `confirmed`."""
    ticket, into = load_ticket(ticket_id), load_ticket(into_id)
    if ticket.id == into.id:
        raise TicketError("不能把工单合并到它自己。")
    require_dispatcher(actor, ticket)
    require_dispatcher(actor, into)
    if not into.is_active:
        raise TicketError(f"工单 {into.number} 已经结束，不能合并进去。", "conflict")
    doubts = merge_doubts(ticket, into)
    if doubts and not confirmed:
        raise TicketError(
            f"{ticket.number} 和 {into.number} 看起来不是同一件事：{'；'.join(doubts)}。"
            "确定是同一件事，请确认后再合并。",
            "conflict",
        )
    assignee = ticket.assignee if ticket.assignee_id else None
    work_unit = ticket.work_unit if ticket.work_unit_id else None
    followers = {ticket.reporter_id} | {
        s.user_id for s in TicketSubscriber.select().where(TicketSubscriber.ticket == ticket)
    }
    followers.discard(into.reporter_id)
    added = sorted(u for u in followers if _subscribe_row(into, u))
    ticket = move(
        ticket, Action.MERGE, actor, to_state=State.CLOSED, note=f"合并到 {into.number}",
        merged_into=into, closed_at=now(), next_check_at=None,
        data={"into": into.id, "added": added, "doubts": doubts},
    )  # fmt: skip
    enqueue(ticket.reporter, notices.merged(ticket, into), ticket=into)
    tell_holder(assignee, work_unit, notices.merged_for_holder(ticket, into), ticket, skip=(actor,))
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
        notify_staff(ticket.org_unit, notices.subscribed(ticket), ticket)
    return Ticket.get_by_id(ticket.id)
