"""The owner roll (业主名册): households with their exclusive area, their owners, and the WeChat
users who vote for them.

Counting rules (民法典 第278条 with 最高人民法院《关于审理建筑物区分所有权纠纷案件适用法律若干
问题的解释》第八、九条):
- area: a household's exclusive floor area (专有部分面积), kept in hundredths of a square metre
  (integers: thresholds are compared exactly, never with floats);
- headcount: one 专有部分 counts as one owner, and one owner holding several 专有部分 counts as
  one person. Households are grouped by shared owners (co-owners of one flat are one person;
  someone owning two flats is one person): each group counts 1 in the headcount, split evenly
  over its households, so a household carries 1/k of a person (k = flats in its group);
- one ballot per household, whoever of its co-owners holds the binding.

A household is bound to one WeChat user (the one who votes for it) by a one-use household code
(`绑定 CODE` in chat, POST /api/v1/owners/bind) or by the operator (`sidan owners bind`).
"""

import csv
import io
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import peewee

from models.clock import now
from models.db import BaseModel, write_transaction
from models.errors import TicketError
from models.org import Compound, User, mask_phone

# Codes people type: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BIND_CODE_LEN = 8
MAX_AREA_X100 = 1_000_000 * 100  # 1,000,000 m²: anything larger is a typo
MAX_IMPORT_ROWS = 50_000


class Household(BaseModel):
    """One 专有部分 (a flat, a shop) in a compound."""

    compound = peewee.ForeignKeyField(Compound, backref="households", on_delete="CASCADE")
    label = peewee.CharField(max_length=40)  # building-unit-room, e.g. "3-1-402"
    area_x100 = peewee.BigIntegerField()  # exclusive area in hundredths of a m²
    bind_code = peewee.CharField(max_length=16, null=True, unique=True)
    user = peewee.ForeignKeyField(User, null=True, backref="households", on_delete="SET NULL")
    bound_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("compound", "label"), True),)

    @property
    def area_text(self) -> str:
        return f"{Decimal(self.area_x100) / 100:.2f}"


class Owner(BaseModel):
    """A person on the roll of one compound, known by phone (the import's identity key)."""

    compound = peewee.ForeignKeyField(Compound, backref="owners", on_delete="CASCADE")
    name = peewee.CharField(max_length=50)
    phone = peewee.CharField(max_length=32)
    # 业主委员会成员: may open votes and keep the 议事会 record for the compound.
    is_committee = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("compound", "phone"), True),)


class Ownership(BaseModel):
    owner = peewee.ForeignKeyField(Owner, backref="ownerships", on_delete="CASCADE")
    household = peewee.ForeignKeyField(Household, backref="ownerships", on_delete="CASCADE")

    class Meta:
        indexes = ((("owner", "household"), True),)


def new_code(length: int = BIND_CODE_LEN) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def parse_area(text: str) -> int:
    """'89.5' → 8950 (hundredths of a m²); ValueError on anything else."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise ValueError("area is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError("area must be a positive number")
    x100 = value * 100
    if x100 != x100.to_integral_value():
        raise ValueError("area has more than 2 decimals")
    if x100 > MAX_AREA_X100:
        raise ValueError("area is implausibly large")
    return int(x100)


# ---------------------------------------------------------------- import


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    households_created: int = 0
    households_updated: int = 0
    owners_created: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    codes: list[tuple[str, str, str]] = field(default_factory=list)  # compound, label, code

    def lines(self) -> list[str]:
        out = [
            f"rows read: {self.rows}, accepted: {self.accepted}, rejected: {len(self.rejected)}",
            f"households created: {self.households_created}, "
            f"updated: {self.households_updated}; owners created: {self.owners_created}",
        ]
        out += [f"  line {line}: {reason}" for line, reason in self.rejected]
        return out


COLUMNS = ("compound", "building", "unit", "room", "area_m2", "owner_name", "owner_phone")
PHONE = re.compile(r"^\+?[0-9][0-9\-]{5,19}$")
LABEL_PART = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff]{1,10}$")


def _compound_lookup() -> dict[str, list[Compound]]:
    found: dict[str, list[Compound]] = {}
    for compound in Compound.select():
        found.setdefault(compound.name, []).append(compound)
        found.setdefault(compound.scene, []).append(compound)
    return found


def _check_row(row: dict, compounds: dict) -> tuple[Compound, str, int, str, str, bool]:
    """One CSV row checked: (compound, label, area_x100, name, phone, committee) or ValueError."""
    missing = [c for c in COLUMNS if not (row.get(c) or "").strip()]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    matches = compounds.get(row["compound"].strip(), [])
    if len(matches) != 1:
        raise ValueError(
            f"compound {row['compound'].strip()!r} is "
            + ("unknown" if not matches else "ambiguous (use its scene code)")
        )
    parts = [row[c].strip() for c in ("building", "unit", "room")]
    if not all(LABEL_PART.match(p) for p in parts):
        raise ValueError("building/unit/room must be short letters or digits")
    area = parse_area(row["area_m2"])
    name = row["owner_name"].strip()
    if len(name) > 50:
        raise ValueError("owner_name is too long")
    phone = re.sub(r"\s", "", row["owner_phone"])
    if not PHONE.match(phone):
        raise ValueError("owner_phone is not a phone number")
    committee = (row.get("committee") or "").strip().lower() in ("1", "yes", "y", "true", "是")
    return matches[0], "-".join(parts), area, name, phone, committee


def import_roll(text: str, *, dry_run: bool = False) -> ImportReport:
    """Import a roll CSV (one row per owner of a household; co-owners repeat the household).

    Good rows are written, bad rows are reported with their line number and reason; a file
    whose header lacks a column is refused whole. New households get a one-use bind code.
    """
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    absent = [c for c in COLUMNS if c not in header]
    if absent:
        raise TicketError(f"CSV header lacks: {', '.join(absent)}", "invalid")
    reader.fieldnames = header
    compounds = _compound_lookup()
    seen: dict[tuple[int, str], int] = {}
    pairs: set[tuple[int, str, str]] = set()
    with write_transaction() as txn:
        for row in reader:
            line = reader.line_num
            report.rows += 1
            if report.rows > MAX_IMPORT_ROWS:
                report.rejected.append((line, f"more than {MAX_IMPORT_ROWS} rows; rest ignored"))
                break
            try:
                compound, label, area, name, phone, committee = _check_row(row, compounds)
                key = (compound.id, label)
                if seen.get(key, area) != area:
                    raise ValueError(f"household {label} has a different area on an earlier line")
                if (compound.id, label, phone) in pairs:
                    raise ValueError(f"duplicate owner {mask_phone(phone)} for household {label}")
            except ValueError as exc:
                report.rejected.append((line, str(exc)))
                continue
            seen[key] = area
            pairs.add((compound.id, label, phone))
            _upsert(report, compound, label, area, name, phone, committee)
            report.accepted += 1
        if dry_run:
            txn.rollback()
    return report


def _upsert(report, compound, label, area, name, phone, committee) -> None:
    household = Household.get_or_none((Household.compound == compound) & (Household.label == label))
    if household is None:
        household = Household.create(
            compound=compound, label=label, area_x100=area, bind_code=new_code()
        )
        report.households_created += 1
        report.codes.append((compound.name, label, household.bind_code))
    elif household.area_x100 != area:
        Household.update(area_x100=area).where(Household.id == household.id).execute()
        report.households_updated += 1
    owner = Owner.get_or_none((Owner.compound == compound) & (Owner.phone == phone))
    if owner is None:
        owner = Owner.create(compound=compound, name=name, phone=phone, is_committee=committee)
        report.owners_created += 1
    elif committee and not owner.is_committee:
        Owner.update(is_committee=True).where(Owner.id == owner.id).execute()
    Ownership.insert(owner=owner, household=household).on_conflict_ignore().execute()


# ---------------------------------------------------------------- binding


def bind_by_code(user: User, code: str) -> Household:
    """A one-use household code binds `user` as the household's voter."""
    code = re.sub(r"[\s\-]", "", code or "").upper()
    if not code:
        raise TicketError("请发送“绑定 房屋码”，房屋码在业主名册通知单上。", "invalid")
    with write_transaction():
        household = Household.get_or_none(Household.bind_code == code)
        if household is None:
            raise TicketError("这个房屋码无效或已经用过了，请向社区或业委会核对。", "not_found")
        claimed = (
            Household.update(user=user, bound_at=now(), bind_code=None)
            .where((Household.id == household.id) & (Household.bind_code == code))
            .execute()
        )
        if not claimed:
            raise TicketError("这个房屋码刚刚被用过了，请向社区或业委会核对。", "conflict")
        if user.compound_id is None:
            User.update(compound=household.compound_id).where(User.id == user.id).execute()
    return Household.get_by_id(household.id)


def bind_by_operator(compound: Compound, label: str, user: User) -> Household:
    """The operator confirms a binding (the owner showed their deed in person)."""
    with write_transaction():
        household = Household.get_or_none(
            (Household.compound == compound) & (Household.label == label)
        )
        if household is None:
            raise TicketError(f"名册里没有 {compound.name} {label}。", "not_found")
        Household.update(user=user, bound_at=now(), bind_code=None).where(
            Household.id == household.id
        ).execute()
    return Household.get_by_id(household.id)


def households_of(user: User, compound_id: int | None = None) -> list[Household]:
    """The households `user` votes for (in one compound, if given), in label order."""
    query = Household.select().where(Household.user == user)
    if compound_id is not None:
        query = query.where(Household.compound == compound_id)
    return list(query.order_by(Household.compound, Household.label))


def is_committee(user: User, compound_id: int) -> bool:
    """A user bound to a household of `compound_id` whose owners include a committee member."""
    return (
        Household.select()
        .join(Ownership)
        .join(Owner)
        .where(
            (Household.user == user)
            & (Household.compound == compound_id)
            & (Owner.is_committee == True)  # noqa: E712 (peewee expression)
        )
        .exists()
    )


# ---------------------------------------------------------------- counting


def head_shares(compound_id: int) -> dict[int, Fraction]:
    """Each household's share of the headcount: 1/k, k = flats in its group of shared owners.

    Groups are the connected parts of the household–owner graph (union-find). A household with
    no owner on the roll is its own group.
    """
    households = [h.id for h in Household.select(Household.id).where(
        Household.compound == compound_id)]  # fmt: skip
    parent = {h: h for h in households}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_owner: dict[int, int] = {}
    links = (
        Ownership.select(Ownership.owner, Ownership.household)
        .join(Household)
        .where(Household.compound == compound_id)
        .tuples()
    )
    for owner_id, household_id in links:
        first = by_owner.setdefault(owner_id, household_id)
        a, b = find(first), find(household_id)
        if a != b:
            parent[max(a, b)] = min(a, b)
    sizes: dict[int, int] = {}
    for h in households:
        root = find(h)
        sizes[root] = sizes.get(root, 0) + 1
    return {h: Fraction(1, sizes[find(h)]) for h in households}


def seed_demo_roll(compound: Compound, residents: list[User]) -> list[Household]:
    """A small roll for the demo compound: four flats, the first three bound to `residents`,
    the first owner on the committee, the fourth waiting with bind code DEMO0004."""
    if Household.select().where(Household.compound == compound).exists():
        return []
    made = []
    for i, (label, area) in enumerate(
        [("1-1-101", "89.50"), ("1-1-102", "89.50"), ("1-1-201", "120.30"), ("1-1-202", "76.80")]
    ):
        household = Household.create(
            compound=compound, label=label, area_x100=parse_area(area), bind_code=f"DEMO{i + 1:04d}"
        )
        owner = Owner.create(
            compound=compound, name=f"业主{i + 1}", phone=f"1390000{i + 1:04d}", is_committee=i == 0
        )
        Ownership.create(owner=owner, household=household)
        made.append(household)
    for household, user in zip(made, residents, strict=False):
        Household.update(user=user, bound_at=now(), bind_code=None).where(
            Household.id == household.id
        ).execute()
    return made
