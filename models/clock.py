"""The one clock the domain reads: naive UTC datetimes, frozen or moved by tests."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

# China has kept one offset without daylight saving since 1991.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

_frozen: datetime | None = None


def now() -> datetime:
    """Current time as naive UTC (what every *_at column stores)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC).replace(tzinfo=None)


def set_now(value: datetime | None) -> None:
    """Freeze the clock at `value` (naive UTC); None lets it run again."""
    global _frozen
    _frozen = value


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward."""
    if _frozen is None:
        raise RuntimeError("the clock is not frozen")
    set_now(_frozen + delta)
    return _frozen


@contextmanager
def frozen(value: datetime):
    """Run a block with the clock frozen at `value`."""
    previous = _frozen
    set_now(value)
    try:
        yield
    finally:
        set_now(previous)


def to_local(value: datetime) -> datetime:
    """Naive UTC → naive China local time (for calendars and display)."""
    return value.replace(tzinfo=UTC).astimezone(CHINA).replace(tzinfo=None)


def from_local(value: datetime) -> datetime:
    """Naive China local time → naive UTC."""
    return value.replace(tzinfo=CHINA).astimezone(UTC).replace(tzinfo=None)
