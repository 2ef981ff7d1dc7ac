"""Thirty days of made-up tickets for the demo city, so the dashboard has something to show.

Every ticket runs through models.lifecycle with the clock moved back, exactly as chat would
have done it: filed, dispatched (mostly in time), taken, resolved, rated; some handed back,
some reopened, some still open or overdue. Two recurring problems (幸福里小区 飞线充电, 金桥花园
电梯) give 每月一题 a theme. Seeded randomness: the same history on every run.
"""

import random
from datetime import timedelta

from models import clock, lifecycle
from models.db import database
from models.enums import Level, OutboundStatus, Role
from models.errors import TicketError
from models.org import Compound, OrgUnit, User, responsible_staff
from models.outbox import Outbound
from models.tickets import Ticket

DAYS = 30
TEXTS = {
    "fire_safety": "楼道里有人飞线充电，电线从窗户挂下来，太危险了",
    "elevator": "电梯又坏了，按了没反应，老人上下楼很困难",
    "power_lighting": "楼道灯坏了好几天，晚上黑乎乎的",
    "sanitation": "垃圾桶满了没人清运，味道很大",
    "parking_charging": "消防通道上停满了车，进出很不方便",
    "noise": "楼上晚上装修，吵得睡不着",
    "water_supply": "楼上漏水，天花板都湿了",
    "greenery": "小区的树枝挡住窗户了，需要修剪",
    "public_facility": "单元门门禁坏了，谁都能进",
    "pets": "有人遛狗不拴绳，孩子被吓到了",
}
RECURRING = [("幸福里小区", "fire_safety", 6), ("金桥花园", "elevator", 4)]
RESIDENT_NAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高"


def seed_history(seed: int = 12, per_day: int = 4) -> dict:
    """Add the history once (a second run adds nothing); returns what was made."""
    if Ticket.select().where(Ticket.channel == "demo").exists():
        return {"created": False}
    rng = random.Random(seed)
    end = clock.now()
    first_outbound = Outbound.select(Outbound.id).order_by(Outbound.id.desc()).scalar() or 0
    residents = _residents()
    compounds = list(Compound.select().order_by(Compound.id))
    made = 0
    plans = []
    for day in range(DAYS, 0, -1):
        for _ in range(rng.randint(per_day - 2, per_day + 2)):
            compound = rng.choice(compounds)
            plans.append((day, compound, rng.choice(list(TEXTS))))
    by_name = {c.name: c for c in compounds}
    for name, category, count in RECURRING:
        plans += [(rng.randint(2, DAYS - 1), by_name[name], category) for _ in range(count)]
    plans.sort(key=lambda p: -p[0])
    for day, compound, category in plans:
        start = end - timedelta(days=day, hours=rng.randint(0, 12), minutes=rng.randint(0, 59))
        if _play(rng, start, end, residents[compound.id], compound, category):
            made += 1
    # History is not news: nobody should be pushed about last month's tickets now.
    (Outbound.update(status=OutboundStatus.SENT)
     .where((Outbound.id > first_outbound) & (Outbound.status == OutboundStatus.PENDING))
     .execute())  # fmt: skip
    return {"created": True, "tickets": made}


def _residents() -> dict[int, list[User]]:
    """Two made-up residents per compound (with names and phones, to show the masking)."""
    out = {}
    with database.atomic():
        for compound in Compound.select().order_by(Compound.id):
            people = []
            for k in range(2):
                surname = RESIDENT_NAMES[(compound.id * 2 + k) % len(RESIDENT_NAMES)]
                name = surname + ("女士", "先生")[k]
                user, _ = User.get_or_create(
                    openid=f"demo_history_{compound.id}_{k}",
                    defaults={"name": name, "phone": f"139{compound.id:04d}{k:04d}",
                              "role": Role.RESIDENT, "compound": compound,
                              "household": f"{compound.id}-h{k}"},
                )  # fmt: skip
                people.append(user)
            out[compound.id] = people
    return out


def _at(moment, end) -> bool:
    """Move the clock to `moment` if it is still in the past."""
    if moment >= end:
        return False
    clock.set_now(moment)
    return True


def _play(rng, start, end, residents, compound, category) -> bool:
    frozen = clock._frozen
    try:
        _steps(rng, start, end, rng.choice(residents), compound, category)
        return True
    except TicketError:
        return False
    finally:
        clock.set_now(frozen)


def _steps(rng, start, end, reporter, compound, category) -> None:
    clock.set_now(start)
    building = str(rng.randint(1, 12))
    ticket = lifecycle.submit(reporter, TEXTS[category], category, compound=compound,
                              building=building, channel="demo")  # fmt: skip
    dispatcher = _dispatcher(ticket)
    late = rng.random() < 0.12
    moment = start + timedelta(minutes=rng.randint(150, 400) if late else rng.randint(5, 100))
    if dispatcher is None or not _at(moment, end):
        return
    community = compound.grid.ancestor_at(Level.COMMUNITY)
    helpers = list(
        User.select().where((User.role == Role.VOLUNTEER) & (User.org_unit == community))
    )
    if not helpers:
        return
    if rng.random() < 0.05:
        return  # nobody dispatched it: overdue on the step clock
    lifecycle.dispatch(ticket.id, dispatcher, to_pool=True)
    first = rng.choice(helpers)
    if not _at(moment + timedelta(hours=rng.uniform(0.5, 8)), end):
        return
    lifecycle.take(ticket.id, first)
    moment = clock.now()
    if rng.random() < 0.08:
        lifecycle.hand_back(ticket.id, first, "这个我处理不了，请换人")
        if not _at(moment + timedelta(hours=2), end):
            return
        first = rng.choice([h for h in helpers if h.id != first.id] or helpers)
        lifecycle.take(ticket.id, first)
        moment = clock.now()
    if rng.random() < 0.08:
        return  # taken and stuck: overdue on both clocks in time
    slow = rng.random() < 0.15
    if not _at(moment + timedelta(hours=rng.uniform(60, 120) if slow else rng.uniform(2, 40)), end):
        return
    lifecycle.resolve(ticket.id, first, "已处理完毕")
    if not _at(clock.now() + timedelta(hours=rng.uniform(1, 20)), end):
        return
    roll = rng.random()
    score = 5 if roll < 0.7 else 4 if roll < 0.8 else 3 if roll < 0.9 else 1
    lifecycle.rate(ticket.id, reporter, score, "" if score > 2 else "没解决，还是老样子")
    if score > 2:
        return
    # Reopened one level up: the community dispatches it again and it gets done.
    ticket = Ticket.get_by_id(ticket.id)
    dispatcher = _dispatcher(ticket)
    if dispatcher is None or not _at(clock.now() + timedelta(hours=1), end):
        return
    lifecycle.dispatch(ticket.id, dispatcher, to_pool=True)
    if not _at(clock.now() + timedelta(hours=3), end):
        return
    second = rng.choice(helpers)
    lifecycle.take(ticket.id, second)
    if not _at(clock.now() + timedelta(hours=rng.uniform(4, 30)), end):
        return
    lifecycle.resolve(ticket.id, second, "返工后已修好")
    if _at(clock.now() + timedelta(hours=3), end):
        lifecycle.rate(ticket.id, reporter, 5, "这次好了")


def _dispatcher(ticket: Ticket) -> User | None:
    unit = OrgUnit.get_by_id(ticket.org_unit_id)
    people = responsible_staff(unit, Role.DISPATCHER)
    return people[0] if people else None
