"""Simulated prices: a seeded random walk per instrument on its tick grid, ticking only while
somebody subscribes to or holds the instrument and only while its exchange is open. The day's
figures (open, high, low, volume, previous close) start over with each new trade date."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Protocol

from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.volume_profile import VolumeProfile

__all__ = [
    "SESSION_SECONDS",
    "DerivedQuotes",
    "Market",
    "Quote",
    "QuoteListener",
    "SessionListener",
    "display_sizes",
]


QuoteListener = Callable[[int, "Quote"], None]
SessionListener = Callable[[int, bool], None]

# Reference level and daily volatility (fraction) per product, keyed by futures trading class or
# by symbol for stocks and currencies.
_REFERENCE: dict[str, tuple[str, float]] = {
    "ES": ("6000", 0.010),
    "MES": ("6000", 0.010),
    "NQ": ("21000", 0.013),
    "MNQ": ("21000", 0.013),
    "RTY": ("2200", 0.015),
    "M2K": ("2200", 0.015),
    "YM": ("43000", 0.009),
    "MYM": ("43000", 0.009),
    "CL": ("70", 0.025),
    "MCL": ("70", 0.025),
    "NG": ("3.5", 0.040),
    "GC": ("2700", 0.010),
    "MGC": ("2700", 0.010),
    "ZN": ("110", 0.004),
    "ZB": ("115", 0.008),
    "6E": ("1.08", 0.005),
    "EUR": ("1.08", 0.005),
    "AAPL": ("230", 0.015),
    "MSFT": ("420", 0.015),
    "SPY": ("590", 0.010),
}
# (smallest, largest, lot) for displayed bid/ask sizes, and the largest trade in lots.
_SIZES: dict[str, tuple[int, int, int, int]] = {
    "FUT": (1, 60, 1, 10),
    "STK": (1, 30, 100, 5),
    "CASH": (1, 50, 100_000, 0),
}
# Volatility is spread over a regular session's length so a demo moves visibly; a move is at
# least this likely per update so even slow products tick.
SESSION_SECONDS = 6.5 * 3600
_MIN_MOVE_PROBABILITY = 0.1
_MAX_CATCH_UP_STEPS = 8


def display_sizes(instrument: Instrument) -> tuple[int, int, int]:
    """(smallest, largest, lot) of the bid and ask sizes the walk shows for an instrument, so
    other views of the same market (the order book) size their levels alike."""
    low, high, lot, _ = _SIZES.get(instrument.sec_type, _SIZES["FUT"])
    return low, high, lot


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book and the day's statistics for one instrument, on its tick grid."""

    bid: Decimal
    ask: Decimal
    last: Decimal
    bid_size: int
    ask_size: int
    last_size: int
    volume: int
    high: Decimal
    low: Decimal
    open: Decimal
    close: Decimal
    time: datetime


class DerivedQuotes(Protocol):
    """Quotes of instruments priced off their underlying (options on futures)."""

    def quote(self, instrument: Instrument, underlying: Quote, now: datetime) -> Quote:
        """The quote as it stands, given the underlying's."""
        ...

    def step(self, instrument: Instrument, underlying: Quote, now: datetime) -> Quote:
        """The quote after the underlying's update (the derived instrument may trade)."""
        ...


class _Walk:
    """The state of one instrument's walk, in integer ticks so repeated steps cannot drift."""

    __slots__ = (
        "ask_size",
        "bid",
        "bid_size",
        "changes_at",
        "close",
        "credit",
        "high",
        "instrument",
        "last",
        "last_size",
        "low",
        "max_trade",
        "move_probability",
        "open",
        "open_now",
        "per_second",
        "quote",
        "rng",
        "session_day",
        "share",
        "size_lot",
        "size_range",
        "tick",
        "trades",
        "volume",
        "zone",
    )

    def __init__(
        self,
        instrument: Instrument,
        seed: int,
        tick_rate: float,
        months_out: int,
        now: datetime,
        volumes: VolumeProfile,
    ) -> None:
        self.instrument = instrument
        self.zone = instrument.zone
        self.open_now = False
        self.changes_at = -math.inf
        self.session_day: date | None = None  # the day statistics' trade date, once they exist
        self.refresh(now.timestamp())
        self.tick = instrument.min_tick
        self.rng = random.Random(f"{seed}:{instrument.con_id}")
        key = instrument.trading_class if instrument.sec_type == "FUT" else instrument.symbol
        level, daily_vol = _REFERENCE.get(key, ("100", 0.01))
        # each deferred month a little higher (carry), and every seed its own level
        start = float(level) * (1 + 0.002 * months_out) * (1 + self.rng.uniform(-0.02, 0.02))
        self.bid = max(1, round(start / float(self.tick)))
        ticks_per_session = float(level) * daily_vol / float(self.tick)
        self.per_second = ticks_per_session**2 / SESSION_SECONDS
        self.move_probability = 1.0
        self.share = 1.0
        self.credit = 0.0
        self.pace(tick_rate, tick_rate)
        low, high, lot, max_trade = _SIZES.get(instrument.sec_type, _SIZES["FUT"])
        self.size_range = (low, high)
        self.size_lot = lot
        self.max_trade = max_trade
        self.trades = max_trade > 0
        self.bid_size = self._size()
        self.ask_size = self._size()
        previous_close = self.bid + self.rng.randint(-40, 40)
        self.close = max(1, previous_close)
        self.open = max(1, self.close + self.rng.randint(-8, 8))
        self.last = self.bid
        self.last_size = 1 if self.trades else 0
        self.high = max(self.open, self.last, self.bid + 1)
        self.low = min(self.open, self.last, self.bid)
        # on a closed market the quote is what the last session left behind
        self.session_day = instrument.session.trade_date(now.astimezone(self.zone))
        # the day's volume so far (to the minute, so a seed's history is the same at every start
        # within it), as the history's bars of this session add it up
        minute = now.timestamp() // 60 * 60
        self.volume = volumes.cumulative(instrument, self.session_day, minute)
        self.quote = self._snapshot(now if self.open_now else self._last_close(now))

    def pace(self, rate: float, timer_rate: float) -> None:
        """Update ``rate`` times a second, on a timer firing ``timer_rate`` times a second, with
        the same volatility per second at any rate."""
        self.share = rate / timer_rate
        self.move_probability = min(1.0, max(_MIN_MOVE_PROBABILITY, self.per_second / rate))

    def due(self) -> bool:
        """Whether this firing of the timer steps the walk (every one unless it is paced slower)."""
        if self.share >= 1.0:
            return True
        self.credit += self.share
        if self.credit < 1.0:
            return False
        self.credit -= 1.0
        return True

    def refresh(self, epoch: float) -> bool:
        """Bring the open/closed state up to ``epoch``; whether it changed."""
        if epoch < self.changes_at:
            return False
        session = self.instrument.session
        local = datetime.fromtimestamp(epoch, self.zone)
        was_open, self.open_now = self.open_now, session.is_open(local)
        self.changes_at = session.next_change(local).replace(tzinfo=self.zone).timestamp()
        # A walk not stepped through a close sees the next session open without a flip.
        if self.open_now and self.session_day is not None:
            day = session.trade_date(local)
            if day != self.session_day:
                self._start_day(day)
        return was_open != self.open_now

    def _start_day(self, day: date) -> None:
        """A new trade date: the last price is the previous close and the day's figures restart
        from it, as IB's open, high, low and volume ticks do at a session's open."""
        self.session_day = day
        self.close = self.open = self.high = self.low = self.last if self.trades else self.bid
        if not self.trades:
            self.high = self.bid + 1
        self.volume = 0

    def _last_close(self, now: datetime) -> datetime:
        session = self.instrument.session
        close = session.bounds(session.trade_date(now.astimezone(self.zone)))[1]
        return close.replace(tzinfo=self.zone).astimezone(UTC)

    def _size(self) -> int:
        return self.rng.randint(*self.size_range) * self.size_lot

    def step(self, now: datetime) -> Quote:
        rng = self.rng
        direction = 0
        if rng.random() < self.move_probability:
            direction = 1 if rng.random() < 0.5 else -1
            self.bid = max(1, self.bid + direction)
        self.bid_size = self._size()
        self.ask_size = self._size()
        if self.trades and rng.random() < 0.5:
            buyer = direction > 0 or (direction == 0 and rng.random() < 0.5)
            self.last = self.bid + 1 if buyer else self.bid
            self.last_size = rng.randint(1, self.max_trade) * self.size_lot
            self.volume += self.last_size
            self.high = max(self.high, self.last)
            self.low = min(self.low, self.last)
        elif not self.trades:
            self.high = max(self.high, self.bid + 1)
            self.low = min(self.low, self.bid)
        self.quote = self._snapshot(now)
        return self.quote

    def _snapshot(self, now: datetime) -> Quote:
        tick = self.tick
        last = self.last if self.trades else self.bid
        return Quote(
            bid=self.bid * tick,
            ask=(self.bid + 1) * tick,
            last=last * tick,
            bid_size=self.bid_size,
            ask_size=self.ask_size,
            last_size=self.last_size,
            volume=self.volume,
            high=self.high * tick,
            low=self.low * tick,
            open=self.open * tick,
            close=self.close * tick,
            time=now,
        )


class Market:
    """Quotes for every catalogue instrument.

    An instrument's walk starts on first use and advances ``tick_rate`` times per second while it
    is held (``hold``/``release`` are reference-counted; market data subscriptions and working
    orders both hold) and its exchange is open: outside its sessions (weekends, holidays, the
    daily Globex break) it stands still at the last session's prices, as IB's feed falls silent,
    and it resumes when the next session opens. One shared timer drives every held instrument; it
    stops when none is held. Each instrument draws from its own random stream seeded by
    ``(seed, conId)``, so its path does not depend on what else is subscribed.

    :meth:`pace` makes a few instruments the busy ones: they keep ``tick_rate`` and every other
    held instrument, options included, updates at a quiet rate, as a back month or an option
    does beside the front month everybody trades. Without it every held instrument (and each
    option with its underlying) updates ``tick_rate`` times a second.
    """

    def __init__(
        self, catalogue: Catalogue, clock: SimClock, *, seed: int, tick_rate: float = 4.0
    ) -> None:
        if not math.isfinite(tick_rate) or tick_rate <= 0:
            raise ValueError(f"tick_rate must be a positive number of updates/s, got {tick_rate}")
        self._catalogue = catalogue
        self._clock = clock
        self._seed = seed
        self.tick_rate = tick_rate
        self.volumes = VolumeProfile(seed, catalogue)
        self._walks: dict[int, _Walk] = {}
        self._holds: dict[int, int] = {}
        self._active: list[_Walk] = []
        self._listeners: list[QuoteListener] = []
        self._session_listeners: list[SessionListener] = []
        self._timer: asyncio.TimerHandle | None = None
        self._next_due = 0.0
        self._derived: DerivedQuotes | None = None
        self._dependents: dict[int, list[Instrument]] = {}
        self._busy: frozenset[int] | None = None
        self._quiet_rate = tick_rate
        self._credits: dict[int, float] = {}  # options' progress towards their next update

    def pace(self, busy: Collection[int], quiet_rate: float) -> None:
        """Update the instruments ``busy`` (conIds) ``tick_rate`` times a second and every other
        held one, options included, ``quiet_rate`` times a second (at most ``tick_rate``)."""
        if not math.isfinite(quiet_rate) or not 0 < quiet_rate <= self.tick_rate:
            raise ValueError(
                f"quiet_rate must be a positive number of updates/s up to the tick rate "
                f"{self.tick_rate:g}, got {quiet_rate}"
            )
        self._busy = frozenset(busy)
        self._quiet_rate = quiet_rate
        for con_id, walk in self._walks.items():
            walk.pace(self._rate(con_id), self.tick_rate)

    def _rate(self, con_id: int) -> float:
        """Updates per second of an instrument while it is held and its market open."""
        if self._busy is None or con_id in self._busy:
            return self.tick_rate
        return self._quiet_rate

    def derive(self, source: DerivedQuotes) -> None:
        """Price options (instruments with an underlying conId) with ``source``: their quotes
        follow their underlying's, and they tick with it."""
        self._derived = source

    def _derived_source(self, instrument: Instrument) -> DerivedQuotes | None:
        return self._derived if instrument.sec_type == "FOP" and instrument.under_con_id else None

    def instrument(self, con_id: int) -> Instrument:
        instrument = self._catalogue.by_con_id(con_id)
        if instrument is None:
            raise KeyError(f"no instrument with conId {con_id}")
        return instrument

    def quote(self, con_id: int) -> Quote:
        """Current top of book (starting the instrument's walk if it never ran)."""
        walk = self._walks.get(con_id)
        if walk is not None:
            return walk.quote
        instrument = self.instrument(con_id)
        source = self._derived_source(instrument)
        if source is not None:
            underlying = self.quote(instrument.under_con_id)
            return source.quote(instrument, underlying, self._clock.now())
        return self._walk(con_id).quote

    def is_open(self, con_id: int, at: datetime | None = None) -> bool:
        """Whether the instrument's exchange is in session now (or at ``at``)."""
        instrument = self.instrument(con_id)
        moment = self._clock.now() if at is None else at
        return instrument.session.is_open(moment.astimezone(instrument.zone))

    def is_held(self, con_id: int) -> bool:
        return con_id in self._holds

    def tick_volatility(self, con_id: int) -> float:
        """Standard deviation of the walk in ticks per square root of a second (of an option:
        half its future's, an at-the-money delta, in the option's own ticks)."""
        instrument = self.instrument(con_id)
        if self._derived_source(instrument) is not None:
            under = self.instrument(instrument.under_con_id)
            ratio = float(under.min_tick / instrument.min_tick)
            return self.tick_volatility(under.con_id) * ratio / 2
        walk = self._walk(con_id)
        return math.sqrt(walk.move_probability * self._rate(con_id))

    def add_listener(self, fn: QuoteListener) -> None:
        """Call ``fn(conId, quote)`` after every price update of any instrument."""
        self._listeners.append(fn)

    def remove_listener(self, fn: QuoteListener) -> None:
        self._listeners.remove(fn)

    def add_session_listener(self, fn: SessionListener) -> None:
        """Call ``fn(conId, is_open)`` when a held instrument's session opens or closes (before
        the first update of a session)."""
        self._session_listeners.append(fn)

    def remove_session_listener(self, fn: SessionListener) -> None:
        self._session_listeners.remove(fn)

    def hold(self, con_id: int) -> None:
        instrument = self.instrument(con_id)
        if self._derived_source(instrument) is not None:
            count = self._holds.get(con_id, 0)
            self._holds[con_id] = count + 1
            if count == 0:
                self._dependents.setdefault(instrument.under_con_id, []).append(instrument)
                self.hold(instrument.under_con_id)
            return
        walk = self._walk(con_id)
        count = self._holds.get(con_id, 0)
        self._holds[con_id] = count + 1
        if count == 0:
            self._active.append(walk)
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._next_due = loop.time() + 1 / self.tick_rate
                self._timer = loop.call_at(self._next_due, self._on_timer)

    def release(self, con_id: int) -> None:
        count = self._holds.get(con_id, 0)
        if count == 0:
            raise ValueError(f"release of conId {con_id}, which is not held")
        if count > 1:
            self._holds[con_id] = count - 1
            return
        del self._holds[con_id]
        instrument = self.instrument(con_id)
        if self._derived_source(instrument) is not None:
            under = instrument.under_con_id
            dependents = [held for held in self._dependents[under] if held.con_id != con_id]
            if dependents:
                self._dependents[under] = dependents
            else:
                del self._dependents[under]
            self._credits.pop(con_id, None)
            self.release(under)
            return
        self._active = [walk for walk in self._active if walk.instrument.con_id != con_id]
        if not self._active and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Stop the timer and forget every hold and listener."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._holds.clear()
        self._dependents.clear()
        self._credits.clear()
        self._active.clear()
        self._listeners.clear()
        self._session_listeners.clear()

    def step(self, con_id: int) -> Quote:
        """Advance one instrument by one update now and notify listeners (also used by tests);
        a closed market stays where it is and notifies nobody."""
        walk = self._walk(con_id)
        now = self._clock.now()
        if walk.refresh(now.timestamp()) and con_id in self._holds:
            self._announce([walk])
        if not walk.open_now:
            return walk.quote
        quote = walk.step(now)
        listeners = tuple(self._listeners)
        for listener in listeners:
            listener(con_id, quote)
        if con_id in self._dependents:
            self._step_dependents(con_id, quote, now, listeners)
        return quote

    def _step_dependents(
        self, con_id: int, quote: Quote, now: datetime, listeners: tuple[QuoteListener, ...]
    ) -> None:
        source = self._derived
        if source is None:
            return
        share = 1.0 if self._busy is None else min(1.0, self._quiet_rate / self._rate(con_id))
        for instrument in self._dependents[con_id]:
            if share < 1.0:
                credit = self._credits.get(instrument.con_id, 0.0) + share
                if credit < 1.0:
                    self._credits[instrument.con_id] = credit
                    continue
                self._credits[instrument.con_id] = credit - 1.0
            derived = source.step(instrument, quote, now)
            for listener in listeners:
                listener(instrument.con_id, derived)

    def _walk(self, con_id: int) -> _Walk:
        walk = self._walks.get(con_id)
        if walk is None:
            instrument = self.instrument(con_id)
            now = self._clock.now()
            months_out = self._months_out(instrument)
            walk = _Walk(instrument, self._seed, self.tick_rate, months_out, now, self.volumes)
            if self._busy is not None:
                walk.pace(self._rate(con_id), self.tick_rate)
            self._walks[con_id] = walk
        return walk

    def _months_out(self, instrument: Instrument) -> int:
        if not instrument.contract_month:
            return 0
        now = self._clock.now()
        year, month = int(instrument.contract_month[:4]), int(instrument.contract_month[4:])
        return max(0, (year - now.year) * 12 + month - now.month)

    def _on_timer(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1 / self.tick_rate
        behind = loop.time() - self._next_due
        # a stalled loop catches up a few updates, never a backlog that would stall it further
        steps = min(_MAX_CATCH_UP_STEPS, 1 + int(behind / interval)) if behind > 0 else 1
        self._next_due += steps * interval
        if self._next_due < loop.time():
            self._next_due = loop.time() + interval
        self._timer = loop.call_at(self._next_due, self._on_timer)
        now = self._clock.now()
        epoch = now.timestamp()
        changed = [
            walk for walk in self._active if epoch >= walk.changes_at and walk.refresh(epoch)
        ]
        trading = [walk for walk in self._active if walk.open_now]
        if changed:
            self._announce(changed)
        listeners = tuple(self._listeners)
        dependents = self._dependents
        for _ in range(steps):
            for walk in trading:
                if not walk.due():
                    continue
                quote = walk.step(now)
                con_id = walk.instrument.con_id
                for listener in listeners:
                    listener(con_id, quote)
                if con_id in dependents:
                    self._step_dependents(con_id, quote, now, listeners)

    def _announce(self, walks: list[_Walk]) -> None:
        listeners = tuple(self._session_listeners)
        for walk in walks:
            con_ids = [walk.instrument.con_id]
            con_ids += [held.con_id for held in self._dependents.get(con_ids[0], ())]
            for con_id in con_ids:
                for listener in listeners:
                    listener(con_id, walk.open_now)
