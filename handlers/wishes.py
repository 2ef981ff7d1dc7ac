"""Chat for the wish wall (微心愿) and the volunteers' service menu (菜单式服务)."""

import re

from handlers import incentive_texts as t
from handlers import texts, views
from handlers.commands import Command
from handlers.places import extract_place
from models import notices
from models import wishes as menu
from models.errors import TicketError
from models.lifecycle import wishes
from models.org import Compound, mask_name
from models.places import compound_names

PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


def _rest(cmd: Command) -> str:
    """The command's text with a leading number put back ('微心愿 3号楼…' parses 3 off)."""
    head = str(cmd.number) if cmd.number is not None else ""
    rest = cmd.rest
    if cmd.verb == "微心":  # '微心愿想…' with no space: the verb swallowed '愿' and more
        rest = rest.removeprefix("愿")
        first, _, tail = rest.partition(" ")
        rest = first + tail
    return (head + rest).strip()


def post_wish(user, cmd: Command, ctx) -> str:
    """微心愿 内容: a resident's small wish, for review."""
    text = _rest(cmd)
    if not text:
        return t.WISH_HINT
    ticket = wishes.post_wish(user, text)
    return t.WISH_POSTED.format(number=ticket.number)


def post_wish_for(user, cmd: Command, ctx) -> str:
    """代办心愿 称呼 地点 内容 [电话]: a grid worker posts for someone without WeChat."""
    words = _rest(cmd).split()
    if len(words) < 3:
        return t.WISH_FOR_HINT
    name, place_text, text = words[0], words[1], " ".join(words[2:])
    phone = PHONE.search(text)
    if phone:
        text = (text[: phone.start()] + text[phone.end() :]).strip()
    names = compound_names()
    place = extract_place(place_text, names)
    if place.compound_name is None:
        raise TicketError(f"没找到小区“{place_text}”。\n{t.WISH_FOR_HINT}", "not_found")
    compound = Compound.get_by_id(names[place.compound_name])
    ticket = wishes.post_wish_for(
        user, name, text, compound, building=place.building or "", room=place.room or "",
        phone=phone.group(0) if phone else "",
    )  # fmt: skip
    return t.WISH_FOR_POSTED.format(name=name, number=ticket.number)


def wish_wall(user, cmd, ctx) -> str:
    matches = wishes.wish_wall(user)
    if not matches:
        return t.WALL_EMPTY
    lines = []
    for m in matches:
        where = f"，约{int(m.distance_m)}米" if m.distance_m is not None else ""
        place = m.ticket.compound.name if m.ticket.compound_id else "附近"
        lines.append(f"{m.ticket.number} {place}：{notices.snippet(m.ticket.text, 30)}{where}")
    return t.WALL.format(items="\n".join(lines))


def claim(user, cmd: Command, ctx) -> str:
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example="认领心愿 #12"))
    ticket = wishes.claim(cmd.number, user)
    return t.CLAIMED.format(
        brief=notices.brief(ticket), text=notices.snippet(ticket.text, 60), number=ticket.number
    )


def to_review(user, cmd, ctx) -> str:
    waiting = wishes.wishes_to_review(user)
    if not waiting:
        return t.REVIEW_EMPTY
    return t.REVIEW.format(n=len(waiting), items=views.lines(waiting))


def my_service(user, cmd: Command, ctx) -> str:
    """我的服务 (list) / 我的服务 理发 周六上午 (add or re-time)."""
    words = _rest(cmd).split(maxsplit=1)
    if not words:
        offers = menu.my_offers(user)
        if not offers:
            return t.MY_OFFERS_EMPTY
        items = "\n".join(f"{o.id}. {o.title} · {o.times or '时间另约'}" for o in offers)
        return t.MY_OFFERS.format(items=items)
    title, times = words[0], words[1] if len(words) > 1 else ""
    row = menu.offer(user, title, times)
    return t.OFFERED.format(id=row.id, title=row.title, times=row.times or "时间另约")


def stop_service(user, cmd: Command, ctx) -> str:
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example="停止服务 3"))
    return t.WITHDRAWN.format(title=menu.withdraw(user, cmd.number).title)


def service_menu(user, cmd, ctx) -> str:
    offers = menu.menu_for(user)
    if not offers:
        return t.MENU_EMPTY
    items = "\n".join(
        f"{o.id}. {o.title} · {o.volunteer.display_name()} · {o.times or '时间另约'}"
        for o in offers
    )
    return t.MENU.format(items=items, first=offers[0].id)


def book(user, cmd: Command, ctx) -> str:
    if cmd.number is None:
        return t.BOOK_HINT
    ticket = wishes.book(user, cmd.number, cmd.rest)
    offer = menu.load_offer(cmd.number)
    return t.BOOKED.format(
        who=mask_name(offer.volunteer.name) or "志愿者", title=offer.title, number=ticket.number
    )
