"""The votes' scheduler steps: scheduled votes open, non-voters are reminded once, votes close
once and owners are told the result — all through the outbox."""

from datetime import timedelta

import pytest

from models import votes
from models.ballots import cast
from models.clock import advance, now
from models.org import Compound
from models.outbox import Outbound
from models.votes import Vote, VoteStatus
from scheduler import votes as jobs
from tests.vote_support import build_roll


@pytest.fixture
def roll(demo):
    place = Compound.get(Compound.name == "丹桂苑")
    _, users = build_roll(place, ["90", "90", "90"])
    return place, users


def _texts(user) -> list[str]:
    return [o.text for o in Outbound.select().where(Outbound.user == user).order_by(Outbound.id)]


def test_a_scheduled_vote_opens_on_time_and_owners_are_told_once(demo, roll):
    place, users = roll
    vote = votes.create_vote(demo.dispatcher_1, place, "是否同意？", ["同意", "不同意"],
                             opens_at=now() + timedelta(hours=2),
                             closes_at=now() + timedelta(days=3))  # fmt: skip
    assert vote.status == VoteStatus.SCHEDULED and not _texts(users[0])
    assert not jobs.handle_one_opening()

    advance(timedelta(hours=2))

    assert jobs.handle_one_opening()
    assert not jobs.handle_one_opening()
    assert Vote.get_by_id(vote.id).status == VoteStatus.OPEN
    assert len(_texts(users[0])) == 1 and "回复“投票”参加" in _texts(users[0])[0]


def test_only_owners_who_have_not_voted_are_reminded_once_a_day_before(demo, roll):
    place, users = roll
    vote = votes.create_vote(demo.dispatcher_1, place, "是否同意？", ["同意", "不同意"],
                             closes_at=now() + timedelta(days=3))  # fmt: skip
    cast(vote.id, users[0], 1)
    assert not jobs.handle_one_reminder()  # three days to go

    advance(timedelta(days=2, hours=1))

    assert jobs.handle_one_reminder()
    assert not jobs.handle_one_reminder()
    reminded = [u for u in users if any("表决提醒" in t for t in _texts(u))]
    assert reminded == users[1:]
    assert "约23小时" in _texts(users[1])[-1]


def test_a_vote_closes_once_and_everyone_on_the_roll_hears_the_result(demo, roll):
    place, users = roll
    vote = votes.create_vote(demo.dispatcher_1, place, "是否同意？", ["同意", "不同意"],
                             closes_at=now() + timedelta(days=1))  # fmt: skip
    for user in users[:2]:
        cast(vote.id, user, 1)
    assert not jobs.handle_one_closing()

    advance(timedelta(days=1))

    assert jobs.votes_job() == {"closed": 1}
    assert jobs.votes_job() == {}
    closed = Vote.get_by_id(vote.id)
    assert closed.result["passed_option"] == 1 and closed.result["quorum_met"]
    for user in users:
        assert sum("表决结果" in t for t in _texts(user)) == 1
    assert "“同意”达到法定多数，通过" in _texts(users[2])[-1]
