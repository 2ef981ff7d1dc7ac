"""Routing and time limits read from data files: categories, deadlines, working days."""

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from models.clock import from_local, to_local
from models.enums import Level, Step, Urgency

DATA_DIR = Path(__file__).parent / "data"
_DURATION = re.compile(r"^(\d+)(m|h|d|wd)$")


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    urgency: Urgency
    responsible: str
    linked: tuple[str, ...]
    skills: tuple[str, ...]


@dataclass(frozen=True)
class Limits:
    start: Level
    dispatch: str
    take: str
    resolve: str
    overall: str
    breach_every: str
    remind_first: bool


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        """Weekdays work unless they are holidays; weekends rest unless made up (调休)."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start_local: datetime, days: int) -> datetime:
        """`days` working days after `start_local`; a start on a rest day counts from the next
        working day's midnight."""
        current = start_local
        if not self.is_working_day(current.date()):
            current = datetime.combine(current.date(), time.min)
            while not self.is_working_day(current.date()):
                current += timedelta(days=1)
        while days > 0:
            current += timedelta(days=1)
            if self.is_working_day(current.date()):
                days -= 1
        return current


@dataclass(frozen=True)
class Routing:
    categories: dict[str, Category]
    limits: dict[Urgency, Limits]
    calendar: Calendar
    rating_remind: str
    rating_close: str
    points_by_score: dict[int, int]
    urgent_bonus: int
    push_count: int

    def category(self, code: str) -> Category:
        """The category for `code`, falling back to 其他."""
        return self.categories.get(code) or self.categories["other"]

    def add(self, start: datetime, duration: str) -> datetime:
        """`start` (naive UTC) plus a duration string, working days respected."""
        match = _DURATION.match(duration)
        if not match:
            raise ValueError(f"bad duration {duration!r}")
        amount, unit = int(match.group(1)), match.group(2)
        if unit == "wd":
            return from_local(self.calendar.add_working_days(to_local(start), amount))
        seconds = {"m": 60, "h": 3600, "d": 86400}[unit]
        return start + timedelta(seconds=amount * seconds)

    def step_deadline(self, urgency: str, step: Step, start: datetime) -> datetime:
        """When the running step must be done, counted from `start`."""
        if step == Step.RATE:
            return self.add(start, self.rating_remind)
        return self.add(start, getattr(self.limits[Urgency(urgency)], step.value))

    def overall_deadline(self, urgency: str, start: datetime) -> datetime:
        return self.add(start, self.limits[Urgency(urgency)].overall)

    def next_breach(self, urgency: str, breach_at: datetime) -> datetime:
        """After a breach was acted on, when the next one falls due."""
        return self.add(breach_at, self.limits[Urgency(urgency)].breach_every)

    def start_level(self, urgency: str) -> Level:
        return self.limits[Urgency(urgency)].start

    def points_for(self, score: int, urgency: str) -> int:
        """Points an assignee earns for a rated ticket (0 for an unhappy rating)."""
        base = self.points_by_score.get(score, 0)
        bonus = self.urgent_bonus if urgency == Urgency.URGENT and base > 0 else 0
        return base + bonus


def _parse(routing_file: Path, calendar_file: Path) -> Routing:
    raw = tomllib.loads(routing_file.read_text(encoding="utf-8"))
    cal = tomllib.loads(calendar_file.read_text(encoding="utf-8"))
    categories = {
        code: Category(
            code=code,
            name=c["name"],
            urgency=Urgency(c["urgency"]),
            responsible=c["responsible"],
            linked=tuple(c.get("linked", ())),
            skills=tuple(c.get("skills", ())),
        )
        for code, c in raw["categories"].items()
    }
    limits = {}
    for key, lim in raw["limits"].items():
        for field in ("dispatch", "take", "resolve", "overall", "breach_every"):
            if not _DURATION.match(lim[field]):
                raise ValueError(f"limits.{key}.{field}: bad duration {lim[field]!r}")
        limits[Urgency(key)] = Limits(
            start=Level(lim["start"]),
            dispatch=lim["dispatch"],
            take=lim["take"],
            resolve=lim["resolve"],
            overall=lim["overall"],
            breach_every=lim["breach_every"],
            remind_first=bool(lim["remind_first"]),
        )
    if set(limits) != set(Urgency) or "other" not in categories:
        raise ValueError("routing file needs limits for every urgency and an 'other' category")
    return Routing(
        categories=categories,
        limits=limits,
        calendar=Calendar(
            holidays=frozenset(date.fromisoformat(d) for d in cal.get("holidays", [])),
            workdays=frozenset(date.fromisoformat(d) for d in cal.get("workdays", [])),
        ),
        rating_remind=raw["rating"]["remind"],
        rating_close=raw["rating"]["close"],
        points_by_score={int(k): int(v) for k, v in raw["points"]["by_score"].items()},
        urgent_bonus=int(raw["points"]["urgent_bonus"]),
        push_count=int(raw.get("matching", {}).get("push_count", 5)),
    )


_files = {"routing": DATA_DIR / "routing.toml", "calendar": DATA_DIR / "calendar.toml"}


def configure(routing_file: str | None = None, calendar_file: str | None = None) -> None:
    """Point the routing table at other files (operators' copies); reloaded on next use."""
    if routing_file:
        _files["routing"] = Path(routing_file)
    if calendar_file:
        _files["calendar"] = Path(calendar_file)
    routing.cache_clear()


@lru_cache(maxsize=1)
def routing() -> Routing:
    """The routing table in force (parsed once)."""
    return _parse(_files["routing"], _files["calendar"])


CATEGORY_CODES = (
    "fire_safety", "elevator", "water_supply", "drainage", "power_lighting", "sanitation",
    "illegal_construction", "parking_charging", "noise", "neighbor_dispute", "property_fee",
    "property_service", "greenery", "public_facility", "security", "pets", "elderly_help",
    "consultation", "renovation", "health", "other",
)  # fmt: skip
