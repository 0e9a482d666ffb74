"""Real-time bars (reqRealTimeBars 50 -> 50 every 5 s, cancel 51) cut from the live tape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ibconsole.sim.clock import SimClock
from ibconsole.sim.connection import Connection
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.market import Market
from ibconsole.sim.subscriptions import Subscriptions
from ibconsole.sim.tape import Tape

__all__ = ["RealTimeBarService"]


Handler = Callable[[Connection, list[str]], None]

# TWS serves 5-second real-time bars only.
_BAR_SECONDS = 5


@dataclass(frozen=True, slots=True)
class _Subscription:
    link: Connection
    req_id: int
    instrument: Instrument


class RealTimeBarService:
    """Every 5 seconds of simulated time (aligned to multiples of 5), each subscription gets the
    bar of the 5 seconds just ended, unless its exchange was closed then (IB sends no bars
    outside the sessions); a shared timer runs only while somebody subscribes."""

    def __init__(self, catalogue: Catalogue, market: Market, tape: Tape, clock: SimClock) -> None:
        self._catalogue = catalogue
        self._market = market
        self._tape = tape
        self._clock = clock
        self._subscriptions: Subscriptions[_Subscription] = Subscriptions("bR")
        self._timer: asyncio.TimerHandle | None = None
        self.paused = False

    def handlers(self) -> Mapping[int, Handler]:
        return {50: self._on_request, 51: self._on_cancel}

    def detach(self, link: Connection) -> None:
        for subscription in self._subscriptions.detach(link):
            self._market.release(subscription.instrument.con_id)
        self._stop_if_idle()

    def drop_all(self) -> None:
        for link in self._subscriptions.links():
            self.detach(link)

    def close(self) -> None:
        self.drop_all()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_request(self, link: Connection, fields: list[str]) -> None:
        # 50, 3, reqId, contract(12), barSize, whatToShow, useRTH, options
        req_id = int(fields[2])
        try:
            instrument = resolve_contract(self._catalogue, fields[3:15])
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        if self._subscriptions.refuse_duplicate(link, req_id):
            return
        self._subscriptions.add(link, req_id, _Subscription(link, req_id, instrument))
        self._market.hold(instrument.con_id)
        self._tape.anchor(instrument.con_id)
        if self._timer is None:
            self._schedule()

    def _on_cancel(self, link: Connection, fields: list[str]) -> None:
        subscription = self._subscriptions.pop(link, int(fields[2]))
        if subscription is not None:
            self._market.release(subscription.instrument.con_id)
        self._stop_if_idle()

    def _stop_if_idle(self) -> None:
        if self._timer is not None and not self._subscriptions.count():
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        epoch = self._clock.epoch()
        wait = _BAR_SECONDS - epoch % _BAR_SECONDS
        self._timer = loop.call_later(wait, self._on_timer)

    def _on_timer(self) -> None:
        self._schedule()
        end = round(self._clock.epoch() / _BAR_SECONDS) * _BAR_SECONDS
        start = end - _BAR_SECONDS
        if self.paused:
            return
        moment = datetime.fromtimestamp(start, UTC)
        for subscription in self._subscriptions:
            if self._market.is_open(subscription.instrument.con_id, moment):
                self._send(subscription, start, end)

    def _send(self, subscription: _Subscription, start: int, end: int) -> None:
        instrument = subscription.instrument
        span = self._tape.span(instrument.con_id, start, end, instrument.min_tick)
        subscription.link.send(
            50,
            3,
            subscription.req_id,
            start,
            span.open,
            span.high,
            span.low,
            span.close,
            span.volume,
            span.wap,
            span.count,
        )
