"""Who may see what of a ticket: one policy for chat, the API, Open311, digests and logs.

Personal data (DESIGN §10) is the reporter's name and phone, the exact place (building, unit,
room, the map pin) and the resident's own words and photos. Each viewer stands in one
`Relation` to a ticket, and `RULES` says how much of each field that relation sees:

| relation | who | reporter name/phone | place | resident's words | photos | pin | other people |
|---|---|---|---|---|---|---|---|
| reporter | filed it | clear (their own) | exact | clear | yes | exact | assignee clear once taken |
| assignee | current assignee, after taking it | clear | exact | clear | yes | exact | clear |
| candidate | offered it and not yet taken (pool, their unit, dispatched to them), or its assignee once it is closed | masked | building | masked | yes | compound | masked |
| staff | dispatcher or supervisor whose subtree holds it | masked | building | masked | yes | compound | masked |
| follower | a neighbour who +1'd it | hidden | compound | masked | yes | compound | masked |
| outsider | anyone else signed in | hidden | compound | hidden | no | compound | hidden |
| public | Open311 and anything without a viewer | hidden | compound | hidden¹ | no¹ | compound | hidden |

¹ masked words and photos when the operator sets OPEN311_PUBLIC_TEXT.

"Masked" is 张** for a name, 138****5678 for a phone, and the words with phone numbers, ID
numbers, e-mail addresses and unit/room numbers starred out (`mask_text`). "Building" is the
compound and building (幸福里小区3号楼), never the unit or room; "compound" is the compound's
name (or the grid's, when the place is not in a known compound) and the compound's own pin.

Whether someone may open a ticket at all is models.access; this module only says how much of
it they see. Logs get `install_log_redaction()`: every record has phone numbers, ID numbers,
e-mail addresses and room numbers starred out before any handler sees it, and peewee's SQL
debug log loses its parameters (residents' words); no code logs a resident's text.
"""

import logging
import re
from dataclasses import dataclass
from enum import StrEnum

from models.enums import ASSIGNEE_ROLES, STAFF_ROLES, State

# -- masking helpers ---------------------------------------------------------------------------

# Mainland mobiles, landlines with an area code, 400/800 numbers and any other run of 7+
# digits (ID card numbers, bank cards, numbers written without separators).
PHONE = re.compile(
    r"(?<![\dA-Za-z])(?:"
    r"1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"
    r"|0\d{2,3}[\s-]?\d{7,8}"
    r"|[48]00[\s-]?\d{3}[\s-]?\d{4}"
    r"|\d{6,}[\dXx]"
    r")(?!\d)"
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 3-2-301 (building-unit-room), 2单元, 301室 / 301房 / 1203号 / 501户, 单元301.
DASHED_ROOM = re.compile(r"(?<!\d)(\d{1,3})-(\d{1,2})-(\d{2,4})(?!\d)")
UNIT = re.compile(r"\d{1,2}(?=\s*单元)")
# 号 needs three or four digits: 16号 is a date, 12号楼 a building.
ROOM = re.compile(
    r"(?<!\d)\d{2,4}(?=\s*(?:室|房|户))"
    r"|(?<!\d)\d{3,4}(?=\s*号(?![楼院栋]))"
    r"|(?<=单元)\s*\d{2,4}(?!\d)"
)


def mask_name(name: str) -> str:
    """张三丰 → 张**: the surname and one star per further character."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678; short or odd numbers become ****; no number stays empty."""
    digits = re.sub(r"[\s-]", "", phone or "")
    if not digits:
        return ""
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def mask_text(text: str) -> str:
    """Free text with phone/ID numbers, e-mail addresses and unit/room numbers starred out."""
    if not text:
        return ""
    text = PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    text = EMAIL.sub(lambda m: "***@" + m.group(0).split("@", 1)[1], text)
    text = DASHED_ROOM.sub(lambda m: f"{m.group(1)}-*-***", text)
    text = UNIT.sub("*", text)
    return ROOM.sub("***", text)


# -- the policy --------------------------------------------------------------------------------


class Relation(StrEnum):
    REPORTER = "reporter"
    ASSIGNEE = "assignee"
    CANDIDATE = "candidate"
    STAFF = "staff"
    FOLLOWER = "follower"
    OUTSIDER = "outsider"
    PUBLIC = "public"


class Detail(StrEnum):
    CLEAR = "clear"
    MASKED = "masked"
    HIDDEN = "hidden"


class PlaceLevel(StrEnum):
    EXACT = "exact"  # compound, building, unit, room
    BUILDING = "building"  # compound and building
    COMPOUND = "compound"  # compound (or grid) only


@dataclass(frozen=True)
class Rule:
    """How much of each personal field one relation sees."""

    contact: Detail  # the reporter's name and phone
    place: PlaceLevel
    words: Detail  # the resident's text and the notes on the timeline
    photos: bool
    exact_pin: bool  # the ticket's own lat/lng, else the compound's
    people: Detail  # the assignee and the other people on the timeline


RULES = {
    Relation.REPORTER: Rule(Detail.CLEAR, PlaceLevel.EXACT, Detail.CLEAR, True, True, Detail.MASKED),
    Relation.ASSIGNEE: Rule(Detail.CLEAR, PlaceLevel.EXACT, Detail.CLEAR, True, True, Detail.CLEAR),
    Relation.CANDIDATE: Rule(
        Detail.MASKED, PlaceLevel.BUILDING, Detail.MASKED, True, False, Detail.MASKED
    ),
    Relation.STAFF: Rule(Detail.MASKED, PlaceLevel.BUILDING, Detail.MASKED, True, False, Detail.MASKED),
    Relation.FOLLOWER: Rule(
        Detail.HIDDEN, PlaceLevel.COMPOUND, Detail.MASKED, True, False, Detail.MASKED
    ),
    Relation.OUTSIDER: Rule(
        Detail.HIDDEN, PlaceLevel.COMPOUND, Detail.HIDDEN, False, False, Detail.HIDDEN
    ),
    Relation.PUBLIC: Rule(Detail.HIDDEN, PlaceLevel.COMPOUND, Detail.HIDDEN, False, False, Detail.HIDDEN),
}  # fmt: skip
# What the public sees when the operator turns OPEN311_PUBLIC_TEXT on.
PUBLIC_WITH_TEXT = Rule(
    Detail.HIDDEN, PlaceLevel.COMPOUND, Detail.MASKED, True, False, Detail.HIDDEN
)
# The assignee is "current" (and sees the reporter) from taking it until it is closed.
WORKING_STATES = (State.TAKEN, State.RESOLVED)


def relation(viewer, ticket) -> Relation:
    """How `viewer` (a User, or None for the public) stands to `ticket`."""
    from models.access import in_scope, is_subscriber

    if viewer is None:
        return Relation.PUBLIC
    if viewer.id == ticket.reporter_id:
        return Relation.REPORTER
    if viewer.id == ticket.assignee_id:
        return Relation.ASSIGNEE if ticket.state in WORKING_STATES else Relation.CANDIDATE
    if viewer.role in STAFF_ROLES:
        return Relation.STAFF if in_scope(viewer, ticket) else Relation.OUTSIDER
    if viewer.role in ASSIGNEE_ROLES and ticket.is_open and ticket.assignee_id is None:
        same_unit = ticket.work_unit_id is not None and ticket.work_unit_id == viewer.work_unit_id
        if ticket.in_pool or same_unit:
            return Relation.CANDIDATE
    if is_subscriber(viewer, ticket):
        return Relation.FOLLOWER
    return Relation.OUTSIDER


def place_at(ticket, level: PlaceLevel) -> str:
    """The ticket's place written down to `level` (the compound, or the grid without one)."""
    if level == PlaceLevel.EXACT:
        return ticket.place or _area_name(ticket)
    if not ticket.compound_id:
        return _area_name(ticket)
    if level == PlaceLevel.BUILDING and ticket.building:
        return f"{ticket.compound.name}{ticket.building}号楼"
    return ticket.compound.name


def _area_name(ticket) -> str:
    return ticket.grid.name if ticket.grid_id else ""


class TicketView:
    """One ticket as one viewer may see it. Every channel reads personal fields through this."""

    def __init__(self, ticket, viewer=None, *, public_text: bool = False, as_relation=None):
        self.ticket = ticket
        self.viewer = viewer
        self.relation = as_relation or relation(viewer, ticket)
        public = self.relation == Relation.PUBLIC and public_text
        self.rule = PUBLIC_WITH_TEXT if public else RULES[self.relation]

    @classmethod
    def as_relation(cls, ticket, rel: Relation) -> "TicketView":
        """The ticket as anyone standing in `rel` sees it (a push to a group of staff)."""
        return cls(ticket, None, as_relation=rel)

    @property
    def clear(self) -> bool:
        """True for the reporter and the working assignee: they see each other and the place."""
        return self.rule.contact == Detail.CLEAR

    # the reporter

    @property
    def reporter_name(self) -> str | None:
        return self._detail(self.ticket.reporter.name, self.rule.contact, mask_name)

    @property
    def reporter_phone(self) -> str | None:
        return self._detail(self.ticket.reporter.phone, self.rule.contact, mask_phone)

    # the assignee (the reporter sees them in clear once they have taken it)

    def _assignee_detail(self) -> Detail:
        if self.relation == Relation.REPORTER and self.ticket.state in WORKING_STATES:
            return Detail.CLEAR
        if self.ticket.assignee_id is not None and self.ticket.assignee_id == getattr(
            self.viewer, "id", None
        ):
            return Detail.CLEAR
        return self.rule.people

    @property
    def assignee_clear(self) -> bool:
        return self._assignee_detail() == Detail.CLEAR

    @property
    def assignee_name(self) -> str | None:
        if self.ticket.assignee_id is None:
            return None
        name = self.ticket.assignee.name or "志愿者"
        return self._detail(name, self._assignee_detail(), mask_name)

    @property
    def assignee_phone(self) -> str | None:
        if self.ticket.assignee_id is None:
            return None
        return self._detail(self.ticket.assignee.phone, self._assignee_detail(), mask_phone)

    def person_name(self, user) -> str | None:
        """Someone named on the timeline (an actor): themselves and the entitled in clear."""
        if user is None:
            return None
        if user.id == getattr(self.viewer, "id", None):
            return user.name or "我"
        if user.id == self.ticket.assignee_id:
            return self.assignee_name
        if user.id == self.ticket.reporter_id:
            return self.reporter_name
        return self._detail(user.name, self.rule.people, mask_name)

    # the place

    @property
    def place(self) -> str:
        return place_at(self.ticket, self.rule.place)

    @property
    def pin(self) -> tuple[float | None, float | None]:
        """(lat, lng): the ticket's own pin for the entitled, the compound's for anyone else."""
        t = self.ticket
        if self.rule.exact_pin and t.lat is not None:
            return t.lat, t.lng
        if t.compound_id and t.compound.lat is not None:
            return t.compound.lat, t.compound.lng
        if t.lat is None:
            return None, None
        # No compound: about a kilometre is as close as anyone else gets.
        return round(t.lat, 2), round(t.lng, 2)

    # the resident's words and photos

    @property
    def text(self) -> str:
        return self.words(self.ticket.text)

    def words(self, text: str) -> str:
        """Words written on this ticket (the report, a note) as this viewer may read them."""
        return self._detail(text or "", self.rule.words, mask_text) or ""

    @property
    def photos(self) -> list:
        return list(self.ticket.photos or []) if self.rule.photos else []

    @staticmethod
    def _detail(value: str, detail: Detail, mask) -> str | None:
        if detail == Detail.HIDDEN:
            return None
        return value if detail == Detail.CLEAR else mask(value)


def see(ticket, viewer=None, *, public_text: bool = False) -> TicketView:
    """`ticket` as `viewer` may see it (None: the public)."""
    return TicketView(ticket, viewer, public_text=public_text)


# -- logs ----------------------------------------------------------------------------------------

_previous_factory = None


# Logs keep timestamps, ids and nonces readable: only what looks like a phone or ID number.
LOG_NUMBER = re.compile(
    r"(?<![\dA-Za-z])(?:"
    r"1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"
    r"|0\d{2,3}-\d{7,8}"
    r"|\d{17}[\dXx]"
    r")(?!\d)"
)


# Characters without which UNIT and ROOM cannot match: most log lines (every access-log line)
# have none, and a substring test is far cheaper than a regex scanning the line.
_ROOM_MARKERS = frozenset("室房户号元")


def redact(text: str) -> str:
    """A log line without phone/ID numbers, e-mail addresses or room numbers."""
    if not text:
        return ""
    text = LOG_NUMBER.sub(lambda m: mask_phone(m.group(0)), text)
    if "@" in text:
        text = EMAIL.sub(lambda m: "***@" + m.group(0).split("@", 1)[1], text)
    text = DASHED_ROOM.sub(lambda m: f"{m.group(1)}-*-***", text)
    if _ROOM_MARKERS.isdisjoint(text):
        return text
    return ROOM.sub("***", UNIT.sub("*", text))


def _redacting_factory(*args, **kwargs) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    if record.name.startswith("peewee") and isinstance(record.msg, tuple) and record.msg:
        # peewee's DEBUG log is (sql, params): the params are residents' words; keep the SQL.
        sql, params = record.msg[0], record.msg[1] if len(record.msg) > 1 else ()
        record.msg, record.args = f"{sql} -- {len(params or ())} parameter(s) withheld", None
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string stays the handler's problem, as usual
        return record
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


def install_log_redaction() -> None:
    """Star out personal numbers in every log record of this process, whoever formats it.

    A record factory (not a handler filter) so it also covers handlers added later by gunicorn
    or a JSON formatter. Idempotent.
    """
    global _previous_factory
    if _previous_factory is not None:
        return
    _previous_factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(_redacting_factory)
