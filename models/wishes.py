"""The wish wall's and the service menu's own rows; their tickets move through the lifecycle.

A 微心愿 and a menu booking are tickets of another kind (TicketKind), so they are reviewed,
taken, resolved and rated like any other; models.lifecycle.wishes files them. Here live what
tickets do not hold: whom a proxy wish is for, and what volunteers offer on the menu.
"""

import peewee

from models.clock import now
from models.db import BaseModel, under_path, write_transaction
from models.enums import Level, Role
from models.errors import TicketError
from models.org import OrgUnit, User
from models.routing import routing
from models.tickets import Ticket

MAX_OFFERS = 5


class WishFor(BaseModel):
    """Whom a proxy wish (代办心愿) is for: someone without WeChat, posted by a grid worker."""

    ticket = peewee.ForeignKeyField(Ticket, unique=True, backref="wish_for", on_delete="CASCADE")
    name = peewee.CharField(max_length=50)
    phone = peewee.CharField(max_length=32, default="")
    household = peewee.CharField(max_length=100, default="", index=True)
    posted_by = peewee.ForeignKeyField(User)
    created_at = peewee.DateTimeField(default=now)


class ServiceOffer(BaseModel):
    """A line of the volunteers' service menu (菜单式服务): what, from whom, when."""

    volunteer = peewee.ForeignKeyField(User, backref="service_offers")
    title = peewee.CharField(max_length=40)
    skill = peewee.CharField(max_length=32)  # the 能人库 skill it rests on
    category = peewee.CharField(max_length=32)
    times = peewee.CharField(max_length=60, default="")
    org_unit = peewee.ForeignKeyField(OrgUnit, null=True)
    active = peewee.BooleanField(default=True, index=True)
    created_at = peewee.DateTimeField(default=now)


def household_of(compound_id: int | None, building: str, room: str) -> str:
    """The household key operators and the demo use: compound-building-room."""
    if not (compound_id and building and room):
        return ""
    return f"{compound_id}-{building}-{room}"


def _skill_for(volunteer: User, title: str) -> str | None:
    for skill in volunteer.skills or []:
        if skill and (skill in title or title in skill):
            return skill
    return None


def category_for(skill: str) -> str:
    """The category whose 能人库 skills include `skill`, one that names it preferred
    (法律 → 政策法律咨询 rather than 邻里纠纷); 助老帮困 when none does."""
    fitting = [c for c in routing().categories.values() if skill in c.skills]
    fitting.sort(key=lambda c: skill not in c.name)
    return fitting[0].code if fitting else "elderly_help"


def offer(volunteer: User, title: str, times: str) -> ServiceOffer:
    """我的服务 理发 周六上午: list (or re-time) a service resting on one of the volunteer's skills."""
    if volunteer.role != Role.VOLUNTEER:
        raise TicketError("服务菜单是给志愿者登记特长用的。", "forbidden")
    title, times = (title or "").strip()[:40], (times or "").strip()[:60]
    if not title:
        raise TicketError("请写上服务项目和时间，比如“我的服务 理发 周六上午”。")
    skill = _skill_for(volunteer, title)
    if skill is None:
        mine = "、".join(volunteer.skills or []) or "还没有登记"
        raise TicketError(
            f"“{title}”不在您的能人库特长里（您的特长：{mine}）。"
            "请换一项，或请社区工作人员帮您更新特长。"
        )
    with write_transaction():
        existing = ServiceOffer.get_or_none(
            (ServiceOffer.volunteer == volunteer) & (ServiceOffer.title == title)
            & ServiceOffer.active
        )  # fmt: skip
        if existing is not None:
            existing.times = times
            existing.save(only=[ServiceOffer.times])
            return existing
        count = (
            ServiceOffer.select()
            .where((ServiceOffer.volunteer == volunteer) & ServiceOffer.active)
            .count()
        )
        if count >= MAX_OFFERS:
            raise TicketError(f"每人最多登记 {MAX_OFFERS} 项服务，请先停掉一项：“停止服务 编号”。")
        return ServiceOffer.create(
            volunteer=volunteer, title=title, skill=skill, category=category_for(skill),
            times=times, org_unit=volunteer.org_unit_id, created_at=now(),
        )  # fmt: skip


def withdraw(volunteer: User, offer_id: int) -> ServiceOffer:
    """停止服务 N: take one's own line off the menu."""
    found = ServiceOffer.get_or_none(
        (ServiceOffer.id == offer_id) & (ServiceOffer.volunteer == volunteer)
        & ServiceOffer.active
    )  # fmt: skip
    if found is None:
        raise TicketError(f"没有找到您登记的服务 {offer_id}，回复“我的服务”查看。", "not_found")
    ServiceOffer.update(active=False).where(ServiceOffer.id == found.id).execute()
    return found


def my_offers(volunteer: User) -> list[ServiceOffer]:
    return list(
        ServiceOffer.select()
        .where((ServiceOffer.volunteer == volunteer) & ServiceOffer.active)
        .order_by(ServiceOffer.id)
    )


def menu_for(resident: User, limit: int = 10) -> list[ServiceOffer]:
    """Services offered in the resident's street, their own community's first."""
    query = (
        ServiceOffer.select(ServiceOffer, User)
        .join(User, on=(ServiceOffer.volunteer == User.id))
        .where(ServiceOffer.active & (User.role == Role.VOLUNTEER))
    )
    home = resident.compound.grid if resident.compound_id else resident.org_unit
    community_path = ""
    if home is not None:
        street = home.ancestor_at(Level.STREET)
        community_path = home.ancestor_at(Level.COMMUNITY).path
        query = query.join(OrgUnit, on=(ServiceOffer.org_unit == OrgUnit.id)).where(
            under_path(OrgUnit.path, street.path)
        )
    offers = [o for o in query.order_by(ServiceOffer.id) if o.volunteer_id != resident.id]
    offers.sort(key=lambda o: not (community_path and _in(o, community_path)))
    return offers[:limit]


def _in(offer_row: ServiceOffer, path: str) -> bool:
    return offer_row.org_unit_id is not None and offer_row.org_unit.path.startswith(path)


def load_offer(offer_id) -> ServiceOffer:
    try:
        number = int(offer_id)
    except (TypeError, ValueError):
        raise TicketError("服务编号应该是数字，比如“预约 3”。") from None
    found = ServiceOffer.get_or_none(ServiceOffer.id == number) if 0 < number < 2**62 else None
    if found is None or not found.active or found.volunteer.role != Role.VOLUNTEER:
        raise TicketError(f"没有找到服务 {number}，回复“服务菜单”看看有哪些。", "not_found")
    return found
