"""The org tree (网格/社区/街道/市), work units, compounds and people."""

import logging
import time
from datetime import timedelta

import peewee

from models.clock import now
from models.db import BaseModel, JSONField, SqlOnce, database, update_where, write_transaction
from models.enums import Level, Role
from models.privacy import mask_name, mask_phone  # noqa: F401 (one masking, re-exported)

log = logging.getLogger("sidan.models.org")

# --- org units and compounds, kept per process -------------------------------------------
# A few hundred rows that operators set up and rarely change, read by nearly every message
# (a resident's compound, its grid, the grid's ancestors): each row is read from the database
# at most once a minute per process. A change saved in this process is seen at once; one made
# elsewhere (another worker, SQL by hand) within ROW_CACHE_TTL_S.

ROW_CACHE_TTL_S = 60
_row_cache: dict[tuple[type, int], tuple[float, peewee.Model]] = {}


def cached_row(model, row_id):
    """The `model` row (OrgUnit or Compound) with this id, shared by this process's requests
    for up to ROW_CACHE_TTL_S; None when there is none. Read-only: never save it."""
    key = (model, row_id)
    hit = _row_cache.get(key)
    at = time.monotonic()
    if hit is not None and at - hit[0] < ROW_CACHE_TTL_S:
        return hit[1]
    row = model.get_or_none(model._meta.primary_key == row_id)
    if row is not None:
        _row_cache[key] = (at, row)
    return row


def forget_cached_rows() -> None:
    """Drop every cached org unit and compound (after a change, and between tests)."""
    _row_cache.clear()


class _CachedRowAccessor(peewee.ForeignKeyAccessor):
    """`ticket.compound`, `compound.grid`, `unit.parent` … from the per-process row cache
    instead of one SELECT per lazy load."""

    def get_rel_instance(self, instance):
        value = instance.__data__.get(self.name)
        if value is not None and self.name not in instance.__rel__ and self.field.lazy_load:
            row = cached_row(self.rel_model, value)
            if row is not None:
                instance.__rel__[self.name] = row
        return super().get_rel_instance(instance)


class CachedForeignKeyField(peewee.ForeignKeyField):
    """A foreign key to OrgUnit or Compound, loaded through the per-process row cache."""

    accessor_class = _CachedRowAccessor


class _ForgetOnWrite:
    """Instances saved or deleted in this process drop the cache at once."""

    def save(self, *args, **kwargs):
        try:
            return super().save(*args, **kwargs)
        finally:
            forget_cached_rows()

    def delete_instance(self, *args, **kwargs):
        try:
            return super().delete_instance(*args, **kwargs)
        finally:
            forget_cached_rows()


class OrgUnit(_ForgetOnWrite, BaseModel):
    """A node of the tree city → street → community → grid."""

    name = peewee.CharField(max_length=100)
    level = peewee.CharField(max_length=16, index=True)
    parent = CachedForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    # Materialised path "/1/4/9/": a subtree is one indexed prefix match.
    path = peewee.CharField(max_length=255, index=True, default="")
    duty_phone = peewee.CharField(max_length=32, default="")

    @property
    def level_enum(self) -> Level:
        return Level(self.level)

    def ancestor_at(self, level: Level) -> "OrgUnit":
        """This unit or its ancestor at `level` (the nearest one not below it)."""
        unit = self
        while unit.level_enum.rank < level.rank and unit.parent_id is not None:
            unit = unit.parent
        return unit

    def contains(self, other: "OrgUnit | None") -> bool:
        """True when `other` is this unit or below it."""
        return other is not None and other.path.startswith(self.path)

    @classmethod
    def create_child(cls, name: str, level: Level, parent: "OrgUnit | None" = None, **kw):
        """Create a unit and fill its materialised path."""
        unit = cls.create(name=name, level=level, parent=parent, **kw)
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        unit.save(only=[cls.path])
        return unit


class WorkUnit(BaseModel):
    """A unit that does the work: a property company (物业) or a department."""

    name = peewee.CharField(max_length=100, unique=True)
    kind = peewee.CharField(max_length=16)
    org_unit = peewee.ForeignKeyField(OrgUnit, null=True, backref="work_units")
    phone = peewee.CharField(max_length=32, default="")


class Compound(_ForgetOnWrite, BaseModel):
    """A residential estate (小区) inside one grid."""

    name = peewee.CharField(max_length=100)
    grid = CachedForeignKeyField(OrgUnit, backref="compounds")
    property_company = peewee.ForeignKeyField(WorkUnit, null=True, backref="compounds")
    lat = peewee.FloatField(null=True)
    lng = peewee.FloatField(null=True)
    address = peewee.CharField(max_length=200, default="")
    # The 民情二维码 scene string; scanning it binds a resident here.
    scene = peewee.CharField(max_length=64, unique=True)


class User(BaseModel):
    """Anyone who talks to the bot: residents, volunteers, workers, staff."""

    openid = peewee.CharField(max_length=64, unique=True)
    unionid = peewee.CharField(max_length=64, null=True, index=True)
    # The person's openid in the mini-program (another app: another openid), set at its login.
    # Equal to `openid` for someone known only from the mini-program: no Official Account
    # identity, so no customer-service or template message can reach them.
    mini_openid = peewee.CharField(max_length=64, null=True, unique=True)
    name = peewee.CharField(max_length=50, default="")
    phone = peewee.CharField(max_length=32, default="")
    role = peewee.CharField(max_length=16, default=Role.RESIDENT, index=True)
    org_unit = CachedForeignKeyField(OrgUnit, null=True, backref="staff")
    work_unit = peewee.ForeignKeyField(WorkUnit, null=True, backref="workers")
    compound = CachedForeignKeyField(Compound, null=True, backref="residents")
    # Household key (compound/building/room): a volunteer may not take what it reported.
    household = peewee.CharField(max_length=100, default="", index=True)
    skills = JSONField(default=list)
    is_party_member = peewee.BooleanField(default=False)
    lat = peewee.FloatField(null=True)
    lng = peewee.FloatField(null=True)
    subscribed = peewee.BooleanField(default=True)
    last_message_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=now)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def display_name(self) -> str:
        """A name safe to show others: surname plus 师傅/同志 style masking."""
        return mask_name(self.name) if self.name else "志愿者"


class InviteCode(BaseModel):
    """A one-use code that makes a user volunteer/worker/dispatcher/supervisor."""

    code = peewee.CharField(max_length=32, unique=True)
    role = peewee.CharField(max_length=16)
    org_unit = peewee.ForeignKeyField(OrgUnit, null=True)
    work_unit = peewee.ForeignKeyField(WorkUnit, null=True)
    created_at = peewee.DateTimeField(default=now)
    expires_at = peewee.DateTimeField(null=True)
    used_by = peewee.ForeignKeyField(User, null=True)
    used_at = peewee.DateTimeField(null=True)
    # A shared code (e.g. the demo's VOL-DEMO) makes any new user its role; never used up.
    multi_use = peewee.BooleanField(default=False)


def path_ids(path: str) -> list[int]:
    """The unit ids a materialised path names, root first ("/1/4/9/" → [1, 4, 9])."""
    return [int(part) for part in path.strip("/").split("/") if part]


_STAFF_ON_PATH = SqlOnce(
    lambda role, *chain: User.select().where((User.role == role) & User.org_unit.in_(chain))
)


def responsible_staff(unit: OrgUnit, role: Role) -> list[User]:
    """Staff holding `role` at `unit`, or at the nearest ancestor that has some (one query:
    the materialised path already names every ancestor)."""
    chain = path_ids(unit.path)  # root … unit
    people = _STAFF_ON_PATH.rows(User, role, *chain)
    return nearest_staff(staff_by_unit(people), unit)


def staff_by_unit(people) -> dict[int, list[User]]:
    """Staff already read (all of one role), by the id of their unit."""
    at: dict[int, list[User]] = {}
    for person in people:
        at.setdefault(person.org_unit_id, []).append(person)
    return at


def nearest_staff(at: dict[int, list[User]], unit: OrgUnit) -> list[User]:
    """Of the staff in `at` (staff_by_unit), those at `unit` or at its nearest ancestor that
    has some, by id. responsible_staff without the query: the bulk sweep reads the staff of a
    whole batch at once."""
    for unit_id in reversed(path_ids(unit.path)):
        if at.get(unit_id):
            return sorted(at[unit_id], key=lambda p: p.id)
    return []


TOUCH_EVERY = timedelta(minutes=5)
_BY_OPENID = SqlOnce(lambda openid, n: User.select().where(User.openid == openid).limit(n))


def user_by_openid(openid: str) -> User | None:
    """The user behind an official-account openid, or None (the SQL written once)."""
    found = _BY_OPENID.rows(User, openid, 1)
    return found[0] if found else None


def touch_user(openid: str, at=None) -> User:
    """The user behind an openid (created on first contact), marked as just heard from."""
    at = at or now()
    found = _BY_OPENID.rows(User, openid, 1)
    if found:
        user = found[0]
    else:
        user, _ = User.get_or_create(openid=openid, defaults={"created_at": at})
    # The 48 h customer-service window opens with every message the user sends; minutes of
    # precision are plenty, so most messages skip the write.
    stale = user.last_message_at is None or at - user.last_message_at > TOUCH_EVERY
    if stale or not user.subscribed:
        update_where(User, {"last_message_at": at, "subscribed": True}, {"id": user.id})
        user.last_message_at, user.subscribed = at, True
    return user


def bind_compound(user: User, scene: str) -> Compound | None:
    """Scanning a compound's 民情二维码 makes it the resident's home compound."""
    compound = Compound.get_or_none(Compound.scene == scene)
    if compound is not None:
        User.update(compound=compound).where(User.id == user.id).execute()
        user.compound = compound
    return compound


def redeem_invite(user: User, code: str) -> InviteCode | None:
    """Use a one-time invite code: the user takes its role and unit. None if not valid."""
    with write_transaction():
        invite = InviteCode.get_or_none(InviteCode.code == code.strip().upper())
        if invite is None or invite.used_by_id is not None:
            return None
        if invite.expires_at is not None and invite.expires_at < now():
            return None
        if invite.multi_use:
            # A shared code turns residents into its role; it never demotes staff.
            if user.role != Role.RESIDENT:
                return None
            User.update(role=invite.role, org_unit=invite.org_unit,
                        work_unit=invite.work_unit).where(User.id == user.id).execute()  # fmt: skip
            return invite
        claimed = (
            InviteCode.update(used_by=user, used_at=now())
            .where((InviteCode.id == invite.id) & InviteCode.used_by.is_null())
            .execute()
        )
        if not claimed:
            return None
        User.update(role=invite.role, org_unit=invite.org_unit, work_unit=invite.work_unit).where(
            User.id == user.id
        ).execute()
        return invite


def mini_program_user(openid: str, unionid: str | None = None, *, from_code: bool = True) -> User:
    """The person behind a mini-program openid: known by it, or the chat user with the same
    unionid, or a new resident. An openid that WeChat gave for the mini-program (code2session,
    its message push) is remembered as `mini_openid` (subscribe messages go to it); a dev
    login code (`from_code=False`) names a chat user directly and says nothing of it."""
    user = User.get_or_none(User.mini_openid == openid) if from_code else None
    if user is None:
        user = User.get_or_none(User.openid == openid)
    if user is None and unionid:
        user = User.get_or_none(User.unionid == unionid)
    if user is None:
        try:
            with database.atomic():
                return User.create(openid=openid, unionid=unionid,
                                   mini_openid=openid if from_code else None)  # fmt: skip
        except peewee.IntegrityError:  # a concurrent first login or push created it
            return User.get(User.openid == openid)
    changes = {}
    if unionid and not user.unionid:
        changes[User.unionid] = unionid
    if from_code and user.mini_openid is None:
        changes[User.mini_openid] = openid
    if changes:
        try:
            with database.atomic():
                User.update(changes).where(User.id == user.id).execute()
        except peewee.IntegrityError:  # another record already holds this mini openid
            log.warning("mini-program openid already linked to another user; left as is")
            return user
        for field, value in changes.items():
            setattr(user, field.name, value)
    return user
