"""Creating and upgrading the schema with peewee's own migrator (playhouse.migrate).

A new database gets the current tables and is stamped with the latest version. An existing
one is upgraded step by step; every step has a `down` too, so an upgrade can be rehearsed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import peewee
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from models import property_lists, shop
from models.ballots import Ballot, Participation
from models.clock import now
from models.corrections import Correction
from models.council import AgendaItem, Attendance, CouncilMeeting, Decision
from models.db import BaseModel, database, is_postgres
from models.gaming import PointsFlag
from models.grants import SubscribeGrant
from models.inbound_parked import InboundParked
from models.org import Compound, InviteCode, OrgUnit, User, WorkUnit
from models.outbox import Outbound
from models.owners import Household, Owner, Ownership
from models.tickets import (
    PointsEntry,
    Rating,
    Ticket,
    TicketAssist,
    TicketEvent,
    TicketSubscriber,
)
from models.votes import Vote, VoteEvent, VoteRoll
from models.wishes import ServiceOffer, WishFor

ALL_MODELS = [
    OrgUnit, WorkUnit, Compound, User, InviteCode, Ticket, TicketEvent, Rating, PointsEntry,
    TicketSubscriber, TicketAssist, Outbound, Correction, SubscribeGrant,
]  # fmt: skip
# Messages kept while Redis is down (schema v11).
ALL_MODELS += [InboundParked]
# Incentives (schema v8): points shop, wish wall and service menu, points review, property lists.
INCENTIVE_MODELS = [*shop.MODELS, WishFor, ServiceOffer, PointsFlag, *property_lists.MODELS]
ALL_MODELS += INCENTIVE_MODELS
# Owners' votes and the 议事会 (schema v7), in creation order.
VOTE_MODELS = [
    Household, Owner, Ownership, Vote, VoteRoll, VoteEvent, Participation, Ballot,
    CouncilMeeting, AgendaItem, Attendance, Decision,
]  # fmt: skip
ALL_MODELS += VOTE_MODELS


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=100)
    applied_at = peewee.DateTimeField(default=now)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Callable[[SchemaMigrator], list]
    down: Callable[[SchemaMigrator], list]


MIGRATIONS = [
    Migration(1, "initial schema", lambda m: [], lambda m: []),
    Migration(
        2,
        "ticket.external_ref for Open311 and hotline imports",
        lambda m: [
            m.add_column("ticket", "external_ref", peewee.CharField(max_length=64, null=True)),
            m.add_index("ticket", ("external_ref",), False),
        ],
        lambda m: [
            m.drop_index("ticket", "ticket_external_ref"),
            m.drop_column("ticket", "external_ref"),
        ],
    ),
]
DIGEST_INDEXES = (
    ("ticket", "resolved_at"),
    ("ticket", "closed_at"),
    ("ticket", "due_at"),
    ("points_entry", "created_at"),
)
MIGRATIONS.append(
    Migration(
        3,
        "indexes for digest period counts (resolved_at, closed_at, due_at, points created_at)",
        lambda m: [m.add_index(table, (column,), False) for table, column in DIGEST_INDEXES],
        lambda m: [m.drop_index(table, f"{table}_{column}") for table, column in DIGEST_INDEXES],
    )
)


def _pattern_index_up(m) -> list:
    if isinstance(m, PostgresqlMigrator):
        database.execute_sql(
            "CREATE INDEX IF NOT EXISTS ticket_area_path_prefix "
            "ON ticket (area_path varchar_pattern_ops)"
        )
    return []


def _pattern_index_down(m) -> list:
    if isinstance(m, PostgresqlMigrator):
        database.execute_sql("DROP INDEX IF EXISTS ticket_area_path_prefix")
    return []


MIGRATIONS.append(
    Migration(
        4,
        "prefix index on ticket.area_path for subtree queries (PostgreSQL, any collation)",
        _pattern_index_up,
        _pattern_index_down,
    )
)
MIGRATIONS.append(
    Migration(
        5,
        "correction: dispatchers' re-categorisations, kept as labelled examples",
        lambda m: _create_tables(Correction),
        lambda m: _drop_tables(Correction),
    )
)


def _kind_column() -> peewee.CharField:
    return peewee.CharField(
        max_length=16, default="report", constraints=[peewee.SQL("DEFAULT 'report'")]
    )


def _incentives_up(m) -> list:
    database.create_tables(INCENTIVE_MODELS)
    return [
        m.add_column("ticket", "kind", _kind_column()),
        m.add_index("ticket", ("kind", "state"), False),
    ]


def _incentives_down(m) -> list:
    _drop_tables(*INCENTIVE_MODELS)
    return [m.drop_index("ticket", "ticket_kind_state"), m.drop_column("ticket", "kind")]


EXTERNAL_REF_INDEX = "ticket_channel_external_ref"


def _v9_up(m) -> list:
    # Earlier races may have left duplicates: keep the first ticket's id, suffix the others'.
    database.execute_sql(
        "UPDATE ticket SET external_ref = SUBSTR(external_ref, 1, 40) || '~dup' || id "
        "WHERE external_ref IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM ticket WHERE external_ref IS NOT NULL GROUP BY channel, external_ref)"
    )
    database.execute_sql(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {EXTERNAL_REF_INDEX} "
        "ON ticket (channel, external_ref) WHERE external_ref IS NOT NULL"
    )
    database.create_tables([SubscribeGrant])
    return [
        m.add_column("invite_code", "multi_use", peewee.BooleanField(default=False)),
        m.add_column("outbound", "request_id", peewee.CharField(max_length=64, null=True)),
        m.add_column("ticket", "anonymised_at", peewee.DateTimeField(null=True)),
    ]


def _v9_down(m) -> list:
    database.execute_sql(f"DROP INDEX IF EXISTS {EXTERNAL_REF_INDEX}")
    database.drop_tables([SubscribeGrant], safe=True)
    return [
        m.drop_column("invite_code", "multi_use"),
        m.drop_column("outbound", "request_id"),
        m.drop_column("ticket", "anonymised_at"),
    ]


MIGRATIONS.append(
    Migration(
        7,
        "owner roll, owners' votes (participation kept apart from ballots) and the 议事会",
        lambda m: _create_tables(*VOTE_MODELS),
        lambda m: _drop_tables(*reversed(VOTE_MODELS)),
    )
)
MIGRATIONS.append(
    Migration(
        8,
        "incentives: shop, wishes and menu (ticket.kind), points review, property lists",
        _incentives_up,
        _incentives_down,
    )
)
MIGRATIONS.append(
    Migration(
        9,
        "ops: unique external ids, shared invites, request ids, grants, retention",
        _v9_up,
        _v9_down,
    )
)
MIGRATIONS.append(
    Migration(
        10,
        "ticket.respond_due_at and responded_at for the dashboard's 响应率",
        lambda m: [
            m.add_column("ticket", "respond_due_at", peewee.DateTimeField(null=True)),
            m.add_column("ticket", "responded_at", peewee.DateTimeField(null=True)),
            m.add_index("ticket", ("respond_due_at",), False),
        ],
        lambda m: [
            m.drop_index("ticket", "ticket_respond_due_at"),
            m.drop_column("ticket", "responded_at"),
            m.drop_column("ticket", "respond_due_at"),
        ],
    )
)
MIGRATIONS.append(
    Migration(
        11,
        "inbound_parked: messages kept in the database while Redis is unreachable",
        lambda m: _create_tables(InboundParked),
        lambda m: _drop_tables(InboundParked),
    )
)


def _missing_columns(m, table: str, **fields) -> list:
    """add_column for each field the table lacks: v9 creates subscribe_grant from the model
    as it is now, so on an upgrade from before v9 these columns are already there."""
    have = {c.name for c in database.get_columns(table)}
    return [m.add_column(table, name, field) for name, field in fields.items() if name not in have]


MIGRATIONS.append(
    Migration(
        12,
        "user.mini_openid; subscribe grants: pending acceptances per witness, refusals",
        lambda m: [
            m.add_column("user", "mini_openid", peewee.CharField(max_length=64, null=True)),
            m.add_index("user", ("mini_openid",), True),
            *_missing_columns(
                m,
                "subscribe_grant",
                pending_client=peewee.IntegerField(default=0),
                pending_event=peewee.IntegerField(default=0),
                pending_at=peewee.DateTimeField(null=True),
                refused_at=peewee.DateTimeField(null=True),
            ),
        ],
        lambda m: [
            m.drop_column("subscribe_grant", "refused_at"),
            m.drop_column("subscribe_grant", "pending_at"),
            m.drop_column("subscribe_grant", "pending_event"),
            m.drop_column("subscribe_grant", "pending_client"),
            m.drop_index("user", "user_mini_openid"),
            m.drop_column("user", "mini_openid"),
        ],
    )
)
LATEST = MIGRATIONS[-1].version


def _create_tables(*models) -> list:
    """A migration step that adds whole tables (with their indexes)."""
    database.create_tables(models)
    return []


def _drop_tables(*models) -> list:
    database.drop_tables(models, safe=True)
    return []


def _migrator() -> SchemaMigrator:
    db = database.obj
    if isinstance(db, peewee.PostgresqlDatabase):
        return PostgresqlMigrator(db)
    return SqliteMigrator(db)


def current_version() -> int | None:
    """The schema version of the connected database; None if it has no tables yet."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 1 if database.table_exists(Ticket._meta.table_name) else None
    return SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 1


def upgrade(target: int = LATEST) -> list[str]:
    """Create or upgrade the schema to `target`; returns the steps applied."""
    applied = []
    version = current_version()
    with database.atomic():
        if version is None:
            database.create_tables([*ALL_MODELS, SchemaVersion])
            _pattern_index_up(_migrator())
            SchemaVersion.create(version=LATEST, name="created at latest", applied_at=now())
            return [f"created schema v{LATEST}"]
        database.create_tables([SchemaVersion])
        for step in MIGRATIONS:
            if version < step.version <= target:
                migrate(*step.up(_migrator()))
                SchemaVersion.create(version=step.version, name=step.name, applied_at=now())
                applied.append(f"v{step.version}: {step.name}")
    return applied


def downgrade(target: int) -> list[str]:
    """Undo steps above `target` (for rehearsing upgrades); returns the steps undone."""
    undone = []
    version = current_version() or 0
    with database.atomic():
        for step in reversed(MIGRATIONS):
            if target < step.version <= version:
                migrate(*step.down(_migrator()))
                SchemaVersion.delete().where(SchemaVersion.version == step.version).execute()
                undone.append(f"v{step.version}: {step.name}")
        if not SchemaVersion.select().exists():
            SchemaVersion.create(version=target, name="downgraded", applied_at=now())
    return undone


def drop_all() -> None:
    """Drop every table (tests and `sidan init-db --reset`)."""
    if is_postgres():
        database.drop_tables([*ALL_MODELS, SchemaVersion], safe=True, cascade=True)
        return
    # SQLite checks foreign keys row by row while dropping a filled table; the whole schema
    # goes, so switch the check off for the drop (a pragma is a no-op inside a transaction).
    database.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        database.drop_tables([*ALL_MODELS, SchemaVersion], safe=True)
    finally:
        database.execute_sql("PRAGMA foreign_keys = ON")
