"""Casting, changing and checking ballots, with choices kept apart from voters by design.

Two tables, with nothing that joins them:
- Participation (vote, household, voter, cast time): who voted, auditable by staff;
- Ballot (random id, vote, option, weights, receipt_hash, token_hash): what was chosen.
  No household, no user, no timestamp; the primary key is random, and on SQLite the table is
  WITHOUT ROWID so there is no insertion-ordered rowid either.

The link exists only in the voter's receipt code `c` (about 59 random bits, shown once):
- receipt_hash = SHA-256("sidan-receipt:{vote}:{c}") is published with the tally, so anyone
  holding `c` can find their ballot and the option it was counted for;
- token_hash = SHA-256("sidan-ballot:{vote}:{household}:{c}") lets that household (and only
  with `c`) replace its own ballot while the vote is open. Without `c`, nobody can tell which
  ballot is whose: testing a household against a token_hash needs the 59-bit secret.

One counted ballot per household: the Participation row is unique on (vote, household), and
the ballot is written in the same transaction; a second cast fails on the constraint and
rolls back whole (a unique constraint as control flow).

Limits, stated plainly: the area weight on a ballot can narrow it to the households with that
exact area (weighted counting needs the weight; nothing we serve shows per-ballot weights); while
a vote is open, someone with SQL access to PostgreSQL can pair rows written together (same xmin,
neighbouring ctid; `reshuffle` rewrites the ballots at the close), and the WAL does the same; a receipt proves how one voted after the
close, so it does not stop vote buying; the receipt code sits in the voter's chat history.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import peewee

from models.clock import now
from models.db import BaseModel, is_postgres, write_transaction
from models.errors import TicketError
from models.org import User
from models.owners import CODE_ALPHABET, Household
from models.votes import Vote, VoteEvent, VoteRoll, VoteStatus, load_vote

RECEIPT_LEN = 12


class Participation(BaseModel):
    vote = peewee.ForeignKeyField(Vote, backref="participations", on_delete="CASCADE")
    household = peewee.ForeignKeyField(Household, on_delete="CASCADE")
    voter = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    cast_at = peewee.DateTimeField(default=now)
    changes = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("vote", "household"), True),)


def _ballot_id() -> str:
    return uuid.uuid4().hex


class Ballot(BaseModel):
    id = peewee.CharField(max_length=32, primary_key=True, default=_ballot_id)
    vote = peewee.ForeignKeyField(Vote, backref="ballots", on_delete="CASCADE")
    option = peewee.IntegerField()  # index into Vote.options
    area_x100 = peewee.BigIntegerField()
    head_num = peewee.IntegerField()
    head_den = peewee.IntegerField()
    receipt_hash = peewee.CharField(max_length=64, unique=True)
    token_hash = peewee.CharField(max_length=64, unique=True)

    @classmethod
    def create_table(cls, safe=True, **options):
        # WITHOUT ROWID is SQLite's (no insertion-ordered rowid); PostgreSQL has no such clause.
        cls._meta.without_rowid = not is_postgres()
        return super().create_table(safe, **options)


@dataclass(frozen=True)
class Receipt:
    household: str  # label, shown only to the voter
    code: str


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(RECEIPT_LEN))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalize_code(code: str) -> str:
    raw = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == RECEIPT_LEN else raw


def receipt_hash(vote_id: int, code: str) -> str:
    return hashlib.sha256(f"sidan-receipt:{vote_id}:{normalize_code(code)}".encode()).hexdigest()


def token_hash(vote_id: int, household_id: int, code: str) -> str:
    text = f"sidan-ballot:{vote_id}:{household_id}:{normalize_code(code)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_open_vote(vote_id) -> Vote:
    """Read the vote inside the cast's transaction and check it takes ballots now.

    On PostgreSQL the row is held FOR SHARE until commit, so a close waits for casts in flight
    (many casts share the lock; SQLite's BEGIN IMMEDIATE already serialises writers).
    """
    query = Vote.select().where(Vote.id == load_vote(vote_id).id)
    if is_postgres():
        query = query.for_update("FOR SHARE")
    vote = query.get()
    at = now()
    if vote.status == VoteStatus.CLOSED or at >= vote.closes_at:
        raise TicketError(f"表决 {vote.number} 已经截止，不能再投票了。", "conflict")
    if not vote.is_open_at(at):
        raise TicketError(f"表决 {vote.number} 还没有开始。", "conflict")
    return vote


def _voter_households(vote: Vote, user: User, household_ids=None) -> list:
    rows = list(
        Household.select(Household, VoteRoll)
        .join(VoteRoll, on=(VoteRoll.household == Household.id), attr="roll_row")
        .where((VoteRoll.vote == vote) & (Household.user == user))
        .order_by(Household.label)
    )
    if household_ids:
        wanted = {int(h) for h in household_ids}
        rows = [h for h in rows if h.id in wanted]
    if not rows:
        raise TicketError(
            "您还没有绑定这个小区的房屋，不能参加这次表决。请发送“绑定 房屋码”。", "forbidden"
        )
    return [(h, h.roll_row) for h in rows]


def _check_option(vote: Vote, option: int) -> int:
    if not isinstance(option, int) or not 1 <= option <= len(vote.options):
        raise TicketError(f"请选择1到{len(vote.options)}之间的选项编号。", "invalid")
    return option - 1


def cast(vote_id, user: User, option: int, household_ids=None) -> list[Receipt]:
    """Cast one ballot for each of the user's households that has not voted yet.

    All or nothing: if another cast for one of them got in first, nothing is written and the
    voter is told they have already voted.
    """
    try:
        with write_transaction():
            vote = _lock_open_vote(vote_id)
            index = _check_option(vote, option)
            pairs = _voter_households(vote, user, household_ids)
            voted = {
                p.household_id for p in Participation.select(Participation.household).where(
                    (Participation.vote == vote)
                    & Participation.household.in_([h.id for h, _ in pairs]))
            }  # fmt: skip
            pairs = [(h, r) for h, r in pairs if h.id not in voted]
            if not pairs:
                raise _already(vote)
            at = now()
            receipts = []
            for household, roll in pairs:
                Participation.create(vote=vote, household=household, voter=user, cast_at=at)
                code = new_receipt_code()
                Ballot.create(
                    vote=vote, option=index, area_x100=roll.area_x100, head_num=roll.head_num,
                    head_den=roll.head_den, receipt_hash=receipt_hash(vote.id, code),
                    token_hash=token_hash(vote.id, household.id, code),
                )  # fmt: skip
                VoteEvent.create(vote=vote, action="cast", actor=user, household=household,
                                 created_at=at)  # fmt: skip
                receipts.append(Receipt(household.label, code))
            return receipts
    except peewee.IntegrityError:
        # A concurrent cast for the same household committed first; ours rolled back whole.
        raise _already(load_vote(vote_id)) from None


def _already(vote: Vote) -> TicketError:
    how = "如需改票，请用回执码改票。" if vote.allow_change else "这次表决投出后不能修改。"
    return TicketError(f"您的房屋已经在表决 {vote.number} 中投过票了。{how}", "conflict")


def change(vote_id, user: User, option: int, code: str) -> Receipt:
    """Replace the choice of the user's household whose ballot the receipt code opens."""
    with write_transaction():
        vote = _lock_open_vote(vote_id)
        if not vote.allow_change:
            raise TicketError(f"表决 {vote.number} 投出后不能修改。", "conflict")
        index = _check_option(vote, option)
        for household, _roll in _voter_households(vote, user):
            changed = (
                Ballot.update(option=index)
                .where(
                    (Ballot.vote == vote)
                    & (Ballot.token_hash == token_hash(vote.id, household.id, code))
                )  # fmt: skip
                .execute()
            )
            if changed:
                Participation.update(changes=Participation.changes + 1).where(
                    (Participation.vote == vote) & (Participation.household == household)
                ).execute()
                VoteEvent.create(vote=vote, action="change", actor=user, household=household,
                                 created_at=now())  # fmt: skip
                return Receipt(household.label, normalize_code(code))
    raise TicketError("回执码不对，或者不是您房屋的回执码。请核对后再试。", "forbidden")


@dataclass(frozen=True)
class Check:
    vote: Vote
    found: bool
    option: int | None  # 1-based, only once the vote is closed


def check_receipt(code: str, vote_id=None) -> Check | None:
    """Find the ballot a receipt code stands for; its option is told only after the close."""
    code = normalize_code(code)
    if len(code) != RECEIPT_LEN + 2:
        raise TicketError("回执码是12位字母数字，比如 K7Q2-M9XD-3FPA。", "invalid")
    votes = [load_vote(vote_id)] if vote_id else list(
        Vote.select().where(Vote.status != VoteStatus.SCHEDULED).order_by(Vote.id.desc()).limit(50)
    )  # fmt: skip
    for vote in votes:
        ballot = Ballot.get_or_none(Ballot.receipt_hash == receipt_hash(vote.id, code))
        if ballot is not None:
            closed = vote.status == VoteStatus.CLOSED
            return Check(vote, True, ballot.option + 1 if closed else None)
    return None


def reshuffle(vote: Vote) -> int:
    """Rewrite a closed vote's ballots with new random ids, in random order, in one statement.

    While a vote is open, PostgreSQL's system columns tie each ballot to the transaction that
    also wrote its participation (xmin) and keep insertion order (ctid). Rewriting them all at
    the close gives every ballot the same xmin and a random position; the old row versions are
    dead and go at the next VACUUM.
    """
    rows = list(Ballot.select().where(Ballot.vote == vote).dicts())
    if not rows:
        return 0
    Ballot.delete().where(Ballot.vote == vote).execute()
    for row in rows:
        row["id"] = _ballot_id()
    rows.sort(key=lambda row: row["id"])
    for start in range(0, len(rows), 500):
        Ballot.insert_many(rows[start : start + 500]).execute()
    return len(rows)


def participants(vote: Vote) -> list[Participation]:
    """Who voted (household, voter, time): the audit trail, without any choice."""
    return list(
        Participation.select(Participation, Household)
        .join(Household)
        .where(Participation.vote == vote)
        .order_by(Household.label)
    )


def has_voted(vote: Vote, household_ids: list[int]) -> set[int]:
    return {
        p.household_id for p in Participation.select(Participation.household).where(
            (Participation.vote == vote) & Participation.household.in_(household_ids))
    }  # fmt: skip
