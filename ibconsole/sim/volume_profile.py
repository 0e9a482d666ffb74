"""How much an instrument trades over any stretch of time: a daily volume per product (a seeded
day-to-day factor around a typical figure; a future's deferred months trade a small share of its
front month's) spread over each session by an intraday profile, busiest in the regular hours and
most of all near their open and close.

Volumes are read off a cumulative curve (the volume of ``[a, b)`` is ``V(b) - V(a)``, rounded
at the ends), so bars of any size tile exactly: a day's hourly bars add up to its 5-minute bars
and to its daily bar.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache

from ibconsole.sim.instruments import Instrument

__all__ = ["VolumeProfile"]

# Typical daily volume (contracts, or shares for stocks) of the front month / the stock, as
# exchanges report them (order of magnitude: ES ~1.2 M contracts, AAPL ~50 M shares a day).
_DAILY: dict[str, int] = {
    "ES": 1_200_000,
    "MES": 1_000_000,
    "NQ": 500_000,
    "MNQ": 800_000,
    "RTY": 150_000,
    "M2K": 150_000,
    "YM": 150_000,
    "MYM": 100_000,
    "CL": 300_000,
    "MCL": 50_000,
    "NG": 150_000,
    "GC": 200_000,
    "MGC": 50_000,
    "ZN": 1_500_000,
    "ZB": 300_000,
    "6E": 200_000,
    "AAPL": 50_000_000,
    "MSFT": 20_000_000,
    "SPY": 60_000_000,
}
_DEFAULT_DAILY = 100_000
# Share of a day's volume traded outside regular hours (futures trade around the clock).
_EXTENDED_SHARE = {"FUT": 0.2, "STK": 0.05}
# The regular hours' U shape: the first and last half hours trade this much more than midday.
_EDGE_BOOST = 2.0
_EDGE_SECONDS = 1800.0
# A deferred month's share of the front month's volume, by how many months it lies behind.
_DEFERRED_SHARE = (1.0, 0.05, 0.005)
# Average trade size, to give bars a trade count.
_TRADE_SIZE = {"FUT": 3, "STK": 120}


class VolumeProfile:
    """Seeded volumes for every instrument and trade date."""

    def __init__(self, seed: int, instruments: Iterable[Instrument]) -> None:
        self._seed = seed
        self._expiries: dict[str, list[str]] = {}
        for instrument in instruments:
            if instrument.sec_type == "FUT":
                self._expiries.setdefault(instrument.trading_class, []).append(
                    instrument.last_trade_date
                )
        for expiries in self._expiries.values():
            expiries.sort()

    def daily(self, instrument: Instrument, day: date) -> int:
        """The volume of the session whose trade date is ``day`` (0 for currencies)."""
        if instrument.sec_type not in _EXTENDED_SHARE:
            return 0
        key = instrument.trading_class if instrument.sec_type == "FUT" else instrument.symbol
        typical = _DAILY.get(key, _DEFAULT_DAILY) * self._share(instrument, day)
        return round(typical * _day_factor(self._seed, key, day))

    def _share(self, instrument: Instrument, day: date) -> float:
        if instrument.sec_type != "FUT":
            return 1.0
        trading = f"{day:%Y%m%d}"
        expiries = self._expiries.get(instrument.trading_class, ())
        behind = sum(1 for expiry in expiries if trading <= expiry < instrument.last_trade_date)
        return _DEFERRED_SHARE[min(behind, len(_DEFERRED_SHARE) - 1)]

    def cumulative(self, instrument: Instrument, day: date, epoch: float) -> int:
        """Volume of ``day``'s session traded before ``epoch`` (the whole day after its close)."""
        daily = self.daily(instrument, day)
        if not daily:
            return 0
        shape = _shape(instrument, day)
        return round(daily * shape.fraction(epoch))

    def between(self, instrument: Instrument, start: int, end: int) -> int:
        """Volume traded in ``[start, end)`` (epoch seconds), over every session it touches."""
        if end <= start or instrument.sec_type not in _EXTENDED_SHARE:
            return 0
        session, zone = instrument.session, instrument.zone
        day = session.trade_date(datetime.fromtimestamp(start, zone))
        total = 0
        while True:
            opens, _ = (edge.replace(tzinfo=zone).timestamp() for edge in session.bounds(day))
            if opens >= end:
                return total
            total += self.cumulative(instrument, day, end) - self.cumulative(instrument, day, start)
            day = session.next_trade_date(day)

    @staticmethod
    def trades(instrument: Instrument, volume: int) -> int:
        """A plausible number of trades for ``volume``."""
        if volume <= 0:
            return 0
        return max(1, volume // _TRADE_SIZE.get(instrument.sec_type, 1))


def _day_factor(seed: int, key: str, day: date) -> float:
    rng = random.Random(f"volume:{seed}:{key}:{day.toordinal()}")
    return rng.uniform(0.7, 1.3)


class _Shape:
    """The intraday profile of one session, integrated: ``fraction(t)`` of the day's volume
    traded by ``t``."""

    def __init__(self, opens: float, closes: float, liquid: tuple[float, float], share: float):
        self.opens, self.closes = opens, closes
        self.liquid_open, self.liquid_close = liquid
        liquid_seconds = self.liquid_close - self.liquid_open
        extended_seconds = (closes - opens) - liquid_seconds
        self.liquid_weight = self._liquid_area(self.liquid_close)
        if extended_seconds > 0 and liquid_seconds > 0:
            # per-second rates so that the extended hours carry ``share`` of the day
            self.extended_rate = share / extended_seconds
            self.liquid_scale = (1 - share) / self.liquid_weight
        elif liquid_seconds > 0:
            self.extended_rate, self.liquid_scale = 0.0, 1 / self.liquid_weight
        else:
            self.extended_rate, self.liquid_scale = 1 / (closes - opens), 0.0

    def _liquid_area(self, t: float) -> float:
        """The unscaled profile integrated from the liquid open to ``t``."""
        x = min(max(t - self.liquid_open, 0.0), self.liquid_close - self.liquid_open)
        length = self.liquid_close - self.liquid_open
        tau = _EDGE_SECONDS
        opening = _EDGE_BOOST * tau * (1 - math.exp(-x / tau))
        closing = _EDGE_BOOST * tau * (math.exp(-(length - x) / tau) - math.exp(-length / tau))
        return x + opening + closing

    def fraction(self, t: float) -> float:
        t = min(max(t, self.opens), self.closes)
        liquid_so_far = min(max(t - self.liquid_open, 0.0), self.liquid_close - self.liquid_open)
        extended_so_far = (t - self.opens) - liquid_so_far
        return self.extended_rate * extended_so_far + self.liquid_scale * self._liquid_area(t)


@lru_cache(maxsize=4096)
def _shape(instrument: Instrument, day: date) -> _Shape:
    session, zone = instrument.session, instrument.zone
    opens, closes = (edge.replace(tzinfo=zone).timestamp() for edge in session.bounds(day))
    liquid_open = datetime.combine(day, session.liquid_open, tzinfo=zone).timestamp()
    liquid_close = datetime.combine(day, session.liquid_close, tzinfo=zone).timestamp()
    if session.liquid_open > session.liquid_close:  # an overnight liquid window
        liquid_open -= timedelta(days=1).total_seconds()
    liquid = (max(opens, liquid_open), min(closes, liquid_close))
    return _Shape(opens, closes, liquid, _EXTENDED_SHARE.get(instrument.sec_type, 0.0))
