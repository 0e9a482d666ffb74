"""Price bars for charts, and the gaps a reconnect leaves in them.

Bars carry floats, not Decimals: they are drawn, never traded on, and a chart holds thousands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Bar:
    start: datetime  # tz-aware start of the bar's interval
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class BarGap:
    """The live stream was interrupted from ``start`` to ``end``; bars inside were backfilled."""

    start: datetime
    end: datetime


# IB's barSizeSetting strings and their lengths, for the timeframes the console offers.
BAR_SIZES: dict[str, timedelta] = {
    "5 secs": timedelta(seconds=5),
    "1 min": timedelta(minutes=1),
    "5 mins": timedelta(minutes=5),
    "15 mins": timedelta(minutes=15),
    "1 hour": timedelta(hours=1),
    "1 day": timedelta(days=1),
}

# How much history each bar size asks for: enough to fill a chart, small enough to arrive quickly.
DEFAULT_DURATIONS: dict[str, str] = {
    "5 secs": "1800 S",
    "1 min": "1 D",
    "5 mins": "3 D",
    "15 mins": "1 W",
    "1 hour": "1 M",
    "1 day": "1 Y",
}


def bar_length(bar_size: str) -> timedelta:
    try:
        return BAR_SIZES[bar_size]
    except KeyError:
        raise ValueError(
            f"Bar size {bar_size!r} is not offered; choose one of {', '.join(BAR_SIZES)}"
        ) from None
