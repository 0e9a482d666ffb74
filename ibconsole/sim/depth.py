"""Market depth: reqMktDepth (10) streaming updateMktDepth (12) or, for SMART depth and for
exchanges that name market makers (ISLAND), updateMktDepthL2 (13); cancelMktDepth (11);
reqMktDepthExchanges (82 -> 80).

Each watched instrument has one :class:`~ibconsole.sim.depth_book.OrderBook` that follows the
market's quotes (so its best levels are always the quote's) and churns behind the touch at
``rate`` changes a second, with bursts; every subscriber sees the book's first ``numRows`` rows,
kept exact by position.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Mapping
from decimal import Decimal

from ibconsole.sim.connection import Connection
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.depth_book import DELETE, INSERT, UPDATE, OrderBook
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.market import Market, Quote, display_sizes
from ibconsole.sim.subscriptions import Subscriptions
from ibconsole.sim.wire import UNSET_INTEGER

__all__ = ["DEFAULT_DEPTH_RATE", "DEPTH_EXCHANGES", "MAX_DEPTH_REQUESTS", "DepthService"]

log = logging.getLogger(__name__)

Handler = Callable[[Connection, list[str]], None]

# TWS allows 3 distinct depth subscriptions by default (error 309 beyond); requests for an
# instrument already watched take no further slot (IB's EClient error table, code 309).
MAX_DEPTH_REQUESTS = 3
# Changes behind the touch per second per watched instrument, outside bursts.
DEFAULT_DEPTH_RATE = 20.0
# CME's market-by-price book is 10 levels deep; TWS sends no more rows than the book has.
BOOK_DEPTH = 10
# exchange, secType, listingExch, serviceDataType, aggGroup as reqMktDepthExchanges lists them
# (ARCA's line as captured from IB Gateway at v200; ISLAND's Deep2 as IB documents it).
DEPTH_EXCHANGES: tuple[tuple[str, str, str, str, int], ...] = (
    ("CME", "FUT", "", "Deep", UNSET_INTEGER),
    ("CBOT", "FUT", "", "Deep", UNSET_INTEGER),
    ("NYMEX", "FUT", "", "Deep", UNSET_INTEGER),
    ("COMEX", "FUT", "", "Deep", UNSET_INTEGER),
    ("ISLAND", "STK", "NASDAQ", "Deep2", 4),
    ("ARCA", "STK", "ARCA", "Deep", 4),
    ("BATS", "STK", "", "Deep", 4),
    ("IEX", "STK", "", "Deep", 4),
    ("NYSE", "STK", "NYSE", "Deep", 4),
    ("IDEALPRO", "CASH", "", "Deep", UNSET_INTEGER),
)
_INTERVAL = 0.02
_MAX_CATCH_UP = 0.1
# Natural bursts: on average one every this many seconds per instrument, lasting and
# multiplying the rate by amounts drawn from these ranges.
_BURST_EVERY = 15.0
_BURST_SECONDS = (0.2, 1.5)
_BURST_FACTOR = (5.0, 20.0)
_PRICE_TEXTS = 4096
# Exchanges whose own depth names each row's market maker (IB: "with ISLAND ... the market
# maker MPID will be relayed back via updateMktDepthL2"); a few of Nasdaq's MPIDs.
_MARKET_MAKERS: dict[str, tuple[str, ...]] = {
    "ISLAND": ("NSDQ", "CDRG", "GSCO", "MSCO", "UBSS", "VIRT"),
}

_NOT_SUPPORTED = "Deep market data is not supported for this combination."
_RESET = (
    "Market depth data has been RESET. Please empty deep book contents before applying any "
    "new entries."
)


class _Subscription:
    """One depth request: rows go out as updateMktDepth, or as updateMktDepthL2 naming each
    row's market maker from ``makers`` (exchanges for SMART depth, MPIDs for ISLAND)."""

    __slots__ = ("feed", "link", "makers", "req_id", "rows", "smart")

    def __init__(
        self,
        link: Connection,
        req_id: int,
        rows: int,
        smart: bool,
        makers: tuple[str, ...] | None,
        feed: _Feed,
    ) -> None:
        self.link = link
        self.req_id = req_id
        self.rows = rows
        self.smart = smart
        self.makers = makers
        self.feed = feed

    def send(
        self, operation: int, side: int, position: int, price: int, size: int, maker: int
    ) -> None:
        feed, makers = self.feed, self.makers
        if makers is not None:
            # isSmartDepth closes the message from server version 146 on, below every client
            # version the gateway accepts
            self.link.send(
                13, 1, self.req_id, position, makers[maker % len(makers)], operation, side,
                feed.price_text(price), size, self.smart,
            )  # fmt: skip
        else:
            self.link.send(
                12, 1, self.req_id, position, operation, side, feed.price_text(price), size
            )

    def send_book(self) -> None:
        """The book's first ``rows`` rows as inserts, best first, asks and bids in turn."""
        asks, bids = self.feed.book.asks, self.feed.book.bids
        for position in range(min(self.rows, max(len(asks), len(bids)))):
            for side in (asks, bids):
                if position < len(side):
                    self.send(
                        INSERT,
                        side.code,
                        position,
                        side.prices[position],
                        side.sizes[position],
                        side.makers[position],
                    )


class _Feed:
    """One watched instrument: its book, its subscribers and its rate's state."""

    __slots__ = (
        "book",
        "burst_factor",
        "burst_until",
        "carry",
        "instrument",
        "makers",
        "muted",
        "rng",
        "subscriptions",
        "texts",
    )

    def __init__(
        self, instrument: Instrument, quote: Quote, rng: random.Random, muted: bool
    ) -> None:
        self.instrument = instrument
        self.makers = _makers(instrument)
        self.rng = rng
        self.muted = muted
        self.subscriptions: list[_Subscription] = []
        self.texts: dict[int, str] = {}
        self.carry = 0.0
        self.burst_until = -math.inf
        self.burst_factor = 1.0
        bid, ask = self.ticks(quote)
        self.book = OrderBook(
            bid=bid,
            bid_size=quote.bid_size,
            ask=ask,
            ask_size=quote.ask_size,
            depth=BOOK_DEPTH,
            sizes=display_sizes(instrument),
            makers=len(self.makers),
            rng=rng,
        )
        self.book.listener = self.on_change

    def ticks(self, quote: Quote) -> tuple[int, int]:
        tick = self.instrument.min_tick
        return int(quote.bid / tick), int(quote.ask / tick)

    def price_text(self, price: int) -> str:
        text = self.texts.get(price)
        if text is None:
            if len(self.texts) >= _PRICE_TEXTS:
                self.texts.clear()
            text = self.texts[price] = format(price * self.instrument.min_tick, "f")
        return text

    def follow(self, quote: Quote) -> None:
        bid, ask = self.ticks(quote)
        self.book.follow(bid, quote.bid_size, ask, quote.ask_size)

    def on_change(
        self, operation: int, side: int, position: int, price: int, size: int, maker: int
    ) -> None:
        """Pass one change of the book to every subscriber as changes of its own window of
        ``rows`` rows that never move a row: the rows a change shifts are updated in place, and
        rows are inserted and deleted only at the end of the window.

        Clients read a mid-book insert or delete differently (ib_insync shifts the rows below,
        ib_async overwrites or drops the one position), and IB's depth of a market-by-price book
        changes the price of a position in place; a book sent this way reads the same to all."""
        if self.muted:
            return
        levels = self.book.side(side)
        grown = {INSERT: 1, UPDATE: 0, DELETE: -1}[operation]
        for subscription in self.subscriptions:
            rows = subscription.rows
            if position >= rows:
                continue
            before = min(len(levels) - grown, rows)
            after = min(len(levels), rows)
            last = position + 1 if operation == UPDATE else min(before, after)
            for row in range(position, last):
                subscription.send(
                    UPDATE, side, row, levels.prices[row], levels.sizes[row], levels.makers[row]
                )
            if after > before:
                subscription.send(
                    INSERT,
                    side,
                    before,
                    levels.prices[before],
                    levels.sizes[before],
                    levels.makers[before],
                )
            elif after < before:
                subscription.send(DELETE, side, after, price, 0, maker)


def _makers(instrument: Instrument) -> tuple[str, ...]:
    """Names SMART depth gives as each row's market maker: the exchanges that list depth for
    the instrument (a future's own exchange)."""
    listed = {
        exchange for exchange, sec_type, *_ in DEPTH_EXCHANGES if sec_type == instrument.sec_type
    }
    valid = [name for name in instrument.valid_exchanges.split(",") if name in listed]
    return tuple(valid) or (instrument.exchange,)


class DepthService:
    """Market depth for every connection, with TWS's limit on distinct depth subscriptions.

    ``rate`` (changes behind the touch per second per instrument) may be changed at any time;
    ``burst(rate, seconds, con_id)`` forces a rate for a while (every instrument when
    ``con_id`` is None). ``paused`` stops every stream without forgetting it (IB connectivity
    lost); when it ends each subscriber gets error 317 and the whole book again.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        market: Market,
        *,
        seed: int,
        rate: float = DEFAULT_DEPTH_RATE,
        max_requests: int = MAX_DEPTH_REQUESTS,
    ) -> None:
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(
                f"max_requests must be a whole number of at least 1, got {max_requests!r}"
            )
        self._catalogue = catalogue
        self._market = market
        self._seed = seed
        self.rate = rate
        self.max_requests = max_requests
        self._feeds: dict[int, _Feed] = {}
        self._subscriptions: Subscriptions[_Subscription] = Subscriptions("bX")
        self._bursts: dict[int | None, tuple[float, float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._last_churn = 0.0
        self._paused = False
        self._listening = True
        market.add_listener(self._on_quote)

    def handlers(self) -> Mapping[int, Handler]:
        return {10: self._on_request, 11: self._on_cancel, 82: self._on_exchanges}

    # ---- knobs ---------------------------------------------------------------------------------

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        self._rate = _checked_rate(value)

    def burst(self, rate: float, seconds: float, con_id: int | None = None) -> None:
        """Churn ``rate`` changes a second for ``seconds`` (on one instrument, or every one)."""
        rate = _checked_rate(rate)
        if not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"a burst lasts a positive number of seconds, got {seconds}")
        until = asyncio.get_running_loop().time() + seconds
        self._bursts[con_id] = (rate, until)
        log.info("depth burst: %g changes/s for %g s on %s", rate, seconds, con_id or "every book")

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, value: bool) -> None:
        resumed = self._paused and not value
        self._paused = value
        for feed in self._feeds.values():
            feed.muted = value
        if resumed:
            # after the connectivity message (1102) that ends the outage
            asyncio.get_running_loop().call_soon(self._reset_books)

    def _reset_books(self) -> None:
        if self._paused:
            return
        for subscription in self._subscriptions:
            subscription.link.send_error(subscription.req_id, 317, _RESET)
            subscription.send_book()

    # ---- views for tests and benchmarks --------------------------------------------------------

    def book(self, con_id: int) -> OrderBook | None:
        """The book of a watched instrument (None when nobody watches it)."""
        feed = self._feeds.get(con_id)
        return None if feed is None else feed.book

    def subscription_count(self) -> int:
        return self._subscriptions.count()

    # ---- lifecycle ----------------------------------------------------------------------------

    def detach(self, link: Connection) -> None:
        for subscription in self._subscriptions.detach(link):
            self._forget(subscription)

    def drop_all(self) -> None:
        """Forget every subscription of every client (IB's "data lost" after a reconnect)."""
        for link in self._subscriptions.links():
            self.detach(link)

    def close(self) -> None:
        self.drop_all()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._listening:
            self._listening = False
            self._market.remove_listener(self._on_quote)

    # ---- requests -----------------------------------------------------------------------------

    def _on_request(self, link: Connection, fields: list[str]) -> None:
        # 10, 5, reqId, contract(12), numRows, isSmartDepth, mktDepthOptions
        req_id = int(fields[2])
        if self._subscriptions.refuse_duplicate(link, req_id):
            return
        try:
            instrument = resolve_contract(self._catalogue, fields[3:15])
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        smart = fields[16:17] == ["1"]
        exchange = fields[10].strip().upper() or instrument.exchange
        if not smart and not _lists_depth(exchange, instrument.sec_type):
            link.send_error(req_id, 10092, _NOT_SUPPORTED)
            return
        rows_text = fields[15] if len(fields) > 15 else ""
        try:
            rows = int(rows_text)
        except ValueError:
            rows = 0
        if rows < 1:
            link.send_error(
                req_id,
                321,
                f"Error validating request.-'numRows' : cause - the number of rows must be a "
                f"whole number of at least 1, got {rows_text!r}",
            )
            return
        feed = self._feeds.get(instrument.con_id)
        if feed is None:
            if len(self._feeds) >= self.max_requests:
                link.send_error(
                    req_id,
                    309,
                    f"Max number ({self.max_requests}) of market depth requests has been reached",
                )
                return
            feed = self._watch(instrument)
        makers = feed.makers if smart else _MARKET_MAKERS.get(exchange)
        subscription = _Subscription(link, req_id, min(rows, BOOK_DEPTH), smart, makers, feed)
        self._subscriptions.add(link, req_id, subscription)
        feed.subscriptions.append(subscription)
        if not self._paused:
            subscription.send_book()

    def _on_cancel(self, link: Connection, fields: list[str]) -> None:
        # 11, 1, reqId, isSmartDepth
        req_id = int(fields[2])
        smart = fields[3:4] == ["1"]
        subscription = self._subscriptions.get(link, req_id)
        # TWS finds a SMART depth subscription only by a SMART cancel, and the reverse
        if subscription is None or subscription.smart != smart:
            link.send_error(
                req_id, 310, f"Can't find the subscribed market depth with tickerId:{req_id}"
            )
            return
        self._subscriptions.pop(link, req_id)
        self._forget(subscription)

    def _on_exchanges(self, link: Connection, fields: list[str]) -> None:
        flat = [value for description in DEPTH_EXCHANGES for value in description]
        link.send(80, len(DEPTH_EXCHANGES), *flat)

    # ---- books --------------------------------------------------------------------------------

    def _watch(self, instrument: Instrument) -> _Feed:
        con_id = instrument.con_id
        rng = random.Random(f"depth:{self._seed}:{con_id}")
        feed = _Feed(instrument, self._market.quote(con_id), rng, self._paused)
        self._feeds[con_id] = feed
        self._market.hold(con_id)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._last_churn = loop.time()
            self._timer = loop.call_at(self._last_churn + _INTERVAL, self._on_timer)
        return feed

    def _forget(self, subscription: _Subscription) -> None:
        feed = subscription.feed
        feed.subscriptions.remove(subscription)
        if feed.subscriptions:
            return
        con_id = feed.instrument.con_id
        del self._feeds[con_id]
        feed.book.listener = None
        self._market.release(con_id)
        if not self._feeds and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_quote(self, con_id: int, quote: Quote) -> None:
        feed = self._feeds.get(con_id)
        if feed is not None:
            feed.follow(quote)

    def _on_timer(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        elapsed = min(now - self._last_churn, _MAX_CATCH_UP)
        self._last_churn = now
        self._timer = loop.call_at(now + _INTERVAL, self._on_timer)
        for con_id, feed in list(self._feeds.items()):
            if not self._market.is_open(con_id):
                continue
            due = self._rate_now(con_id, feed, now) * elapsed + feed.carry
            count = int(due)
            feed.carry = due - count
            if count:
                feed.book.churn(count)

    def _rate_now(self, con_id: int, feed: _Feed, now: float) -> float:
        for key in (con_id, None):
            forced = self._bursts.get(key)
            if forced is not None:
                if now < forced[1]:
                    return forced[0]
                del self._bursts[key]
        if now >= feed.burst_until and feed.rng.random() < _INTERVAL / _BURST_EVERY:
            feed.burst_until = now + feed.rng.uniform(*_BURST_SECONDS)
            feed.burst_factor = feed.rng.uniform(*_BURST_FACTOR)
        return self._rate * (feed.burst_factor if now < feed.burst_until else 1.0)


def _lists_depth(exchange: str, sec_type: str) -> bool:
    return any(name == exchange and kind == sec_type for name, kind, *_ in DEPTH_EXCHANGES)


def _checked_rate(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"a depth rate is a number of changes per second, got {value!r}")
    rate = float(value)
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"a depth rate must be zero or more changes per second, got {value!r}")
    return rate
