"""Creating and upgrading the schema with peewee's own migrator (playhouse.migrate).

A new database gets the current tables and is stamped with the latest version. An existing
one is upgraded step by step; every step has a `down` too, so an upgrade can be rehearsed.
"""

from collections.abc import Callable
from dataclasses import dataclass

import peewee
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

from models.clock import now
from models.db import BaseModel, database, is_postgres
from models.org import Compound, InviteCode, OrgUnit, User, WorkUnit
from models.outbox import Outbound
from models.tickets import (
    PointsEntry,
    Rating,
    Ticket,
    TicketAssist,
    TicketEvent,
    TicketSubscriber,
)

ALL_MODELS = [
    OrgUnit, WorkUnit, Compound, User, InviteCode, Ticket, TicketEvent, Rating, PointsEntry,
    TicketSubscriber, TicketAssist, Outbound,
]  # fmt: skip


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
LATEST = MIGRATIONS[-1].version


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
