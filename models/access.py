"""Who may do what to which ticket (DESIGN §10). Raises TicketError with a Chinese reason."""

from models.db import SqlOnce
from models.enums import ASSIGNEE_ROLES, Level, Role
from models.errors import TicketError
from models.org import User
from models.tickets import Ticket, TicketSubscriber

# The SQL of the ticket-and-reporter join, written once (a ticket's 38 columns and a user's 17
# cost more to write out than to read: the volunteer's 接单 spent a quarter of its time here).
_TICKET_WITH_REPORTER = SqlOnce(
    lambda number: (
        Ticket.select(Ticket, User)
        .join(User, on=(Ticket.reporter == User.id))
        .where(Ticket.id == number)
    )
)


def load_ticket(ticket_id) -> Ticket:
    """The ticket with this number (its reporter loaded alongside), or a polite not-found error.

    A Ticket instance is returned as it is: the caller already read it, and every transition
    checks its version when it writes.
    """
    if isinstance(ticket_id, Ticket):
        return ticket_id
    try:
        number = int(ticket_id)
    except (TypeError, ValueError):
        raise TicketError("工单号应该是数字，比如 #1024。", "invalid") from None
    ticket = None
    if 0 < number < 2**62:
        found = _TICKET_WITH_REPORTER.joined((Ticket, User), "reporter", number)
        ticket = found[0] if found else None
    if ticket is None:
        raise TicketError(f"没有找到工单 #{number}，请核对工单号。", "not_found")
    return ticket


def in_scope(actor: User, ticket: Ticket) -> bool:
    """Staff scope: the ticket's owner or its place lies in the actor's subtree."""
    unit = actor.org_unit
    if unit is None:
        return False
    return ticket.org_unit.path.startswith(unit.path) or ticket.area_path.startswith(unit.path)


def require_dispatcher(actor: User, ticket: Ticket) -> None:
    """Only a dispatcher whose subtree holds the ticket's owner."""
    if actor.role != Role.DISPATCHER:
        raise TicketError("这个操作需要网格员或社区工作者来做。", "forbidden")
    if actor.org_unit is None or not actor.org_unit.contains(ticket.org_unit):
        raise TicketError(f"工单 {ticket.number} 不在您负责的范围内。", "forbidden")


def require_staff_in_scope(actor: User, ticket: Ticket) -> None:
    """A dispatcher or supervisor whose subtree holds the ticket."""
    if actor.role not in (Role.DISPATCHER, Role.SUPERVISOR):
        raise TicketError("这个操作需要网格员、社区工作者或领导来做。", "forbidden")
    if not in_scope(actor, ticket):
        raise TicketError(f"工单 {ticket.number} 不在您负责的范围内。", "forbidden")


def require_reporter(actor: User, ticket: Ticket) -> None:
    if ticket.reporter_id != actor.id:
        raise TicketError(f"工单 {ticket.number} 不是您提交的，不能这样操作。", "forbidden")


def require_assignee(actor: User, ticket: Ticket) -> None:
    if ticket.assignee_id != actor.id:
        raise TicketError(f"工单 {ticket.number} 不是您接的单，不能这样操作。", "forbidden")


def is_subscriber(actor: User, ticket: Ticket) -> bool:
    return (
        TicketSubscriber.select()
        .where((TicketSubscriber.ticket == ticket) & (TicketSubscriber.user == actor))
        .exists()
    )


def may_follow(actor: User, ticket: Ticket) -> bool:
    """关注 by number: one's own ticket, one already followed, or one where one lives (the
    same compound, or the grid of one's compound). Elsewhere a number tells nothing."""
    if actor.id == ticket.reporter_id or is_subscriber(actor, ticket):
        return True
    home = actor.compound
    if home is None:
        return False
    return ticket.compound_id == home.id or ticket.grid_id == home.grid_id


def same_household(a: User, b: User) -> bool:
    return a.id == b.id or (bool(a.household) and a.household == b.household)


def may_take(actor: User, ticket: Ticket) -> None:
    """A volunteer/worker may take a pool ticket, or one dispatched to them or their unit."""
    if actor.role not in ASSIGNEE_ROLES:
        raise TicketError("接单需要志愿者或工作人员身份。如有邀请码，请先发送邀请码。", "forbidden")
    if same_household(actor, ticket.reporter):
        raise TicketError("这是您家里报的事，按规定不能自己接单，请让其他志愿者来办。", "forbidden")
    if ticket.assignee_id == actor.id:
        return
    if ticket.assignee_id is not None:
        raise TicketError(f"工单 {ticket.number} 已经派给别人了。", "conflict")
    if ticket.work_unit_id is not None and ticket.work_unit_id == actor.work_unit_id:
        return
    if ticket.in_pool and in_pool_reach(actor, ticket):
        return
    if ticket.in_pool:
        raise TicketError(f"没有找到您能接的工单 {ticket.number}。", "not_found")
    raise TicketError(f"工单 {ticket.number} 还没有派到志愿者接单池，暂时不能接。", "forbidden")


def in_pool_reach(actor: User, ticket: Ticket) -> bool:
    """A pool ticket reaches the volunteers of its street (what /pool and 附近工单 list, see
    models.matching.open_orders); workers see the pool wherever their unit serves."""
    if actor.role != Role.VOLUNTEER or actor.org_unit_id is None:
        return True
    street = actor.org_unit.ancestor_at(Level.STREET)
    return ticket.area_path.startswith(street.path)


def same_branch(a, b) -> bool:
    """Two units on one line of the tree: one holds the other."""
    return a is not None and b is not None and (a.contains(b) or b.contains(a))


def require_target_in_scope(actor: User, to_user: User | None, to_unit=None) -> None:
    """A dispatcher sends work only to people and units on their own branch of the tree
    (their subtree, or the levels above it that serve it); city-wide units have no place."""
    unit = actor.org_unit
    places = []
    if to_user is not None:
        places.append(to_user.org_unit if to_user.org_unit_id else None)
        if to_user.org_unit_id is None and to_user.work_unit_id:
            places[-1] = to_user.work_unit.org_unit
    if to_unit is not None:
        places.append(to_unit.org_unit if to_unit.org_unit_id else None)
    for place in places:
        if place is not None and not same_branch(unit, place):
            raise TicketError("只能派给您辖区内的志愿者、工作人员或单位。", "forbidden")


def can_view(actor: User, ticket: Ticket) -> bool:
    """Reporter, followers, assignee, their unit, staff in scope, and volunteers for pool tickets."""
    if actor.id in (ticket.reporter_id, ticket.assignee_id):
        return True
    if actor.role in (Role.DISPATCHER, Role.SUPERVISOR):
        return in_scope(actor, ticket)
    if actor.role in ASSIGNEE_ROLES and ticket.is_open:
        if ticket.in_pool and ticket.assignee_id is None and in_pool_reach(actor, ticket):
            return True
        if ticket.work_unit_id is not None and ticket.work_unit_id == actor.work_unit_id:
            return True
    return is_subscriber(actor, ticket)


def require_view(actor: User, ticket: Ticket) -> None:
    """Others' tickets look like unknown ones: no leak of what exists."""
    if not can_view(actor, ticket):
        raise TicketError(f"没有找到您能查看的工单 {ticket.number}。", "not_found")
