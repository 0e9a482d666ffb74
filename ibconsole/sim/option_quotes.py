"""Option quotes priced off the underlying future: Black-76 with the product's volatility smile
gives the model price, the bid and ask straddle it on the option's tick grid (0.05/0.25 for
E-mini options), and now and then somebody trades at the touch. Each option draws from its
own random stream, seeded by ``(seed, conId)``."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from ibconsole.sim import black76
from ibconsole.sim.instruments import Instrument, price_increment
from ibconsole.sim.market import Quote
from ibconsole.sim.volatility_smile import RATE, smile_for

__all__ = ["Model", "OptionBook", "snap", "years_between"]

_SECONDS_PER_YEAR = 365.0 * 24 * 3600
_HALF_SPREAD = 0.004  # of the model price, at least one tick each side
_TRADE_PROBABILITY = 0.04
_MAX_TRADE = 20
_MAX_DISPLAY = 150
# a model is reused for the same underlying price within this many seconds (the quote and its
# computations are made in the same update)
_MODEL_REUSE = 0.5


def years_between(start: datetime, end: datetime) -> float:
    """Calendar time in years (ACT/365) from ``start`` to ``end``, 0 once ``end`` is past."""
    return max(0.0, (end - start).total_seconds() / _SECONDS_PER_YEAR)


def snap(instrument: Instrument, price: float, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``price`` on the option's tick grid (the increment of its market rule at that price)."""
    value = Decimal(repr(max(price, 0.0)))
    step = price_increment(instrument, value)
    return (value / step).to_integral_value(rounding=rounding) * step


@dataclass(frozen=True, slots=True)
class Model:
    """The model's view of one option at one moment."""

    forward: float
    years: float
    vol: float
    greeks: black76.Greeks

    def implied(
        self, instrument: Instrument, price: Decimal
    ) -> tuple[float, black76.Greeks] | None:
        """Implied volatility of ``price`` and the greeks at it (``None`` when no volatility
        gives that price)."""
        strike = float(instrument.strike)
        vol = black76.implied_volatility(
            float(price), self.forward, strike, self.years, RATE, instrument.right, self.vol
        )
        if vol is None:
            return None
        return vol, black76.greeks(self.forward, strike, self.years, RATE, vol, instrument.right)


class _State:
    __slots__ = (
        "ask_size",
        "bid_size",
        "close",
        "high",
        "last",
        "last_size",
        "low",
        "open_interest",
        "rng",
        "volume",
    )

    def __init__(self, rng: random.Random, close: Decimal, volume: int, open_interest: int):
        self.rng = rng
        self.close = close
        self.last = close
        self.high = close
        self.low = close
        self.last_size = 1
        self.volume = volume
        self.open_interest = open_interest
        self.bid_size = rng.randint(1, _MAX_DISPLAY)
        self.ask_size = rng.randint(1, _MAX_DISPLAY)


class OptionBook:
    """Quotes, model prices and greeks of every option of the catalogue (a
    :class:`~ibconsole.sim.market.DerivedQuotes` for the market)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._states: dict[int, _State] = {}
        self._expiries: dict[int, datetime | None] = {}
        self._models: dict[int, tuple[datetime, Model]] = {}

    def model(self, instrument: Instrument, underlying: Quote, now: datetime) -> Model:
        """Black-76 at the underlying's mid and the smile's volatility for this strike."""
        forward = float(underlying.bid + underlying.ask) / 2
        cached = self._models.get(instrument.con_id)
        if cached is not None:
            at, model = cached
            if model.forward == forward and abs((now - at).total_seconds()) < _MODEL_REUSE:
                return model
        model = self.model_at(instrument, forward, now)
        self._models[instrument.con_id] = (now, model)
        return model

    def model_at(
        self, instrument: Instrument, forward: float, now: datetime, vol: float | None = None
    ) -> Model:
        """The model at a given underlying price (and volatility, else the smile's)."""
        if instrument.con_id in self._expiries:
            expires = self._expiries[instrument.con_id]
        else:
            expires = self._expiries[instrument.con_id] = instrument.expires_at
        years = years_between(now, expires) if expires is not None else 0.0
        strike = float(instrument.strike)
        if vol is None:
            vol = smile_for(instrument.symbol).volatility(forward, strike, years)
        greeks = black76.greeks(forward, strike, years, RATE, vol, instrument.right)
        return Model(forward, years, vol, greeks)

    def open_interest(self, instrument: Instrument, underlying: Quote, now: datetime) -> int:
        return self._state(instrument, underlying, now).open_interest

    def quote(self, instrument: Instrument, underlying: Quote, now: datetime) -> Quote:
        state = self._state(instrument, underlying, now)
        return self._quote(instrument, state, self.model(instrument, underlying, now), now)

    def step(self, instrument: Instrument, underlying: Quote, now: datetime) -> Quote:
        state = self._state(instrument, underlying, now)
        model = self.model(instrument, underlying, now)
        quote = self._quote(instrument, state, model, now)
        rng = state.rng
        state.bid_size = rng.randint(1, _MAX_DISPLAY)
        state.ask_size = rng.randint(1, _MAX_DISPLAY)
        if rng.random() < _TRADE_PROBABILITY and quote.bid > 0:
            state.last = quote.ask if rng.random() < 0.5 else quote.bid
            state.last_size = rng.randint(1, _MAX_TRADE)
            state.volume += state.last_size
            state.high = max(state.high, state.last)
            state.low = min(state.low, state.last)
        return self._quote(instrument, state, model, now)

    def _state(self, instrument: Instrument, underlying: Quote, now: datetime) -> _State:
        state = self._states.get(instrument.con_id)
        if state is None:
            rng = random.Random(f"{self._seed}:{instrument.con_id}")
            # the previous settlement: the model at the underlying's previous close
            settled = self.model_at(instrument, float(underlying.close), now)
            close = snap(instrument, settled.greeks.price)
            distance = abs(math.log(float(instrument.strike) / float(underlying.close)))
            activity = math.exp(-distance * 25)
            volume = int(rng.randint(50, 4_000) * activity)
            open_interest = int(rng.randint(500, 40_000) * activity) + rng.randint(0, 50)
            state = self._states[instrument.con_id] = _State(rng, close, volume, open_interest)
            # the last trade: a while ago, at about the model price of then
            state.last = state.high = state.low = snap(
                instrument, self.model(instrument, underlying, now).greeks.price
            )
            state.high, state.low = max(state.high, close), min(state.low, close)
        return state

    def _quote(self, instrument: Instrument, state: _State, model: Model, now: datetime) -> Quote:
        theo = model.greeks.price
        low_step = float(price_increment(instrument, Decimal(0)))
        if model.years <= 0:
            bid = ask = snap(instrument, theo)
        else:
            half = max(theo * _HALF_SPREAD, float(price_increment(instrument, Decimal(repr(theo)))))
            bid = snap(instrument, theo - half, ROUND_FLOOR)
            ask = snap(instrument, theo + half, ROUND_CEILING)
            if ask <= bid:
                ask = bid + Decimal(repr(low_step))
            if theo < low_step:
                bid = Decimal(0)
        return Quote(
            bid=bid,
            ask=ask,
            last=state.last,
            bid_size=state.bid_size if bid > 0 else 0,
            ask_size=state.ask_size,
            last_size=state.last_size,
            volume=state.volume,
            high=state.high,
            low=state.low,
            open=state.close,
            close=state.close,
            time=now,
        )
