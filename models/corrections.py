"""Dispatchers' corrections of the classifier (改类): kept as labelled examples to learn from.

The lifecycle's re-categorise transition writes one row in the same transaction as the ticket
change; `sidan classify --retrain` folds the rows into the training data and `--report` reads
the confusion pairs from them.
"""

import peewee

from models.clock import now
from models.db import BaseModel
from models.org import User
from models.tickets import Ticket


class Correction(BaseModel):
    """One dispatcher's fix of a ticket's category and/or urgency (append-only)."""

    ticket = peewee.ForeignKeyField(Ticket, backref="corrections", on_delete="CASCADE")
    # The resident's words as classified, so the example survives the ticket's anonymisation.
    text = peewee.TextField()
    old_category = peewee.CharField(max_length=32)
    new_category = peewee.CharField(max_length=32)
    old_urgency = peewee.CharField(max_length=16)
    new_urgency = peewee.CharField(max_length=16)
    corrected_by = peewee.ForeignKeyField(User, null=True, backref="corrections")
    created_at = peewee.DateTimeField(default=now, index=True)


def labelled_examples() -> list[tuple[str, str, str]]:
    """(text, category, urgency) from every correction, the latest per ticket winning."""
    latest: dict[int, tuple[str, str, str]] = {}
    for row in Correction.select().order_by(Correction.created_at, Correction.id):
        latest[row.ticket_id] = (row.text, row.new_category, row.new_urgency)
    return list(latest.values())


def confusion_pairs() -> list[tuple[str, str, int]]:
    """(classified as, corrected to, count) over all category corrections, most frequent first."""
    count = peewee.fn.COUNT(Correction.id)
    query = (
        Correction.select(Correction.old_category, Correction.new_category, count.alias("n"))
        .where(Correction.old_category != Correction.new_category)
        .group_by(Correction.old_category, Correction.new_category)
        .order_by(count.desc(), Correction.old_category)
    )
    return [(row.old_category, row.new_category, row.n) for row in query]
