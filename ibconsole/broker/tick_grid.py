"""IB's float prices of one contract on its tick grid, each distinct float converted once.

A quote or depth price arrives as a float and is shown as an exact Decimal on the contract's tick
grid (``mapping.decimal_or_none``). The conversion goes through the float's text and a decimal
division, a few microseconds, and it ran for every price of every tick; but a market moves on its
grid, so the same few hundred floats come back all session. ``TickGrid`` remembers each float's
Decimal (and each float that is no price: NaN is not remembered, as no NaN equals another).
"""

from __future__ import annotations

from decimal import Decimal

from ibconsole.broker.mapping import decimal_or_none

# Distinct prices remembered per contract before starting afresh: a day's range of a busy future
# is a few hundred ticks; a runaway stream of prices never holds more than this.
GRID_PRICES = 4096


class TickGrid:
    """``price(value)``: ``decimal_or_none(value, tick)``, remembered by ``value``."""

    __slots__ = ("_known", "_limit", "tick")

    def __init__(self, tick: Decimal | None, limit: int = GRID_PRICES) -> None:
        if limit < 1:
            raise ValueError(f"a tick grid remembers at least one price, got {limit}")
        self.tick = tick
        self._limit = limit
        self._known: dict[float, Decimal | None] = {}

    def price(self, value: float) -> Decimal | None:
        known = self._known
        try:
            return known[value]
        except KeyError:
            pass
        price = decimal_or_none(value, self.tick)
        if value != value:  # NaN: no other NaN would ever find it
            return price
        if len(known) >= self._limit:
            known.clear()
        known[value] = price
        return price

    def __len__(self) -> int:
        """Prices remembered now."""
        return len(self._known)
