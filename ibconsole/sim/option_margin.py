"""Margin on options on futures, in the manner of CME's SPAN, simplified.

A long option needs its premium, paid in full (it can lose no more). A short option needs its
premium plus the worst loss over a scan of the underlying's price (up and down by as much as
the future's own initial margin covers, in thirds) and of volatility (±10 %), and never less
than a short-option minimum of a tenth of the future's margin. Anything else: the broker's
ordinary rates.
"""

from __future__ import annotations

from decimal import Decimal

from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.market import Market
from ibconsole.sim.option_quotes import OptionBook
from ibconsole.sim.rates import (
    Margin,
    future_initial_margin,
    margin,
    margin_from_initial,
    multiplier_of,
)

__all__ = ["OptionMargins"]

_CENT = Decimal("0.01")
_PRICE_STEPS = (-3, -2, -1, 0, 1, 2, 3)
_VOL_SHIFTS = (0.9, 1.1)
_SHORT_MINIMUM = Decimal("0.10")


class OptionMargins:
    """A margin rule for the books: options as above, everything else by ``rates.margin``."""

    def __init__(self, market: Market, book: OptionBook, clock: SimClock) -> None:
        self._market = market
        self._book = book
        self._clock = clock

    def __call__(self, instrument: Instrument, position: Decimal, price: Decimal) -> Margin:
        if instrument.sec_type != "FOP":
            return margin(instrument, position, price)
        size = abs(position)
        multiplier = multiplier_of(instrument.multiplier)
        premium = (price * multiplier * size).quantize(_CENT)
        if position >= 0:
            return Margin(premium, premium)
        underlying = self._market.quote(instrument.under_con_id)
        forward = float(underlying.bid + underlying.ask) / 2
        future_margin = future_initial_margin(
            instrument.symbol, Decimal(repr(forward)) * multiplier
        )
        scan = float(future_margin / multiplier) / 3
        now = self._clock.now()
        model = self._book.model_at(instrument, forward, now)
        worst = 0.0
        for shift in _VOL_SHIFTS:
            for step in _PRICE_STEPS:
                moved = max(forward + step * scan, forward * 0.01)
                value = self._book.model_at(instrument, moved, now, model.vol * shift)
                worst = max(worst, value.greeks.price - model.greeks.price)
        risk = Decimal(repr(worst)) * multiplier * size
        floor = future_margin * _SHORT_MINIMUM * size
        return margin_from_initial(premium + max(risk, floor))
