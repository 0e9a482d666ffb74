"""Injected time sources: the domain never reads the wall clock itself, it asks a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current instant as a tz-aware UTC datetime."""

    def now(self) -> datetime: ...


def as_utc(instant: datetime, what: str) -> datetime:
    """The instant in UTC; a ValueError naming ``what`` when it has no time zone."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must carry a time zone, got the naive time {instant.isoformat()}")
    return instant.astimezone(UTC)


class SystemClock:
    """The machine's wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


_SYSTEM_CLOCK = SystemClock()


class OffsetClock:
    """Runs at wall speed from a chosen start instant (``--as-of``): the start is 'now' at creation."""

    def __init__(self, start: datetime, wall: Clock = _SYSTEM_CLOCK) -> None:
        self._wall = wall
        self._offset = as_utc(start, "The start instant") - self._wall.now()

    def now(self) -> datetime:
        return self._wall.now() + self._offset


class ManualClock:
    """A clock that moves only when told to, for tests and deterministic replays."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start, "The start instant")

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = as_utc(instant, "The new instant")

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError(f"A clock cannot move backwards; got an advance of {delta}")
        self._now += delta
