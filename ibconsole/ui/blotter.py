"""The blotter docks: orders (cancel, cancel all, history, CSV export), fills, positions, account.

Broker events only record the newest snapshot per order, execution or contract (O(1)); each
panel applies what arrived from a short single-shot timer, so a burst of reports repaints once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QGuiApplication, QMouseEvent, QPainter, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.order_values import OrderRefused, OrderRow, Reconciliation
from ibconsole.domain.account import AccountSnapshot, PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import PRODUCTS, Product
from ibconsole.journal import JournalError, JournalFill, JournalOrder
from ibconsole.ui.blotter_models import (
    ACTION_ROLE,
    SORT_ROLE,
    FillLine,
    OrderLine,
    PositionLine,
    SnapshotTableModel,
    fill_line,
    fills_model,
    history_line,
    money_text,
    order_ident,
    order_line,
    orders_model,
    plain_price_text,
    pnl_color,
    positions_model,
    quantity_text,
    tabular_font,
)
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.confirm_dialog import ConfirmDialog
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, tone_style

log = logging.getLogger(__name__)

REPAINT_MS = 150
HISTORY_LIMIT = 500
_DISCONNECTED = (
    "Disconnected: statuses are the last known until the broker is reconciled on reconnect; "
    "cancels cannot be sent."
)
_CANCEL_ALL_LISTED = 8  # orders named in the cancel-all confirmation; the rest are counted


def _status_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.hide()
    return label


def _show_status(label: QLabel, text: str, tone: Tone) -> None:
    label.setText(text)
    label.setStyleSheet(tone_style(tone))
    label.setVisible(bool(text))


def _table(name: str, model: QAbstractItemModel) -> tuple[QTableView, QSortFilterProxyModel]:
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    view = QTableView()
    view.setObjectName(name)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultSectionSize(view.fontMetrics().horizontalAdvance("0") * 9)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return view, proxy


class _ColumnFitter:
    """Widens a table's columns to their contents as rows arrive; never narrows them."""

    def __init__(self, view: QTableView, minimums: dict[int, int] | None = None) -> None:
        # sizeHintForColumn measures up to this many rows: by default a thousand, on every new
        # row, which froze the window for a busy day's blotter.
        view.horizontalHeader().setResizeContentsPrecision(50)
        self._view = view
        self._minimums = minimums or {}
        self._rows = 0

    def fit(self) -> None:
        view = self._view
        rows = view.model().rowCount()
        if rows <= self._rows:
            return
        first = self._rows == 0
        self._rows = rows
        header = view.horizontalHeader()
        model = view.model()
        metrics = header.fontMetrics()
        for column in range(header.count() - 1):
            # The title's own width, not the header's hint: that reserves room for a sort
            # arrow on every column, which a narrow dock cannot spare.
            title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
            hint = max(view.sizeHintForColumn(column), metrics.horizontalAdvance(title) + 14)
            width = max(self._minimums.get(column, 0), min(hint + 6, 260))
            if not first:
                width = max(width, header.sectionSize(column))
            header.resizeSection(column, width)


def _start_of_today(now: datetime) -> datetime:
    local = now.astimezone()
    return datetime.combine(local.date(), time(0), local.tzinfo)


class ActionButtonDelegate(QStyledItemDelegate):
    """Draws a push button in cells whose ``ACTION_ROLE`` is True and reports clicks on it.

    Signals:
        sig_clicked(QModelIndex)   the button of this (view) index was clicked
    """

    sig_clicked = Signal(object)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        if not index.data(ACTION_ROLE):
            super().paint(painter, option, index)
            return
        button = QStyleOptionButton()
        button.rect = option.rect.adjusted(4, 2, -4, -2)
        button.text = str(index.data())
        button.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised
        button.palette = option.palette
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_PushButton, button, painter, widget)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        width = option.fontMetrics.horizontalAdvance("Cancel") + 28
        return QSize(max(size.width(), width), size.height())

    def editorEvent(
        self,
        event: QEvent,
        model: QAbstractItemModel,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
            and index.data(ACTION_ROLE)
            and option.rect.contains(event.position().toPoint())
        ):
            self.sig_clicked.emit(index)
            return True
        return False


class OrdersPanel(QWidget):
    """Orders of this session from the broker, each with its status in colour and words.

    A Cancel button on every working order placed here, **Cancel all** after a confirmation that
    says how many, journal history on demand and a CSV export of the journal.

    Signals: none.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ordersPanel")
        self._ctx = ctx
        self._broker = ctx.broker
        self._model = orders_model()
        self._pending: dict[str, OrderRow] = {}
        self._journalled: dict[str, JournalOrder | None] = {}
        self._seen: dict[str, datetime] = {}
        self._live: set[str] = set()
        self._populated = False
        self._confirmation: ConfirmDialog | None = None
        self._timer = CoalescingTimer(self, REPAINT_MS, self._flush)

        self.history_toggle = QCheckBox("Show history")
        self.history_toggle.setObjectName("ordersHistoryToggle")
        self.history_toggle.setToolTip("Also show earlier orders from the journal")
        self.history_toggle.toggled.connect(self.show_history)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("ordersExportButton")
        self.export_button.setToolTip("Write the journal's orders and fills to a CSV file")
        self.export_button.clicked.connect(self._on_export_clicked)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.setObjectName("cancelAllButton")
        self.cancel_all_button.setToolTip("Cancel every working order placed from this console")
        self.cancel_all_button.clicked.connect(self.cancel_all)
        self.status = _status_label("ordersStatus")

        self.table, self._proxy = _table("ordersTable", self._model)
        metrics = self.table.fontMetrics()
        self._fitter = _ColumnFitter(
            self.table,
            {
                0: metrics.horizontalAdvance("Cancel") + 32,
                self._model.column("Status"): metrics.horizontalAdvance("Part filled") + 16,
            },
        )
        self.table.sortByColumn(self._model.column("Time"), Qt.SortOrder.DescendingOrder)
        self._buttons = ActionButtonDelegate(self.table)
        self.table.setItemDelegateForColumn(0, self._buttons)
        self._buttons.sig_clicked.connect(self._on_buttons_clicked)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_menu_requested)

        bar = QHBoxLayout()
        bar.addWidget(self.history_toggle)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        bar.addWidget(self.cancel_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

        bridge = ctx.bridge
        bridge.sig_order_changed.connect(self._on_bridge_order_changed)
        bridge.sig_reconciled.connect(self._on_bridge_reconciled)
        bridge.sig_synced.connect(self._on_bridge_synced)
        bridge.sig_ended.connect(self._on_bridge_ended)
        for row in self._broker.orders.rows():
            self._pending[order_ident(row)] = row
        if self._broker.session.sync_info is not None:
            self._populated = True
        self._flush()

    # -- public ---------------------------------------------------------------------------
    @property
    def is_populated(self) -> bool:
        return self._populated

    @property
    def model(self) -> SnapshotTableModel[OrderLine]:
        return self._model

    @property
    def confirmation(self) -> ConfirmDialog | None:
        """The cancel-all confirmation while it is open."""
        return self._confirmation

    def cancel_order(self, order_id: int) -> None:
        try:
            self._broker.orders.cancel(order_id)
        except OrderRefused as refused:
            _show_status(self.status, refused.reason, Tone.BAD)
            return
        _show_status(self.status, f"Cancel sent for order {order_id}.", Tone.NEUTRAL)

    def cancel_all(self) -> None:
        """Ask, then cancel every working order placed from this console."""
        if self._confirmation is not None:
            self._confirmation.raise_()
            return
        self._flush()
        ours = [line for line in self._model.lines() if line.cancellable]
        elsewhere = sum(1 for line in self._model.lines() if line.working and not line.cancellable)
        if not ours:
            text = "No working orders from this console to cancel."
            if elsewhere > 0:
                text += f" {elsewhere} working order(s) placed elsewhere must be cancelled there."
            _show_status(self.status, text, Tone.NEUTRAL)
            return
        count = len(ours)
        notes = [_describe(line) for line in ours[:_CANCEL_ALL_LISTED]]
        if count > _CANCEL_ALL_LISTED:
            notes.append(f"… and {count - _CANCEL_ALL_LISTED} more.")
        if elsewhere > 0:
            notes.append(
                f"{elsewhere} working order(s) placed in TWS or by another client are not "
                "affected; cancel them there."
            )
        dialog = ConfirmDialog(
            "Cancel all orders",
            f"Cancel all {count} working order{'s' if count != 1 else ''} placed from this console?",
            notes=notes,
            confirm_text=f"Cancel {count} order{'s' if count != 1 else ''}",
            parent=self,
        )
        dialog.sig_decided.connect(self._on_cancel_all_decided)
        self._confirmation = dialog
        dialog.open()

    def show_history(self, shown: bool) -> None:
        """Add (or take away) earlier orders from the journal below this session's."""
        if self.history_toggle.isChecked() != shown:
            self.history_toggle.setChecked(shown)
            return
        if shown:
            now = self._ctx.clock.now()
            try:
                journalled = self._broker.journal.orders(limit=HISTORY_LIMIT)
            except JournalError as error:
                _show_status(self.status, f"History unavailable: {error}", Tone.BAD)
                return
            self._model.upsert(history_line(j, now) for j in journalled if j.key not in self._live)
        else:
            self._model.remove(
                line.ident for line in self._model.lines() if line.ident not in self._live
            )

    def export_csv(self, path: Path) -> int:
        """Write the journal's orders and fills to ``path``; returns the rows written."""
        try:
            written = self._broker.journal.export_csv(path)
        except (JournalError, OSError) as error:
            _show_status(self.status, f"Export failed: {error}", Tone.BAD)
            return 0
        _show_status(self.status, f"Exported {written} rows to {path}.", Tone.NEUTRAL)
        return written

    # -- bridge ---------------------------------------------------------------------------
    def _on_bridge_order_changed(self, row: OrderRow) -> None:
        self._pending[order_ident(row)] = row
        self._timer.request()

    def _on_bridge_synced(self, info: object) -> None:
        self._populated = True
        # Reconciliation reports before this; only the disconnection note is out of date now.
        if self.status.text() == _DISCONNECTED:
            _show_status(self.status, "", Tone.NEUTRAL)

    def _on_bridge_ended(self, reason: str) -> None:
        _show_status(self.status, _DISCONNECTED, Tone.WARN)

    def _on_bridge_reconciled(self, result: Reconciliation) -> None:
        now = self._ctx.clock.now()
        lines = []
        for key in (*result.unknown, *result.filled_while_disconnected):
            journalled = self._broker.journal.order(key)
            self._journalled[key] = journalled
            if journalled is not None and key not in self._pending:
                lines.append(history_line(journalled, now))
                self._live.add(key)
        self._model.upsert(lines)
        if result.unknown:
            _show_status(
                self.status,
                f"{len(result.unknown)} order(s) in the journal are unknown to the broker and "
                "were not resent: check them in TWS.",
                Tone.BAD,
            )

    def _flush(self) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, {}
        now = self._ctx.clock.now()
        client_id = self._broker.session.endpoint.client_id
        lines = []
        for ident, row in rows.items():
            self._live.add(ident)
            lines.append(
                order_line(
                    row,
                    self._journal_entry(row),
                    seen_at=self._seen.setdefault(ident, now),
                    now=now,
                    contract=self._contract(row.con_id),
                    cancellable=row.client_id == client_id,
                )
            )
        self._model.upsert(lines)
        self._fitter.fit()

    def _journal_entry(self, row: OrderRow) -> JournalOrder | None:
        """The journal's view of an order of ours, read again only when the order has ended."""
        if not row.key:
            return None
        cached = self._journalled.get(row.key)
        stale = cached is None or (not row.working and not cached.lifecycle.is_final)
        if row.key not in self._journalled or stale:
            cached = self._broker.journal.order(row.key)
            self._journalled[row.key] = cached
        return cached

    def _contract(self, con_id: int) -> ListedContract | None:
        month = self._broker.contracts.by_con_id(con_id)
        return month.contract if month is not None else None

    # -- widgets --------------------------------------------------------------------------
    def _on_buttons_clicked(self, index: QModelIndex | QPersistentModelIndex) -> None:
        source = self._proxy.mapToSource(self._proxy.index(index.row(), index.column()))
        line = self._model.line(source.row())
        if line.cancellable:
            self.cancel_order(line.order_id)

    def _on_table_menu_requested(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        line = self._model.line(self._proxy.mapToSource(index).row())
        menu = QMenu(self)
        cancel = QAction(f"Cancel order {line.order_id}", menu)
        cancel.setEnabled(line.cancellable)
        cancel.triggered.connect(lambda: self.cancel_order(line.order_id))
        menu.addAction(cancel)
        copy = QAction("Copy order key", menu)
        copy.setEnabled(bool(line.key))
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(line.key))
        menu.addAction(copy)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _on_cancel_all_decided(self, confirmed: bool) -> None:
        self._confirmation = None
        if not confirmed:
            _show_status(self.status, "Cancel all: nothing was cancelled.", Tone.NEUTRAL)
            return
        try:
            sent = self._broker.orders.cancel_all()
        except OrderRefused as refused:
            _show_status(self.status, f"Cancel all stopped: {refused.reason}", Tone.BAD)
            return
        _show_status(self.status, f"Cancel sent for {sent} order(s).", Tone.NEUTRAL)

    def _on_export_clicked(self) -> None:
        dialog = QFileDialog(self, "Export the journal as CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("CSV files (*.csv)")
        dialog.setDefaultSuffix("csv")
        dialog.selectFile(f"ibconsole-journal-{self._ctx.clock.now():%Y%m%d}.csv")
        dialog.fileSelected.connect(lambda path: self.export_csv(Path(path)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()


def _describe(line: OrderLine) -> str:
    price = " ".join(
        f"{label} {plain_price_text(value, line.contract)}"
        for label, value in (("limit", line.limit_price), ("stop", line.stop_price))
        if value is not None
    )
    side = "Buy" if line.side.value == "BUY" else "Sell"
    text = f"{side} {quantity_text(line.quantity)} {line.local_symbol} {line.order_type}"
    return f"{text} {price} (order {line.order_id})" if price else f"{text} (order {line.order_id})"


class FillsPanel(QWidget):
    """Today's executions from the journal and every new one, with commission and realized P&L.

    Signals: none.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fillsPanel")
        self._ctx = ctx
        self._broker = ctx.broker
        self._model = fills_model()
        self._pending: dict[str, JournalFill] = {}
        self._contracts: dict[str, ListedContract | None] = {}
        self._populated = ctx.broker.session.sync_info is not None
        self._timer = CoalescingTimer(self, REPAINT_MS, self._flush)
        self.table, self._proxy = _table("fillsTable", self._model)
        self._fitter = _ColumnFitter(self.table)
        self.table.sortByColumn(self._model.column("Time"), Qt.SortOrder.DescendingOrder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.table)
        ctx.bridge.sig_fill_recorded.connect(self._on_bridge_fill_recorded)
        ctx.bridge.sig_synced.connect(self._on_bridge_synced)
        since = _start_of_today(ctx.clock.now())
        for fill in self._broker.journal.fills(since):
            self._pending[fill.exec_id] = fill
        self._flush()

    @property
    def is_populated(self) -> bool:
        return self._populated

    @property
    def model(self) -> SnapshotTableModel[FillLine]:
        return self._model

    def _on_bridge_fill_recorded(self, fill: JournalFill) -> None:
        self._pending[fill.exec_id] = fill
        self._timer.request()

    def _on_bridge_synced(self, info: object) -> None:
        self._populated = True

    def _flush(self) -> None:
        if not self._pending:
            return
        fills, self._pending = self._pending, {}
        now = self._ctx.clock.now()
        self._model.upsert(fill_line(f, self._contract(f.key), now) for f in fills.values())
        self._fitter.fit()

    def _contract(self, key: str) -> ListedContract | None:
        if key not in self._contracts:
            journalled = self._broker.journal.order(key)
            self._contracts[key] = journalled.intent.contract if journalled else None
        return self._contracts[key]


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
        self.state = _status_label("positionsState")
        self.table, self._proxy = _table("positionsTable", self._model)
        self._fitter = _ColumnFitter(self.table)
        self.table.sortByColumn(self._model.column("Contract"), Qt.SortOrder.AscendingOrder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
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

    def _on_bridge_portfolio_changed(self, rows: tuple[PortfolioRow, ...]) -> None:
        self._snapshot = rows
        self._timer.request()

    def _on_bridge_session_changed(self, info: object) -> None:
        self._timer.request()

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
            _show_status(self.state, text, Tone.WARN)
            return
        snapshot = self._snapshot if self._snapshot is not None else account.portfolio()
        self._snapshot = None
        lines = [self._line(row) for row in snapshot]
        current = {line.row.con_id for line in lines}
        self._model.remove(
            line.row.con_id for line in self._model.lines() if line.row.con_id not in current
        )
        self._model.upsert(lines)
        self._populated = True
        if lines:
            _show_status(self.state, "", Tone.NEUTRAL)
        else:
            _show_status(self.state, "No open positions.", Tone.NEUTRAL)
        self._fitter.fit()

    def _line(self, row: PortfolioRow) -> PositionLine:
        month = self._broker.contracts.by_con_id(row.con_id)
        if month is not None:
            return PositionLine(row, month.contract, month.contract.multiplier, False)
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


# The account values the summary shows, in order: (object name suffix, caption, source).
_ACCOUNT_FIELDS: tuple[tuple[str, str, Callable[[AccountSnapshot], Decimal | None], bool], ...] = (
    ("NetLiquidation", "Net liquidation", lambda s: s.value("NetLiquidation"), False),
    ("AvailableFunds", "Available funds", lambda s: s.value("AvailableFunds"), False),
    ("ExcessLiquidity", "Excess liquidity", lambda s: s.value("ExcessLiquidity"), False),
    ("InitMarginReq", "Initial margin", lambda s: s.value("InitMarginReq"), False),
    ("MaintMarginReq", "Maintenance margin", lambda s: s.value("MaintMarginReq"), False),
    ("DailyPnL", "Daily P&L", lambda s: s.daily_pnl, True),
    (
        "UnrealizedPnL",
        "Unrealized P&L",
        lambda s: s.unrealized_pnl if s.unrealized_pnl is not None else s.value("UnrealizedPnL"),
        True,
    ),
    (
        "RealizedPnL",
        "Realized P&L",
        lambda s: s.realized_pnl if s.realized_pnl is not None else s.value("RealizedPnL"),
        True,
    ),
)


class AccountSummaryPanel(QFrame):
    """Net liquidation, funds, margin and P&L of the account, from its latest snapshot.

    Signals: none.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountSummary")
        self._ctx = ctx
        self._broker = ctx.broker
        self._snapshot: AccountSnapshot | None = None
        self._populated = False
        self._columns = 0
        self._timer = CoalescingTimer(self, REPAINT_MS, self._flush)
        self.heading = QLabel()
        self.heading.setObjectName("accountHeading")
        self.heading.setWordWrap(True)
        self._captions: list[QLabel] = []
        self._values: dict[str, QLabel] = {}
        font = tabular_font()
        for name, caption, _, _ in _ACCOUNT_FIELDS:
            label = QLabel(caption)
            self._captions.append(label)
            value = QLabel("—")
            value.setObjectName(f"account{name}")
            value.setFont(font)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._values[name] = value
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(14)
        self._grid.setVerticalSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(self.heading)
        layout.addLayout(self._grid)
        layout.addStretch(1)
        self._arrange(1)
        bridge = ctx.bridge
        bridge.sig_account_changed.connect(self._on_bridge_account_changed)
        bridge.sig_synced.connect(self._on_bridge_session_changed)
        bridge.sig_ended.connect(self._on_bridge_session_changed)
        if self._broker.account.positions_known:
            self._snapshot = self._broker.account.snapshot()
        self._flush()

    @property
    def is_populated(self) -> bool:
        return self._populated

    def value_text(self, name: str) -> str:
        """The text shown for one value, by its tag ("NetLiquidation", "DailyPnL", ...)."""
        return self._values[name].text()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._arrange(2 if event.size().width() >= 520 else 1)

    def _arrange(self, columns: int) -> None:
        if columns == self._columns:
            return
        self._columns = columns
        for index, caption in enumerate(self._captions):
            value = self._values[_ACCOUNT_FIELDS[index][0]]
            row, pair = divmod(index, columns)
            self._grid.addWidget(caption, row, pair * 3)
            self._grid.addWidget(value, row, pair * 3 + 1)
        for column in range(6):
            self._grid.setColumnStretch(column, 0)
            self._grid.setColumnMinimumWidth(column, 0)
        for pair in range(columns):
            self._grid.setColumnStretch(pair * 3 + 1, 1)
            if pair + 1 < columns:
                self._grid.setColumnMinimumWidth(pair * 3 + 2, 18)

    def _on_bridge_account_changed(self, snapshot: AccountSnapshot) -> None:
        self._snapshot = snapshot
        self._timer.request()

    def _on_bridge_session_changed(self, info: object) -> None:
        self._timer.request()

    def _flush(self) -> None:
        snapshot = self._snapshot
        known = self._broker.account.positions_known
        if snapshot is None or not snapshot.account:
            self.heading.setText("Account values unknown: not synced with the broker yet.")
            self.heading.setStyleSheet(tone_style(Tone.WARN))
            return
        for name, _, source, signed in _ACCOUNT_FIELDS:
            value = source(snapshot)
            label = self._values[name]
            label.setText(money_text(value, signed=signed))
            color = pnl_color(value) if signed else None
            label.setStyleSheet(f"color: {color.name()};" if color is not None and known else "")
            label.setEnabled(known)
        updated = (
            f" · updated {snapshot.updated_at.astimezone():%H:%M:%S}" if snapshot.updated_at else ""
        )
        if known:
            self.heading.setText(f"Account {snapshot.account} · {snapshot.currency}{updated}")
            self.heading.setStyleSheet("font-weight: 600;")
            self._populated = True
        else:
            self.heading.setText(
                f"Account {snapshot.account}: disconnected, values are the last known{updated}."
            )
            self.heading.setStyleSheet(tone_style(Tone.WARN))
