"""Turning rows into API payloads, with personal data masked for everyone but those entitled."""

from datetime import UTC, datetime

from flask import current_app

from bot.storage import KEY_PATTERN, StorageError
from models.enums import Action, State
from models.org import OrgUnit, User, mask_name, mask_phone
from models.routing import routing
from models.tickets import Ticket, TicketAssist, TicketEvent

STATE_NAMES = {
    State.SUBMITTED: "待派单",
    State.DISPATCHED: "待接单",
    State.TAKEN: "办理中",
    State.RESOLVED: "待评价",
    State.CLOSED: "已关闭",
    State.CANCELLED: "已撤销",
}
ACTION_NAMES = {
    Action.SUBMIT: "点单", Action.DISPATCH: "派单", Action.TAKE: "接单",
    Action.REASSIGN: "转单", Action.HAND_BACK: "退单", Action.PROGRESS: "进度",
    Action.RESOLVE: "办结", Action.RATE: "评单", Action.REOPEN: "重新办理",
    Action.ESCALATE: "提级", Action.ASSIST: "协办", Action.URGE: "催单",
    Action.REMIND: "超时提醒", Action.CANCEL: "撤销", Action.CLOSE: "关闭",
    Action.CLOSE_UNRATED: "自动关闭", Action.MERGE: "合并", Action.SUBSCRIBE: "关注",
    Action.FOLLOW_UP: "回访", Action.RATING_REMINDER: "评价提醒",
    Action.SUPPLEMENT: "居民补充",
}  # fmt: skip


def utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC; say so on the wire."""
    return value.replace(tzinfo=UTC) if value is not None else None


def photo_refs(ids) -> list[dict]:
    """Photo ids with their URLs (ids from other channels have none)."""
    storage = current_app.extensions["sidan_api"]["storage"]
    refs = []
    for photo_id in ids or []:
        photo_id = str(photo_id)
        url = thumb = None
        if KEY_PATTERN.match(photo_id):
            try:
                url = storage.url(photo_id)
                thumb = storage.url(photo_id.split(".")[0] + "_t.jpg")
            except StorageError:
                url = thumb = None
        refs.append({"id": photo_id, "url": url, "thumb_url": thumb})
    return refs


def _ref(row) -> dict | None:
    return {"id": row.id, "name": row.name} if row is not None else None


def org_ref(unit: OrgUnit | None) -> dict | None:
    """{id, name, level} of an org unit."""
    return {"id": unit.id, "name": unit.name, "level": unit.level} if unit else None


def entitled(viewer: User, ticket: Ticket) -> bool:
    """Only the reporter and the current assignee see personal data unmasked."""
    return viewer.id in (ticket.reporter_id, ticket.assignee_id)


def _person(user: User | None, clear: bool) -> dict | None:
    if user is None:
        return None
    if clear:
        return {"id": user.id, "name": user.name, "phone": user.phone}
    return {"id": None, "name": mask_name(user.name), "phone": mask_phone(user.phone)}


def masked_place(ticket: Ticket, clear: bool) -> str:
    """The full place for the entitled; the compound only for anyone else."""
    if clear:
        return ticket.place
    name = ticket.compound.name if ticket.compound_id else ""
    return name + ("（具体门牌已隐藏）" if ticket.building or ticket.room else "")


def ticket_payload(ticket: Ticket, viewer: User, distance_m: float | None = None) -> dict:
    """The list view of a ticket as `viewer` may see it."""
    clear = entitled(viewer, ticket)
    assignee = ticket.assignee if ticket.assignee_id else None
    return {
        "id": ticket.id,
        "number": ticket.number,
        "text": ticket.text,
        "category": ticket.category,
        "category_name": routing().category(ticket.category).name,
        "urgency": ticket.urgency,
        "state": ticket.state,
        "state_name": STATE_NAMES[State(ticket.state)],
        "level": ticket.level,
        "org_unit": org_ref(ticket.org_unit),
        "compound": _ref(ticket.compound) if ticket.compound_id else None,
        "place": masked_place(ticket, clear),
        "lat": ticket.lat,
        "lng": ticket.lng,
        "reporter": _person(ticket.reporter, clear),
        "assignee": _person(assignee, clear),
        "work_unit": _ref(ticket.work_unit) if ticket.work_unit_id else None,
        "in_pool": ticket.in_pool,
        "photos": photo_refs(ticket.photos),
        "score": ticket.score,
        "subscriber_count": ticket.subscriber_count,
        "channel": ticket.channel,
        "created_at": utc(ticket.created_at),
        "updated_at": utc(ticket.updated_at),
        "due_at": utc(ticket.due_at),
        "distance_m": round(distance_m) if distance_m is not None else None,
    }


def _actor_name(event: TicketEvent, viewer: User, clear: bool) -> str:
    if event.actor_id is None:
        return "系统"
    actor = event.actor
    if actor.id == viewer.id or clear:
        return actor.name or "居民"
    return actor.display_name()


def event_payload(event: TicketEvent, viewer: User, clear: bool) -> dict:
    """One hop of the timeline."""
    data = event.data or {}
    return {
        "id": event.id,
        "action": event.action,
        "action_name": ACTION_NAMES.get(event.action, event.action),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "level": event.level,
        "actor": _actor_name(event, viewer, clear),
        "note": event.note or "",
        "photos": photo_refs(data.get("photos")) if isinstance(data, dict) else [],
        "created_at": utc(event.created_at),
    }


def ticket_detail(ticket: Ticket, viewer: User) -> dict:
    """The detail view: the list view plus the full timeline and the helping units."""
    clear = entitled(viewer, ticket)
    events = TicketEvent.select().where(TicketEvent.ticket == ticket).order_by(TicketEvent.id)
    assists = TicketAssist.select().where(TicketAssist.ticket == ticket).order_by(TicketAssist.id)
    return {
        **ticket_payload(ticket, viewer),
        "events": [event_payload(e, viewer, clear) for e in events],
        "assists": [(a.work_unit or a.org_unit).name for a in assists],
        "merged_into": ticket.merged_into_id,
    }


def me_payload(user: User) -> dict:
    """The caller's own profile (nothing masked: it is theirs)."""
    return {
        "id": user.id,
        "name": user.name,
        "phone": user.phone,
        "role": user.role,
        "org_unit": org_ref(user.org_unit) if user.org_unit_id else None,
        "work_unit": _ref(user.work_unit) if user.work_unit_id else None,
        "compound": _ref(user.compound) if user.compound_id else None,
        "skills": list(user.skills or []),
        "is_party_member": user.is_party_member,
    }
