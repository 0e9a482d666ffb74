"""IB's option ticks on a market data request: option computations (msg 21) for the bid (tick
10), ask (11), last (12) and model (13) — delayed 80–83 — each with implied volatility, delta,
option price, PV dividend, gamma, vega, theta and the underlying's price; and, when asked for
by generic tick, the option's volume (100 → tick 29 for a call, 30 for a put), open interest
(101 → 27/28) and implied volatility (106 → tick 24, on a future its 30-day at-the-money
volatility)."""

from __future__ import annotations

from dataclasses import dataclass

from ibconsole.sim import black76
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Instrument
from ibconsole.sim.market import Market, Quote
from ibconsole.sim.market_data import Send
from ibconsole.sim.option_quotes import Model, OptionBook
from ibconsole.sim.volatility_smile import smile_for

__all__ = ["OptionTicks", "computation_fields"]

_LIVE = (10, 11, 12, 13)
_DELAYED = (80, 81, 82, 83)
_CALL_VOLUME, _PUT_VOLUME = 29, 30
_CALL_OPEN_INTEREST, _PUT_OPEN_INTEREST = 27, 28
_IMPLIED_VOL = 24
_THIRTY_DAYS = 30 / 365
# tickAttrib: 0 = return-based, 1 = price-based volatility (ibapi docs of tickOptionComputation)
_RETURN_BASED = 0
_NOT_COMPUTED = (-1.0, -2.0, -1.0, -1.0, -2.0, -2.0, -2.0)


def computation_fields(
    req_id: int,
    tick_type: int,
    vol: float | None,
    greeks: black76.Greeks | None,
    option_price: float | None,
    underlying: float,
) -> tuple[object, ...]:
    """One TICK_OPTION_COMPUTATION at server version ≥ 156: reqId, tickType, tickAttrib,
    impliedVol, delta, optPrice, pvDividend, gamma, vega, theta, undPrice; -1/-2 where IB
    marks a figure as not computed."""
    if vol is None or greeks is None:
        iv, delta, price, dividend, gamma, vega, theta = _NOT_COMPUTED
        if option_price is not None:
            price = option_price
        return (21, req_id, tick_type, _RETURN_BASED, iv, delta, price, dividend, gamma, vega,
                theta, underlying)  # fmt: skip
    price = greeks.price if option_price is None else option_price
    return (21, req_id, tick_type, _RETURN_BASED, vol, greeks.delta, price, 0.0, greeks.gamma,
            greeks.vega, greeks.theta, underlying)  # fmt: skip


@dataclass(slots=True)
class _Sent:
    delayed: bool
    forward: float = 0.0
    bid: object = None
    ask: object = None
    last: object = None
    volume: int = -1


class OptionTicks:
    """The market data service's extension for options and their futures."""

    def __init__(self, market: Market, book: OptionBook, clock: SimClock) -> None:
        self._market = market
        self._book = book
        self._clock = clock

    def first(
        self,
        send: Send,
        req_id: int,
        instrument: Instrument,
        quote: Quote,
        tags: frozenset[str],
        delayed: bool,
    ) -> object | None:
        if instrument.sec_type == "FUT" and "106" in tags:
            forward = float(quote.bid + quote.ask) / 2
            vol = smile_for(instrument.symbol).volatility(forward, forward, _THIRTY_DAYS)
            send(45, 6, req_id, _IMPLIED_VOL, vol)
            return None
        if instrument.sec_type != "FOP":
            return None
        state = _Sent(delayed)
        now = self._clock.now()
        underlying = self._market.quote(instrument.under_con_id)
        model = self._book.model(instrument, underlying, now)
        self._computations(send, req_id, instrument, quote, model, state)
        call = instrument.right == "C"
        if "101" in tags:
            interest = self._book.open_interest(instrument, underlying, now)
            send(2, 6, req_id, _CALL_OPEN_INTEREST if call else _PUT_OPEN_INTEREST, interest)
        if "106" in tags:
            send(45, 6, req_id, _IMPLIED_VOL, model.vol)
        if "100" in tags:
            state.volume = quote.volume
            send(2, 6, req_id, _CALL_VOLUME if call else _PUT_VOLUME, quote.volume)
        else:
            state.volume = -2  # not asked for
        return state

    def changed(
        self, send: Send, req_id: int, instrument: Instrument, quote: Quote, state: object
    ) -> None:
        if not isinstance(state, _Sent):
            return
        underlying = self._market.quote(instrument.under_con_id)
        forward = float(underlying.bid + underlying.ask) / 2
        if forward == state.forward and (quote.bid, quote.ask, quote.last) == (
            state.bid,
            state.ask,
            state.last,
        ):
            return
        model = self._book.model(instrument, underlying, self._clock.now())
        self._computations(send, req_id, instrument, quote, model, state)
        if state.volume >= 0 and quote.volume != state.volume:
            state.volume = quote.volume
            call = instrument.right == "C"
            send(2, 6, req_id, _CALL_VOLUME if call else _PUT_VOLUME, quote.volume)

    def _computations(
        self,
        send: Send,
        req_id: int,
        instrument: Instrument,
        quote: Quote,
        model: Model,
        state: _Sent,
    ) -> None:
        bid_type, ask_type, last_type, model_type = _DELAYED if state.delayed else _LIVE
        forward = model.forward
        moved = forward != state.forward
        for tick_type, price, previous in (
            (bid_type, quote.bid, state.bid),
            (ask_type, quote.ask, state.ask),
            (last_type, quote.last, state.last),
        ):
            if not moved and price == previous:
                continue
            implied = model.implied(instrument, price) if price > 0 else None
            vol, greeks = implied if implied is not None else (None, None)
            send(*computation_fields(req_id, tick_type, vol, greeks, float(price), forward))
        send(*computation_fields(req_id, model_type, model.vol, model.greeks, None, forward))
        state.forward, state.bid, state.ask, state.last = forward, quote.bid, quote.ask, quote.last
