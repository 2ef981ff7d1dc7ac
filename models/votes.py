"""Owners' votes (业主共同决定事项): opening, the thresholds of 民法典 第278条, closing and the tally.

A vote belongs to one compound. At opening the roll is copied (VoteRoll), so a later import
does not move a running vote's denominators. Casting, changing and checking a receipt live in
models.ballots; the Chinese notices in models.vote_notices; the thresholds are data
(models/data/vote_rules.toml, with the text of the law).

Statuses: scheduled → open → closed. Every change writes a VoteEvent. Results (the tally) exist
only once a vote is closed; before that nobody, staff included, can read how anyone voted.
"""

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from functools import cache
from importlib import resources

import peewee

from models.clock import now
from models.db import BaseModel, JSONField, write_transaction
from models.enums import STAFF_ROLES
from models.errors import TicketError
from models.org import Compound, User
from models.outbox import outbox_batch
from models.owners import Household, head_shares, is_committee


class VoteStatus:
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


MAX_OPTIONS = 10
MAX_DAYS = 90
MIN_DURATION = timedelta(minutes=1)
REMIND_BEFORE = timedelta(hours=24)


class Vote(BaseModel):
    compound = peewee.ForeignKeyField(Compound, backref="votes", on_delete="CASCADE")
    question = peewee.CharField(max_length=200)
    options = JSONField()  # ["同意", "不同意", "弃权"]
    kind = peewee.CharField(max_length=16)  # a key of vote_rules.toml [kinds]
    allow_change = peewee.BooleanField(default=True)
    opens_at = peewee.DateTimeField()
    closes_at = peewee.DateTimeField(index=True)
    status = peewee.CharField(max_length=16, default=VoteStatus.SCHEDULED, index=True)
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=now)
    # Denominators, fixed at opening from the roll snapshot.
    total_area_x100 = peewee.BigIntegerField(default=0)
    total_heads = peewee.IntegerField(default=0)
    reminded_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    result = JSONField(null=True)
    tally_hash = peewee.CharField(max_length=64, null=True)

    @property
    def number(self) -> str:
        return f"V{self.id}"

    def is_open_at(self, at) -> bool:
        return self.status == VoteStatus.OPEN and self.opens_at <= at < self.closes_at


class VoteRoll(BaseModel):
    """The roll as it stood when the vote was created: who may vote, with what weight."""

    vote = peewee.ForeignKeyField(Vote, backref="roll", on_delete="CASCADE")
    household = peewee.ForeignKeyField(Household, on_delete="CASCADE")
    area_x100 = peewee.BigIntegerField()
    head_num = peewee.IntegerField()
    head_den = peewee.IntegerField()

    class Meta:
        indexes = ((("vote", "household"), True),)


class VoteEvent(BaseModel):
    """Who did what to a vote, when. Casts name the household, never the choice."""

    vote = peewee.ForeignKeyField(Vote, backref="events", on_delete="CASCADE")
    action = peewee.CharField(max_length=16)  # open, cast, change, remind, close
    actor = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    household = peewee.ForeignKeyField(Household, null=True, on_delete="SET NULL")
    note = peewee.CharField(max_length=200, default="")
    created_at = peewee.DateTimeField(default=now)


# ---------------------------------------------------------------- the rules, as data


@dataclass(frozen=True)
class Line:
    """A threshold: part/whole must reach `ratio` (inclusive: 以上) or pass it (过半数)."""

    ratio: Fraction
    inclusive: bool

    def met(self, part, whole) -> bool:
        if whole == 0:
            return False
        share = Fraction(part) / Fraction(whole)
        return share >= self.ratio if self.inclusive else share > self.ratio


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    items: tuple[int, ...]
    area: Line
    heads: Line


@dataclass(frozen=True)
class Rules:
    participation_area: Line
    participation_heads: Line
    kinds: dict[str, Kind]


def _line(table: dict, key: str) -> Line:
    return Line(Fraction(table[key]), bool(table[f"{key}_inclusive"]))


@cache
def rules() -> Rules:
    """The thresholds of 民法典 第278条 (models/data/vote_rules.toml)."""
    text = resources.files("models.data").joinpath("vote_rules.toml").read_text("utf-8")
    data = tomllib.loads(text)
    part = data["participation"]
    kinds = {
        code: Kind(code, k["name"], tuple(k["items"]), _line(k, "area"), _line(k, "heads"))
        for code, k in data["kinds"].items()
    }
    return Rules(_line(part, "area"), _line(part, "heads"), kinds)


def kind(code: str) -> Kind:
    try:
        return rules().kinds[code]
    except KeyError:
        names = "、".join(f"{k.code}（{k.name}）" for k in rules().kinds.values())
        raise TicketError(f"表决事项类型不对，可选：{names}。", "invalid") from None


# ---------------------------------------------------------------- who may do what


def may_manage(user: User, compound: Compound) -> bool:
    """Staff whose subtree holds the compound, or the compound's owners' committee."""
    if user.role in STAFF_ROLES and user.org_unit_id is not None:
        return compound.grid.path.startswith(user.org_unit.path)
    return is_committee(user, compound.id)


def require_manager(user: User, compound: Compound) -> None:
    if not may_manage(user, compound):
        raise TicketError(
            f"只有社区工作人员或{compound.name}业委会成员可以发起和查看表决进度。", "forbidden"
        )


def load_vote(vote_id) -> Vote:
    try:
        number = int(str(vote_id).lstrip("Vv"))
    except (TypeError, ValueError):
        raise TicketError("表决编号应该是数字，比如 V3。", "invalid") from None
    vote = Vote.get_or_none(Vote.id == number) if 0 < number < 2**62 else None
    if vote is None:
        raise TicketError(f"没有找到表决 V{number}。", "not_found")
    return vote


# ---------------------------------------------------------------- opening


def _clean(question: str, options: list[str]) -> tuple[str, list[str]]:
    question = " ".join((question or "").split())
    options = [" ".join(str(o).split()) for o in options or []]
    options = [o for o in options if o]
    if not question or len(question) > 200:
        raise TicketError("请写清楚要表决的问题（200字以内）。", "invalid")
    if not 2 <= len(options) <= MAX_OPTIONS or any(len(o) > 50 for o in options):
        raise TicketError(f"请给出2到{MAX_OPTIONS}个选项，每个不超过50字。", "invalid")
    if len(set(options)) != len(options):
        raise TicketError("选项不能重复。", "invalid")
    return question, options


def create_vote(actor: User, compound: Compound, question: str, options: list[str], *,
                kind_code: str = "ordinary", opens_at=None, closes_at=None,
                allow_change: bool = True) -> Vote:  # fmt: skip
    """Open (or schedule) a vote for one compound; owners are told when it opens."""
    from models.vote_notices import announce_open

    require_manager(actor, compound)
    question, options = _clean(question, options)
    kind(kind_code)
    at = now()
    latest = at + timedelta(days=MAX_DAYS)
    # Checked before any arithmetic: a date near year 9999 must be refused, not overflow.
    if (opens_at and opens_at > latest) or (closes_at and closes_at > latest):
        raise TicketError(f"开始和截止时间都要在{MAX_DAYS}天以内。", "invalid")
    opens_at = max(opens_at or at, at)
    if closes_at is None or closes_at < opens_at + MIN_DURATION:
        raise TicketError("截止时间要晚于开始时间至少1分钟。", "invalid")
    if closes_at > opens_at + timedelta(days=MAX_DAYS):
        raise TicketError(f"一次表决最长{MAX_DAYS}天。", "invalid")
    shares = head_shares(compound.id)
    if not shares:
        raise TicketError(f"{compound.name}还没有导入业主名册，不能发起表决。", "conflict")
    households = {h.id: h for h in Household.select().where(Household.compound == compound)}
    status = VoteStatus.OPEN if opens_at <= at else VoteStatus.SCHEDULED
    with write_transaction(), outbox_batch():
        vote = Vote.create(
            compound=compound, question=question, options=options, kind=kind_code,
            allow_change=allow_change, opens_at=opens_at, closes_at=closes_at, status=status,
            created_by=actor, created_at=at,
            total_area_x100=sum(h.area_x100 for h in households.values()),
            total_heads=int(sum(shares.values())),
        )  # fmt: skip
        VoteRoll.insert_many(
            [
                {
                    "vote": vote.id,
                    "household": hid,
                    "area_x100": households[hid].area_x100,
                    "head_num": share.numerator,
                    "head_den": share.denominator,
                }
                for hid, share in shares.items()
            ]  # fmt: skip
        ).execute()
        VoteEvent.create(vote=vote, action="create", actor=actor, created_at=at,
                         note=f"{kind(kind_code).name}，{len(options)}个选项")  # fmt: skip
        if status == VoteStatus.OPEN:
            VoteEvent.create(vote=vote, action="open", actor=actor, created_at=at)
            announce_open(vote)
    return vote


def open_due(vote: Vote) -> bool:
    """A scheduled vote whose time has come opens (once, however many schedulers run)."""
    from models.vote_notices import announce_open

    at = now()
    with write_transaction(), outbox_batch():
        moved = (
            Vote.update(status=VoteStatus.OPEN)
            .where(
                (Vote.id == vote.id) & (Vote.status == VoteStatus.SCHEDULED) & (Vote.opens_at <= at)
            )  # fmt: skip
            .execute()
        )
        if moved:
            vote.status = VoteStatus.OPEN
            VoteEvent.create(vote=vote, action="open", created_at=at)
            announce_open(vote)
    return bool(moved)


def remind_due(vote: Vote) -> int:
    """Remind owners who have not voted, once, REMIND_BEFORE the close; returns how many."""
    from models.vote_notices import remind_missing

    at = now()
    with write_transaction(), outbox_batch():
        moved = (
            Vote.update(reminded_at=at)
            .where(
                (Vote.id == vote.id)
                & (Vote.status == VoteStatus.OPEN)
                & Vote.reminded_at.is_null()
                & (Vote.closes_at > at)
            )  # fmt: skip
            .execute()
        )
        if not moved:
            return 0
        vote.reminded_at = at
        count = remind_missing(vote)
        VoteEvent.create(vote=vote, action="remind", created_at=at, note=f"{count}人")
    return count


# ---------------------------------------------------------------- closing and the tally


def close_due(vote: Vote) -> bool:
    """Close a vote whose time is up: count, publish the tally hash, tell the owners."""
    from models.vote_notices import announce_result

    at = now()
    with write_transaction(), outbox_batch():
        # On PostgreSQL this UPDATE waits for casts holding the vote row FOR SHARE, so every
        # ballot committed before the close is in the count below (READ COMMITTED re-reads).
        moved = (
            Vote.update(status=VoteStatus.CLOSED, closed_at=at)
            .where(
                (Vote.id == vote.id) & (Vote.status == VoteStatus.OPEN) & (Vote.closes_at <= at)
            )  # fmt: skip
            .execute()
        )
        if not moved:
            return False
        vote = Vote.get_by_id(vote.id)
        from models.ballots import reshuffle

        reshuffle(vote)
        result = tally(vote)
        Vote.update(result=result, tally_hash=result["tally_hash"]).where(
            Vote.id == vote.id
        ).execute()
        vote.result, vote.tally_hash = result, result["tally_hash"]
        VoteEvent.create(vote=vote, action="close", created_at=at,
                         note=f"tally {result['tally_hash'][:16]}")  # fmt: skip
        announce_result(vote)
    return True


def published_lines(vote: Vote) -> list[str]:
    """The published tally: one "option_number:receipt_hash" line per ballot, sorted."""
    from models.ballots import Ballot

    rows = Ballot.select(Ballot.option, Ballot.receipt_hash).where(Ballot.vote == vote).tuples()
    return sorted(f"{option + 1}:{receipt}" for option, receipt in rows)


def tally_digest(lines: list[str]) -> str:
    """SHA-256 over the sorted lines joined by newlines: anyone can recompute it."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def tally(vote: Vote) -> dict:
    """Count a vote with exact arithmetic and judge it against 第278条."""
    from models.ballots import Ballot, Participation

    option_area = [0] * len(vote.options)
    option_heads = [Fraction(0)] * len(vote.options)
    option_count = [0] * len(vote.options)
    for option, area, num, den in (
        Ballot.select(Ballot.option, Ballot.area_x100, Ballot.head_num, Ballot.head_den)
        .where(Ballot.vote == vote)
        .tuples()
    ):
        option_area[option] += area
        option_heads[option] += Fraction(num, den)
        option_count[option] += 1
    part_area, part_heads, part_count = 0, Fraction(0), 0
    for area, num, den in (
        VoteRoll.select(VoteRoll.area_x100, VoteRoll.head_num, VoteRoll.head_den)
        .join(
            Participation,
            on=(
                (Participation.vote == VoteRoll.vote)
                & (Participation.household == VoteRoll.household)
            ),
        )  # fmt: skip
        .where(VoteRoll.vote == vote)
        .tuples()
    ):
        part_area += area
        part_heads += Fraction(num, den)
        part_count += 1
    return judge(vote, option_area, option_heads, option_count, part_area, part_heads, part_count)


def judge(vote, option_area, option_heads, option_count, part_area, part_heads, part_count):
    """The decision: quorum on the whole roll, then each option on the participants."""
    r, k = rules(), kind(vote.kind)
    quorum = r.participation_area.met(part_area, vote.total_area_x100) and (
        r.participation_heads.met(part_heads, vote.total_heads)
    )
    passed = None
    if quorum:
        for i in range(len(vote.options)):
            if k.area.met(option_area[i], part_area) and k.heads.met(option_heads[i], part_heads):
                passed = i
                break
    lines = published_lines(vote)
    return {
        "kind": k.code,
        "quorum_met": quorum,
        "passed_option": None if passed is None else passed + 1,
        "participation": {
            "households": part_count,
            "area_x100": part_area,
            "heads": str(part_heads),
            "total_area_x100": vote.total_area_x100,
            "total_heads": vote.total_heads,
        },  # fmt: skip
        "options": [
            {
                "number": i + 1,
                "text": text,
                "ballots": option_count[i],
                "area_x100": option_area[i],
                "heads": str(option_heads[i]),
            }
            for i, text in enumerate(vote.options)
        ],  # fmt: skip
        "ballots": len(lines),
        "tally_hash": tally_digest(lines),
    }


def turnout(vote: Vote) -> dict:
    """Who has voted so far, in figures (never what): for staff and the committee."""
    from models.ballots import Participation

    households = Participation.select().where(Participation.vote == vote).count()
    return {"households": households, "roll": VoteRoll.select().where(
        VoteRoll.vote == vote).count()}  # fmt: skip


def due_votes(status: str, column, at, limit: int = 50):
    return list(
        Vote.select().where((Vote.status == status) & (column <= at)).order_by(column).limit(limit)
    )
