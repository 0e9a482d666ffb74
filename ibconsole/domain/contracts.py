"""A listed futures contract month as the exchange (via IB's contract details) describes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ListedContract:
    """One tradable contract month of a product."""

    symbol: str  # product key ("ES")
    local_symbol: str  # "ESZ6"
    con_id: int
    contract_month: str  # "YYYYMM"
    last_trade: datetime  # tz-aware, exchange time zone: last trade date AND time
    exchange: str
    currency: str
    multiplier: Decimal
    min_tick: Decimal
    trading_class: str

    def __post_init__(self) -> None:
        if self.last_trade.tzinfo is None or self.last_trade.utcoffset() is None:
            raise ValueError(
                f"The last trade time of {self.local_symbol} must carry the exchange's time zone,"
                f" got the naive time {self.last_trade.isoformat()}"
            )
        month = self.contract_month
        if len(month) != 6 or not month.isdigit() or not 1 <= int(month[4:]) <= 12:
            raise ValueError(
                f"The contract month of {self.local_symbol} must read YYYYMM, got {month!r}"
            )
