"""Distributions as the results report them: count, median, p99 and max."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: a value that was measured, never an interpolation."""
    if not values:
        raise ValueError("a percentile of no values was asked for")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(
    values: Sequence[float], scale: float = 1.0, places: int = 2
) -> dict[str, float | None]:
    """count, median, p99 and max of ``values`` times ``scale`` (1000 turns seconds into ms);
    ``None`` for each figure when nothing was measured (JSON has no NaN)."""
    if not values:
        return {"count": 0, "median": None, "p99": None, "max": None}
    return {
        "count": len(values),
        "median": round(statistics.median(values) * scale, places),
        "p99": round(percentile(values, 0.99) * scale, places),
        "max": round(max(values) * scale, places),
    }
