"""Helpers for the vote tests: hand-built owner rolls (this module holds no tests)."""

from datetime import timedelta

from models import votes
from models.clock import advance, now
from models.org import Compound, User
from models.owners import Household, Owner, Ownership, parse_area


def build_roll(compound: Compound, areas: list[str], groups: list[list[int]] | None = None):
    """Households with `areas` (m² as text), each bound to a new user; `groups` lists household
    indexes that share one owner (a person with several flats). Returns (households, users)."""
    households, users = [], []
    for i, area in enumerate(areas):
        household = Household.create(
            compound=compound, label=f"9-1-{i + 1:03d}", area_x100=parse_area(area)
        )
        user = User.create(openid=f"owner_{compound.id}_{i}", name=f"业主{i}", compound=compound)
        Household.update(user=user).where(Household.id == household.id).execute()
        households.append(household)
        users.append(user)
    grouped = {i for group in groups or [] for i in group}
    for n, group in enumerate(groups or []):
        owner = Owner.create(compound=compound, name=f"多户业主{n}", phone=f"1370000{n:04d}")
        for i in group:
            Ownership.create(owner=owner, household=households[i])
    for i, household in enumerate(households):
        if i not in grouped:
            owner = Owner.create(compound=compound, name=f"业主{i}", phone=f"1360000{i:04d}")
            Ownership.create(owner=owner, household=household)
    return households, users


def open_vote(actor, compound, kind="ordinary", options=("同意", "不同意"), hours=48, **kw):
    return votes.create_vote(
        actor, compound, "是否同意本事项？", list(options), kind_code=kind,
        closes_at=now() + timedelta(hours=hours), **kw,
    )  # fmt: skip


def close(vote) -> dict:
    """Let the vote's time run out and close it; returns the stored result."""
    advance(vote.closes_at - now() + timedelta(seconds=1))
    assert votes.close_due(vote)
    return votes.Vote.get_by_id(vote.id).result
