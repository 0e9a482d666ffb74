"""A listed contract as the exchange (via IB's contract details) describes it: a futures month, or
an option on one (FOP) with its right, strike and the price-dependent tick of its market rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

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


class OptionRight(StrEnum):
    CALL = "C"
    PUT = "P"

    @property
    def word(self) -> str:
        return "call" if self is OptionRight.CALL else "put"


@dataclass(frozen=True, slots=True)
class OptionTerms:
    """What makes a listed contract an option on a future: right, strike, the future it
    exercises into."""

    right: OptionRight
    strike: Decimal
    underlying_con_id: int


@dataclass(frozen=True, slots=True)
class PriceIncrement:
    """One step of IB's market rule: from ``low_edge`` up, prices move by ``increment``."""

    low_edge: Decimal
    increment: Decimal

    def __post_init__(self) -> None:
        if self.increment <= 0:
            raise ValueError(f"A price increment must be above zero, got {self.increment}")


@dataclass(frozen=True, slots=True)
class ListedContract:
    """One tradable contract of a product: a futures month, or an option on one (``option``)."""

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
    option: OptionTerms | None = None
    # IB's market rule, lowest edge first; empty when the tick is min_tick at every price.
    # Options on E-mini S&P 500: 0.05 up to a 5.00 premium, 0.25 above.
    price_increments: tuple[PriceIncrement, ...] = ()

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

    @property
    def is_option(self) -> bool:
        return self.option is not None

    def tick_at(self, price: Decimal) -> Decimal:
        """The price increment that applies at ``price``: the market rule's step whose low edge
        is the highest at or below ``abs(price)`` (an option's tick grows with its premium), else
        the contract's minimum tick."""
        tick = self.min_tick
        for step in self.price_increments:
            if abs(price) >= step.low_edge:
                tick = step.increment
        return tick
