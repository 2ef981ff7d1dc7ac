"""Schema creation and upgrades with peewee's migrator."""

from models import schema
from models.db import database, is_postgres
from models.tickets import Ticket


def columns(table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def indexes(table: str) -> set[str]:
    return {i.name for i in database.get_indexes(table)}


def test_a_fresh_database_has_every_model_column_and_index(db):
    for model in schema.ALL_MODELS:
        table = model._meta.table_name
        expected = {f.column_name for f in model._meta.sorted_fields}
        assert expected <= columns(table), model.__name__
    assert {"ticket_resolved_at", "ticket_due_at", "ticket_external_ref"} <= indexes("ticket")
    assert schema.current_version() == schema.LATEST
    if is_postgres():
        assert "ticket_area_path_prefix" in indexes("ticket")


def test_subtree_queries_use_an_index(demo):
    from models.org import OrgUnit

    sql, params = Ticket.in_area(OrgUnit.get(OrgUnit.name == "幸福社区")).sql()
    if is_postgres():
        database.execute_sql("SET enable_seqscan = off")  # tiny table: show the planner's intent
        try:
            rows = database.execute_sql("EXPLAIN " + sql, params).fetchall()
        finally:
            database.execute_sql("SET enable_seqscan = on")
        assert "ticket_area_path_prefix" in "\n".join(r[0] for r in rows)
    else:
        rows = database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        assert "USING INDEX ticket_area_path" in "\n".join(str(r[-1]) for r in rows)


def test_upgrading_a_database_of_an_earlier_schema_keeps_its_data(demo, request):
    from models import lifecycle

    ticket = lifecycle.submit(demo.resident_1, "单元门坏了", "public_facility")
    request.addfinalizer(schema.upgrade)  # leave the shared schema at the latest version
    undone = schema.downgrade(1)
    assert len(undone) == len(schema.MIGRATIONS) - 1  # every step above v1
    assert "external_ref" not in columns("ticket")
    assert "ticket_resolved_at" not in indexes("ticket")
    assert schema.current_version() == 1
    # The earlier schema still reads: its tickets are intact.
    assert Ticket.select(Ticket.text).where(Ticket.id == ticket.id).scalar() == "单元门坏了"

    applied = schema.upgrade()
    assert applied == [f"v{m.version}: {m.name}" for m in schema.MIGRATIONS[1:]]
    assert "external_ref" in columns("ticket")
    assert {"ticket_resolved_at", "ticket_closed_at", "ticket_due_at"} <= indexes("ticket")
    if is_postgres():
        assert "ticket_area_path_prefix" in indexes("ticket")
    assert "points_entry_created_at" in indexes("points_entry")
    upgraded = Ticket.get_by_id(ticket.id)
    assert upgraded.text == "单元门坏了" and upgraded.external_ref is None
    assert schema.upgrade() == []  # a second run changes nothing
