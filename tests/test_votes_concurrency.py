"""One counted ballot per household when 20 casts arrive at once (each on its own connection)."""

import threading

import pytest

from models.ballots import Ballot, Participation, cast
from models.db import database
from models.errors import TicketError
from models.org import Compound
from tests.vote_support import build_roll, open_vote

CASTS = 20


def _race(calls) -> tuple[list, list]:
    """Run the calls at the same moment on separate threads; (results, refusals)."""
    start = threading.Barrier(len(calls))
    won, refused, failed = [], [], []

    def run(fn):
        with database.connection_context():
            start.wait()
            try:
                won.append(fn())
            except TicketError as exc:
                refused.append(exc)
            except Exception as exc:  # anything else is a bug the test must show
                failed.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failed, failed
    return won, refused


@pytest.fixture
def place(demo):
    return Compound.get(Compound.name == "丹桂苑")


def test_twenty_simultaneous_casts_for_one_household_count_once(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    database.close()  # the threads use their own connections

    won, refused = _race([lambda o=o: cast(vote.id, users[0], 1 + o % 2) for o in range(CASTS)])

    database.connect(reuse_if_open=True)
    assert len(won) == 1 and len(refused) == CASTS - 1
    assert all(r.code == "conflict" and "已经" in r.message for r in refused)
    assert Participation.select().count() == 1
    assert Ballot.select().count() == 1


def test_twenty_households_casting_at_once_all_count(demo, place):
    _, users = build_roll(place, ["90"] * CASTS)
    vote = open_vote(demo.dispatcher_1, place)
    database.close()

    won, refused = _race([lambda u=u: cast(vote.id, u, 1) for u in users])

    database.connect(reuse_if_open=True)
    assert len(won) == CASTS and not refused
    assert Ballot.select().count() == CASTS == Participation.select().count()
