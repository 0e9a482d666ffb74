"""A listed futures contract month as the exchange (via IB's contract details) describes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ibconsole.domain.clock import as_utc


def parse_contract_month(contract_month: str) -> tuple[int, int]:
    """Year and month of a "YYYYMM" contract month; a ValueError naming it otherwise."""
    if len(contract_month) == 6 and contract_month.isdigit() and 1 <= int(contract_month[4:]) <= 12:
        return int(contract_month[:4]), int(contract_month[4:])
    raise ValueError(f"A contract month reads YYYYMM, got {contract_month!r}")


def decimal_places(value: Decimal) -> int:
    """How many decimals ``value`` needs (0.25 → 2, 5 → 0); a tick's say how its prices read."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


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
        as_utc(self.last_trade, f"The last trade time of {self.local_symbol}")
        try:
            parse_contract_month(self.contract_month)
        except ValueError as error:
            raise ValueError(f"{self.local_symbol}: {error}") from None

    @property
    def price_places(self) -> int:
        """The decimals of this contract's prices: those of its tick."""
        return decimal_places(self.min_tick)
