"""The positions panel: positions with market price, value and P&L, "unknown" in words until the
broker synced, the last known rows greyed after a disconnect."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.products import PRODUCTS, Product
from ibconsole.ui.blotter.option_risk import OptionRiskView
from ibconsole.ui.blotter.table import (
    REPAINT_MS,
    ColumnFitter,
    make_table,
    show_status,
    status_label,
)
from ibconsole.ui.blotter_models import PositionLine, SnapshotTableModel, positions_model
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone

log = logging.getLogger(__name__)


class PositionsPanel(QWidget):
    """Positions with market price, value and P&L; "unknown" in words until the broker synced.

    After a disconnect the last known rows stay, greyed, under a line saying they are not current.

    Signals: none.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("positionsPanel")
        self._ctx = ctx
        self._broker = ctx.broker
        self._model = positions_model()
        self._snapshot: tuple[PortfolioRow, ...] | None = None
        self._populated = False
        self._fetching: set[str] = set()
        self._timer = CoalescingTimer(self, REPAINT_MS, self._flush)
        self.state = status_label("positionsState")
        self.table, self._proxy = make_table("positionsTable", self._model)
        self._fitter = ColumnFitter(self.table)
        self.option_risk = OptionRiskView(ctx)
        self.table.sortByColumn(self._model.column("Contract"), Qt.SortOrder.AscendingOrder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.option_risk)
        bridge = ctx.bridge
        bridge.sig_portfolio_changed.connect(self._on_bridge_portfolio_changed)
        bridge.sig_synced.connect(self._on_bridge_session_changed)
        bridge.sig_ended.connect(self._on_bridge_session_changed)
        self._snapshot = self._broker.account.portfolio()
        self._flush()

    @property
    def is_populated(self) -> bool:
        return self._populated

    @property
    def model(self) -> SnapshotTableModel[PositionLine]:
        return self._model

    @property
    def state_text(self) -> str:
        """What the panel says about the positions as a whole ("" when they are current)."""
        return "" if self.state.isHidden() else self.state.text()

    def greeks_text(self, con_id: int) -> str:
        """The option position's row of greeks as the trader reads it ("" when not shown)."""
        return self.option_risk.line_text(f"option:{con_id}")

    def delta_text(self, underlying_con_id: int) -> str:
        """The delta summed for an underlying future ("" when no option is held on it)."""
        return self.option_risk.line_text(f"total:{underlying_con_id}")

    @Slot(object)
    def _on_bridge_portfolio_changed(self, rows: tuple[PortfolioRow, ...]) -> None:
        self._snapshot = rows
        self._timer.request()

    @Slot(object)
    def _on_bridge_session_changed(self, info: object) -> None:
        self._timer.request()

    @Slot()
    def _flush(self) -> None:
        account = self._broker.account
        if not account.positions_known:
            # Unknown is never shown as flat: the rows last seen stay, greyed, until a sync.
            stale = [
                PositionLine(p.row, p.contract, p.multiplier, True) for p in self._model.lines()
            ]
            self._model.upsert(stale)
            text = (
                "Positions unknown: the connection was lost. The rows below are the last known, "
                "not current."
                if stale
                else "Positions unknown: not synced with the broker yet."
            )
            show_status(self.state, text, Tone.WARN)
            return
        snapshot = self._snapshot if self._snapshot is not None else account.portfolio()
        self._snapshot = None
        lines = [self._line(row) for row in snapshot]
        current = {line.row.con_id for line in lines}
        self._model.remove(
            line.row.con_id for line in self._model.lines() if line.row.con_id not in current
        )
        self._model.upsert(lines)
        self.option_risk.show_positions(snapshot)
        self._populated = True
        if lines:
            show_status(self.state, "", Tone.NEUTRAL)
        else:
            show_status(self.state, "No open positions.", Tone.NEUTRAL)
        self._fitter.fit()

    def _line(self, row: PortfolioRow) -> PositionLine:
        month = self._broker.contracts.by_con_id(row.con_id)
        if month is not None:
            return PositionLine(row, month.contract, month.contract.multiplier, False)
        option = self._broker.options.option(row.con_id)
        if option is not None:
            return PositionLine(row, option, option.multiplier, False)
        spec = _product_of(row)
        if spec is not None:
            self._fetch_chain(spec.symbol)
        return PositionLine(row, None, spec.multiplier if spec else None, False)

    def _fetch_chain(self, symbol: str) -> None:
        """Load the product's chain once, so the row gets its contract's tick and multiplier."""
        if symbol in self._fetching:
            return
        self._fetching.add(symbol)
        self._ctx.runner.start(
            self._broker.contracts.chain(symbol),
            name=f"positions: {symbol} chain",
            done=lambda chain: self._on_bridge_session_changed(chain),
            failed=lambda error: log.info("positions: no %s chain: %s", symbol, error),
        )


def _product_of(row: PortfolioRow) -> Product | None:
    return next(
        (
            p
            for p in PRODUCTS.values()
            if p.ib_symbol == row.symbol and row.local_symbol.startswith(p.trading_class)
        ),
        None,
    )
