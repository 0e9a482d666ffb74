"""Positions, portfolio, account values and P&L as frozen snapshots.

A position is known only after a sync completed in this session; before that, or after the session
ended, ``position()`` answers None ("unknown"), which the risk checks treat as a block, never as flat.

Events (eventkit, emitted on the loop thread):
    portfolio_changed(tuple[PortfolioRow, ...])   positions or their valuation changed
    account_changed(AccountSnapshot)               account values or P&L changed

IB sends an account update as dozens of values in one burst; each event is emitted once per
turn of the loop however many values arrived, so a burst costs one snapshot, not dozens.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from ibconsole.broker.ib_client import Event, PnL, PnLSingle, PortfolioItem
from ibconsole.broker.ib_client import Position as IbPosition
from ibconsole.broker.mapping import decimal_or_none, position
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.domain.account import AccountSnapshot, PortfolioRow
from ibconsole.domain.orders import Position

log = logging.getLogger(__name__)


class AccountService:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._ib = session.ib
        self._known = False
        self._account = ""
        self._pnl: PnL | None = None
        self._singles: dict[int, PnLSingle] = {}  # conId -> today's P&L stream of a position
        self.portfolio_changed = Event("portfolio_changed")
        self.account_changed = Event("account_changed")
        self._portfolio_due = False
        self._account_due = False
        self._ib.positionEvent += self._on_position
        self._ib.updatePortfolioEvent += self._on_portfolio
        self._ib.accountValueEvent += self._on_account_value
        self._ib.pnlEvent += self._on_pnl
        self._ib.pnlSingleEvent += self._on_pnl_single
        session.synced += self._on_synced
        session.ended += self._on_ended

    @property
    def account(self) -> str:
        return self._account

    @property
    def positions_known(self) -> bool:
        return self._known

    def position(self, con_id: int) -> Position | None:
        """The signed position in ``con_id``; a flat Position when known flat; None when unknown."""
        if not self._known:
            return None
        total = Decimal(0)
        avg = Decimal(0)
        for item in self._ib.positions(self._account) if self._account else self._ib.positions():
            if item.contract.conId == con_id:
                mapped = position(item)
                total += mapped.quantity
                avg = mapped.avg_cost
        if not total:
            return Position.flat(con_id, self._account)
        return Position(con_id, total, avg, self._account)

    def positions(self) -> tuple[Position, ...] | None:
        if not self._known:
            return None
        items = self._ib.positions(self._account) if self._account else self._ib.positions()
        return tuple(position(p) for p in items if p.position)

    def portfolio(self) -> tuple[PortfolioRow, ...]:
        if not self._known:
            return ()
        rows = {row.con_id: row for row in map(_portfolio_row, self._ib.portfolio())}
        # Positions IB has not valued yet (no portfolio update so far) still belong on screen.
        for item in self._ib.positions():
            if item.position and item.contract.conId not in rows:
                rows[item.contract.conId] = _position_row(item)
        for con_id, single in self._singles.items():
            if con_id in rows:
                rows[con_id] = replace(rows[con_id], daily_pnl=decimal_or_none(single.dailyPnL))
        return tuple(sorted(rows.values(), key=lambda r: r.local_symbol))

    def snapshot(self) -> AccountSnapshot:
        values: dict[str, Decimal] = {}
        currency = ""
        for value in self._ib.accountValues(self._account):
            if value.currency in ("USD", "BASE") or not value.currency:
                number = _to_decimal(value.value)
                if number is not None and value.tag not in values:
                    values[value.tag] = number
                    currency = currency or (value.currency if value.currency != "BASE" else "")
        pnl = self._pnl
        return AccountSnapshot(
            account=self._account,
            currency=currency or "USD",
            values=MappingProxyType(values),
            daily_pnl=decimal_or_none(pnl.dailyPnL) if pnl else None,
            unrealized_pnl=decimal_or_none(pnl.unrealizedPnL) if pnl else None,
            realized_pnl=decimal_or_none(pnl.realizedPnL) if pnl else None,
            updated_at=self._session.clock.now(),
        )

    def daily_pnl(self) -> Decimal | None:
        return decimal_or_none(self._pnl.dailyPnL) if self._pnl else None

    def close(self) -> None:
        """Cancel the P&L subscriptions (the other account streams end with the socket)."""
        if self._ib.isConnected():
            if self._pnl is not None:
                self._ib.cancelPnL(self._pnl.account, self._pnl.modelCode)
            for single in self._singles.values():
                self._ib.cancelPnLSingle(single.account, single.modelCode, single.conId)
        self._pnl = None
        self._singles.clear()

    def _follow_positions(self) -> None:
        """One P&L stream per held position: started when it opens, cancelled when it is flat."""
        if not self._account:
            return
        held = {p.contract.conId for p in self._ib.positions(self._account) if p.position}
        for con_id in held - self._singles.keys():
            live = [s for s in self._ib.pnlSingle(self._account) if s.conId == con_id]
            self._singles[con_id] = (
                live[0] if live else self._ib.reqPnLSingle(self._account, "", con_id)
            )
        for con_id in self._singles.keys() - held:
            single = self._singles.pop(con_id)
            self._ib.cancelPnLSingle(single.account, single.modelCode, con_id)

    # ------------------------------------------------------------------ events
    def _on_synced(self, info: SyncInfo) -> None:
        self._known = True
        self._account = info.account
        if info.account:
            # A new socket starts without the PnL stream; after IB's 1101/1102 or a resync the
            # socket, and its stream, are the same (ib_insync allows one per account).
            live = self._ib.pnl(info.account)
            self._pnl = live[0] if live else self._ib.reqPnL(info.account)
            # Streams of a new socket start afresh; those of the same socket are reused.
            self._singles = {
                con_id: s for con_id, s in self._singles.items() if s in self._ib.pnlSingle()
            }
            self._follow_positions()
        self.portfolio_changed.emit(self.portfolio())
        self.account_changed.emit(self.snapshot())

    def _on_ended(self, reason: str) -> None:
        self._known = False
        self._pnl = None
        self._singles.clear()
        self.portfolio_changed.emit(())

    def _on_position(self, item: IbPosition) -> None:
        if self._known:
            self._follow_positions()
            self._portfolio_moved()

    def _on_portfolio(self, item: PortfolioItem) -> None:
        self._portfolio_moved()

    def _on_account_value(self, value: object) -> None:
        self._account_moved()

    def _on_pnl(self, pnl: PnL) -> None:
        self._account_moved()

    def _on_pnl_single(self, single: PnLSingle) -> None:
        if self._singles.get(single.conId) is single:
            self._portfolio_moved()

    def _portfolio_moved(self) -> None:
        if self._known and not self._portfolio_due:
            self._portfolio_due = True
            asyncio.get_running_loop().call_soon(self._emit_portfolio)

    def _account_moved(self) -> None:
        if self._known and not self._account_due:
            self._account_due = True
            asyncio.get_running_loop().call_soon(self._emit_account)

    def _emit_portfolio(self) -> None:
        self._portfolio_due = False
        if self._known:  # the session may have ended since
            self.portfolio_changed.emit(self.portfolio())

    def _emit_account(self) -> None:
        self._account_due = False
        if self._known:
            self.account_changed.emit(self.snapshot())


def _to_decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _portfolio_row(item: PortfolioItem) -> PortfolioRow:
    return PortfolioRow(
        account=item.account,
        con_id=item.contract.conId,
        symbol=item.contract.symbol,
        local_symbol=item.contract.localSymbol,
        quantity=Decimal(repr(item.position)),
        avg_cost=Decimal(repr(item.averageCost)),
        market_price=decimal_or_none(item.marketPrice),
        market_value=decimal_or_none(item.marketValue),
        unrealized_pnl=decimal_or_none(item.unrealizedPNL),
        realized_pnl=decimal_or_none(item.realizedPNL),
    )


def _position_row(item: IbPosition) -> PortfolioRow:
    return PortfolioRow(
        account=item.account,
        con_id=item.contract.conId,
        symbol=item.contract.symbol,
        local_symbol=item.contract.localSymbol,
        quantity=Decimal(repr(item.position)),
        avg_cost=Decimal(repr(item.avgCost)),
        market_price=None,
        market_value=None,
        unrealized_pnl=None,
        realized_pnl=None,
    )
