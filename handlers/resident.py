"""Resident commands outside a report: my tickets, query, urge, cancel, rate, follow."""

from handlers import texts, views
from handlers.commands import Command, parse_rating
from models import lifecycle, notices
from models.access import load_ticket, require_view
from models.enums import State
from models.errors import TicketError
from models.tickets import Ticket

LIST_LIMIT = 5


def my_tickets(user, cmd, ctx) -> str:
    tickets = list(
        Ticket.select().where(Ticket.reporter == user).order_by(Ticket.id.desc()).limit(LIST_LIMIT)
    )
    if not tickets:
        return texts.MY_TICKETS_EMPTY
    return texts.MY_TICKETS.format(n=len(tickets), items=views.lines(tickets, viewer=user))


def query(user, cmd: Command, ctx) -> str:
    ticket = _numbered(cmd, "查询 #12")
    require_view(user, ticket)
    return texts.DETAIL.format(
        line=views.line(ticket, viewer=user),
        text=views.words(ticket, user),
        timeline=views.timeline(ticket, viewer=user),
    )


def urge(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.urge(_numbered(cmd, "催单 #12").id, user, cmd.rest)
    return texts.URGED.format(number=ticket.number)


def cancel_ticket(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.cancel(_numbered(cmd, "撤销 #12").id, user, cmd.rest)
    return texts.CANCELLED_TICKET.format(number=ticket.number)


def follow(user, cmd: Command, ctx) -> str:
    ticket = lifecycle.subscribe(_numbered(cmd, "关注 #12").id, user)
    return texts.DUPLICATE_JOINED.format(number=ticket.number, count=ticket.subscriber_count + 1)


def rate_command(user, cmd: Command, ctx) -> str:
    """评价 #12 满意 / 评价 满意 (the only ticket waiting)."""
    rating = parse_rating(cmd.rest)
    if rating is None:
        raise TicketError(texts.FORMAT_HINT.format(example="评价 #12 满意"))
    ticket = _numbered(cmd, "评价 #12 满意") if cmd.number else _only_waiting(user)
    return _rate(user, ticket, *rating)


def waiting_for_rating(user) -> list[Ticket]:
    return list(
        Ticket.select()
        .where((Ticket.reporter == user) & (Ticket.state == State.RESOLVED))
        .order_by(Ticket.resolved_at.desc())
        .limit(3)
    )


def try_rating(user, text: str) -> str | None:
    """A bare '满意' / '4' when exactly the reporter's tickets wait for a rating."""
    rating = parse_rating(text)
    if rating is None:
        return None
    waiting = waiting_for_rating(user)
    if not waiting:
        return None
    if len(waiting) > 1:
        return texts.RATE_WHICH
    return _rate(user, waiting[0], *rating)


def _only_waiting(user) -> Ticket:
    waiting = waiting_for_rating(user)
    if len(waiting) != 1:
        raise TicketError(texts.RATE_WHICH if waiting else "您现在没有需要评价的工单。")
    return waiting[0]


def _rate(user, ticket: Ticket, score: int, comment: str) -> str:
    rated = lifecycle.rate(ticket.id, user, score, comment)
    if rated.state == State.CLOSED:
        return texts.RATED_HAPPY.format(number=rated.number)
    return notices.reporter_reopened(rated)


def _numbered(cmd: Command, example: str) -> Ticket:
    if cmd.number is None:
        raise TicketError(texts.FORMAT_HINT.format(example=example))
    return load_ticket(cmd.number)


COMMANDS = {
    "my_tickets": my_tickets,
    "查询": query,
    "催单": urge,
    "撤销": cancel_ticket,
    "评价": rate_command,
    "关注": follow,
}
