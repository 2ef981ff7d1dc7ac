"""The closed vocabularies of the domain (DESIGN §3, §4). Stored as strings."""

from enum import StrEnum


class State(StrEnum):
    SUBMITTED = "submitted"
    DISPATCHED = "dispatched"
    TAKEN = "taken"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATES = (State.SUBMITTED, State.DISPATCHED, State.TAKEN)
ACTIVE_STATES = (*OPEN_STATES, State.RESOLVED)


class Urgency(StrEnum):
    URGENT = "urgent"
    DIFFICULT = "difficult"
    HOT = "hot"
    NORMAL = "normal"


class Level(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    CITY = "city"

    @property
    def rank(self) -> int:
        return LEVEL_ORDER.index(self)

    def up(self) -> "Level | None":
        """The next level up the tree, or None at the city."""
        i = self.rank + 1
        return LEVEL_ORDER[i] if i < len(LEVEL_ORDER) else None


LEVEL_ORDER = (Level.GRID, Level.COMMUNITY, Level.STREET, Level.CITY)


class Role(StrEnum):
    RESIDENT = "resident"
    VOLUNTEER = "volunteer"
    WORKER = "worker"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"


ASSIGNEE_ROLES = (Role.VOLUNTEER, Role.WORKER)
STAFF_ROLES = (Role.DISPATCHER, Role.SUPERVISOR)


class Action(StrEnum):
    SUBMIT = "submit"
    DISPATCH = "dispatch"
    TAKE = "take"
    REASSIGN = "reassign"
    HAND_BACK = "hand_back"
    PROGRESS = "progress"
    RESOLVE = "resolve"
    RATE = "rate"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    ASSIST = "assist"
    URGE = "urge"
    REMIND = "remind"
    CANCEL = "cancel"
    CLOSE = "close"
    CLOSE_UNRATED = "close_unrated"
    MERGE = "merge"
    SUBSCRIBE = "subscribe"
    FOLLOW_UP = "follow_up"
    RATING_REMINDER = "rating_reminder"
    RECATEGORIZE = "recategorize"
    UNMERGE = "unmerge"
    SUPPLEMENT = "supplement"


class Step(StrEnum):
    """Which per-step clock is running (DESIGN §6)."""

    DISPATCH = "dispatch"
    TAKE = "take"
    RESOLVE = "resolve"
    RATE = "rate"


class OutboundStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class Channel(StrEnum):
    AUTO = "auto"  # customer-service inside the 48 h window, template outside it
    CS = "cs"
    TEMPLATE = "template"
    SUBSCRIBE = "subscribe"
    # Kept for the mini-program to show (GET /api/v1/notices): for someone WeChat will not let
    # us message now (no Official Account identity, no subscribe grant left).
    NOTE = "note"


class UnitKind(StrEnum):
    PROPERTY = "property"
    DEPARTMENT = "department"


class TicketKind(StrEnum):
    """Where a ticket came from: a reported problem, a 微心愿, or a booking from the service menu."""

    REPORT = "report"
    WISH = "wish"
    BOOKING = "booking"
