"""The monthly 议事会 (凯里 "1+4+N 邻里共商"): agenda, attendance of the four parties, decisions.

One meeting per compound and month. Agenda items come from hot and recurring tickets of the
compound and from owners; a decision may open a ticket for joint handling (urgency hot, so the
linked units assist) or an owners' vote. Residents can read the decisions.
"""

from datetime import timedelta

import peewee

from models import lifecycle
from models.clock import now, to_local
from models.db import BaseModel, write_transaction
from models.enums import Urgency
from models.errors import TicketError
from models.org import Compound, User
from models.owners import households_of
from models.routing import CATEGORY_CODES
from models.tickets import Ticket
from models.votes import Vote, create_vote, require_manager

# The four parties at the table (the "4" of 1+4+N).
PARTIES = {
    "party_community": "党支部/社区",
    "owners_committee": "业主委员会",
    "property": "物业公司",
    "owner_rep": "业主代表",
}
LOOKBACK = timedelta(days=60)
RECURRING_MIN = 3
SUGGEST_LIMIT = 8


class CouncilMeeting(BaseModel):
    compound = peewee.ForeignKeyField(Compound, backref="council_meetings", on_delete="CASCADE")
    month = peewee.CharField(max_length=7)  # "2026-11", Beijing time
    held_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("compound", "month"), True),)


class AgendaItem(BaseModel):
    meeting = peewee.ForeignKeyField(CouncilMeeting, backref="agenda", on_delete="CASCADE")
    source = peewee.CharField(max_length=16)  # hot_ticket, recurring, owner, staff
    title = peewee.CharField(max_length=200)
    ticket = peewee.ForeignKeyField(Ticket, null=True, on_delete="SET NULL")
    category = peewee.CharField(max_length=32, default="")
    proposed_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=now)


class Attendance(BaseModel):
    meeting = peewee.ForeignKeyField(CouncilMeeting, backref="attendance", on_delete="CASCADE")
    party = peewee.CharField(max_length=20)
    name = peewee.CharField(max_length=50)

    class Meta:
        indexes = ((("meeting", "party", "name"), True),)


class Decision(BaseModel):
    meeting = peewee.ForeignKeyField(CouncilMeeting, backref="decisions", on_delete="CASCADE")
    agenda_item = peewee.ForeignKeyField(AgendaItem, null=True, on_delete="SET NULL")
    text = peewee.CharField(max_length=500)
    ticket = peewee.ForeignKeyField(Ticket, null=True, on_delete="SET NULL")
    vote = peewee.ForeignKeyField(Vote, null=True, on_delete="SET NULL")
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=now)


def this_month() -> str:
    return f"{to_local(now()):%Y-%m}"


def meeting_for(compound: Compound, month: str | None = None) -> CouncilMeeting:
    """The compound's meeting of `month` (created on first use)."""
    month = month or this_month()
    try:
        with write_transaction():
            return CouncilMeeting.create(compound=compound, month=month)
    except peewee.IntegrityError:
        return CouncilMeeting.get(
            (CouncilMeeting.compound == compound) & (CouncilMeeting.month == month)
        )


def _clean(text: str, limit: int, what: str) -> str:
    text = " ".join((text or "").split())
    if not text or len(text) > limit:
        raise TicketError(f"请写清楚{what}（{limit}字以内）。", "invalid")
    return text


def suggest_agenda(actor: User, meeting: CouncilMeeting) -> list[AgendaItem]:
    """Add hot tickets and recurring categories of the last 60 days as agenda items."""
    require_manager(actor, meeting.compound)
    since = now() - LOOKBACK
    recent = Ticket.select().where((Ticket.compound == meeting.compound)
                                   & (Ticket.created_at >= since))  # fmt: skip
    have = {(a.source, a.ticket_id, a.category) for a in meeting.agenda}
    added = []
    with write_transaction():
        for ticket in (
            recent.where(Ticket.urgency == Urgency.HOT).order_by(Ticket.id).limit(SUGGEST_LIMIT)
        ):
            if ("hot_ticket", ticket.id, ticket.category) not in have:
                added.append(AgendaItem.create(
                    meeting=meeting, source="hot_ticket", ticket=ticket, category=ticket.category,
                    title=f"热点工单 {ticket.number}：{ticket.text[:60]}",
                ))  # fmt: skip
        counts = (
            recent.select(Ticket.category, peewee.fn.COUNT(Ticket.id), peewee.fn.MAX(Ticket.id))
            .group_by(Ticket.category)
            .having(peewee.fn.COUNT(Ticket.id) >= RECURRING_MIN)
            .tuples()
        )
        from models.notices import category_name

        for category, count, last_id in counts:
            if ("recurring", last_id, category) in have or any(
                s == "recurring" and c == category for s, _, c in have
            ):
                continue
            added.append(AgendaItem.create(
                meeting=meeting, source="recurring", ticket=last_id, category=category,
                title=f"反复出现：{category_name(category)}，近60天{count}件",
            ))  # fmt: skip
    return added


def propose(user: User, compound: Compound, title: str, meeting=None) -> AgendaItem:
    """An owner (bound to a household here) or a manager puts an item on the agenda."""
    title = _clean(title, 200, "议题")
    owner = bool(households_of(user, compound.id))
    if not owner:
        require_manager(user, compound)
    meeting = meeting or meeting_for(compound)
    return AgendaItem.create(
        meeting=meeting, source="owner" if owner else "staff", title=title, proposed_by=user
    )


def attend(actor: User, meeting: CouncilMeeting, party: str, name: str) -> Attendance:
    require_manager(actor, meeting.compound)
    if party not in PARTIES:
        raise TicketError(f"参会方不对，可选：{'、'.join(PARTIES)}。", "invalid")
    name = _clean(name, 50, "参会人姓名")
    row, _ = Attendance.get_or_create(meeting=meeting, party=party, name=name)
    if meeting.held_at is None:
        CouncilMeeting.update(held_at=now()).where(CouncilMeeting.id == meeting.id).execute()
    return row


def decide(actor: User, meeting: CouncilMeeting, text: str, *, agenda_item_id=None,
           ticket_category: str | None = None, vote: dict | None = None) -> Decision:  # fmt: skip
    """Record a decision; it may open a ticket for joint handling or an owners' vote."""
    require_manager(actor, meeting.compound)
    text = _clean(text, 500, "决定内容")
    item = None
    if agenda_item_id is not None:
        item = AgendaItem.get_or_none(
            (AgendaItem.id == agenda_item_id) & (AgendaItem.meeting == meeting)
        )
        if item is None:
            raise TicketError("没有找到这个议题。", "not_found")
    if ticket_category is not None and ticket_category not in CATEGORY_CODES:
        raise TicketError("工单分类不对。", "invalid")
    with write_transaction():
        ticket = opened = None
        if ticket_category:
            ticket = lifecycle.submit(
                actor, f"议事会决定：{text}", ticket_category, Urgency.HOT,
                compound=meeting.compound, channel="council",
            )  # fmt: skip
        if vote:
            opened = create_vote(
                actor, meeting.compound, vote.get("question") or text, vote.get("options") or [],
                kind_code=vote.get("kind", "ordinary"), opens_at=vote.get("opens_at"),
                closes_at=vote.get("closes_at"), allow_change=vote.get("allow_change", True),
            )  # fmt: skip
        return Decision.create(
            meeting=meeting, agenda_item=item, text=text, ticket=ticket, vote=opened,
            created_by=actor,
        )  # fmt: skip


def decisions(compound: Compound, limit: int = 10) -> list[Decision]:
    """The compound's latest decisions, newest first (what residents read)."""
    return list(
        Decision.select(Decision, CouncilMeeting)
        .join(CouncilMeeting)
        .where(CouncilMeeting.compound == compound)
        .order_by(Decision.id.desc())
        .limit(min(limit, 50))
    )
