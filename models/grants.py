"""Mini-program subscribe-message grants: one send per authorisation, counted per (user, template).

WeChat lets a mini-program send a subscribe message only as many times as the person accepted
that template in `wx.requestSubscribeMessage` (one-time subscriptions). Two witnesses report an
acceptance: the mini-program itself (POST /api/v1/subscriptions) and WeChat's
`subscribe_msg_popup_event` push. Either may come first or alone, so each acceptance reported by
one is held for DEDUP_WINDOW as "pending" and a report from the other within it is the same
acceptance, not another. The drainer spends one before each send and gives it back if the send
did not happen, so the count never goes below zero and never double-spends. A rejection (in the
popup, later in the settings, or WeChat's errcode 43101 on a send) sets the balance to zero.
"""

from datetime import timedelta

import peewee

from models.clock import now
from models.db import BaseModel, is_postgres, write_transaction
from models.org import User

MAX_BALANCE = 100  # a mini-program cannot honestly claim more acceptances than this
DEDUP_WINDOW = timedelta(minutes=10)
CLIENT, EVENT = "client", "event"  # who reported an acceptance
REFUSED_ERRCODE = 43101  # WeChat: the person refused (or turned off) this subscribe message


class SubscribeGrant(BaseModel):
    """How many subscribe messages of one template one person has allowed, and used."""

    user = peewee.ForeignKeyField(User, backref="subscribe_grants", on_delete="CASCADE")
    template_id = peewee.CharField(max_length=64)
    granted = peewee.IntegerField(default=0)
    used = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField(default=now)
    # Acceptances one witness reported that the other has not (yet), and since when.
    pending_client = peewee.IntegerField(default=0)
    pending_event = peewee.IntegerField(default=0)
    pending_at = peewee.DateTimeField(null=True)
    refused_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "template_id"), True),)

    @property
    def balance(self) -> int:
        return self.granted - self.used


def record_grants(user: User, template_ids: list[str], source: str = CLIENT) -> dict[str, int]:
    """Count one acceptance per template id, unless the other witness already reported it
    within DEDUP_WINDOW; returns the balances after it."""
    other = EVENT if source == CLIENT else CLIENT
    at = now()
    with write_transaction():
        for template_id in template_ids:
            grant = _locked(user, template_id, at)
            fresh = grant.pending_at is not None and grant.pending_at >= at - DEDUP_WINDOW
            mine, theirs = (
                (getattr(grant, f"pending_{source}"), getattr(grant, f"pending_{other}"))
                if fresh
                else (0, 0)
            )
            if theirs > 0:  # the same acceptance, told by the other witness
                theirs -= 1
            else:
                mine += 1
                if grant.granted - grant.used < MAX_BALANCE:
                    grant.granted += 1
            setattr(grant, f"pending_{source}", mine)
            setattr(grant, f"pending_{other}", theirs)
            grant.pending_at, grant.updated_at = at, at
            grant.save()
    return balances(user, template_ids)


def refuse(user: User | int, template_ids: list[str]) -> None:
    """The person turned the template down (popup, settings, or errcode 43101): none left."""
    at = now()
    with write_transaction():
        for template_id in template_ids:
            grant = _locked(user, template_id, at)
            grant.granted = grant.used  # what was sent stays counted
            grant.pending_client = grant.pending_event = 0
            grant.refused_at = grant.updated_at = at
            grant.save()


def _locked(user: User | int, template_id: str, at) -> SubscribeGrant:
    """The grant row, created if missing, locked until the transaction ends (SQLite's
    write transaction already holds the database)."""
    (
        SubscribeGrant.insert(user=user, template_id=template_id, updated_at=at)
        .on_conflict_ignore()
        .execute()
    )
    query = SubscribeGrant.select().where(
        (SubscribeGrant.user == user) & (SubscribeGrant.template_id == template_id)
    )
    return (query.for_update() if is_postgres() else query).get()


def balances(user: User, template_ids: list[str] | None = None) -> dict[str, int]:
    """Sends left per template for `user`."""
    query = SubscribeGrant.select().where(SubscribeGrant.user == user)
    if template_ids is not None:
        query = query.where(SubscribeGrant.template_id.in_(template_ids))
    return {g.template_id: g.balance for g in query}


def available(user_id: int, template_id: str) -> bool:
    """At least one send left for the template."""
    return (
        SubscribeGrant.select()
        .where(
            (SubscribeGrant.user == user_id)
            & (SubscribeGrant.template_id == template_id)
            & (SubscribeGrant.used < SubscribeGrant.granted)
        )
        .exists()
    )


def summary() -> list[dict]:
    """Per template, for the operator: people with sends left, sends left, granted (accepted,
    less what a refusal forfeited), sent, people who refused."""
    rows = (
        SubscribeGrant.select(
            SubscribeGrant.template_id,
            peewee.fn.SUM(
                peewee.Case(None, [(SubscribeGrant.used < SubscribeGrant.granted, 1)], 0)
            ).alias("people"),
            peewee.fn.SUM(SubscribeGrant.granted - SubscribeGrant.used).alias("left"),
            peewee.fn.SUM(SubscribeGrant.granted).alias("granted"),
            peewee.fn.SUM(SubscribeGrant.used).alias("used"),
            peewee.fn.COUNT(SubscribeGrant.refused_at).alias("refused"),
        )
        .group_by(SubscribeGrant.template_id)
        .order_by(SubscribeGrant.template_id)
        .dicts()
    )
    return [{k: (int(v) if k != "template_id" else v) for k, v in row.items()} for row in rows]


def spend(user_id: int, template_id: str) -> bool:
    """Take one send from the balance (compare-and-set); False when none is left."""
    return bool(
        SubscribeGrant.update(used=SubscribeGrant.used + 1, updated_at=now())
        .where(
            (SubscribeGrant.user == user_id)
            & (SubscribeGrant.template_id == template_id)
            & (SubscribeGrant.used < SubscribeGrant.granted)
        )
        .execute()
    )


def refund(user_id: int, template_id: str) -> None:
    """Give back a send that did not happen."""
    (
        SubscribeGrant.update(used=SubscribeGrant.used - 1, updated_at=now())
        .where(
            (SubscribeGrant.user == user_id)
            & (SubscribeGrant.template_id == template_id)
            & (SubscribeGrant.used > 0)
        )
        .execute()
    )
