"""The tape: what the live walk actually traded, per instrument in one-second buckets, and the
anchor (time and price) where generated history hands over to it."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from decimal import Decimal

from ibconsole.sim.clock import SimClock
from ibconsole.sim.market import Market, Quote

__all__ = ["Second", "Span", "Tape", "average_price"]

_TWO = Decimal(2)
_RETENTION_SECONDS = 3 * 86400


@dataclass(slots=True)
class Second:
    """Trades (or, for currencies, midpoints) during one second of the live walk."""

    time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    count: int
    notional: Decimal


@dataclass(frozen=True, slots=True)
class Span:
    """What traded in a stretch of time; flat at the previous price when nothing did."""

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    wap: Decimal
    count: int


class _Track:
    __slots__ = ("anchor_price", "anchor_time", "seconds", "times", "volume")

    def __init__(self, anchor_time: int, anchor_price: Decimal, volume: int) -> None:
        self.anchor_time = anchor_time
        self.anchor_price = anchor_price
        self.volume = volume
        self.seconds: list[Second] = []
        self.times: list[int] = []


class Tape:
    """Records every market update into per-second buckets (kept for three days)."""

    def __init__(self, market: Market, clock: SimClock) -> None:
        self._market = market
        self._clock = clock
        self._tracks: dict[int, _Track] = {}
        market.add_listener(self._on_quote)

    def close(self) -> None:
        self._market.remove_listener(self._on_quote)

    def anchor(self, con_id: int) -> tuple[int, Decimal]:
        """(epoch second, price) where the recorded walk begins; fixed on first use."""
        track = self._track(con_id)
        return track.anchor_time, track.anchor_price

    def seconds(self, con_id: int, start: int, end: int) -> list[Second]:
        """Recorded seconds in ``[start, end)``, oldest first."""
        track = self._track(con_id)
        low = bisect.bisect_left(track.times, start)
        high = bisect.bisect_left(track.times, end)
        return track.seconds[low:high]

    def span(self, con_id: int, start: int, end: int, tick: Decimal) -> Span:
        """Open, high, low, close, volume, average price and trade count in ``[start, end)``."""
        seconds = self.seconds(con_id, start, end)
        if not seconds:
            price = self.price_before(con_id, start)
            return Span(price, price, price, price, 0, price, 0)
        volume = sum(second.volume for second in seconds)
        notional = sum((second.notional for second in seconds), Decimal(0))
        close = seconds[-1].close
        return Span(
            open=seconds[0].open,
            high=max(second.high for second in seconds),
            low=min(second.low for second in seconds),
            close=close,
            volume=volume,
            wap=average_price(notional, volume, close, tick),
            count=sum(second.count for second in seconds),
        )

    def price_before(self, con_id: int, time: int) -> Decimal:
        """The last recorded price before ``time`` (the anchor price if none)."""
        track = self._track(con_id)
        index = bisect.bisect_left(track.times, time)
        return track.seconds[index - 1].close if index else track.anchor_price

    def _track(self, con_id: int) -> _Track:
        track = self._tracks.get(con_id)
        if track is None:
            quote = self._market.quote(con_id)
            track = _Track(math.floor(self._clock.epoch()), _price(quote), quote.volume)
            self._tracks[con_id] = track
        return track

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        track = self._track(con_id)
        traded = quote.volume - track.volume
        if quote.volume and traded <= 0:
            return
        price, size = _price(quote), max(traded, 0)
        track.volume = quote.volume
        now = math.floor(quote.time.timestamp())
        seconds = track.seconds
        if seconds and seconds[-1].time == now:
            bucket = seconds[-1]
            bucket.high = max(bucket.high, price)
            bucket.low = min(bucket.low, price)
            bucket.close = price
            bucket.volume += size
            bucket.count += 1
            bucket.notional = bucket.notional + price * size
        else:
            seconds.append(Second(now, price, price, price, price, size, 1, price * size))
            track.times.append(now)
            if now - track.times[0] > _RETENTION_SECONDS:
                cut = bisect.bisect_left(track.times, now - _RETENTION_SECONDS)
                del seconds[:cut]
                del track.times[:cut]


def _price(quote: Quote) -> Decimal:
    """The traded price, or the midpoint for instruments without trades (currencies)."""
    return quote.last if quote.volume else (quote.bid + quote.ask) / _TWO


def average_price(notional: Decimal, volume: int, fallback: Decimal, tick: Decimal) -> Decimal:
    """``notional / volume`` to two decimals finer than the tick (``fallback`` without volume)."""
    if volume <= 0:
        return fallback
    exponent = tick.as_tuple().exponent
    places = Decimal(1).scaleb((exponent if isinstance(exponent, int) else 0) - 2)
    return (notional / volume).quantize(places)
