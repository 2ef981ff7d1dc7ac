"""The votes' scheduler steps: open what is due, remind before the close, close and count.

Each `handle_one_*` acts on at most one vote and says whether it did anything, so a test calls
one step at a time; the models' conditional UPDATEs make a second scheduler harmless.
"""

import logging

from models import votes
from models.clock import now
from models.votes import Vote, VoteStatus

log = logging.getLogger("sidan.scheduler.votes")
MAX_PER_RUN = 100


def handle_one_opening() -> bool:
    """Open the next scheduled vote whose opening time has passed."""
    for vote in votes.due_votes(VoteStatus.SCHEDULED, Vote.opens_at, now(), limit=1):
        return votes.open_due(vote)
    return False


def handle_one_reminder() -> bool:
    """Remind the owners who have not voted in the next vote closing within a day."""
    due = (
        Vote.select()
        .where(
            (Vote.status == VoteStatus.OPEN)
            & Vote.reminded_at.is_null()
            & (Vote.closes_at <= now() + votes.REMIND_BEFORE)
            & (Vote.closes_at > now())
        )  # fmt: skip
        .order_by(Vote.closes_at)
        .first()
    )
    if due is None:
        return False
    votes.remind_due(due)
    return True


def handle_one_closing() -> bool:
    """Close and count the next open vote whose time is up."""
    for vote in votes.due_votes(VoteStatus.OPEN, Vote.closes_at, now(), limit=1):
        return votes.close_due(vote)
    return False


def votes_job() -> dict:
    """Run every step until nothing is due (capped per run)."""
    done = {}
    for name, step in (("opened", handle_one_opening), ("reminded", handle_one_reminder),
                       ("closed", handle_one_closing)):  # fmt: skip
        count = 0
        while count < MAX_PER_RUN and step():
            count += 1
        if count:
            done[name] = count
    if done:
        log.info("votes: %s", ", ".join(f"{k}={v}" for k, v in sorted(done.items())))
    return done
