"""Quotes and bars: reference-counted subscriptions that survive reconnects.

Two charts on one contract share one IB subscription; the last one out cancels it. After a reconnect
or IB's 1101 (connectivity restored, data lost) every live subscription is requested again, since
the Ticker and BarDataList objects from before are dead, and the outage is marked on bar streams.

Events (eventkit, emitted on the loop thread; handlers must return quickly):
    quotes_updated(tuple[Quote, ...])          quotes that changed in one network batch
    bars_reset(BarKey, tuple[Bar, ...])        a bar stream (re)loaded in full
    bar_updated(BarKey, Bar, bool)             the newest bar changed; True when it is a new bar
    gap_marked(BarKey, BarGap)                 the live stream of a bar series was interrupted
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from eventkit import Event
from ib_insync import BarData, BarDataList, Contract, Ticker

from ibconsole.broker.mapping import ib_contract, quote
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.domain.bars import DEFAULT_DURATIONS, Bar, BarGap, bar_length
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.quotes import MarketDataType, Quote

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BarKey:
    con_id: int
    bar_size: str
    what_to_show: str = "TRADES"


@dataclass(slots=True)
class _QuoteSub:
    contract: ListedContract
    ib_contract: Contract  # ib_insync cancels by this exact object
    count: int


@dataclass(slots=True)
class _BarSub:
    contract: ListedContract
    count: int
    bars: BarDataList | None = None
    last: Bar | None = None


class MarketDataService:
    def __init__(self, session: Session, data_type: MarketDataType, request_timeout: float) -> None:
        self._session = session
        self._ib = session.ib
        self._data_type = data_type
        self._timeout = request_timeout
        self._quotes: dict[int, Quote] = {}
        self._quote_subs: dict[int, _QuoteSub] = {}
        self._bar_subs: dict[BarKey, _BarSub] = {}
        self._ticks: dict[int, _QuoteSub] = {}  # id(ticker) -> subscription, O(1) per tick
        self.quotes_updated = Event("quotes_updated")
        self.bars_reset = Event("bars_reset")
        self.bar_updated = Event("bar_updated")
        self.gap_marked = Event("gap_marked")
        self._ib.pendingTickersEvent += self._on_tickers
        session.synced += self._on_synced
        session.data_lost += self._on_data_lost

    # ----------------------------------------------------------------- quotes
    def quote(self, con_id: int) -> Quote | None:
        return self._quotes.get(con_id)

    def subscriptions(self) -> dict[int, int]:
        """Reference counts of the quote subscriptions by conId (for tests and the health view)."""
        return {con_id: sub.count for con_id, sub in self._quote_subs.items()}

    def subscribe(self, contract: ListedContract) -> None:
        sub = self._quote_subs.get(contract.con_id)
        if sub is not None:
            sub.count += 1
            return
        sub = _QuoteSub(contract, ib_contract(contract), 1)
        self._quote_subs[contract.con_id] = sub
        if self._ib.isConnected():
            self._request_quotes(sub)

    def unsubscribe(self, con_id: int) -> None:
        sub = self._quote_subs.get(con_id)
        if sub is None:
            raise KeyError(f"no quote subscription for conId {con_id}")
        sub.count -= 1
        if sub.count > 0:
            return
        del self._quote_subs[con_id]
        self._quotes.pop(con_id, None)
        self._cancel_quotes(sub)

    def _request_quotes(self, sub: _QuoteSub) -> None:
        ticker: Ticker = self._ib.reqMktData(sub.ib_contract)
        self._ticks[id(ticker)] = sub

    def _cancel_quotes(self, sub: _QuoteSub) -> None:
        ticker = self._ib.ticker(sub.ib_contract)
        if ticker is not None:
            self._ticks.pop(id(ticker), None)
            if self._ib.isConnected():
                self._ib.cancelMktData(sub.ib_contract)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        now = self._session.clock.now()
        changed = []
        for ticker in tickers:
            sub = self._ticks.get(id(ticker))
            if sub is None:
                continue
            snapshot = quote(ticker, sub.contract.min_tick, now)
            self._quotes[sub.contract.con_id] = snapshot
            changed.append(snapshot)
        if changed:
            self.quotes_updated.emit(tuple(changed))

    # ------------------------------------------------------------------- bars
    async def subscribe_bars(self, contract: ListedContract, bar_size: str) -> BarKey:
        """Start (or share) a bar stream kept up to date; its bars arrive through ``bars_reset``."""
        bar_length(bar_size)  # validates the size before anything is sent
        key = BarKey(contract.con_id, bar_size)
        sub = self._bar_subs.get(key)
        if sub is not None:
            sub.count += 1
            if sub.bars is not None:
                self.bars_reset.emit(key, tuple(_bar(b) for b in sub.bars))
            return key
        sub = _BarSub(contract, 1)
        self._bar_subs[key] = sub
        if self._ib.isConnected():
            await self._request_bars(key, sub)
        return key

    def unsubscribe_bars(self, key: BarKey) -> None:
        sub = self._bar_subs.get(key)
        if sub is None:
            raise KeyError(f"no bar subscription for {key}")
        sub.count -= 1
        if sub.count > 0:
            return
        del self._bar_subs[key]
        self._drop_bars(sub)

    def bar_subscriptions(self) -> dict[BarKey, int]:
        return {key: sub.count for key, sub in self._bar_subs.items()}

    async def _request_bars(self, key: BarKey, sub: _BarSub) -> None:
        self._drop_bars(sub)
        try:
            bars = await self._ib.reqHistoricalDataAsync(
                ib_contract(sub.contract),
                endDateTime="",
                durationStr=DEFAULT_DURATIONS[key.bar_size],
                barSizeSetting=key.bar_size,
                whatToShow=key.what_to_show,
                useRTH=False,
                formatDate=2,
                keepUpToDate=True,
                timeout=self._timeout,
            )
        except ConnectionError:
            log.info("bars for %s: connection lost while loading", key)
            return
        if self._bar_subs.get(key) is not sub:
            # Unsubscribed while loading: stop the stream that has just started.
            self._ib.cancelHistoricalData(bars)
            return
        sub.bars = bars
        snapshot = tuple(_bar(b) for b in bars)
        sub.last = snapshot[-1] if snapshot else None
        bars.updateEvent += lambda updated, new_bar: self._on_bar(key, sub, updated, new_bar)
        self.bars_reset.emit(key, snapshot)

    def _drop_bars(self, sub: _BarSub) -> None:
        if sub.bars is not None:
            sub.bars.updateEvent.clear()
            if self._ib.isConnected():
                self._ib.cancelHistoricalData(sub.bars)
            sub.bars = None

    def _on_bar(self, key: BarKey, sub: _BarSub, bars: BarDataList, new_bar: bool) -> None:
        if not bars:
            return
        bar = _bar(bars[-1])
        sub.last = bar
        self.bar_updated.emit(key, bar, new_bar)

    # ------------------------------------------------------------- resubscribe
    def _on_synced(self, info: SyncInfo) -> None:
        self._ib.reqMarketDataType(int(self._data_type))
        if info.resumed:
            self._resubscribe(info.lost_at)

    def _on_data_lost(self) -> None:
        self._resubscribe(self._session.clock.now())

    def _resubscribe(self, lost_at: datetime | None) -> None:
        self._ticks.clear()
        for sub in self._quote_subs.values():
            if self._ib.ticker(sub.ib_contract) is not None:
                self._ib.cancelMktData(sub.ib_contract)
            sub.ib_contract = ib_contract(sub.contract)
            self._request_quotes(sub)
        now = self._session.clock.now()
        for key, bar_sub in self._bar_subs.items():
            if lost_at is not None:
                self.gap_marked.emit(key, BarGap(lost_at, now))
            self._session.spawn(self._request_bars(key, bar_sub), f"reload bars {key}")
        if self._quote_subs or self._bar_subs:
            log.info(
                "resubscribed %d quote and %d bar streams",
                len(self._quote_subs),
                len(self._bar_subs),
            )


def _bar(data: BarData) -> Bar:
    stamp = data.date
    if isinstance(stamp, datetime):
        start = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    elif isinstance(stamp, date):
        start = datetime.combine(stamp, time(), UTC)
    else:
        raise TypeError(f"bar date {stamp!r} is neither a date nor a datetime")
    return Bar(start, data.open, data.high, data.low, data.close, float(data.volume))
