"""Market depth: reference-counted reqMktDepth subscriptions that survive reconnects.

IB allows few depth subscriptions at once (3 by default; error 309 beyond), so every view of a
contract's depth shares one request; the last one out cancels it. A subscription is requested
once the session is synced, and again after a reconnect or IB's 1101 (the old request died
with its socket or its farm). Refusals (309, no depth permission, no data subscription, delayed
data only) become a sentence in the subscription's status; the views keep the top of the book
from the quote stream.

Rows arrive as IB sends them (operation, side, position) and are passed on unchanged, with the
trades printed in the same network batch, so a view keeps its book in constant time per row. A
row no book can hold (an operation or side IB does not have, a row outside the book, a price or
size that is no number) is dropped and logged, at most once per ``_BAD_ROW_LOG_SECONDS`` per
contract with the count dropped meanwhile.

Events (eventkit, emitted on the loop thread; handlers must return quickly):
    depth_updated(DepthUpdate)     rows and trades of one contract from one network batch; with
                                   ``reset`` the view empties its book first
    depth_status(DepthStatus)      a subscription was requested, went live, was refused or waits
                                   for the next sync
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from decimal import Decimal

from ibconsole.broker.ib_client import UNSET_DOUBLE, Contract, Event, MktDepthData, Ticker
from ibconsole.broker.mapping import ib_contract
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.broker.tick_grid import TickGrid
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import (
    DELAYED_ONLY,
    LINES_IN_USE,
    DepthChange,
    DepthOperation,
    DepthSide,
    DepthState,
    DepthStatus,
    depth_refusal,
)
from ibconsole.domain.ib_codes import IbMessage
from ibconsole.domain.quotes import MarketDataType

log = logging.getLogger(__name__)

# TWS's default number of simultaneous depth subscriptions (IB's error 309 beyond it).
DEPTH_LINES = 3
_MAX_DEPTH_REQUESTS = 309
_LAST_TRADE = 4  # IB's tick type of a trade's price (with its size)
_OPERATIONS = tuple(DepthOperation)
_SIDES = tuple(DepthSide)
_MAX_POSITION = 1000  # IB numbers a side's rows from 0 and serves a few dozen at most
_BAD_ROW_LOG_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    """What one network batch brought for one contract: depth rows in IB's order, and trades
    as (price, size)."""

    con_id: int
    changes: tuple[DepthChange, ...] = ()
    trades: tuple[tuple[Decimal, Decimal], ...] = ()
    reset: bool = False


@dataclass(slots=True)
class _DepthSub:
    contract: ListedContract
    count: int
    status: DepthStatus
    grid: TickGrid  # the contract's prices on its tick, converted once each
    # The live request: ib_insync cancels by this exact contract object. None when not live.
    ib_contract: Contract | None = None
    ticker: Ticker | None = None
    req_id: int = 0
    # Refused for want of a line (IB's 309 or the console's own count): asked again when one
    # is freed.
    wants_line: bool = False
    bad_rows: int = 0  # unusable rows dropped since the last one was logged
    bad_logged_at: float = -_BAD_ROW_LOG_SECONDS


class MarketDepthService:
    """Depth for the views: ``subscribe``, ``unsubscribe``, ``status``; the events above.

    ``rows`` is the number of price levels a side asked of IB (``[market_data] depth_rows``),
    ``lines`` the number of depth subscriptions the console may hold at once.
    """

    def __init__(
        self,
        session: Session,
        data_type: MarketDataType,
        *,
        rows: int = 10,
        lines: int = DEPTH_LINES,
    ) -> None:
        if rows < 1 or lines < 1:
            raise ValueError(f"depth needs at least one row and one line, got {rows}, {lines}")
        self._session = session
        self._ib = session.ib
        self._data_type = data_type
        self._rows = rows
        self._lines = lines
        self._subs: dict[int, _DepthSub] = {}
        self._by_req: dict[int, _DepthSub] = {}
        self.depth_updated = Event("depth_updated")
        self.depth_status = Event("depth_status")
        self._ib.pendingTickersEvent += self._on_tickers
        session.synced += self._on_synced
        session.ended += self._on_ended
        session.data_lost += self._on_data_lost
        session.ib_message += self._on_ib_message

    @property
    def _live(self) -> bool:
        return self._session.sync_info is not None and self._ib.isConnected()

    # ------------------------------------------------------------------ public
    def subscribe(self, contract: ListedContract) -> DepthStatus:
        """Share (or start) the depth of ``contract``; its status as it stands now."""
        sub = self._subs.get(contract.con_id)
        if sub is not None:
            sub.count += 1
            return sub.status
        sub = _DepthSub(
            contract,
            1,
            DepthStatus(contract.con_id, DepthState.WAITING),
            TickGrid(contract.min_tick),
        )
        self._subs[contract.con_id] = sub
        if self._live:
            self._request(sub)
        return sub.status

    def unsubscribe(self, con_id: int) -> None:
        sub = self._subs.get(con_id)
        if sub is None:
            raise KeyError(f"no depth subscription for conId {con_id}")
        sub.count -= 1
        if sub.count > 0:
            return
        del self._subs[con_id]
        held = sub.ticker is not None
        self._cancel(sub)
        if held and self._live:
            self._retry_refused()

    def status(self, con_id: int) -> DepthStatus | None:
        sub = self._subs.get(con_id)
        return sub.status if sub is not None else None

    def subscriptions(self) -> dict[int, int]:
        """Reference counts by conId (for tests and the health view)."""
        return {con_id: sub.count for con_id, sub in self._subs.items()}

    def close(self) -> None:
        """Cancel every subscription (the broker is stopping)."""
        for sub in list(self._subs.values()):
            self._cancel(sub)
        self._subs.clear()

    # --------------------------------------------------------------- requests
    def _lines_held(self) -> int:
        return sum(1 for sub in self._subs.values() if sub.ticker is not None)

    def _request(self, sub: _DepthSub) -> None:
        con_id = sub.contract.con_id
        if self._data_type.is_delayed:
            self._set_status(sub, DepthState.REFUSED, DELAYED_ONLY)
            return
        if self._lines_held() >= self._lines:
            sub.wants_line = True
            self._set_status(sub, DepthState.REFUSED, LINES_IN_USE.format(lines=self._lines))
            return
        sub.wants_line = False
        sub.ib_contract = ib_contract(sub.contract)
        sub.ticker = self._ib.reqMktDepth(sub.ib_contract, numRows=self._rows)
        # Rows the client holds for the next pendingTickersEvent are an earlier request's (one
        # decoded in the batch whose message led here, as a farm's return): not the new book's.
        sub.ticker.domTicks.clear()
        sub.req_id = self._ib.wrapper.ticker2ReqId["mktDepth"].get(sub.ticker, 0)
        self._by_req[sub.req_id] = sub
        self.depth_updated.emit(DepthUpdate(con_id, reset=True))
        self._set_status(sub, DepthState.REQUESTED)

    def _cancel(self, sub: _DepthSub) -> None:
        """End the request at IB (while the socket is up) and forget it."""
        self._by_req.pop(sub.req_id, None)
        if sub.ticker is not None and sub.ib_contract is not None and self._ib.isConnected():
            self._ib.cancelMktDepth(sub.ib_contract)
        sub.ticker = sub.ib_contract = None
        sub.req_id = 0

    def _retry_refused(self) -> None:
        """A line was freed: ask again for depth refused for want of one."""
        for sub in self._subs.values():
            if sub.wants_line and sub.ticker is None:
                self._request(sub)
                if sub.wants_line:
                    return

    def _set_status(self, sub: _DepthSub, state: DepthState, sentence: str = "") -> None:
        status = DepthStatus(sub.contract.con_id, state, sentence)
        if status == sub.status:
            return
        sub.status = status
        if state is DepthState.REFUSED:
            log.info("depth of %s: %s", sub.contract.local_symbol, sentence)
        self.depth_status.emit(status)

    # ------------------------------------------------------------- IB's data
    def _on_tickers(self, tickers: set[Ticker]) -> None:
        subs = self._subs
        for ticker in tickers:
            # The depth's and the quote's Ticker of one contract are one object at ib_insync.
            sub = subs.get(ticker.contract.conId) if ticker.contract is not None else None
            if sub is None:
                continue
            changes: tuple[DepthChange, ...] = ()
            dom_ticks = ticker.domTicks  # read before the identity check narrows the type
            if dom_ticks and sub.ticker is ticker:
                changes = tuple(self._change(sub, t) for t in dom_ticks if self._usable(sub, t))
                if sub.status.state is not DepthState.LIVE:
                    self._set_status(sub, DepthState.LIVE)
            trades = tuple(
                (price, Decimal(repr(tick.size)))
                for tick in ticker.ticks
                if tick.tickType == _LAST_TRADE
                and tick.size > 0
                and (price := sub.grid.price(tick.price)) is not None
            )
            if changes or trades:
                self.depth_updated.emit(DepthUpdate(sub.contract.con_id, changes, trades))

    def _change(self, sub: _DepthSub, tick: MktDepthData) -> DepthChange:
        return DepthChange(
            _OPERATIONS[tick.operation],
            _SIDES[tick.side],
            tick.position,
            sub.grid.price(tick.price) or Decimal(0),  # a deleted row's price is not read
            Decimal(repr(tick.size)),
        )

    def _usable(self, sub: _DepthSub, tick: MktDepthData) -> bool:
        problem = _row_problem(tick)
        deleted = tick.operation == DepthOperation.DELETE  # a deleted row's price is not read
        if not problem and not deleted and sub.grid.price(tick.price) is None:
            problem = f"its price {tick.price} is on no tick grid"
        if not problem:
            return True
        sub.bad_rows += 1
        now = time.monotonic()
        if now - sub.bad_logged_at >= _BAD_ROW_LOG_SECONDS:
            log.warning(
                "depth of %s: a row IB sent is ignored, %s (%d ignored since the last such line)",
                sub.contract.local_symbol,
                problem,
                sub.bad_rows,
            )
            sub.bad_logged_at, sub.bad_rows = now, 0
        return False

    def _on_ib_message(self, req_id: int, message: IbMessage) -> None:
        sub = self._by_req.get(req_id)
        if sub is None:
            return
        sentence = depth_refusal(message.code)
        if sentence is None:
            return
        # The request is over at IB: it holds no line and there is nothing to cancel.
        self._by_req.pop(req_id, None)
        sub.ticker = sub.ib_contract = None
        sub.req_id = 0
        sub.wants_line = message.code == _MAX_DEPTH_REQUESTS
        self.depth_updated.emit(DepthUpdate(sub.contract.con_id, reset=True))
        self._set_status(sub, DepthState.REFUSED, sentence)

    # -------------------------------------------------------- session changes
    def _on_synced(self, info: SyncInfo) -> None:
        for sub in self._subs.values():
            if sub.ticker is None:
                self._request(sub)

    def _on_ended(self, reason: str) -> None:
        """The socket is gone and every request of it with it: nothing to cancel at IB."""
        self._by_req.clear()
        for sub in self._subs.values():
            sub.ticker = sub.ib_contract = None
            sub.req_id = 0
            self._set_status(sub, DepthState.WAITING, "Not connected: depth returns once synced.")

    def _on_data_lost(self, since: object) -> None:
        """IB dropped the subscriptions of a socket that is still up: request them again."""
        if not self._live:
            return
        for sub in self._subs.values():
            self._cancel(sub)
        for sub in self._subs.values():
            self._request(sub)


def _row_problem(tick: MktDepthData) -> str:
    """Why no book can hold the row ``tick``, or "" when it can."""
    if tick.operation not in _OPERATIONS:
        return f"its operation {tick.operation} is none of insert, update, delete"
    if tick.side not in _SIDES:
        return f"its side {tick.side} is neither ask nor bid"
    if not 0 <= tick.position < _MAX_POSITION:
        return f"its row {tick.position} is outside any book"
    if tick.operation == DepthOperation.DELETE:
        return ""  # IB's price and size of a deleted row are not read
    if not math.isfinite(tick.price) or tick.price == UNSET_DOUBLE:
        return f"its price {tick.price} is no number"
    if not math.isfinite(tick.size) or tick.size < 0:
        return f"its size {tick.size} is no quantity"
    return ""
