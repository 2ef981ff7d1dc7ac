"""Pure-text place extraction from resident messages (no database).

``extract_place("阳光花园三号楼2单元1202室", ["阳光花园"])`` ->
``PlaceMention(building="3", unit="2", room="1202", compound_name="阳光花园")``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN = "零〇一二两三四五六七八九十百千"

_NUM = rf"(\d{{1,4}}|[{_CN}]{{1,6}})"
_ID = rf"(\d{{1,4}}|[{_CN}]{{1,6}}|(?<![A-Za-z])[A-Za-z](?![A-Za-z]))"
_ROOM_NUM = r"(\d{3,5}|[零〇一二两三四五六七八九]{3,5})"
_NOT_ROOM_AFTER = (
    "单元|号楼|栋|幢|座|年|月|日|元|块|米|平|人|次|天|个|楼(?![上下道])|层|多|万|岁|分|小时|户"
)

# 3-2-1202 / 3栋2-1202 style: building-unit-room
_DASHED_RE = re.compile(r"(?<!\d)(\d{1,3})\s*[-－—_]\s*(\d{1,2})\s*[-－—_]\s*(\d{3,5})(?!\d)")
_BUILDING_RE = re.compile(
    rf"{_ID}\s*(号楼|栋|幢|座|#楼|号(?=\s*(?:\d{{1,2}}|[{_CN}]{{1,3}})\s*单元))"
)
_UNIT_RE = re.compile(rf"{_NUM}\s*单元")
_UNIT_ROOM_DASH_RE = re.compile(r"\s*(\d{1,2})\s*[-－—]\s*(\d{3,5})(?!\d)")
_ROOM_SUFFIX_RE = re.compile(rf"(?<![\d.]){_ROOM_NUM}\s*(?:号房|室|房间|房)")
_ROOM_AFTER_RE = re.compile(rf"\s*(?:的)?\s*{_ROOM_NUM}(?![\d{_CN}]|\s*(?:{_NOT_ROOM_AFTER}))")

_NAME_SUFFIXES = ("小区", "花园", "苑")
_CORE_FOLLOW_RE = re.compile(
    rf"\s*(?:[\dA-Za-z{_CN}]{{1,4}}\s*(?:号|栋|幢|座|单元|期|区|#|-)|小区|家园|花园|苑|那边|这边|门口)"
)
# What the name of a place ends with, for a name we do not know ('火星小区', '绿地世纪城3期5号楼',
# '人民路'): short, a place word, then at most building, unit and room numbers.
_PLACE_NAME_RE = re.compile(
    rf"^.{{0,12}}(?:{'|'.join(_NAME_SUFFIXES)}|家园|新村|公寓|大厦|社区|府|湾|城|里|庭|园|期|号院|路|街|巷|弄)"
    rf"(?:\s*[\d{_CN}]+\s*(?:号楼|栋|幢|单元|号|室|期))*$"
)
_COUNT_PREFIX = "这那几好有共"  # "这三栋楼" counts buildings rather than naming one


@dataclass(frozen=True)
class PlaceMention:
    building: str | None = None  # "3" from 3号楼 / 3栋 / 三号楼 / 3幢 / 3座 ("A" from A座)
    unit: str | None = None  # "2" from 2单元
    room: str | None = None  # "1202" from 1202室 / 1202房
    compound_name: str | None = None  # one of the names passed in, as given

    @property
    def is_empty(self) -> bool:
        return not (self.building or self.unit or self.room or self.compound_name)


def looks_like_place_name(text: str) -> bool:
    """'火星小区', '阳光花园5号楼': the whole text reads as the name of a place (known or not)."""
    return bool(_PLACE_NAME_RE.match(text.strip(" ，,。.!！在是的")))


def cn_to_int(text: str) -> int | None:
    """Convert a Chinese or Arabic numeral ("十二", "二十三", "一百零五", "一二零二", "12")."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    if not any(ch in _CN_UNITS for ch in text):  # digit by digit: 一二零二 -> 1202
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
    return total + current


def _num(token: str) -> str | None:
    if len(token) == 1 and token.isascii() and token.isalpha():
        return token.upper()
    value = cn_to_int(token)
    return None if value is None else str(value)


def _room(token: str) -> str | None:
    value = _num(token)
    # keep leading zeros of written room numbers ("0302") when given in digits
    return token if token.isdigit() else value


def _core_plausible(text: str, core: str) -> bool:
    """A short core ("阳光" of 阳光花园) counts only when a place detail follows it."""
    if len(core) >= 3:
        return True
    return any(_CORE_FOLLOW_RE.match(text, m.end()) for m in re.finditer(re.escape(core), text))


def _match_compound(text: str, names: Iterable[str]) -> str | None:
    """Longest compound name (or its core without 小区/花园/苑) that appears in the text."""
    best: tuple[int, int, str] | None = None  # (matched length, full-name bonus, name)
    for name in names:
        if not name:
            continue
        clean = unicodedata.normalize("NFKC", name).strip()
        candidates = [(clean, 1)]
        for suffix in _NAME_SUFFIXES:
            core = clean[: -len(suffix)] if clean.endswith(suffix) else ""
            if len(core) >= 2:
                candidates.append((core, 0))
        for needle, full in candidates:
            if needle and needle in text and (full or _core_plausible(text, needle)):
                key = (len(needle), full, name)
                if best is None or key[:2] > best[:2]:
                    best = key
                break  # full name found: no need to try the core
    return best[2] if best else None


def _find_building(text: str) -> re.Match[str] | None:
    for m in _BUILDING_RE.finditer(text):
        token, suffix = m.group(1), m.group(2)
        if token[0] in _CN and suffix in ("栋", "幢", "座"):
            nxt = text[m.end() : m.end() + 1]
            prev = text[m.start() - 1 : m.start()] if m.start() else ""
            if nxt == "楼" or (prev and prev in _COUNT_PREFIX):
                continue
        return m
    return None


def extract_place(text: str, compound_names: Iterable[str] = ()) -> PlaceMention:
    """Extract building / unit / room and a known compound name from free text."""
    text = unicodedata.normalize("NFKC", text or "")
    building = unit = room = None
    anchor = -1  # end of the last building/unit match, where a bare room number may follow

    dashed = _DASHED_RE.search(text)
    if dashed:
        building, unit, room = dashed.group(1), dashed.group(2), dashed.group(3)

    b = _find_building(text)
    if b and building is None:
        building, anchor = _num(b.group(1)), b.end()
    u = _UNIT_RE.search(text)
    if u and unit is None:
        unit, anchor = _num(u.group(1)), max(anchor, u.end())

    if room is None:
        r = _ROOM_SUFFIX_RE.search(text)
        if r:
            room = _room(r.group(1))
        elif anchor >= 0:
            after = _ROOM_AFTER_RE.match(text, anchor)
            if after:
                room = _room(after.group(1))
        if room is None and b and unit is None:
            ud = _UNIT_ROOM_DASH_RE.match(text, b.end())
            if ud:
                unit, room = ud.group(1), ud.group(2)

    return PlaceMention(building, unit, room, _match_compound(text, compound_names))
