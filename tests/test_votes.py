"""Votes in the models: the thresholds of 民法典 第278条 on hand-built rolls, casting, closing,
hidden results, receipts and the published tally."""

import hashlib
from fractions import Fraction

import pytest

from models import votes
from models.ballots import Ballot, Participation, cast, change, check_receipt
from models.errors import TicketError
from models.org import Compound
from models.outbox import Outbound
from models.votes import Vote, VoteEvent
from tests.vote_support import build_roll, close, open_vote


@pytest.fixture
def place(demo):
    return Compound.get(Compound.name == "丹桂苑")


def run(demo, place, areas, ballots: dict[int, int], kind="ordinary", groups=None) -> dict:
    """Build a roll, open a vote, cast `ballots` {household index: option}, close, result."""
    _, users = build_roll(place, areas, groups)
    vote = open_vote(demo.dispatcher_1, place, kind)
    for i, option in ballots.items():
        cast(vote.id, users[i], option)
    return close(vote)


# ---------------------------------------------------------------- participation (2/3 以上)


@pytest.mark.parametrize(
    ("areas", "voters", "met"),
    [
        (["100", "100", "100"], [0, 1], True),  # exactly 2/3 of area and heads: 以上 includes it
        (["100", "100", "100.01"], [0, 1], False),  # area 200/300.01: just under
        (["100.01", "100", "100"], [0, 1], True),  # area 200.01/300.01: just over
    ],
)
def test_participation_needs_two_thirds_of_the_area(demo, place, areas, voters, met):
    result = run(demo, place, areas, {i: 1 for i in voters})

    assert result["quorum_met"] is met
    assert result["participation"]["area_x100"] == sum(int(float(areas[i]) * 100) for i in voters)


@pytest.mark.parametrize(
    ("count", "voters", "met"),
    [
        (7, 4, False),  # heads 4/7 < 2/3 though the big flat gives most of the area
        (6, 4, True),  # heads 4/6 = 2/3 exactly
        (7, 5, True),  # heads 5/7 > 2/3
    ],
)
def test_participation_needs_two_thirds_of_the_owners(demo, place, count, voters, met):
    areas = ["1000"] + ["10"] * (count - 1)
    result = run(demo, place, areas, {i: 1 for i in range(voters)})

    assert (
        result["participation"]["area_x100"] * 3 >= result["participation"]["total_area_x100"] * 2
    )
    assert result["quorum_met"] is met


# ---------------------------------------------------------------- ordinary matters (过半数)


@pytest.mark.parametrize(
    ("areas", "yes", "passed"),
    [
        (["100", "100", "100", "100"], [0, 1], None),  # exactly half of heads and area: not 过半数
        (["100", "100", "100", "100"], [0, 1, 2], 1),  # 3/4 of both
        (["100", "100", "100", "150", "150"], [0, 1, 2], None),  # heads 3/5 but area 300/600
        (["100.01", "100", "100", "150", "150"], [0, 1, 2], 1),  # area 300.01/600.01
    ],
)
def test_an_ordinary_matter_needs_more_than_half(demo, place, areas, yes, passed):
    ballots = {i: 1 if i in yes else 2 for i in range(len(areas))}

    result = run(demo, place, areas, ballots)

    assert result["quorum_met"]
    assert result["passed_option"] == passed


def test_more_than_half_of_heads_is_needed_even_with_most_of_the_area(demo, place):
    result = run(demo, place, ["500", "10", "10", "10"], {0: 1, 1: 2, 2: 2, 3: 1})

    assert result["options"][0]["area_x100"] == 51000  # 510/530 of the area
    assert result["options"][0]["heads"] == "2"  # 2 of 4: exactly half
    assert result["passed_option"] is None


# ---------------------------------------------------------------- major matters (3/4 以上)


@pytest.mark.parametrize(
    ("areas", "yes", "passed"),
    [
        (["100", "100", "100", "100"], [0, 1, 2], 1),  # exactly 3/4: 以上 includes it
        (["100", "100", "100", "100.01"], [0, 1, 2], None),  # area 300/400.01: just under
        (["100.01", "100", "100", "100"], [0, 1, 2], 1),  # area 300.01/400.01: just over
        (["100"] * 5, [0, 1, 2], None),  # heads 3/5 < 3/4
    ],
)
def test_a_major_matter_needs_three_quarters(demo, place, areas, yes, passed):
    ballots = {i: 1 if i in yes else 2 for i in range(len(areas))}

    result = run(demo, place, areas, ballots, kind="major")

    assert result["passed_option"] == passed


def test_the_thresholds_are_the_laws_and_only_raising_the_fund_is_major():
    rules = votes.rules()

    assert rules.participation_area.ratio == Fraction(2, 3) and rules.participation_area.inclusive
    assert rules.kinds["ordinary"].area.ratio == Fraction(1, 2)
    assert not rules.kinds["ordinary"].heads.inclusive  # 过半数: more than half
    assert (
        rules.kinds["major"].heads.ratio == Fraction(3, 4) and rules.kinds["major"].heads.inclusive
    )
    assert 5 in rules.kinds["ordinary"].items  # 使用维修资金
    assert rules.kinds["major"].items == (6, 7, 8)  # 筹集维修资金, 改建重建, 改变共有部分用途


# ---------------------------------------------------------------- headcount


def test_an_owner_of_several_flats_counts_once_with_the_sum_of_areas(demo, place):
    # Households 0 and 1 belong to one person: 3 owners in all.
    result = run(demo, place, ["80", "80", "100", "100"], {0: 1, 1: 1, 2: 1}, groups=[[0, 1]])

    part = result["participation"]
    assert part["total_heads"] == 3
    assert part["heads"] == "2"  # the two-flat owner is one person
    assert part["area_x100"] == 26000
    assert result["quorum_met"]  # 2/3 of heads, 260/360 of area
    assert result["options"][0]["ballots"] == 3


def test_co_owners_of_one_flat_are_one_ballot_and_one_head(demo, place):
    households, users = build_roll(place, ["90", "90"])
    from models.owners import Owner, Ownership

    spouse = Owner.create(compound=place, name="配偶", phone="13500000001")
    Ownership.create(owner=spouse, household=households[0])
    vote = open_vote(demo.dispatcher_1, place)

    assert vote.total_heads == 2
    cast(vote.id, users[0], 1)
    with pytest.raises(TicketError, match="已经"):
        cast(vote.id, users[0], 2)


# ---------------------------------------------------------------- casting and closing


def test_a_closed_vote_refuses_ballots(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    close(vote)

    with pytest.raises(TicketError, match="已经截止") as refused:
        cast(vote.id, users[0], 1)

    assert refused.value.code == "conflict"
    assert Ballot.select().count() == 0 and Participation.select().count() == 0


def test_a_vote_past_its_time_refuses_ballots_before_the_scheduler_closes_it(demo, place):
    from datetime import timedelta

    from models.clock import advance

    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place, hours=1)
    advance(timedelta(hours=1))

    with pytest.raises(TicketError, match="已经截止"):
        cast(vote.id, users[0], 1)


def test_results_stay_hidden_until_the_close(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    receipt = cast(vote.id, users[0], 2)[0]

    assert Vote.get_by_id(vote.id).result is None
    early = check_receipt(receipt.code)
    assert early.found and early.option is None  # recorded, but not told back before the close
    assert "results" not in " ".join(e.note for e in VoteEvent.select())

    close(vote)
    assert check_receipt(receipt.code).option == 2


def test_a_receipt_is_in_the_published_tally_and_its_hash_checks(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    receipts = [cast(vote.id, u, o)[0] for u, o in zip(users, (1, 2, 1), strict=True)]
    result = close(vote)

    lines = votes.published_lines(Vote.get_by_id(vote.id))
    mine = hashlib.sha256(f"sidan-receipt:{vote.id}:{receipts[1].code}".encode()).hexdigest()
    assert f"2:{mine}" in lines
    assert hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest() == result["tally_hash"]
    assert check_receipt("AAAA-BBBB-CCCC") is None


def test_a_vote_can_be_changed_with_its_receipt_until_the_close(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    receipt = cast(vote.id, users[0], 1)[0]

    with pytest.raises(TicketError, match="回执码不对"):
        change(vote.id, users[1], 2, receipt.code)  # someone else's receipt opens nothing
    change(vote.id, users[0], 2, receipt.code)

    assert [b.option for b in Ballot.select()] == [1]
    assert Participation.get().changes == 1
    assert close(vote)["options"][1]["ballots"] == 1


def test_a_vote_without_changes_keeps_the_first_ballot(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place, allow_change=False)
    receipt = cast(vote.id, users[0], 1)[0]

    with pytest.raises(TicketError, match="不能修改"):
        change(vote.id, users[0], 2, receipt.code)


def test_ballots_carry_nothing_that_names_the_household(demo, place):
    columns = set(Ballot._meta.fields)

    assert columns == {"id", "vote", "option", "area_x100", "head_num", "head_den",
                       "receipt_hash", "token_hash"}  # fmt: skip
    assert "ballot" not in Participation._meta.fields


def test_every_change_is_an_event_and_owners_are_told(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    receipt = cast(vote.id, users[0], 1)[0]
    change(vote.id, users[0], 2, receipt.code)
    close(vote)

    actions = [e.action for e in VoteEvent.select().order_by(VoteEvent.id)]
    assert actions == ["create", "open", "cast", "change", "close"]
    texts = [o.text for o in Outbound.select().where(Outbound.user == users[1])]
    assert any("回复“投票”参加" in t for t in texts)
    assert any("表决结果" in t and "不生效" in t for t in texts)  # 1 of 3 took part


def test_only_staff_in_scope_or_the_committee_may_open_a_vote(demo, place):
    build_roll(place, ["90", "90"])

    with pytest.raises(TicketError) as refused:
        open_vote(demo.resident_4, place)
    assert refused.value.code == "forbidden"
    far_community = Compound.get(Compound.name == "翠园小区").grid.parent_id
    far = demo[f"community_{far_community}_dispatcher"]
    with pytest.raises(TicketError):
        open_vote(far, place)


def test_closing_rewrites_the_ballots_under_new_ids_and_receipts_still_check(demo, place):
    _, users = build_roll(place, ["90", "90", "90"])
    vote = open_vote(demo.dispatcher_1, place)
    receipts = [cast(vote.id, u, 1)[0] for u in users]
    before = {b.id for b in Ballot.select()}

    close(vote)

    after = {b.id for b in Ballot.select()}
    assert len(after) == 3 and not before & after
    assert all(check_receipt(r.code).option == 1 for r in receipts)
