"""Turning rows into API payloads; what of a ticket a viewer sees is models.privacy's call."""

from datetime import UTC, datetime

from flask import current_app

from bot.storage import KEY_PATTERN, StorageError
from models import privacy
from models.enums import Action, State
from models.org import OrgUnit, User
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
    Action.RECATEGORIZE: "改类", Action.UNMERGE: "撤销合并",
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


def _person(user: User | None, name: str | None, phone: str | None, clear: bool) -> dict | None:
    """{id, name, phone} of someone on the ticket as the policy lets the viewer see them."""
    if user is None or name is None:
        return None
    return {"id": user.id if clear else None, "name": name, "phone": phone or ""}


def ticket_payload(ticket: Ticket, viewer: User, distance_m: float | None = None, seen=None):
    """The list view of a ticket as `viewer` may see it (models.privacy decides what)."""
    seen = seen or privacy.see(ticket, viewer)
    assignee = ticket.assignee if ticket.assignee_id else None
    lat, lng = seen.pin
    return {
        "id": ticket.id,
        "number": ticket.number,
        "text": seen.text,
        "category": ticket.category,
        "category_name": routing().category(ticket.category).name,
        "urgency": ticket.urgency,
        "state": ticket.state,
        "state_name": STATE_NAMES[State(ticket.state)],
        "level": ticket.level,
        "org_unit": org_ref(ticket.org_unit),
        "compound": _ref(ticket.compound) if ticket.compound_id else None,
        "place": seen.place,
        "lat": lat,
        "lng": lng,
        "reporter": _person(ticket.reporter, seen.reporter_name, seen.reporter_phone, seen.clear),
        "assignee": _person(assignee, seen.assignee_name, seen.assignee_phone, seen.assignee_clear),
        "work_unit": _ref(ticket.work_unit) if ticket.work_unit_id else None,
        "in_pool": ticket.in_pool,
        "photos": photo_refs(seen.photos),
        "score": ticket.score,
        "subscriber_count": ticket.subscriber_count,
        "channel": ticket.channel,
        "created_at": utc(ticket.created_at),
        "updated_at": utc(ticket.updated_at),
        "due_at": utc(ticket.due_at),
        "distance_m": round(distance_m) if distance_m is not None else None,
    }


def event_payload(event: TicketEvent, seen: privacy.TicketView) -> dict:
    """One hop of the timeline, its people and words as the viewer may see them."""
    data = event.data or {}
    photos = data.get("photos") if isinstance(data, dict) and seen.rule.photos else None
    actor = "系统" if event.actor_id is None else (seen.person_name(event.actor) or "工作人员")
    return {
        "id": event.id,
        "action": event.action,
        "action_name": ACTION_NAMES.get(event.action, event.action),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "level": event.level,
        "actor": actor,
        "note": seen.words(event.note),
        "photos": photo_refs(photos),
        "created_at": utc(event.created_at),
    }


def ticket_detail(ticket: Ticket, viewer: User) -> dict:
    """The detail view: the list view plus the full timeline and the helping units."""
    seen = privacy.see(ticket, viewer)
    events = TicketEvent.select().where(TicketEvent.ticket == ticket).order_by(TicketEvent.id)
    assists = TicketAssist.select().where(TicketAssist.ticket == ticket).order_by(TicketAssist.id)
    return {
        **ticket_payload(ticket, viewer, seen=seen),
        "events": [event_payload(e, seen) for e in events],
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
