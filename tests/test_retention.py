"""Retention: personal data of long-finished tickets goes; figures and the event history stay."""

# ruff: noqa: F811 (the `sidan` fixture is imported from tests.test_cli)

from datetime import timedelta

from models import clock, lifecycle
from models.org import User
from models.outbox import Outbound
from models.retention import PLACEHOLDER
from models.tickets import Rating, Ticket, TicketEvent
from tests.test_api_support import file_ticket
from tests.test_cli import sidan  # noqa: F401


def closed_ticket(demo, reporter=None) -> Ticket:
    reporter = reporter or demo.resident_1
    ticket = file_ticket(reporter, text="我是王阿姨，电话13912345678，3单元502漏水",
                         category="water_supply", building="3", unit_no="1", room="502",
                         lat=30.27411, lng=120.15512, compound=demo.resident_1.compound)  # fmt: skip
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1, note="王阿姨家")
    lifecycle.take(ticket.id, demo.volunteer_1)
    lifecycle.resolve(ticket.id, demo.volunteer_1, note="换了502的阀门")
    return lifecycle.rate(ticket.id, reporter, 5, comment="谢谢小王，电话13912345678")


def test_a_dry_run_counts_and_a_real_run_removes_personal_data_but_keeps_history(demo, sidan):
    old = closed_ticket(demo)
    events = TicketEvent.select().where(TicketEvent.ticket == old).count()
    clock.advance(timedelta(days=800))
    recent = closed_ticket(demo)
    still_open = file_ticket(demo.resident_2, text="楼道灯坏了，电话13800001111")

    dry = sidan("retention", "--days", "730", "--dry-run").output
    assert "would remove personal data of 1 ticket(s)" in dry
    assert "13912345678" in Ticket.get_by_id(old.id).text

    assert "removed personal data of 1 ticket(s)" in sidan("retention", "--days", "730").output
    scrubbed = Ticket.get_by_id(old.id)
    assert scrubbed.text == PLACEHOLDER and scrubbed.room == "" and scrubbed.lat is None
    assert scrubbed.category == "water_supply" and scrubbed.score == 5
    assert scrubbed.state == old.state and scrubbed.anonymised_at is not None
    history = TicketEvent.select().where(TicketEvent.ticket == old)
    assert history.count() == events and all(event.note == "" for event in history)
    assert (
        Rating.get(Rating.ticket == old).comment == ""
        and Rating.get(Rating.ticket == old).score == 5
    )
    assert all(
        "13912345678" not in row.text for row in Outbound.select().where(Outbound.ticket == old)
    )
    # Recent and open tickets keep everything; a second run finds nothing more.
    assert "13912345678" in Ticket.get_by_id(recent.id).text
    assert "13800001111" in Ticket.get_by_id(still_open.id).text
    assert "of 0 ticket(s)" in sidan("retention", "--days", "730").output


def test_reporters_from_other_systems_lose_name_and_phone_with_their_last_ticket(demo, sidan):
    hotline = User.create(openid="open311:abc123", name="王阿姨", phone="13912345678",
                          subscribed=False)  # fmt: skip
    closed_ticket(demo, reporter=hotline)
    clock.advance(timedelta(days=800))
    assert "1 external reporter(s)" in sidan("retention", "--days", "730").output
    hotline = User.get_by_id(hotline.id)
    assert hotline.name == "" and hotline.phone == ""
    assert (
        demo.resident_1.phone == User.get_by_id(demo.resident_1.id).phone
    )  # residents keep theirs


def test_the_photos_of_a_scrubbed_ticket_are_deleted_from_storage(demo, sidan, config,
                                                                  monkeypatch):  # fmt: skip
    from bot.storage import LocalStorage

    monkeypatch.setenv("MEDIA_ROOT", config.MEDIA_ROOT)
    store = LocalStorage(config.MEDIA_ROOT, "http://testserver/api/v1/photos")
    key = "ab" * 16
    store.save(f"{key}.jpg", b"photo")
    store.save(f"{key}_t.jpg", b"thumb")
    ticket = closed_ticket(demo)
    Ticket.update(photos=[store.url(f"{key}.jpg"), "media:wechat-id"]).where(
        Ticket.id == ticket.id
    ).execute()
    clock.advance(timedelta(days=800))
    assert "2 photo file(s)" in sidan("retention", "--days", "730").output
    assert not store.exists(f"{key}.jpg") and not store.exists(f"{key}_t.jpg")
    assert Ticket.get_by_id(ticket.id).photos == []
