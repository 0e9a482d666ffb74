"""A combo's quote from its legs' quotes.

Every combo has an implied market: buying it buys the bought legs at their asks and sells the
sold legs at their bids, so its ask is the sum of ratio × those prices signed by each leg's
action (and its bid the mirror image), with the size the thinnest leg allows. An
exchange-listed calendar spread also has a book of its own, quoted on the spread's tick
(0.05 for ES against 0.25 for the outright): spread traders quote it inside the implied
market, so its bid and ask are one spread tick apart around the legs' mid, never outside the
implied bid and ask, and it is deep in roll week.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from ibconsole.sim.combos import ComboInstrument
from ibconsole.sim.market import Quote

__all__ = ["ComboBook", "implied_quote"]

_TWO = Decimal(2)
# A listed spread's displayed size as a multiple of the legs' (calendar books are deep).
_LISTED_DEPTH = 10
# The spread's own volume: a share of the thinner leg's day volume.
_LISTED_VOLUME_SHARE = 4


def implied_quote(combo: ComboInstrument, quotes: Sequence[Quote]) -> Quote:
    """The combo's quote built from its legs' quotes (``quotes`` in leg order)."""
    bid = ask = last = open_ = close = Decimal(0)
    bid_size = ask_size = None
    for leg, quote in zip(combo.legs, quotes, strict=True):
        weight = leg.weight
        if leg.sign > 0:
            bid += weight * quote.bid
            ask += weight * quote.ask
            sell_side, buy_side = quote.bid_size, quote.ask_size
        else:
            bid += weight * quote.ask
            ask += weight * quote.bid
            sell_side, buy_side = quote.ask_size, quote.bid_size
        bid_size = _thinnest(bid_size, sell_side // leg.ratio)
        ask_size = _thinnest(ask_size, buy_side // leg.ratio)
        last += weight * quote.last
        open_ += weight * quote.open
        close += weight * quote.close
    volume = 0
    if combo.listed:
        bid, ask = _inside(bid, ask, combo.min_tick)
        bid_size = (bid_size or 0) * _LISTED_DEPTH
        ask_size = (ask_size or 0) * _LISTED_DEPTH
        volume = min(quote.volume for quote in quotes) // _LISTED_VOLUME_SHARE
    return Quote(
        bid=bid,
        ask=ask,
        last=last,
        bid_size=max(1, bid_size or 0),
        ask_size=max(1, ask_size or 0),
        last_size=1,
        volume=volume,
        high=max(last, open_),
        low=min(last, open_),
        open=open_,
        close=close,
        time=max(quote.time for quote in quotes),
    )


def _thinnest(size: int | None, candidate: int) -> int:
    return candidate if size is None else min(size, candidate)


def _inside(bid: Decimal, ask: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
    """One spread tick wide around the implied mid, inside the implied bid and ask."""
    mid = (bid + ask) / _TWO
    steps = ((mid - tick / _TWO) / tick).to_integral_value(rounding=ROUND_FLOOR)
    inner_bid = max(bid, steps * tick)
    inner_ask = min(ask, inner_bid + tick)
    if inner_ask <= inner_bid:
        return bid, ask
    return inner_bid, inner_ask


class ComboBook:
    """One combo's quotes over a day: the implied quote with the day's high and low kept
    from update to update (they start over when the legs' previous close changes, a new
    trade date)."""

    def __init__(self, combo: ComboInstrument) -> None:
        self.combo = combo
        self._close: Decimal | None = None
        self._high = self._low = Decimal(0)
        self._volume = 0

    def update(self, quotes: Sequence[Quote]) -> Quote:
        quote = implied_quote(self.combo, quotes)
        if quote.close != self._close:
            self._close = quote.close
            self._high, self._low = quote.high, quote.low
            self._volume = quote.volume
        self._high = max(self._high, quote.high)
        self._low = min(self._low, quote.low)
        self._volume = max(self._volume, quote.volume)
        return Quote(
            bid=quote.bid,
            ask=quote.ask,
            last=quote.last,
            bid_size=quote.bid_size,
            ask_size=quote.ask_size,
            last_size=quote.last_size,
            volume=self._volume,
            high=self._high,
            low=self._low,
            open=quote.open,
            close=quote.close,
            time=quote.time,
        )
