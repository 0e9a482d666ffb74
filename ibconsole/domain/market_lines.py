"""How many market-data lines the console may hold, and how deep it asks for the book.

IB accounts start with 100 concurrent market-data lines shared by every API client and TWS
itself; depth requests are counted separately and are few.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MarketDataSettings:
    line_budget: int = 100  # market-data lines the whole console may hold at once
    depth_rows: int = 10  # rows per side asked of reqMktDepth
