"""Tickets of other origins: 微心愿 (a resident's small wish) and bookings from the service menu.

They share the one lifecycle. What is theirs is only how they start:
- a wish is filed as `submitted` (category 助老帮困/微心愿) and waits for a grid worker's
  review, which is the ordinary dispatch to the volunteer pool (心愿墙); a grid worker posting
  for someone without WeChat has reviewed it already, so it goes to the wall at once;
- a booking is dispatched straight to the volunteer whose menu line was chosen.
From there on: take (认领心愿 is take), resolve (a wish needs a photo), rate (the wisher's
thanks) and points, exactly as for any ticket.
"""

from models.access import load_ticket, same_household
from models.clock import now
from models.db import under_path
from models.enums import Action, Role, State, Step, TicketKind, Urgency
from models.errors import TicketError
from models.lifecycle.core import move, notify_staff, step_clock, transition, with_overall
from models.lifecycle.orders import dispatch, take
from models.matching import rank_tickets
from models.org import Compound, User
from models.outbox import enqueue
from models.routing import routing
from models.tickets import Ticket, TicketEvent
from models.wishes import WishFor, household_of, load_offer

WISH_CATEGORY = "elderly_help"
WISH_TEXT_MAX = 200


def _file(reporter: User, text: str, kind: TicketKind, category: str, compound: Compound,
          building: str = "", room: str = "", channel: str = "chat") -> Ticket:  # fmt: skip
    """A new submitted ticket of `kind` and its submit event (no notices: callers choose)."""
    urgency = Urgency.NORMAL
    grid = compound.grid
    owner = grid.ancestor_at(routing().start_level(urgency))
    at = now()
    ticket = Ticket.create(
        reporter=reporter, text=text, category=category, urgency=urgency, kind=kind,
        state=State.SUBMITTED, level=owner.level, org_unit=owner, grid=grid,
        area_path=grid.path, compound=compound, building=building, room=room, channel=channel,
        due_at=routing().overall_deadline(urgency, at), created_at=at, updated_at=at,
        **step_clock(urgency, Step.DISPATCH, at),
    )  # fmt: skip
    TicketEvent.create(
        ticket=ticket, actor=reporter, action=Action.SUBMIT, from_state=None,
        to_state=State.SUBMITTED, level=ticket.level, org_unit=owner, note=text[:200],
        data={"category": category, "urgency": urgency, "channel": channel, "kind": kind},
        created_at=at,
    )  # fmt: skip
    return ticket


def _wish_text(text: str) -> str:
    text = " ".join((text or "").split()).lstrip(":：,， ")
    if len(text) < 4:
        raise TicketError("请说说您的心愿，比如“微心愿 想请人帮忙理个发，我腿脚不方便”。")
    return text[:WISH_TEXT_MAX]


@transition
def post_wish(resident: User, text: str, *, compound: Compound | None = None,
              channel: str = "chat") -> Ticket:  # fmt: skip
    """微心愿: a resident posts a small wish; the grid worker reviews it before it goes up."""
    text = _wish_text(text)
    compound = compound or resident.compound
    if compound is None:
        raise TicketError(
            "请先扫一下小区的民情二维码绑定小区，再发微心愿，这样附近的志愿者才能看到。"
        )
    ticket = _file(resident, text, TicketKind.WISH, WISH_CATEGORY, compound, channel=channel)
    notify_staff(
        ticket.org_unit,
        f"新的微心愿待审核 {ticket.number}（{compound.name}）：{text[:40]}\n"
        f"合适的话回复“派单 {ticket.number} 给 志愿者”发布到心愿墙；"
        f"不合适回复“关闭 {ticket.number} 原因”。",
        ticket,
    )
    return ticket


@transition
def post_wish_for(actor: User, name: str, text: str, compound: Compound, *, building: str = "",
                  room: str = "", phone: str = "") -> Ticket:  # fmt: skip
    """代办心愿: a grid worker posts for someone without WeChat; it goes to the wall at once.

    The grid worker stands in for the wisher: they are told of progress and give the thanks
    (the rating) after asking the person served.
    """
    if actor.role != Role.DISPATCHER or actor.org_unit_id is None:
        raise TicketError("代办心愿需要网格员或社区工作者来做。", "forbidden")
    if not actor.org_unit.contains(compound.grid):
        raise TicketError(f"{compound.name}不在您负责的范围内。", "forbidden")
    name = (name or "").strip()[:50]
    if not name:
        raise TicketError(
            "请写上为谁代办，比如“代办心愿 张奶奶 幸福里小区3号楼101 想请人帮忙买菜”。"
        )
    text = _wish_text(text)
    ticket = _file(actor, f"（代{name}）{text}", TicketKind.WISH, WISH_CATEGORY, compound,
                   building=building, room=room)  # fmt: skip
    WishFor.create(
        ticket=ticket, name=name, phone=phone[:32], posted_by=actor, created_at=now(),
        household=household_of(compound.id, building, room),
    )  # fmt: skip
    return dispatch(ticket, actor, to_pool=True, note="网格员代办，已审核")


@transition
def book(resident: User, offer_id, note: str = "") -> Ticket:
    """预约: a booking from the service menu, dispatched straight to the volunteer offering it."""
    offer = load_offer(offer_id)
    volunteer = offer.volunteer
    if same_household(volunteer, resident):
        raise TicketError("这是您家里人登记的服务，请预约其他志愿者的服务。", "forbidden")
    compound = resident.compound
    if compound is None:
        raise TicketError("请先扫一下小区的民情二维码绑定小区，志愿者才知道上哪儿服务。")
    note = " ".join((note or "").split())[:100]
    text = f"预约服务：{offer.title}（{offer.times or '时间另约'}）" + (f"。{note}" if note else "")
    ticket = _file(resident, text, TicketKind.BOOKING, offer.category, compound)
    ticket = move(
        ticket, Action.DISPATCH, resident, to_state=State.DISPATCHED,
        note=f"居民从服务菜单预约：{offer.title}", data={"offer": offer.id},
        assignee=volunteer, dispatched_at=now(),
        **with_overall(step_clock(ticket.urgency, Step.TAKE), ticket),
    )  # fmt: skip
    enqueue(
        volunteer,
        f"有居民预约了您的“{offer.title}”服务（{offer.times or '时间另约'}）："
        f"{ticket.number} {compound.name}" + (f"，留言：{note}" if note else "") + "\n"
        f"回复“接单 {ticket.number}”确认，办好后“办结 {ticket.number}”；"
        f"去不了请回复“退单 {ticket.number} 原因”。",
        ticket=ticket,
    )
    return ticket


def claim(ticket_id, actor: User) -> Ticket:
    """认领心愿: taking a wish off the wall is the ordinary take (first taker wins)."""
    ticket = load_ticket(ticket_id)
    if ticket.kind != TicketKind.WISH:
        raise TicketError(
            f"{ticket.number} 不是微心愿。要接普通工单，请回复“接单 {ticket.number}”。"
        )
    return take(ticket, actor)


def wish_wall(volunteer: User, limit: int = 8):
    """Wishes on the wall a volunteer could claim: best skill fit, then nearest."""
    if volunteer.role not in (Role.VOLUNTEER,):
        raise TicketError("心愿墙是给志愿者看的。想成为志愿者，请向社区要一个邀请码。", "forbidden")
    found = [m for m in rank_tickets(volunteer, limit=None) if m.ticket.kind == TicketKind.WISH]
    return found[:limit]


def wishes_to_review(actor: User, limit: int = 8) -> list[Ticket]:
    """Wishes waiting for a grid worker's review in the actor's subtree."""
    if actor.role not in (Role.DISPATCHER, Role.SUPERVISOR) or actor.org_unit_id is None:
        raise TicketError("审核心愿需要网格员或社区工作者来做。", "forbidden")
    return list(
        Ticket.select()
        .where(
            (Ticket.kind == TicketKind.WISH)
            & (Ticket.state == State.SUBMITTED)
            & under_path(Ticket.area_path, actor.org_unit.path)
        )
        .order_by(Ticket.id)
        .limit(limit)
    )
