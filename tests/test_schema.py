"""Schema creation and upgrades with peewee's migrator."""

from models import schema
from models.db import database
from models.tickets import Ticket


def columns(table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_a_fresh_database_has_every_model_column(db):
    for model in schema.ALL_MODELS:
        expected = {f.column_name for f in model._meta.sorted_fields}
        assert expected <= columns(model._meta.table_name), model.__name__
    assert schema.current_version() == schema.LATEST


def test_upgrading_a_database_of_the_previous_schema_keeps_its_data(demo, request):
    from models import lifecycle

    ticket = lifecycle.submit(demo.resident_1, "单元门坏了", "public_facility")
    request.addfinalizer(schema.upgrade)  # leave the shared schema at the latest version
    assert schema.downgrade(schema.LATEST - 1)
    assert "external_ref" not in columns("ticket")
    assert schema.current_version() == schema.LATEST - 1
    # The previous schema still reads: its tickets are intact.
    row = database.execute_sql("SELECT text FROM ticket WHERE id = %s" % ticket.id).fetchone()
    assert row[0] == "单元门坏了"

    applied = schema.upgrade()
    assert applied == [f"v{schema.LATEST}: {schema.MIGRATIONS[-1].name}"]
    assert "external_ref" in columns("ticket")
    upgraded = Ticket.get_by_id(ticket.id)
    assert upgraded.text == "单元门坏了" and upgraded.external_ref is None
    assert schema.upgrade() == []  # a second run changes nothing
