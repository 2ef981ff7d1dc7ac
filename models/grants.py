"""Mini-program subscribe-message grants: one send per authorisation, counted per (user, template).

WeChat lets a mini-program send a subscribe message only as many times as the person accepted
that template in `wx.requestSubscribeMessage` (one-time subscriptions). The mini-program
reports each acceptance; the drainer spends one before each send and gives it back if the send
did not happen, so the count never goes below zero and never double-spends.
"""

import peewee

from models.clock import now
from models.db import BaseModel, write_transaction
from models.org import User

MAX_BALANCE = 100  # a mini-program cannot honestly claim more acceptances than this


class SubscribeGrant(BaseModel):
    """How many subscribe messages of one template one person has allowed, and used."""

    user = peewee.ForeignKeyField(User, backref="subscribe_grants", on_delete="CASCADE")
    template_id = peewee.CharField(max_length=64)
    granted = peewee.IntegerField(default=0)
    used = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField(default=now)

    class Meta:
        indexes = ((("user", "template_id"), True),)

    @property
    def balance(self) -> int:
        return self.granted - self.used


def record_grants(user: User, template_ids: list[str]) -> dict[str, int]:
    """Count one acceptance per template id; returns the balances after it."""
    at = now()
    with write_transaction():
        for template_id in template_ids:
            (
                SubscribeGrant.insert(user=user, template_id=template_id, granted=1, updated_at=at)
                .on_conflict(
                    conflict_target=[SubscribeGrant.user, SubscribeGrant.template_id],
                    update={
                        SubscribeGrant.granted: peewee.Case(
                            None,
                            [(SubscribeGrant.granted - SubscribeGrant.used < MAX_BALANCE,
                              SubscribeGrant.granted + 1)],
                            SubscribeGrant.granted,
                        ),
                        SubscribeGrant.updated_at: at,
                    },
                )
                .execute()
            )  # fmt: skip
    return balances(user, template_ids)


def balances(user: User, template_ids: list[str] | None = None) -> dict[str, int]:
    """Sends left per template for `user`."""
    query = SubscribeGrant.select().where(SubscribeGrant.user == user)
    if template_ids is not None:
        query = query.where(SubscribeGrant.template_id.in_(template_ids))
    return {g.template_id: g.balance for g in query}


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
