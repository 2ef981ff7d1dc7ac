"""补充: the reporter adds text, photos or a place to their open ticket after filing.

The state does not change. The ticket gets a SUPPLEMENT event (shown in its timeline), the
place fields it still lacked are filled in (a building named later, a location sent later),
and whoever holds the ticket now is told by a push, in the same transaction.
"""

from collections.abc import Iterable

from models import notices
from models.access import load_ticket
from models.clock import now
from models.enums import OPEN_STATES, Action, Level, Role, Urgency
from models.errors import TicketError
from models.lifecycle.core import REFUSALS, transition
from models.org import Compound, User, responsible_staff
from models.outbox import enqueue
from models.tickets import Ticket, TicketEvent

MAX_PHOTOS = 9
NOTE_LIMIT = 500


def _note(text: str, photos: list[str], lat, label: str) -> str:
    """What the timeline shows: the words, then what else came with them."""
    parts = [text] if text else []
    if photos:
        parts.append(f"照片{len(photos)}张")
    if lat is not None:
        parts.append(f"位置：{label}" if label else "位置")
    return "；".join(parts)[:NOTE_LIMIT]


def _place_changes(ticket: Ticket, *, lat, lng, building, unit_no, room, compound) -> dict:
    """Fill only what the ticket lacks: a later message never overwrites the filed place."""
    changes = {}
    for field, value in (("building", building), ("unit_no", unit_no), ("room", room)):
        if value and not getattr(ticket, field):
            changes[field] = value[:16]
    if lat is not None and lng is not None and ticket.lat is None:
        changes.update(lat=lat, lng=lng)
    if compound is not None and ticket.compound_id is None and compound.grid_id == ticket.grid_id:
        changes["compound"] = compound
    return changes


def _handlers(ticket: Ticket) -> list[User]:
    """Whoever must act on the ticket now: its assignee, else its unit, else its dispatchers
    (and for an urgent one the community on duty, who were told when it was filed)."""
    if ticket.assignee_id:
        return [ticket.assignee]
    if ticket.work_unit_id:
        return list(User.select().where(User.work_unit == ticket.work_unit_id))
    people = responsible_staff(ticket.org_unit, Role.DISPATCHER)
    if ticket.urgency == Urgency.URGENT:
        people += responsible_staff(ticket.grid.ancestor_at(Level.COMMUNITY), Role.DISPATCHER)
    unique = {p.id: p for p in people}
    return list(unique.values())


def supplemented_notice(ticket: Ticket, note: str) -> str:
    return f"【居民补充】工单 {notices.brief(ticket)}：{notices.snippet(note, 80)}"


@transition
def supplement(
    ticket_id,
    actor: User,
    *,
    text: str = "",
    photos: Iterable[str] = (),
    lat: float | None = None,
    lng: float | None = None,
    label: str = "",
    building: str = "",
    unit_no: str = "",
    room: str = "",
    compound: Compound | None = None,
) -> Ticket:
    """补充: the reporter adds details to their open ticket; its handler is told."""
    ticket = load_ticket(ticket_id)
    if ticket.reporter_id != actor.id:
        # Someone else's ticket reads like a missing one: nothing is told about it.
        raise TicketError("没有找到您的这张工单，请核对工单号。", "not_found")
    if ticket.state not in OPEN_STATES:
        raise TicketError(
            f"工单 {ticket.number} {REFUSALS[ticket.state_enum]}，不能再补充了。", "conflict"
        )
    text, photos = (text or "").strip(), [p for p in photos if p][:MAX_PHOTOS]
    if not text and not photos and lat is None:
        raise TicketError(f"请写上要补充的内容，比如“补充 {ticket.number} 在5号楼东边”。")
    at = now()
    changes = _place_changes(
        ticket, lat=lat, lng=lng, building=building, unit_no=unit_no, room=room,
        compound=compound,
    )  # fmt: skip
    changes.update(version=ticket.version + 1, updated_at=at)
    moved = (
        Ticket.update(**changes)
        .where((Ticket.id == ticket.id) & (Ticket.version == ticket.version))
        .execute()
    )
    if not moved:
        raise TicketError(f"工单 {ticket.number} 刚刚有了变化，请再发一次。", "conflict")
    for field, value in changes.items():
        setattr(ticket, field, value)
    note = _note(text, photos, lat, label)
    data = {"photos": photos} if photos else {}
    if lat is not None:
        data.update(lat=lat, lng=lng, label=label)
    TicketEvent.create(
        ticket=ticket, actor=actor, action=Action.SUPPLEMENT, from_state=ticket.state,
        to_state=ticket.state, level=ticket.level, org_unit=ticket.org_unit_id,
        assignee=ticket.assignee_id, note=note, data=data or None, created_at=at,
    )  # fmt: skip
    for person in _handlers(ticket):
        enqueue(person, supplemented_notice(ticket, note), ticket=ticket)
    return ticket
