"""Rolling a position as one calendar-spread order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class SpreadRollSettings:
    prefer_spread: bool = True  # offer the spread order first where the exchange lists it
    ticks_through: int = 1  # the default limit: this many spread ticks through the touch
    fill_timeout: timedelta = timedelta(seconds=30)  # then offer to leg the remainder
