"""The ticket lifecycle: the one place that changes a ticket's state (DESIGN §4).

Every public function here is one transition. It runs in one transaction, checks who may
do it, moves the ticket with a compare-and-set on (state, version), writes a TicketEvent,
and enqueues the notifications it causes in the same transaction (transactional outbox).
"""

from models.lifecycle.chase import (
    assist,
    breach_escalate,
    close_unrated,
    escalate,
    remind,
    reschedule_check,
    send_rating_reminder,
    urge,
)
from models.lifecycle.core import ALLOWED_FROM, check_allowed, transition
from models.lifecycle.fixes import category_label, recategorize, unmerge
from models.lifecycle.orders import (
    award_points,
    cancel,
    close,
    dispatch,
    follow_up,
    hand_back,
    merge,
    merge_doubts,
    rate,
    reassign,
    reopen,
    report_progress,
    resolve,
    submit,
    subscribe,
    take,
)
from models.lifecycle.supplements import supplement

__all__ = [
    "ALLOWED_FROM", "assist", "award_points", "breach_escalate", "cancel", "check_allowed",
    "category_label", "close", "close_unrated", "dispatch", "escalate", "follow_up", "hand_back",
    "merge", "merge_doubts", "rate", "reassign", "recategorize", "remind", "reschedule_check",
    "reopen", "report_progress", "resolve", "send_rating_reminder", "submit", "subscribe", "supplement", "take",
    "transition", "unmerge", "urge",
]  # fmt: skip
