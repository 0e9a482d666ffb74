"""Streaming quotes: reqMktData (live, delayed, snapshots), cancelMktData and reqMarketDataType."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ibconsole.sim.clock import SimClock
from ibconsole.sim.combo_market import ComboMarket
from ibconsole.sim.combos import Combos, is_bag, read_legs
from ibconsole.sim.connection import Connection
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.market import Market, Quote
from ibconsole.sim.subscriptions import Subscriptions

__all__ = ["MarketDataService", "Send", "TickExtension"]


Handler = Callable[[Connection, list[str]], None]
Send = Callable[..., None]


class TickExtension(Protocol):
    """More ticks for some instruments (option computations, option volume and open
    interest), sent after the quote's own."""

    def first(
        self,
        send: Send,
        req_id: int,
        instrument: Instrument,
        quote: Quote,
        tags: frozenset[str],
        delayed: bool,
    ) -> object | None:
        """Ticks of a new request after its first quote; the subscription's state for
        :meth:`changed`, or ``None`` when the instrument is not this extension's."""
        ...

    def changed(
        self, send: Send, req_id: int, instrument: Instrument, quote: Quote, state: object
    ) -> None:
        """Ticks after a quote update."""
        ...


LIVE, FROZEN, DELAYED, DELAYED_FROZEN = 1, 2, 3, 4


@dataclass(frozen=True, slots=True)
class _TickTypes:
    bid: int
    ask: int
    last: int
    bid_size: int
    ask_size: int
    last_size: int
    volume: int
    high: int
    low: int
    close: int
    open: int
    last_timestamp: int


_LIVE_TICKS = _TickTypes(1, 2, 4, 0, 3, 5, 8, 6, 7, 9, 14, 45)
_DELAYED_TICKS = _TickTypes(66, 67, 68, 69, 70, 71, 74, 72, 73, 75, 76, 88)
_RT_VOLUME = 48
_OPEN_INTEREST = 86
_BBO_EXCHANGE = "9c0001"
_SNAPSHOT_PERMISSIONS = 3
_DELAYED_WARNING = "Requested market data is not subscribed. Displaying delayed market data."


@dataclass(slots=True, eq=False)
class _Subscription:
    link: Connection
    req_id: int
    instrument: Instrument
    ticks: _TickTypes
    rt_volume: bool
    trades: bool
    last: Quote
    held: bool = field(default=True)
    extensions: list[tuple[TickExtension, object]] = field(default_factory=list)

    def send_all(self, quote: Quote, clock: SimClock) -> None:
        send, req_id, ticks = self.link.send, self.req_id, self.ticks
        send(1, 6, req_id, ticks.bid, quote.bid, quote.bid_size, 0)
        send(1, 6, req_id, ticks.ask, quote.ask, quote.ask_size, 0)
        if self.trades:
            send(1, 6, req_id, ticks.last, quote.last, quote.last_size, 0)
            send(2, 6, req_id, ticks.last_size, quote.last_size)
            send(2, 6, req_id, ticks.volume, quote.volume)
            send(46, 6, req_id, ticks.last_timestamp, str(int(quote.time.timestamp())))
        send(1, 6, req_id, ticks.high, quote.high, 0, 0)
        send(1, 6, req_id, ticks.low, quote.low, 0, 0)
        send(1, 6, req_id, ticks.close, quote.close, 0, 0)
        send(1, 6, req_id, ticks.open, quote.open, 0, 0)
        self.last = quote

    def send_changes(self, quote: Quote) -> None:
        """Only what changed since the previous update, the way TWS streams it."""
        previous = self.last
        self.last = quote
        send, req_id, ticks = self.link.send, self.req_id, self.ticks
        if quote.bid != previous.bid:
            send(1, 6, req_id, ticks.bid, quote.bid, quote.bid_size, 0)
        elif quote.bid_size != previous.bid_size:
            send(2, 6, req_id, ticks.bid_size, quote.bid_size)
        if quote.ask != previous.ask:
            send(1, 6, req_id, ticks.ask, quote.ask, quote.ask_size, 0)
        elif quote.ask_size != previous.ask_size:
            send(2, 6, req_id, ticks.ask_size, quote.ask_size)
        if self.trades and quote.volume != previous.volume:
            send(1, 6, req_id, ticks.last, quote.last, quote.last_size, 0)
            send(2, 6, req_id, ticks.volume, quote.volume)
            epoch = quote.time.timestamp()
            send(46, 6, req_id, ticks.last_timestamp, str(int(epoch)))
            if self.rt_volume:
                send(
                    46,
                    6,
                    req_id,
                    _RT_VOLUME,
                    f"{quote.last};{quote.last_size};{int(epoch * 1000)};{quote.volume};"
                    f"{quote.last};true",
                )
        if quote.high != previous.high:
            send(1, 6, req_id, ticks.high, quote.high, 0, 0)
        if quote.low != previous.low:
            send(1, 6, req_id, ticks.low, quote.low, 0, 0)
        if quote.close != previous.close:  # a new trade date
            send(1, 6, req_id, ticks.close, quote.close, 0, 0)
        if quote.open != previous.open:
            send(1, 6, req_id, ticks.open, quote.open, 0, 0)


class MarketDataService:
    """Per-connection market data subscriptions fed from :class:`Market` updates.

    Every live subscription holds its instrument in the market, so it ticks exactly while
    somebody watches it and its exchange is open (a combo, BAG, holds its legs and streams the
    quote built from theirs); on a closed market a request gets the last
    session's quote once and then nothing until the next open. With ``delayed_only`` (a fault, or an account without live data) every
    request gets 10167 and the delayed tick types; a client that asks for delayed data
    (``reqMarketDataType(3)``) gets the same. ``paused`` stops the stream without forgetting it
    (IB connectivity lost).
    """

    def __init__(self, catalogue: Catalogue, market: Market, clock: SimClock) -> None:
        self._catalogue = catalogue
        self._combos = Combos(catalogue, clock)
        self._market = ComboMarket(market, self._combos)
        self._clock = clock
        self._subscriptions: Subscriptions[_Subscription] = Subscriptions("bX")
        self._by_con_id: dict[int, list[_Subscription]] = {}
        self.delayed_only = False
        self.paused = False
        self._extensions: list[TickExtension] = []
        self._market.add_listener(self._on_quote)

    def add_extension(self, extension: TickExtension) -> None:
        """Send ``extension``'s ticks too, for the instruments it takes."""
        self._extensions.append(extension)

    def handlers(self) -> Mapping[int, Handler]:
        return {1: self._on_request, 2: self._on_cancel, 59: self._on_data_type}

    def subscription_count(self) -> int:
        return self._subscriptions.count()

    def detach(self, link: Connection) -> None:
        for subscription in self._subscriptions.detach(link):
            self._forget(subscription)

    def drop_all(self) -> None:
        """Forget every subscription of every client (IB's "data lost" after a reconnect)."""
        for link in self._subscriptions.links():
            self.detach(link)

    def _on_data_type(self, link: Connection, fields: list[str]) -> None:
        data_type = int(fields[2])
        if data_type not in (LIVE, FROZEN, DELAYED, DELAYED_FROZEN):
            raise ValueError(f"market data type must be 1-4, got {data_type}")
        link.market_data_type = data_type

    def _on_request(self, link: Connection, fields: list[str]) -> None:
        # 1, 11, reqId, contract(12), dnc flag [, dnc conId, delta, price], generic ticks,
        # snapshot, regulatory snapshot, options
        req_id = int(fields[2])
        contract, after = fields[3:15], 15
        try:
            if is_bag(contract):
                # a combo's legs follow its contract: count, then conId ratio action exchange
                legs, after = read_legs(fields, after)
                instrument: Instrument = self._combos.resolve(contract, legs, "bX")
            else:
                instrument = resolve_contract(self._catalogue, contract)
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        rest = fields[after + 1 :] if fields[after] != "1" else fields[after + 4 :]
        generic, snapshot, regulatory = rest[0], rest[1] == "1", rest[2] == "1"
        if self._subscriptions.refuse_duplicate(link, req_id):
            return
        delayed = self.delayed_only or link.market_data_type in (DELAYED, DELAYED_FROZEN)
        if delayed:
            link.send_error(req_id, 10167, _DELAYED_WARNING)
        link.send(58, 1, req_id, DELAYED if delayed else LIVE)
        link.send(81, req_id, instrument.min_tick, _BBO_EXCHANGE, _SNAPSHOT_PERMISSIONS)
        tags = {tag.strip() for tag in generic.split(",") if tag.strip()}
        subscription = _Subscription(
            link=link,
            req_id=req_id,
            instrument=instrument,
            ticks=_DELAYED_TICKS if delayed else _LIVE_TICKS,
            rt_volume="233" in tags,
            trades=instrument.sec_type != "CASH",
            last=self._market.quote(instrument.con_id),
        )
        subscription.send_all(subscription.last, self._clock)
        if "588" in tags and instrument.sec_type == "FUT":
            link.send(2, 6, req_id, _OPEN_INTEREST, 250_000)
        for extension in self._extensions:
            state = extension.first(
                link.send, req_id, instrument, subscription.last, frozenset(tags), delayed
            )
            if state is not None:
                subscription.extensions.append((extension, state))
        if snapshot or regulatory:
            link.send(57, 1, req_id)
            return
        self._subscriptions.add(link, req_id, subscription)
        self._by_con_id.setdefault(instrument.con_id, []).append(subscription)
        self._market.hold(instrument.con_id)

    def _on_cancel(self, link: Connection, fields: list[str]) -> None:
        req_id = int(fields[2])
        subscription = self._subscriptions.pop(link, req_id)
        if subscription is None:
            link.send_error(req_id, 300, f"Can't find EId with tickerId:{req_id}")
            return
        self._forget(subscription)

    def _forget(self, subscription: _Subscription) -> None:
        con_id = subscription.instrument.con_id
        watchers = self._by_con_id.get(con_id, [])
        watchers.remove(subscription)
        if not watchers:
            del self._by_con_id[con_id]
        self._market.release(con_id)

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        if self.paused:
            return
        for subscription in self._by_con_id.get(con_id, ()):
            subscription.send_changes(quote)
            if subscription.extensions:
                for extension, state in subscription.extensions:
                    extension.changed(
                        subscription.link.send,
                        subscription.req_id,
                        subscription.instrument,
                        quote,
                        state,
                    )
