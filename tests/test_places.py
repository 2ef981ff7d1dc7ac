"""Place extraction from resident text and the haversine distance (hand-checked values)."""

from __future__ import annotations

import math

import pytest

from handlers.places import PlaceMention, cn_to_int, extract_place
from models.geo import distance_m

NAMES = ["阳光花园", "阳光花园二期", "幸福里小区", "金桂苑", "东湖小区"]


@pytest.mark.parametrize(
    ("text", "building", "unit", "room"),
    [
        ("3号楼2单元1202室漏水", "3", "2", "1202"),
        ("三号楼楼道灯坏了", "3", None, None),
        ("十二栋二单元一二零二室", "12", "2", "1202"),
        ("住在3栋 1202房", "3", None, "1202"),
        ("5幢3单元", "5", "3", None),
        ("7座门口的井盖没了", "7", None, None),
        ("A座1503楼上太吵", "A", None, "1503"),
        ("二十三号楼", "23", None, None),
        ("3号楼2单元1202 楼上漏水", "3", "2", "1202"),
        ("5号2单元301", "5", "2", "301"),
        ("3-2-1202 水管爆了", "3", "2", "1202"),
        ("3栋2-1202", "3", "2", "1202"),
        ("３号楼２单元", "3", "2", None),  # full-width digits
        ("喂你好我是八号楼三单元的楼道里堆满了东西", "8", "3", None),
    ],
)
def test_building_unit_room(text, building, unit, room):
    place = extract_place(text)
    assert (place.building, place.unit, place.room) == (building, unit, room)


@pytest.mark.parametrize(
    "text",
    [
        "5楼有人吵架",  # a floor, not a building
        "这三栋楼都停水了",  # counting buildings
        "整个小区300户都没水",  # a household count, not a room
        "#1024 催一下",  # a ticket number
        "",
        "😀",
    ],
)
def test_no_false_places(text):
    place = extract_place(text)
    assert (place.building, place.unit, place.room) == (None, None, None)


def test_year_after_building_is_not_a_room():
    assert extract_place("3号楼 2003年建的").room is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("阳光花园3号楼路灯坏了", "阳光花园"),
        ("阳光花园二期5栋302", "阳光花园二期"),  # longest name wins
        ("幸福里的路灯坏了", "幸福里小区"),  # name without 小区
        ("金桂12座 0502房", "金桂苑"),  # 2-character core followed by a building number
        ("东湖小区停水了", "东湖小区"),
        ("挡住了阳光 一楼很暗", None),  # bare 2-character core in ordinary words
        ("金桂的桂花开了", None),
        ("路灯坏了", None),
    ],
)
def test_compound_name(text, name):
    assert extract_place(text, NAMES).compound_name == name


def test_compound_names_optional_and_iterable():
    assert extract_place("阳光花园3号楼").compound_name is None
    assert extract_place("阳光花园3号楼", iter(NAMES)).compound_name == "阳光花园"
    assert extract_place("阳光花园3号楼", ["", "阳光花园"]).compound_name == "阳光花园"


def test_full_mention():
    assert extract_place("东湖十二栋二单元一二零二室", NAMES) == PlaceMention(
        building="12", unit="2", room="1202", compound_name="东湖小区"
    )
    assert extract_place("路灯坏了").is_empty


@pytest.mark.parametrize(
    ("text", "value"),
    [("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("两", 2), ("一百零五", 105),
     ("一二零二", 1202), ("12", 12), ("三百", 300), ("abc", None), ("", None)],
)  # fmt: skip
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


def test_distances_on_the_earth():
    assert distance_m(30.0, 120.0, 30.0, 120.0) == 0.0
    # one degree of latitude on a sphere of radius 6,371,008.8 m = 111,195.08 m
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_195.08, abs=0.5)
    assert distance_m(0, 0, 0, 1) == pytest.approx(111_195.08, abs=0.5)  # on the equator
    # Beijing (39.9042, 116.4074) to Shanghai (31.2304, 121.4737): about 1,067 km
    d = distance_m(39.9042, 116.4074, 31.2304, 121.4737)
    assert d == pytest.approx(1_067_000, rel=0.01)
    assert distance_m(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(d)
    # a short hop inside a compound: 0.001 degree of latitude is about 111 m
    assert distance_m(31.0, 121.0, 31.001, 121.0) == pytest.approx(111.2, abs=0.1)
    assert distance_m(0, 0, 0, 180) == pytest.approx(math.pi * 6_371_008.8, rel=1e-9)
