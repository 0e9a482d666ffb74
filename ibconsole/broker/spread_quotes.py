"""The calendar spread's own quote: IB's market data on the BAG combo of two months.

A listed spread has a book of its own on the exchange, so its quote can be better than the
spread the legs' quotes imply. Each subscription is one market-data line; it is asked again
after a reconnect (a full resync) and after IB's 1101 (the lines of a socket still up were
lost). No contract details are asked for a BAG (IB answers 321): the combo is built from the
legs' conIds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ibconsole.broker.ib_client import Contract, Ticker
from ibconsole.broker.mapping import ib_combo, quote
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.broker.tick_grid import TickGrid
from ibconsole.domain.calendar_spread import CalendarSpread
from ibconsole.domain.quotes import Quote


@dataclass(slots=True)
class _Line:
    spread: CalendarSpread
    count: int
    grid: TickGrid  # the spread's prices on its tick
    contract: Contract | None = None
    ticker: Ticker | None = None


class SpreadQuotes:
    """Reference-counted quote subscriptions of calendar spreads, by the spread's name."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._ib = session.ib
        self._lines: dict[str, _Line] = {}
        session.synced += self._on_synced
        session.ended += self._on_ended
        session.data_lost += self._on_data_lost

    def subscribe(self, spread: CalendarSpread) -> None:
        line = self._lines.get(spread.name)
        if line is not None:
            line.count += 1
            return
        line = self._lines[spread.name] = _Line(spread, 1, TickGrid(spread.tick))
        if self._session.sync_info is not None and self._ib.isConnected():
            self._request(line)

    def unsubscribe(self, spread: CalendarSpread) -> None:
        line = self._lines.get(spread.name)
        if line is None:
            raise KeyError(f"no quote subscription for the spread {spread.name}")
        line.count -= 1
        if line.count > 0:
            return
        del self._lines[spread.name]
        self._cancel(line)

    def quote(self, spread: CalendarSpread) -> Quote | None:
        """The spread's quote now (on the spread's tick); None before IB has sent one."""
        line = self._lines.get(spread.name)
        if line is None or line.ticker is None:
            return None
        snapshot = quote(line.ticker, line.grid.price, self._session.clock.now())
        if snapshot.bid is None and snapshot.ask is None and snapshot.last is None:
            return None
        return snapshot

    def _request(self, line: _Line) -> None:
        line.contract = ib_combo(line.spread.legs)
        line.ticker = self._ib.reqMktData(line.contract)

    def _cancel(self, line: _Line) -> None:
        if line.contract is not None and self._ib.isConnected():
            self._ib.cancelMktData(line.contract)
        line.contract = line.ticker = None

    def _on_synced(self, info: SyncInfo) -> None:
        for line in self._lines.values():
            if line.ticker is None:
                self._request(line)

    def _on_data_lost(self, since: datetime) -> None:
        """IB dropped the lines of a socket that is still up (1101): ask for them again."""
        if self._session.sync_info is None or not self._ib.isConnected():
            return
        for line in self._lines.values():
            self._cancel(line)
            self._request(line)

    def _on_ended(self, reason: str) -> None:
        for line in self._lines.values():
            line.contract = line.ticker = None
