"""Dispatchers' corrections as labelled examples: the latest per ticket, and the confusions."""

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
