"""Re-emit the broker's events as Qt signals, so widgets and models never touch eventkit.

Under qasync the asyncio loop runs on the GUI thread, so these signals are delivered directly;
the bridge only translates. Handlers must stay cheap: views repaint from their own coalescing
timers, never per event.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from ibconsole.broker.broker import Broker


class BrokerBridge(QObject):
    """Qt face of one ``Broker``.

    Signals:
        sig_health_changed(HealthSnapshot)
        sig_synced(SyncInfo)
        sig_ended(str)
        sig_alert(str, bool)                    sentence, critical (session and orders alike)
        sig_ib_message(int, IbMessage)          reqId, classified IB message
        sig_throttled(bool)
        sig_quotes_updated(tuple[Quote, ...])
        sig_bars_reset(BarKey, tuple[Bar, ...])
        sig_bar_updated(BarKey, Bar, bool)
        sig_gap_marked(BarKey, BarGap)
        sig_greeks_updated(tuple[tuple[int, Greeks], ...])
        sig_lines_changed(int, int)              market-data lines in use, budget
        sig_line_refused(int, IbMessage)         conId, why IB refused or degraded its quotes
        sig_portfolio_changed(tuple[PortfolioRow, ...])
        sig_account_changed(AccountSnapshot)
        sig_order_changed(OrderRow)
        sig_fill_recorded(JournalFill)
        sig_reconciled(Reconciliation)
        sig_roll_failed(RollFailure)
    """

    sig_health_changed = Signal(object)
    sig_synced = Signal(object)
    sig_ended = Signal(str)
    sig_alert = Signal(str, bool)
    sig_ib_message = Signal(int, object)
    sig_throttled = Signal(bool)
    sig_quotes_updated = Signal(object)
    sig_bars_reset = Signal(object, object)
    sig_bar_updated = Signal(object, object, bool)
    sig_gap_marked = Signal(object, object)
    sig_greeks_updated = Signal(object)
    sig_lines_changed = Signal(int, int)
    sig_line_refused = Signal(int, object)
    sig_portfolio_changed = Signal(object)
    sig_account_changed = Signal(object)
    sig_order_changed = Signal(object)
    sig_fill_recorded = Signal(object)
    sig_reconciled = Signal(object)
    sig_roll_failed = Signal(object)

    def __init__(self, broker: Broker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.broker = broker
        session, market, account, orders = (
            broker.session,
            broker.market,
            broker.account,
            broker.orders,
        )
        self._links: list[tuple[Any, Any]] = [
            (session.health_changed, self.sig_health_changed.emit),
            (session.synced, self.sig_synced.emit),
            (session.ended, self.sig_ended.emit),
            (session.alert, self.sig_alert.emit),
            (session.ib_message, self.sig_ib_message.emit),
            (session.throttled, self.sig_throttled.emit),
            (market.quotes_updated, self.sig_quotes_updated.emit),
            (market.bars_reset, self.sig_bars_reset.emit),
            (market.bar_updated, self.sig_bar_updated.emit),
            (market.gap_marked, self.sig_gap_marked.emit),
            (market.greeks_updated, self.sig_greeks_updated.emit),
            (market.lines_changed, self.sig_lines_changed.emit),
            (market.line_refused, self.sig_line_refused.emit),
            (account.portfolio_changed, self.sig_portfolio_changed.emit),
            (account.account_changed, self.sig_account_changed.emit),
            (orders.order_changed, self.sig_order_changed.emit),
            (orders.fill_recorded, self.sig_fill_recorded.emit),
            (orders.reconciled, self.sig_reconciled.emit),
            (orders.alert, self.sig_alert.emit),
            (orders.roll_failed, self.sig_roll_failed.emit),
        ]
        for event, emit in self._links:
            event += emit

    def detach(self) -> None:
        """Stop forwarding (before the window closes, so no signal reaches a deleted widget)."""
        for event, emit in self._links:
            event -= emit
        self._links.clear()
