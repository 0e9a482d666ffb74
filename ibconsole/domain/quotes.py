"""Market quotes as the domain sees them: a frozen snapshot per contract with data type and age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum

__all__ = ["MarketDataType", "Quote"]


class MarketDataType(IntEnum):
    """IB's market data types, numbered as ``reqMarketDataType`` and tick type 58 number them."""

    LIVE = 1
    FROZEN = 2
    DELAYED = 3
    DELAYED_FROZEN = 4

    @property
    def is_delayed(self) -> bool:
        return self in (MarketDataType.DELAYED, MarketDataType.DELAYED_FROZEN)

    @property
    def is_frozen(self) -> bool:
        return self in (MarketDataType.FROZEN, MarketDataType.DELAYED_FROZEN)

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    MarketDataType.LIVE: "live",
    MarketDataType.FROZEN: "frozen",
    MarketDataType.DELAYED: "delayed",
    MarketDataType.DELAYED_FROZEN: "delayed frozen",
}


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest bid, ask and last trade for one contract; ``None`` where IB sent no value.

    ``time`` is when the newest of these values arrived (tz-aware).
    """

    con_id: int
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    time: datetime
    data_type: MarketDataType

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"Quote.time must be timezone-aware, got {self.time!r}")

    @property
    def mid(self) -> Decimal | None:
        """Midpoint of a two-sided, uncrossed market; ``None`` otherwise."""
        if self.bid is None or self.ask is None or self.bid > self.ask:
            return None
        return (self.bid + self.ask) / 2

    def last_good_price(self) -> Decimal | None:
        """The price checks compare against: the last trade, else the midpoint, else ``None``."""
        if self.last is not None:
            return self.last
        return self.mid

    def age(self, now: datetime) -> timedelta:
        """How old the quote is at ``now`` (never negative, a clock skew is not a future quote)."""
        return max(now - self.time, timedelta(0))

    def is_stale(self, now: datetime, max_age: timedelta) -> bool:
        """True when the quote is frozen or older than ``max_age`` at ``now``."""
        return self.data_type.is_frozen or self.age(now) > max_age
