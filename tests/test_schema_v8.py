"""Schema v8 (incentives): ticket.kind with a server default, the incentive tables, up and down."""

from models import lifecycle, schema
from models.db import database
from models.tickets import Ticket


def columns(table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_a_ticket_inserted_by_plain_sql_without_a_kind_is_a_report(demo):
    ticket = lifecycle.submit(demo.resident_1, "单元门坏了", "public_facility")
    database.execute_sql(
        "INSERT INTO ticket (reporter_id, text, category, urgency, state, version, level, "
        "org_unit_id, grid_id, area_path, building, unit_no, room, photos, channel, in_pool, "
        "subscriber_count, step, breach_count, rating_reminded, created_at, updated_at) "
        "SELECT reporter_id, text, category, urgency, state, version, level, org_unit_id, "
        "grid_id, area_path, building, unit_no, room, photos, channel, in_pool, "
        "subscriber_count, step, breach_count, rating_reminded, created_at, updated_at "
        f"FROM ticket WHERE id = {int(ticket.id)}"
    )
    assert [t.kind for t in Ticket.select().order_by(Ticket.id)] == ["report", "report"]


def test_going_below_v8_drops_the_incentives_and_coming_back_restores_them(demo, request):
    lifecycle.submit(demo.resident_1, "单元门坏了", "public_facility")
    stamps = list(schema.SchemaVersion.select().dicts())

    def restore():  # the shared schema at the latest version, stamped as it was
        schema.upgrade()
        schema.SchemaVersion.delete().execute()
        schema.SchemaVersion.insert_many(stamps).execute()

    request.addfinalizer(restore)
    schema.downgrade(7)
    assert "kind" not in columns("ticket")
    assert not database.table_exists("redemption")
    assert not database.table_exists("property_veto")
    schema.upgrade()
    assert "kind" in columns("ticket") and database.table_exists("redemption")
    assert Ticket.select(Ticket.kind).scalar() == "report"
