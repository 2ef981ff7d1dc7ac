"""The ticket lifecycle: legal moves, refusals, races, audit trail, points."""

import threading
from datetime import timedelta

import pytest

from models import clock, lifecycle
from models.access import in_pool_reach
from models.db import database
from models.enums import Action, Level, Role, State
from models.errors import TicketError
from models.org import OrgUnit, User, WorkUnit
from models.outbox import Outbound
from models.tickets import PointsEntry, Rating, Ticket, TicketEvent


def file_ticket(demo, text="3号楼楼道灯坏了，晚上很黑", category="power_lighting", **kw):
    return lifecycle.submit(demo.resident_1, text, category, **kw)


def pool_ticket(demo, **kw):
    ticket = file_ticket(demo, **kw)
    return lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)


def inbox(user: User) -> list[str]:
    return [o.text for o in Outbound.select().where(Outbound.openid == user.openid)]


def test_submit_starts_at_the_grid_and_tells_the_dispatcher(demo):
    ticket = file_ticket(demo, building="3")
    assert ticket.state == State.SUBMITTED
    assert ticket.level == Level.GRID
    assert ticket.org_unit.name == "幸福一网格"
    assert ticket.compound.name == "幸福里小区"
    assert ticket.step_due_at == clock.now() + timedelta(hours=2)
    assert any(f"新工单 {ticket.number}" in t for t in inbox(demo.dispatcher_1))


def test_hot_ticket_starts_at_the_street_with_linked_units_assisting(demo):
    ticket = file_ticket(demo, text="物业费突然涨价，全楼都不同意", category="property_fee")
    assert ticket.urgency == "hot"
    assert ticket.level == Level.STREET
    assisting = {a.work_unit.name for a in ticket.assists}
    assert "红管家物业" in assisting


def test_urgent_ticket_tells_the_community_on_duty_at_once(demo):
    ticket = file_ticket(demo, text="楼道里冒烟了", category="fire_safety", urgency="urgent")
    assert ticket.step_due_at == clock.now() + timedelta(minutes=10)
    assert any("【紧急" in t for t in inbox(demo.supervisor_1))


def test_submit_without_a_place_is_refused_politely(demo):
    stranger = User.create(openid="stranger")
    with pytest.raises(TicketError, match="哪个小区"):
        lifecycle.submit(stranger, "路灯坏了", "power_lighting")
    assert Ticket.select().count() == 0


def test_whole_loop_and_the_audit_trail_tells_its_history(demo):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.report_progress(ticket.id, demo.volunteer_1, "已买好灯泡，下午去换")
    lifecycle.resolve(ticket.id, demo.volunteer_1, "灯已换好", photos=["media/1.jpg"])
    closed = lifecycle.rate(ticket.id, demo.resident_1, 5, "很及时")
    assert closed.state == State.CLOSED and closed.score == 5
    events = list(TicketEvent.select().where(TicketEvent.ticket == ticket).order_by(TicketEvent.id))
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        (Action.SUBMIT, None, State.SUBMITTED),
        (Action.DISPATCH, State.SUBMITTED, State.DISPATCHED),
        (Action.TAKE, State.DISPATCHED, State.TAKEN),
        (Action.PROGRESS, State.TAKEN, State.TAKEN),
        (Action.RESOLVE, State.TAKEN, State.RESOLVED),
        (Action.RATE, State.RESOLVED, State.CLOSED),
    ]
    assert [e.actor.openid for e in events] == [
        "demo_resident_1", "demo_dispatcher_1", "demo_volunteer_1", "demo_volunteer_1",
        "demo_volunteer_1", "demo_resident_1",
    ]  # fmt: skip
    # Each event's from-state is the previous event's to-state: the trail has no gaps.
    assert all(a.to_state == b.from_state for a, b in zip(events, events[1:], strict=False))
    assert closed.version == len(events) - 1
    assert any("请为这次服务打分" in t for t in inbox(demo.resident_1))


def test_every_transition_enqueues_in_the_same_transaction(demo):
    ticket = file_ticket(demo)
    before = Outbound.select().count()
    with pytest.raises(RuntimeError), database.atomic():
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
        raise RuntimeError("crash after the transition")
    assert Ticket.get_by_id(ticket.id).state == State.SUBMITTED
    assert Outbound.select().count() == before
    assert TicketEvent.select().where(TicketEvent.action == Action.DISPATCH).count() == 0


def test_pool_dispatch_pushes_to_the_best_matched_volunteers(demo):
    pool_ticket(demo)
    offered = {o.openid for o in Outbound.select().where(Outbound.text.contains("附近有一单"))}
    assert "demo_volunteer_1" in offered  # electrician, 80 m away
    assert len(offered) == 5


@pytest.mark.parametrize(
    "actor, message",
    [
        ("demo_resident_2", "网格员或社区工作者"),
        ("demo_volunteer_1", "网格员或社区工作者"),
        ("demo_supervisor_1", "网格员或社区工作者"),
        ("和平社区", "不在您负责的范围内"),
    ],
)
def test_only_a_dispatcher_in_scope_may_dispatch(demo, actor, message):
    ticket = file_ticket(demo)
    if actor.startswith("demo_"):
        user = demo[actor]
    else:  # the dispatcher of a neighbouring community
        unit = OrgUnit.get(OrgUnit.name == actor)
        user = User.get((User.org_unit == unit) & (User.role == Role.DISPATCHER))
    with pytest.raises(TicketError, match=message) as err:
        lifecycle.dispatch(ticket.id, user, to_pool=True)
    assert err.value.code == "forbidden"
    assert Ticket.get_by_id(ticket.id).state == State.SUBMITTED


def test_dispatch_to_a_person_then_only_that_person_may_take(demo):
    ticket = file_ticket(demo)
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_2)
    with pytest.raises(TicketError, match="已经派给别人"):
        lifecycle.take(ticket.id, demo.volunteer_1)
    assert lifecycle.take(ticket.id, demo.volunteer_2).assignee_id == demo.volunteer_2.id


def test_dispatch_to_a_work_unit_lets_its_worker_take(demo):
    ticket = file_ticket(demo)
    company = WorkUnit.get(WorkUnit.name == "红管家物业")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_unit=company)
    assert any("您有新派单" in t for t in inbox(demo.worker_1))
    with pytest.raises(TicketError, match="还没有派到志愿者接单池"):
        lifecycle.take(ticket.id, demo.volunteer_1)
    assert lifecycle.take(ticket.id, demo.worker_1).state == State.TAKEN


def test_a_resident_cannot_take(demo):
    ticket = pool_ticket(demo)
    with pytest.raises(TicketError, match="志愿者或工作人员") as err:
        lifecycle.take(ticket.id, demo.resident_2)
    assert err.value.code == "forbidden"


def test_a_volunteer_cannot_take_what_their_household_reported(demo):
    volunteer = demo.volunteer_3
    volunteer.household = demo.resident_1.household
    volunteer.save()
    ticket = pool_ticket(demo)
    with pytest.raises(TicketError, match="您家里报的事"):
        lifecycle.take(ticket.id, volunteer)


def test_twenty_simultaneous_takers_exactly_one_wins(demo):
    ticket = pool_ticket(demo)
    takers = [demo[f"demo_volunteer_{i % 5 + 1}"] for i in range(20)]
    # Volunteers of the ticket's street: the pool reaches no one else.
    extra = [u for u in User.select().where(User.openid.startswith("volunteer_"))
             if in_pool_reach(u, ticket)][:15]  # fmt: skip
    takers = takers[:5] + extra
    barrier = threading.Barrier(len(takers))
    wins, refusals, crashes = [], [], []

    def attempt(user):
        barrier.wait()
        try:
            wins.append(lifecycle.take(ticket.id, user).assignee_id)
        except TicketError as exc:
            refusals.append(exc.message)
        except Exception as exc:  # a crash is a failure, not a refusal
            crashes.append(repr(exc))
        finally:
            database.close()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in takers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    database.connect(reuse_if_open=True)
    assert crashes == []
    assert len(wins) == 1
    assert len(refusals) == len(takers) - 1
    assert all("接走" in m or "正在办理" in m for m in refusals)
    stored = Ticket.get_by_id(ticket.id)
    assert stored.assignee_id == wins[0] and stored.state == State.TAKEN
    assert TicketEvent.select().where(TicketEvent.action == Action.TAKE).count() == 1


@pytest.mark.parametrize(
    "step, actor",
    [
        ("resolve", "demo_volunteer_2"),
        ("progress", "demo_volunteer_2"),
        ("hand_back", "demo_volunteer_2"),
        ("rate", "demo_resident_2"),
    ],
)
def test_only_the_right_person_may_act_on_a_taken_ticket(demo, step, actor):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    if step == "rate":
        lifecycle.resolve(ticket.id, demo.volunteer_1, "修好了")
    calls = {
        "resolve": lambda u: lifecycle.resolve(ticket.id, u, "修好了"),
        "progress": lambda u: lifecycle.report_progress(ticket.id, u, "在路上"),
        "hand_back": lambda u: lifecycle.hand_back(ticket.id, u, "没空"),
        "rate": lambda u: lifecycle.rate(ticket.id, u, 5),
    }
    version = Ticket.get_by_id(ticket.id).version
    with pytest.raises(TicketError) as err:
        calls[step](demo[actor])
    assert err.value.code == "forbidden"
    assert Ticket.get_by_id(ticket.id).version == version


def test_illegal_moves_are_refused_by_state(demo):
    ticket = file_ticket(demo)
    with pytest.raises(TicketError, match="还在等待派单") as err:
        lifecycle.take(ticket.id, demo.volunteer_1)
    assert err.value.code == "conflict"
    ticket = lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    with pytest.raises(TicketError, match="现在不能这样操作"):
        lifecycle.rate(ticket.id, demo.resident_1, 5)


def test_unknown_and_malformed_ticket_numbers(demo):
    with pytest.raises(TicketError, match="没有找到工单 #999") as err:
        lifecycle.take(999, demo.volunteer_1)
    assert err.value.code == "not_found"
    with pytest.raises(TicketError, match="应该是数字"):
        lifecycle.take("abc", demo.volunteer_1)


def test_hand_back_returns_a_pool_ticket_to_the_pool(demo):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    with pytest.raises(TicketError, match="说明原因"):
        lifecycle.hand_back(ticket.id, demo.volunteer_1, " ")
    back = lifecycle.hand_back(ticket.id, demo.volunteer_1, "缺少梯子")
    assert back.state == State.DISPATCHED and back.assignee_id is None and back.in_pool
    assert any("缺少梯子" in t for t in inbox(demo.dispatcher_1))
    assert lifecycle.take(ticket.id, demo.volunteer_5).assignee_id == demo.volunteer_5.id


def test_reassign_tells_the_previous_assignee(demo):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    moved = lifecycle.reassign(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_5)
    assert moved.state == State.DISPATCHED and moved.assignee_id == demo.volunteer_5.id
    assert any("转给其他人" in t for t in inbox(demo.volunteer_1))


def test_unhappy_rating_reopens_one_level_up(demo):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, "修好了")
    reopened = lifecycle.rate(ticket.id, demo.resident_1, 1, "根本没修")
    assert reopened.state == State.SUBMITTED  # waiting for dispatch again (issue 10)
    assert reopened.level == Level.COMMUNITY and reopened.org_unit.name == "幸福社区"
    assert reopened.assignee_id is None
    assert PointsEntry.select().count() == 0
    assert any("根本没修" in t for t in inbox(demo.dispatcher_1))


def test_points_are_awarded_once_per_rated_ticket(demo):
    ticket = pool_ticket(demo, text="燃气味很重", category="fire_safety", urgency="urgent")
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, "已关阀通风")
    lifecycle.rate(ticket.id, demo.resident_1, 5)
    ledger = list(PointsEntry.select())
    assert [(p.user.openid, p.points) for p in ledger] == [("demo_volunteer_1", 15)]
    stored = Ticket.get_by_id(ticket.id)
    assert lifecycle.award_points(stored, demo.volunteer_1, 5) == 0
    assert PointsEntry.select().count() == 1
    with pytest.raises(TicketError, match="已经关闭"):
        lifecycle.rate(ticket.id, demo.resident_1, 5)
    assert Rating.select().count() == 1


def test_points_after_a_reopen_come_once_with_the_final_rating(demo):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, "修好了")
    lifecycle.rate(ticket.id, demo.resident_1, 1)
    community_dispatcher = demo.dispatcher_1  # owns the community the ticket went up to
    lifecycle.dispatch(ticket.id, community_dispatcher, to_user=demo.volunteer_5)
    lifecycle.take(ticket.id, demo.volunteer_5)
    lifecycle.resolve(ticket.id, demo.volunteer_5, "重新换了开关")
    lifecycle.rate(ticket.id, demo.resident_1, 4)
    assert [(p.user.openid, p.points) for p in PointsEntry.select()] == [("demo_volunteer_5", 8)]


def test_escalation_walks_up_the_tree_and_stops_at_the_city(demo):
    ticket = file_ticket(demo)
    supervisor = demo["demo_supervisor_city"]
    levels = []
    for _ in range(3):
        ticket = lifecycle.escalate(ticket.id, supervisor, "迟迟没人处理")
        levels.append((ticket.level, ticket.org_unit.name))
    assert levels == [
        (Level.COMMUNITY, "幸福社区"),
        (Level.STREET, "东湖街道"),
        (Level.CITY, "清河市"),
    ]
    assert ticket.state == State.SUBMITTED
    with pytest.raises(TicketError, match="市级"):
        lifecycle.escalate(ticket.id, supervisor)
    assert any("已提级到您处" in t for t in inbox(User.get(User.openid == "city_dispatcher")))


def test_a_grid_dispatcher_loses_scope_once_it_is_escalated(demo):
    other = User.get(User.openid.startswith("grid_") & User.openid.endswith("_worker"))
    ticket = lifecycle.submit(demo.resident_1, "路灯不亮", "power_lighting", grid=other.org_unit)
    lifecycle.escalate(ticket.id, demo["demo_supervisor_city"])
    with pytest.raises(TicketError, match="不在您负责的范围内"):
        lifecycle.dispatch(ticket.id, other, to_pool=True)


def test_cancel_only_by_the_reporter_and_only_before_it_is_taken(demo):
    ticket = pool_ticket(demo)
    with pytest.raises(TicketError, match="不是您提交的"):
        lifecycle.cancel(ticket.id, demo.resident_2)
    lifecycle.take(ticket.id, demo.volunteer_1)
    with pytest.raises(TicketError, match="已经有人在办理"):
        lifecycle.cancel(ticket.id, demo.resident_1)
    other = file_ticket(demo)
    assert lifecycle.cancel(other.id, demo.resident_1, "自己修好了").state == State.CANCELLED


def test_urge_is_rate_limited(demo):
    ticket = pool_ticket(demo)
    lifecycle.urge(ticket.id, demo.resident_1)
    with pytest.raises(TicketError, match="刚催过") as err:
        lifecycle.urge(ticket.id, demo.resident_1)
    assert err.value.code == "rate"
    clock.advance(timedelta(hours=4, minutes=1))
    lifecycle.urge(ticket.id, demo.resident_1)
    assert TicketEvent.select().where(TicketEvent.action == Action.URGE).count() == 2


def test_supervisor_urges_within_the_subtree_only(demo):
    ticket = pool_ticket(demo)
    lifecycle.urge(ticket.id, demo.supervisor_1, "请今天内处理")
    assert any("领导督办" in t for t in inbox(demo.dispatcher_1))
    outsider = User.get(User.openid.startswith("community_") & User.openid.endswith("supervisor"))
    with pytest.raises(TicketError, match="不在您负责的范围内"):
        lifecycle.urge(ticket.id, outsider)


def test_merge_closes_the_duplicate_and_subscribes_its_reporter(demo):
    first = file_ticket(demo)
    second = lifecycle.submit(demo.resident_2, "三号楼的灯不亮", "power_lighting")
    merged = lifecycle.merge(second.id, first.id, demo.dispatcher_1)
    assert merged.state == State.CLOSED and merged.merged_into_id == first.id
    target = Ticket.get_by_id(first.id)
    assert target.subscriber_count == 1
    assert [s.user.openid for s in target.subscribers] == ["demo_resident_2"]
    pool = lifecycle.dispatch(first.id, demo.dispatcher_1, to_pool=True)
    lifecycle.take(pool.id, demo.volunteer_1)
    lifecycle.resolve(pool.id, demo.volunteer_1, "修好了")
    assert any("您关注的工单" in t for t in inbox(demo.resident_2))


def test_subscribe_counts_a_neighbour_once(demo):
    ticket = file_ticket(demo)
    lifecycle.subscribe(ticket.id, demo.resident_2)
    lifecycle.subscribe(ticket.id, demo.resident_2)
    lifecycle.subscribe(ticket.id, demo.resident_1)  # the reporter: no +1
    assert Ticket.get_by_id(ticket.id).subscriber_count == 1


def test_close_unrated_sends_a_follow_up_task(demo):
    ticket = pool_ticket(demo)
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, "修好了")
    closed = lifecycle.close_unrated(ticket.id)
    assert closed.state == State.CLOSED
    assert any("回访任务" in t for t in inbox(demo.dispatcher_1))
    done = lifecycle.follow_up(ticket.id, demo.dispatcher_1, "电话回访，居民满意")
    assert done.state == State.CLOSED


def test_staff_roles_come_from_org_units(demo):
    assert demo.dispatcher_1.role == Role.DISPATCHER
    assert demo.dispatcher_1.org_unit.level == Level.COMMUNITY
    grids = OrgUnit.select().where(OrgUnit.level == Level.GRID).count()
    assert grids == 8


def test_nothing_is_queued_for_someone_who_unfollowed(demo):
    ticket = file_ticket(demo)
    User.update(subscribed=False).where(User.openid == "demo_resident_1").execute()
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    assert inbox(demo.resident_1) == []
    assert any("附近有一单" in t for t in inbox(demo.volunteer_1))
