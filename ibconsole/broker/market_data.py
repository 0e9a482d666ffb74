"""Quotes and bars: reference-counted subscriptions that survive reconnects, within a budget of
market-data lines.

Two charts on one contract share one IB subscription; the last one out cancels it. A subscription
is requested once the session is synced and again whenever its IB request died: after a reconnect
(the old socket's Ticker and BarDataList objects are dead), after IB's 1101 (connectivity restored,
data lost) and after a data farm flap. A bar stream that was interrupted is reloaded in full and
the outage is marked on it.

IB accounts hold a limited number of concurrent market-data lines (100 to start with): every
contract with a quote subscription takes one, whoever asked for it, and a subscription beyond the
budget is refused with ``LineBudgetExceeded`` before anything is sent. Options carry IB's option
computation (greeks) beside their quote.

Events (eventkit, emitted on the loop thread; handlers must return quickly):
    quotes_updated(tuple[Quote, ...])          quotes that changed in one network batch (a
                                               ticker there for its depth alone is left out)
    bars_reset(BarKey, tuple[Bar, ...])        a bar stream (re)loaded in full (empty when IB has
                                               no bars for it)
    bar_updated(BarKey, Bar, bool)             the newest bar changed; True when it is a new bar
    gap_marked(BarKey, BarGap)                 the live stream of a bar series was interrupted;
                                               emitted just before the bars_reset of its reload
    greeks_updated(tuple[tuple[int, Greeks], ...])  (conId, IB's model computation) of options
                                               whose computation changed in one network batch
    lines_changed(int, int)                    market-data lines in use, and the budget
    line_refused(int, IbMessage)               IB refused or degraded the quotes of a conId (no
                                               market data subscription, delayed data)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from time import monotonic

from ibconsole.broker.handler_errors import heard
from ibconsole.broker.ib_client import (
    BarData,
    BarDataList,
    Contract,
    Event,
    OptionComputation,
    Ticker,
)
from ibconsole.broker.mapping import greeks, ib_contract, implausible_greeks, quote
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.broker.tick_grid import TickGrid
from ibconsole.broker.ticker_retirement import TickerRetirement
from ibconsole.domain.bars import DEFAULT_DURATIONS, Bar, BarGap, bar_length
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.ib_codes import IbCategory, IbMessage
from ibconsole.domain.option_chain import Greeks
from ibconsole.domain.quotes import MarketDataType, Quote

log = logging.getLogger(__name__)

_DOUBT_LOG_SECONDS = 10.0  # implausible option computations: one log line per contract at most

# IB's answers that end a historical data request without bars.
_HISTORY_FAILURES = frozenset(
    {
        IbCategory.PACING,
        IbCategory.HISTORICAL_DATA,
        IbCategory.NO_SECURITY_DEFINITION,
        IbCategory.MARKET_DATA_NOT_SUBSCRIBED,
        IbCategory.COMPETING_SESSION,
    }
)


# IB's answers about one quote subscription that the trader must read beside its prices.
_LINE_PROBLEMS = frozenset({IbCategory.MARKET_DATA_NOT_SUBSCRIBED, IbCategory.DELAYED_DATA})


class LineBudgetExceeded(RuntimeError):
    """A new quote subscription would take more market-data lines than the budget allows."""


@dataclass(frozen=True, slots=True)
class BarKey:
    con_id: int
    bar_size: str
    what_to_show: str = "TRADES"


@dataclass(slots=True)
class _QuoteSub:
    contract: ListedContract
    count: int
    grid: TickGrid  # the contract's prices on its tick, converted once each
    # The live request: ib_insync cancels by this exact contract object. None when not live.
    ib_contract: Contract | None = None
    ticker: Ticker | None = None
    computation: object = None  # the ticker's model computation last converted, by identity
    doubted_at: float = -_DOUBT_LOG_SECONDS  # when an implausible computation was last logged


@dataclass(slots=True)
class _BarSub:
    contract: ListedContract
    count: int
    bars: BarDataList | None = None  # the live keepUpToDate stream; None when not live
    last: Bar | None = None
    loading: asyncio.Task[None] | None = None
    attempted: asyncio.Future[None] | None = None  # the loading's first request is answered
    requesting: bool = False  # a request is at IB: its answer must be seen, not abandoned
    stale: bool = False  # the data was lost while loading: load again once this load is done
    lost_at: datetime | None = None  # when the live stream was interrupted, until reloaded


class MarketDataService:
    def __init__(
        self,
        session: Session,
        data_type: MarketDataType,
        request_timeout: float,
        history_retry: float = 15.0,
        line_budget: int = 100,
    ) -> None:
        """``history_retry``: seconds to wait before asking again for bars IB refused for pacing
        (IB allows about 60 historical requests per 10 minutes) or did not send in time.
        ``line_budget``: market-data lines the whole console may hold at once."""
        if line_budget < 1:
            raise ValueError(f"the market-data line budget must be 1 or more, got {line_budget}")
        self._session = session
        self._ib = session.ib
        self._data_type = data_type
        self._timeout = request_timeout
        self._history_retry = history_retry
        self._quotes: dict[int, Quote] = {}
        self._greeks: dict[int, Greeks] = {}
        self._line_budget = line_budget
        # the ticker's float prices behind each quote, to see when they changed
        self._prices: dict[int, tuple[float, float, float, int]] = {}
        self._quote_subs: dict[int, _QuoteSub] = {}
        self._bar_subs: dict[BarKey, _BarSub] = {}
        self._ticks: dict[int, _QuoteSub] = {}  # id(ticker) -> subscription, O(1) per tick
        self._retirement = TickerRetirement(self._ib)
        self._history_errors: dict[int, IbMessage] = {}  # reqId -> why IB refused it
        self.quotes_updated = Event("quotes_updated")
        self.bars_reset = Event("bars_reset")
        self.bar_updated = Event("bar_updated")
        self.gap_marked = Event("gap_marked")
        self.greeks_updated = Event("greeks_updated")
        self.lines_changed = Event("lines_changed")
        self.line_refused = Event("line_refused")
        self._ib.pendingTickersEvent += self._on_tickers
        session.synced += self._on_synced
        session.ended += self._on_ended
        session.data_lost += self._on_data_lost
        session.ib_message += self._on_ib_message

    @property
    def _live(self) -> bool:
        """Requests made now belong to a synced session (one with its market data type set)."""
        return self._session.sync_info is not None and self._ib.isConnected()

    # ----------------------------------------------------------------- quotes
    def quote(self, con_id: int) -> Quote | None:
        return self._quotes.get(con_id)

    def greeks(self, con_id: int) -> Greeks | None:
        """IB's latest model computation for an option; None until IB sent one."""
        return self._greeks.get(con_id)

    @property
    def line_budget(self) -> int:
        return self._line_budget

    @line_budget.setter
    def line_budget(self, budget: int) -> None:
        """A new budget from now on (settings applied while running): lines held beyond it stay
        until released, and no new line is taken while the budget is full."""
        if budget < 1:
            raise ValueError(f"the market-data line budget must be 1 or more, got {budget}")
        self._line_budget = budget
        self.lines_changed.emit(len(self._quote_subs), budget)

    @property
    def lines_in_use(self) -> int:
        """Market-data lines held: one per subscribed contract, however many share it."""
        return len(self._quote_subs)

    @property
    def lines_free(self) -> int:
        return self._line_budget - len(self._quote_subs)

    def subscriptions(self) -> dict[int, int]:
        """Reference counts of the quote subscriptions by conId (for tests and the health view)."""
        return {con_id: sub.count for con_id, sub in self._quote_subs.items()}

    def subscribe(self, contract: ListedContract) -> None:
        """Take (or share) the quote line of ``contract``; ``LineBudgetExceeded`` when a new line
        would go beyond the budget."""
        sub = self._quote_subs.get(contract.con_id)
        if sub is not None:
            sub.count += 1
            return
        if len(self._quote_subs) >= self._line_budget:
            raise LineBudgetExceeded(
                f"All {self._line_budget} market-data lines are in use: {contract.local_symbol} "
                "gets no quote until another subscription is released."
            )
        sub = _QuoteSub(contract, 1, TickGrid(contract.min_tick))
        self._quote_subs[contract.con_id] = sub
        if self._live:
            self._request_quotes(sub)
        self.lines_changed.emit(len(self._quote_subs), self._line_budget)

    def unsubscribe(self, con_id: int) -> None:
        sub = self._quote_subs.get(con_id)
        if sub is None:
            raise KeyError(f"no quote subscription for conId {con_id}")
        sub.count -= 1
        if sub.count > 0:
            return
        del self._quote_subs[con_id]
        self._quotes.pop(con_id, None)
        self._prices.pop(con_id, None)
        self._greeks.pop(con_id, None)
        self._cancel_quotes(sub)
        self.lines_changed.emit(len(self._quote_subs), self._line_budget)

    def _request_quotes(self, sub: _QuoteSub) -> None:
        sub.ib_contract = ib_contract(sub.contract)
        sub.ticker = self._ib.reqMktData(sub.ib_contract)
        self._ticks[id(sub.ticker)] = sub

    def _cancel_quotes(self, sub: _QuoteSub) -> None:
        if sub.ticker is None or sub.ib_contract is None:
            return
        self._ticks.pop(id(sub.ticker), None)
        if self._ib.isConnected():
            req_id = self._retirement.request_id(sub.ticker)
            self._ib.cancelMktData(sub.ib_contract)
            if req_id is not None:
                self._retirement.retire(sub.ticker, req_id)
        sub.ticker = sub.ib_contract = None

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        now = self._session.clock.now()
        changed = []
        computed: list[tuple[int, Greeks]] = []
        for ticker in tickers:
            sub = self._ticks.get(id(ticker))
            if sub is None:
                continue
            con_id = sub.contract.con_id
            previous = self._quotes.get(con_id)
            prices = (ticker.bid, ticker.ask, ticker.last, ticker.marketDataType)
            computation = ticker.modelGreeks
            if previous is not None and prices == self._prices.get(con_id):
                if not ticker.ticks and not ticker.tickByTicks and computation is sub.computation:
                    # In the batch for its depth alone (ib_async keeps a contract's depth and
                    # quote on one Ticker): no quote news, so no quote listener runs for it.
                    continue
                # Most ticks change sizes only: keep the prices already converted and renew
                # the arrival time.
                snapshot = Quote(
                    con_id, previous.bid, previous.ask, previous.last, now, previous.data_type
                )
            else:
                snapshot = quote(ticker, sub.grid.price, now)
                self._prices[con_id] = prices
            self._quotes[con_id] = snapshot
            changed.append(snapshot)
            if computation is not None and computation is not sub.computation:
                sub.computation = computation
                self._greeks[con_id] = greeks(computation)
                computed.append((con_id, self._greeks[con_id]))
                _doubt(sub, computation)
        if changed:
            self.quotes_updated.emit(tuple(changed))
        if computed:
            self.greeks_updated.emit(tuple(computed))

    # ------------------------------------------------------------------- bars
    async def subscribe_bars(self, contract: ListedContract, bar_size: str) -> BarKey:
        """Start (or share) a bar stream kept up to date; its bars arrive through ``bars_reset``.

        Returns once IB answered the first request (or at once when not synced: the bars follow
        the next sync); a request IB refused for pacing is retried later in the background. The
        subscription stands once made: cancelling the caller neither stops the load nor
        unsubscribes.
        """
        bar_length(bar_size)  # validates the size before anything is sent
        key = BarKey(contract.con_id, bar_size)
        sub = self._bar_subs.get(key)
        if sub is not None:
            sub.count += 1
            if sub.bars is not None:
                self.bars_reset.emit(key, tuple(_bar(b) for b in sub.bars))
            elif sub.attempted is not None:
                await asyncio.shield(sub.attempted)
            return key
        sub = _BarSub(contract, 1)
        self._bar_subs[key] = sub
        if self._live:
            await asyncio.shield(self._start_loading(key, sub))
        return key

    def unsubscribe_bars(self, key: BarKey) -> None:
        sub = self._bar_subs.get(key)
        if sub is None:
            raise KeyError(f"no bar subscription for {key}")
        sub.count -= 1
        if sub.count > 0:
            return
        del self._bar_subs[key]
        if sub.loading is not None and not sub.requesting:
            sub.loading.cancel()  # waiting to retry; a load at IB stops the stream it started
        self._drop_bars(sub)

    def bar_subscriptions(self) -> dict[BarKey, int]:
        return {key: sub.count for key, sub in self._bar_subs.items()}

    def _start_loading(self, key: BarKey, sub: _BarSub) -> asyncio.Future[None]:
        """Load the stream in the background unless a load is under way; returns when its first
        request is answered."""
        if sub.loading is None or sub.loading.done() or sub.attempted is None:
            attempted = asyncio.get_running_loop().create_future()
            sub.attempted = attempted
            sub.loading = self._session.spawn(
                self._load_bars(key, sub, attempted), f"load bars {key}"
            )
        return sub.attempted

    async def _load_bars(self, key: BarKey, sub: _BarSub, attempted: asyncio.Future[None]) -> None:
        try:
            while self._bar_subs.get(key) is sub:
                sub.stale = False
                done = await self._request_bars(key, sub)
                if not attempted.done():
                    attempted.set_result(None)
                if not done:
                    await asyncio.sleep(self._history_retry)
                elif not sub.stale:
                    return
        finally:
            if not attempted.done():
                attempted.set_result(None)

    async def _request_bars(self, key: BarKey, sub: _BarSub) -> bool:
        """One request for the stream; False when it is worth asking again later."""
        self._drop_bars(sub)
        loop = asyncio.get_running_loop()
        started = loop.time()
        sub.requesting = True
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
            log.info("bars for %s: connection lost while loading; the next sync reloads", key)
            return True
        finally:
            sub.requesting = False
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # The session ended as IB's answer arrived (a read decoded as its connection was
            # lost): Python 3.11's wait_for returns that answer and swallows the cancel. The
            # stream died with its socket; the next sync loads it again.
            self._ib.wrapper.endSubscription(bars)
            raise asyncio.CancelledError
        refusal = self._history_errors.pop(bars.reqId, None)
        if not any(other.requesting for other in self._bar_subs.values()):
            self._history_errors.clear()
        timed_out = not bars and refusal is None and loop.time() - started >= self._timeout
        streaming = refusal is None and not timed_out
        if self._bar_subs.get(key) is not sub:
            # Unsubscribed while loading: stop the stream that has just started.
            if streaming and self._ib.isConnected():
                self._ib.cancelHistoricalData(bars)
            self._ib.wrapper.endSubscription(bars)
            return True
        if not streaming:
            self._ib.wrapper.endSubscription(bars)
        if timed_out or (refusal is not None and refusal.category is IbCategory.PACING):
            why = refusal.sentence if refusal else f"no answer within {self._timeout:g} s"
            log.info("bars for %s: %s; asking again in %g s", key, why, self._history_retry)
            return False
        if refusal is not None:
            # No bars to show; the chart hears so instead of waiting. The next sync asks again.
            log.warning("bars for %s: %s", key, refusal.sentence)
            self.bars_reset.emit(key, ())
            return True
        sub.bars = bars
        snapshot = tuple(_bar(b) for b in bars)
        sub.last = snapshot[-1] if snapshot else None
        heard(bars.updateEvent)
        bars.updateEvent += lambda updated, new_bar: self._on_bar(key, sub, updated, new_bar)
        if sub.lost_at is not None:
            self.gap_marked.emit(key, BarGap(sub.lost_at, self._session.clock.now()))
            sub.lost_at = None
        self.bars_reset.emit(key, snapshot)
        return True

    def _drop_bars(self, sub: _BarSub) -> None:
        """Stop the live stream, if any (cancelled at IB while the socket is up)."""
        if sub.bars is None:
            return
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

    def _on_ib_message(self, req_id: int, message: IbMessage) -> None:
        if message.category in _LINE_PROBLEMS:
            ticker = self._ib.wrapper.reqId2Ticker.get(req_id)
            sub = self._ticks.get(id(ticker)) if ticker is not None else None
            if sub is not None:
                self.line_refused.emit(sub.contract.con_id, message)
        # Which request failed is known only by its reqId, once ib_insync has answered it.
        if message.category in _HISTORY_FAILURES and any(
            sub.requesting for sub in self._bar_subs.values()
        ):
            self._history_errors[req_id] = message

    # -------------------------------------------------------- session changes
    def _on_synced(self, info: SyncInfo) -> None:
        self._ib.reqMarketDataType(int(self._data_type))
        for sub in self._quote_subs.values():
            if sub.ticker is None:
                self._request_quotes(sub)
        for key, bar_sub in self._bar_subs.items():
            if bar_sub.bars is None:
                self._start_loading(key, bar_sub)

    def _on_ended(self, reason: str) -> None:
        """The socket is gone and every request of it with it: nothing to cancel at IB."""
        now = self._session.lost_at or self._session.clock.now()
        self._ticks.clear()
        self._history_errors.clear()
        for sub in self._quote_subs.values():
            sub.ticker = sub.ib_contract = None
            sub.computation = None
        for bar_sub in self._bar_subs.values():
            if bar_sub.loading is not None:
                bar_sub.loading.cancel()
                bar_sub.loading = None
            if bar_sub.bars is not None:
                bar_sub.bars.updateEvent.clear()
                bar_sub.bars = None
                bar_sub.lost_at = bar_sub.lost_at or now

    def _on_data_lost(self, since: datetime) -> None:
        """IB dropped the subscriptions of a socket that is still up: request them again (not
        before the socket's first sync, which requests everything anyway)."""
        if not self._live:
            return
        for sub in self._quote_subs.values():
            self._cancel_quotes(sub)
            self._request_quotes(sub)
        for key, bar_sub in self._bar_subs.items():
            if bar_sub.bars is not None:
                bar_sub.lost_at = bar_sub.lost_at or since
            bar_sub.stale = True
            self._start_loading(key, bar_sub)
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


def _doubt(sub: _QuoteSub, computation: OptionComputation) -> None:
    """Log what IB's option computation holds that no option can have (the greeks shown leave
    it out), at most once per ``_DOUBT_LOG_SECONDS`` per contract."""
    doubts = implausible_greeks(computation)
    now = monotonic()
    if doubts and now - sub.doubted_at >= _DOUBT_LOG_SECONDS:
        sub.doubted_at = now
        log.warning(
            "option computation for %s ignored in part, no option has %s",
            sub.contract.local_symbol,
            doubts,
        )
