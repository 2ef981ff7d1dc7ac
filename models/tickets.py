"""Tickets and their append-only companions: events, ratings, points, subscribers."""

import peewee

from models.clock import now
from models.db import BaseModel, JSONField, under_path
from models.enums import ACTIVE_STATES, OPEN_STATES, State, TicketKind
from models.org import CachedForeignKeyField, Compound, OrgUnit, User, WorkUnit


class Ticket(BaseModel):
    """One resident request, from report to close. Its id is the number people type (#1024).

    Only models.lifecycle writes `state` (and the columns that move with it).
    """

    reporter = peewee.ForeignKeyField(User, backref="reported")
    text = peewee.TextField()
    category = peewee.CharField(max_length=32, index=True)
    urgency = peewee.CharField(max_length=16)
    state = peewee.CharField(max_length=16, default=State.SUBMITTED, index=True)
    # Incremented by every transition: the compare-and-set token.
    version = peewee.IntegerField(default=0)
    level = peewee.CharField(max_length=16)
    # Current owner in the tree (who must dispatch / answer for it).
    org_unit = CachedForeignKeyField(OrgUnit, backref="owned_tickets")
    # Where the problem is: the grid, and its path for subtree figures.
    grid = CachedForeignKeyField(OrgUnit, backref="area_tickets")
    area_path = peewee.CharField(max_length=255, index=True)
    compound = CachedForeignKeyField(Compound, null=True, backref="tickets")
    building = peewee.CharField(max_length=16, default="")
    unit_no = peewee.CharField(max_length=16, default="")
    room = peewee.CharField(max_length=16, default="")
    lat = peewee.FloatField(null=True)
    lng = peewee.FloatField(null=True)
    photos = JSONField(default=list)
    channel = peewee.CharField(max_length=16, default="chat")
    # report | wish (微心愿) | booking (service menu): one lifecycle for all three (schema v8).
    # A server default too, so bulk SQL loads (bench) that name no kind still insert.
    kind = peewee.CharField(
        max_length=16, default=TicketKind.REPORT, constraints=[peewee.SQL("DEFAULT 'report'")]
    )
    # Another system's id for the same request (Open311 / 12345 hotline import).
    external_ref = peewee.CharField(max_length=64, null=True, index=True)
    assignee = peewee.ForeignKeyField(User, null=True, backref="assigned")
    work_unit = peewee.ForeignKeyField(WorkUnit, null=True, backref="tickets")
    in_pool = peewee.BooleanField(default=False)
    merged_into = peewee.ForeignKeyField("self", null=True, backref="merged")
    subscriber_count = peewee.IntegerField(default=0)
    # Clocks (DESIGN §6): the running step's deadline, and the overall one.
    step = peewee.CharField(max_length=16, default="dispatch")
    step_due_at = peewee.DateTimeField(null=True)
    due_at = peewee.DateTimeField(null=True, index=True)
    # Breaches already acted on in this step (0 none, 1 reminded, 2+ escalated).
    breach_count = peewee.IntegerField(default=0)
    # When the sweep must next look at this ticket; NULL once nothing can be due.
    next_check_at = peewee.DateTimeField(null=True)
    rating_reminded = peewee.BooleanField(default=False)
    score = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=now, index=True)
    updated_at = peewee.DateTimeField(default=now)
    dispatched_at = peewee.DateTimeField(null=True)
    taken_at = peewee.DateTimeField(null=True)
    resolved_at = peewee.DateTimeField(null=True, index=True)
    closed_at = peewee.DateTimeField(null=True, index=True)
    # When retention removed its personal data (models.retention); NULL while it holds any.
    anonymised_at = peewee.DateTimeField(null=True)
    # 响应率 (Beijing 12345): the dispatch deadline set at filing, and the first dispatch.
    # dispatched_at moves on every 转单, so neither clock above can answer it afterwards.
    respond_due_at = peewee.DateTimeField(null=True, index=True)
    responded_at = peewee.DateTimeField(null=True)

    @property
    def number(self) -> str:
        return f"#{self.id}"

    @property
    def state_enum(self) -> State:
        return State(self.state)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def place(self) -> str:
        """Compound plus building/unit/room, as people write it."""
        parts = [self.compound.name if self.compound_id else ""]
        if self.building:
            parts.append(f"{self.building}号楼")
        if self.unit_no:
            parts.append(f"{self.unit_no}单元")
        if self.room:
            parts.append(f"{self.room}室")
        return "".join(parts)

    @classmethod
    def due_for_sweep(cls, at):
        """Active tickets whose next check time has come (reads only the partial index)."""
        return (
            cls.select()
            .where(cls.next_check_at.is_null(False) & (cls.next_check_at <= at))
            .order_by(cls.next_check_at)
        )

    @classmethod
    def in_area(cls, unit: OrgUnit):
        """Tickets whose place lies in `unit`'s subtree."""
        return cls.select().where(under_path(cls.area_path, unit.path))


Ticket.add_index(Ticket.index(Ticket.next_check_at, where=Ticket.next_check_at.is_null(False)))
Ticket.add_index(Ticket.org_unit, Ticket.state)
Ticket.add_index(Ticket.reporter, Ticket.created_at)
Ticket.add_index(Ticket.assignee, Ticket.state)
Ticket.add_index(Ticket.kind, Ticket.state)


# One ticket per request of another system: concurrent Open311 POSTs with one id cannot both
# insert (schema v9).
Ticket.add_index(
    Ticket.index(
        Ticket.channel, Ticket.external_ref, unique=True, where=Ticket.external_ref.is_null(False)
    )  # fmt: skip
)


class TicketEvent(BaseModel):
    """Append-only audit trail: every hop of a ticket, who did it and why."""

    ticket = peewee.ForeignKeyField(Ticket, backref="events", on_delete="CASCADE")
    actor = peewee.ForeignKeyField(User, null=True)  # NULL = the system (scheduler)
    action = peewee.CharField(max_length=20)
    from_state = peewee.CharField(max_length=16, null=True)
    to_state = peewee.CharField(max_length=16)
    level = peewee.CharField(max_length=16)
    org_unit = CachedForeignKeyField(OrgUnit, null=True)
    assignee = peewee.ForeignKeyField(User, null=True)
    note = peewee.TextField(default="")
    data = JSONField(null=True)
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("ticket", "id"), False), (("action", "created_at"), False))


class Rating(BaseModel):
    """The reporter's rating (评单): 5 满意, 3 基本满意, 1 不满意. One per resolution round."""

    ticket = peewee.ForeignKeyField(Ticket, backref="ratings", on_delete="CASCADE")
    rater = peewee.ForeignKeyField(User)
    assignee = peewee.ForeignKeyField(User, null=True)
    score = peewee.IntegerField()
    comment = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=now, index=True)


class PointsEntry(BaseModel):
    """Append-only points ledger (量化积分). The unique key makes an award happen once."""

    user = peewee.ForeignKeyField(User, backref="points")
    ticket = peewee.ForeignKeyField(Ticket, null=True)
    reason = peewee.CharField(max_length=32)
    points = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=now, index=True)

    class Meta:
        indexes = ((("ticket", "reason"), True),)


class TicketSubscriber(BaseModel):
    """A neighbour who reported the same problem (+1) and follows this ticket."""

    ticket = peewee.ForeignKeyField(Ticket, backref="subscribers", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User)
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("ticket", "user"), True),)


class TicketAssist(BaseModel):
    """A unit attached to help (联合办理 / 多方助单)."""

    ticket = peewee.ForeignKeyField(Ticket, backref="assists", on_delete="CASCADE")
    work_unit = peewee.ForeignKeyField(WorkUnit, null=True)
    org_unit = peewee.ForeignKeyField(OrgUnit, null=True)
    created_at = peewee.DateTimeField(default=now)
