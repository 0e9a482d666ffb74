"""The simulator's clock: wall-speed time that may start at any instant (``as_of``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["SimClock"]


class SimClock:
    """Aware UTC time running at wall speed from ``as_of`` (the real time when ``None``).

    Based on ``time.monotonic`` so a wall-clock jump on the host cannot move simulated time;
    only :meth:`advance` moves it on faster than the wall.
    """

    def __init__(self, as_of: datetime | None = None) -> None:
        if as_of is None:
            as_of = datetime.now(UTC)
        elif as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError(f"as_of must be timezone-aware, got naive {as_of.isoformat()}")
        self._origin = as_of.astimezone(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=time.monotonic() - self._started)

    def epoch(self) -> float:
        """Current simulated time as POSIX seconds."""
        return self._origin.timestamp() + (time.monotonic() - self._started)

    def advance(self, delta: timedelta) -> None:
        """Jump ``delta`` ahead at once, then run on at wall speed (so a test or a demo can reach
        a session's open or close without waiting for it). Time never runs backwards."""
        if delta < timedelta(0):
            raise ValueError(f"the simulated clock only moves forward, got {delta}")
        self._origin += delta
