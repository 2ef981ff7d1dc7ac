"""Dispatchers' corrections as labelled examples: the latest per ticket, and the confusions."""

import pytest

from models.corrections import Correction, confusion_pairs, labelled_examples
from models.lifecycle import submit


def _correct(ticket, category, urgency, by, old=None):
    return Correction.create(
        ticket=ticket, text=ticket.text, old_category=old or ticket.category,
        new_category=category, old_urgency=ticket.urgency, new_urgency=urgency, corrected_by=by,
    )  # fmt: skip


def test_the_latest_correction_of_a_ticket_is_its_label(demo):
    ticket = submit(demo.resident_1, "楼道里一股怪味", category="other", urgency="normal")
    _correct(ticket, "sanitation", "normal", demo.dispatcher_1)
    _correct(ticket, "fire_safety", "urgent", demo.dispatcher_1, old="sanitation")
    assert labelled_examples() == [("楼道里一股怪味", "fire_safety", "urgent")]


def test_confusion_pairs_count_category_changes_only(demo):
    for text in ("路灯不亮", "小区路灯坏了"):
        ticket = submit(demo.resident_1, text, category="public_facility", urgency="normal")
        _correct(ticket, "power_lighting", "normal", demo.dispatcher_1)
    same = submit(demo.resident_2, "电梯困人", category="elevator", urgency="normal")
    _correct(same, "elevator", "urgent", demo.dispatcher_1)
    assert confusion_pairs() == [("public_facility", "power_lighting", 2)]


def test_recategorize_writes_its_correction_in_the_same_transaction(demo, monkeypatch):
    from models import lifecycle
    from models.tickets import Ticket

    ticket = submit(demo.resident_1, "楼道灯不亮", category="other", urgency="normal")
    lifecycle.recategorize(ticket.id, demo.dispatcher_1, "power_lighting")
    [row] = Correction.select()
    assert (row.old_category, row.new_category, row.corrected_by_id) == (
        "other", "power_lighting", demo.dispatcher_1.id,
    )  # fmt: skip

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Correction, "create", broken)
    with pytest.raises(RuntimeError):
        lifecycle.recategorize(ticket.id, demo.dispatcher_1, "elevator", "urgent")
    after = Ticket.get_by_id(ticket.id)
    assert (after.category, after.urgency) == ("power_lighting", "normal")
    assert Correction.select().count() == 1
