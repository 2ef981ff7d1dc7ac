"""Places, duplicates and volunteer matching, with hand-checked expectations."""

from datetime import timedelta

from models import clock, lifecycle
from models.matching import rank_tickets, rank_volunteers
from models.org import Compound, User
from models.places import locate, nearest_compound, similar_open_tickets


def test_locations_find_the_nearest_compound_or_only_the_grid(demo):
    compound, distance = nearest_compound(30.2743, 120.1553)  # 28 m from 幸福里小区
    assert compound.name == "幸福里小区" and 20 < distance < 40
    compound, grid = locate(30.2850, 120.1551)  # ~1 km north of 金桥花园: only its grid
    assert compound is None and grid.name == "幸福二网格"
    assert locate(31.2304, 121.4737) == (None, None)  # Shanghai: not our city


def test_similar_open_tickets_same_compound_or_within_250_m(demo):
    here = Compound.get(Compound.name == "幸福里小区")
    first = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting")
    lifecycle.submit(demo.resident_1, "狗叫", "pets")
    assert [t.id for t in similar_open_tickets("power_lighting", here)] == [first.id]
    # 丹桂苑 is ~230 m from 幸福里小区: a point there sees the ticket; a point 600 m off does not.
    lifecycle.submit(demo.resident_2, "路灯不亮", "power_lighting", lat=30.2741, lng=120.1551)
    assert len(similar_open_tickets("power_lighting", None, 30.2752, 120.1570)) == 1
    assert similar_open_tickets("power_lighting", None, 30.2795, 120.1551) == []


def test_similar_tickets_older_than_a_week_or_closed_are_not_offered(demo):
    here = Compound.get(Compound.name == "幸福里小区")
    old = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting")
    clock.advance(timedelta(days=8))
    assert similar_open_tickets("power_lighting", here) == []
    fresh = lifecycle.submit(demo.resident_1, "楼道灯又坏了", "power_lighting")
    lifecycle.cancel(fresh.id, demo.resident_1)
    assert similar_open_tickets("power_lighting", here) == []
    assert old.id != fresh.id


def test_volunteers_are_ranked_by_skill_then_distance_then_load(demo):
    ticket = lifecycle.submit(demo.resident_1, "楼道灯坏了", "power_lighting")
    # power_lighting wants 电工/水电工. Hand-checked: volunteer_1 (电工+水电工, 80 m) first;
    # volunteer_5 (no electrical skill) is pushed below every electrician.
    ranked = rank_volunteers(ticket, limit=30)
    names = [m.volunteer.openid for m in ranked]
    assert names[0] == "demo_volunteer_1" and ranked[0].skill_fit == 2
    electricians = [m for m in ranked if m.skill_fit > 0]
    assert names.index("demo_volunteer_5") >= len(electricians)
    busy = lifecycle.submit(demo.resident_2, "另一盏灯坏了", "power_lighting")
    lifecycle.dispatch(busy.id, demo.dispatcher_1, to_user=demo.volunteer_1)
    lifecycle.take(busy.id, demo.volunteer_1)
    twin = User.get(User.openid == "demo_volunteer_1")
    assert rank_volunteers(ticket, limit=30)[0].volunteer.openid == twin.openid  # fit outranks load
    assert rank_volunteers(ticket, limit=30)[0].load == 1


def test_pool_push_goes_to_the_configured_number_of_best_matches(demo):
    from models.outbox import Outbound
    from models.routing import routing

    ticket = lifecycle.submit(demo.resident_1, "帮独居老人买菜", "elderly_help")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    offered = [o.openid for o in Outbound.select().where(Outbound.text.contains("附近有一单"))]
    assert len(offered) == routing().push_count
    assert offered[0] == "demo_volunteer_2"  # 助老/跑腿/陪诊, 161 m away


def test_nearby_orders_use_the_same_ranking(demo):
    pets = lifecycle.submit(demo.resident_1, "狗一直叫", "pets")
    lamp = lifecycle.submit(demo.resident_2, "路灯坏了", "power_lighting")
    for t in (pets, lamp):
        lifecycle.dispatch(t.id, demo.dispatcher_1, to_pool=True)
    # The electrician sees the lamp first even though the dog ticket is older and as near.
    order = [m.ticket.id for m in rank_tickets(demo.volunteer_1)]
    assert order == [lamp.id, pets.id]
    # The mediator (调解) sees the dog first.
    assert [m.ticket.id for m in rank_tickets(demo.volunteer_3)] == [pets.id, lamp.id]


def test_nearby_leaves_out_the_volunteers_own_household(demo):
    volunteer = demo.volunteer_1
    volunteer.household = demo.resident_1.household
    volunteer.save()
    ticket = lifecycle.submit(demo.resident_1, "路灯坏了", "power_lighting")
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    assert rank_tickets(volunteer) == []
    assert volunteer.id not in [m.volunteer.id for m in rank_volunteers(ticket, 30)]
