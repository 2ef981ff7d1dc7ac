"""The owner roll: importing a CSV with bad rows (as the operator runs it), binding, headcount."""

from fractions import Fraction

import pytest
from click.testing import CliRunner

from bot.cli import main
from models.errors import TicketError
from models.org import Compound, User
from models.owners import Household, Owner, bind_by_code, head_shares, import_roll

HEADER = "compound,building,unit,room,area_m2,owner_name,owner_phone,committee\n"
GOOD = (
    "和平新村,1,1,101,89.50,张三,13900000001,1\n"
    "和平新村,1,1,101,89.50,李四,13900000002,\n"  # a co-owner: same flat, same area
    "和平新村,1,1,102,120.3,张三,13900000001,\n"  # 张三 owns a second flat
    "compound_5,2,1,201,76.80,王五,13900000003,\n"  # by scene code (春晖小区)
)
BAD = (
    "和平新村,1,1,103,abc,赵六,13900000004,\n"  # line 6: area not a number
    "和平新村,1,1,104,-5,钱七,13900000005,\n"  # line 7: negative area
    "和平新村,1,1,105,88.123,孙八,13900000006,\n"  # line 8: three decimals
    "无此小区,1,1,101,88,周九,13900000007,\n"  # line 9: unknown compound
    "和平新村,1,1,106,88,吴十,not-a-phone,\n"  # line 10: bad phone
    "和平新村,1,1,101,90.00,郑一,13900000008,\n"  # line 11: 1-1-101 had 89.50 above
    "和平新村,1,1,107,,冯二,13900000009,\n"  # line 12: missing area
    "和平新村,1,1,101,89.50,李四,13900000002,\n"  # line 13: the same owner again
)


@pytest.fixture
def sidan(config, monkeypatch, db):
    monkeypatch.setenv("DATABASE_URL", config.DATABASE_URL)
    monkeypatch.setenv("REDIS_URL", config.REDIS_URL)
    monkeypatch.setenv("REDIS_PREFIX", config.REDIS_PREFIX)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_an_imported_roll_keeps_good_rows_and_reports_each_bad_one(sidan, demo, tmp_path):
    path = tmp_path / "roll.csv"
    path.write_text(HEADER + GOOD + BAD, encoding="utf-8")
    codes = tmp_path / "codes.csv"

    out = sidan("owners", "import", str(path), "--codes", str(codes)).output

    assert "rows read: 12, accepted: 4, rejected: 8" in out
    for line, reason in [(6, "not a number"), (7, "positive"), (8, "2 decimals"),
                         (9, "unknown"), (10, "phone"), (11, "different area"),
                         (12, "missing area_m2"), (13, "duplicate owner")]:  # fmt: skip
        assert f"line {line}: " in out and reason in out.split(f"line {line}: ")[1].split("\n")[0]
    place = Compound.get(Compound.name == "和平新村")
    flats = {h.label: h.area_x100 for h in Household.select().where(Household.compound == place)}
    assert flats == {"1-1-101": 8950, "1-1-102": 12030}
    assert Owner.select().where(Owner.compound == place).count() == 2
    assert len(codes.read_text(encoding="utf-8").splitlines()) == 1 + 3


def test_a_dry_run_writes_nothing(sidan, demo, tmp_path):
    path = tmp_path / "roll.csv"
    path.write_text(HEADER + GOOD, encoding="utf-8")

    out = sidan("owners", "import", str(path), "--dry-run").output

    assert "accepted: 4" in out and "nothing was written" in out
    assert Household.select().join(Compound).where(Compound.name == "和平新村").count() == 0


def test_a_file_without_the_columns_is_refused_whole(demo):
    with pytest.raises(TicketError, match="area_m2"):
        import_roll("compound,building,unit,room\n和平新村,1,1,101\n")


def test_headcount_joins_flats_that_share_an_owner(demo):
    import_roll(HEADER + GOOD)
    place = Compound.get(Compound.name == "和平新村")
    shares = head_shares(place.id)

    # 1-1-101 (张三 + 李四) and 1-1-102 (张三) are one person in the headcount.
    assert sorted(shares.values()) == [Fraction(1, 2), Fraction(1, 2)]
    assert sum(shares.values()) == 1


def test_a_household_code_binds_once(demo):
    import_roll(HEADER + GOOD)
    place = Compound.get(Compound.name == "春晖小区")
    household = Household.get((Household.compound == place) & (Household.label == "2-1-201"))
    user = User.get(User.openid == "demo_resident_4")

    bound = bind_by_code(user, household.bind_code.lower())

    assert bound.user_id == user.id and bound.bind_code is None
    with pytest.raises(TicketError, match="无效或已经用过"):
        bind_by_code(User.get(User.openid == "demo_resident_5"), household.bind_code)


def test_the_operator_binds_a_household_after_seeing_the_deed(sidan, demo):
    import_roll(HEADER + GOOD)

    out = sidan("owners", "bind", "和平新村", "1-1-102", "demo_resident_5").output

    assert "bound to demo_resident_5" in out
    place = Compound.get(Compound.name == "和平新村")
    bound = Household.get((Household.compound == place) & (Household.label == "1-1-102"))
    assert bound.user.openid == "demo_resident_5"
