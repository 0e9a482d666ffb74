"""The orders panel: this session's orders with their status, Cancel on each working order placed
here, Cancel all after a confirmation, journal history on demand and a CSV export.

A session is IB's: once a new one is reconciled (after IB Gateway's daily restart, say), orders it
no longer reports leave the table and the panel forgets what it kept for them; the journal still
has them, for the history and the export. A console that runs for days shows the day's orders,
not every order since it started.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, Slot
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.order_values import OrderRefused, OrderRow, Reconciliation
from ibconsole.domain.contracts import ListedContract
from ibconsole.journal import JournalError, JournalOrder, export_csv
from ibconsole.ui.blotter.action_delegate import ActionButtonDelegate
from ibconsole.ui.blotter.table import (
    REPAINT_MS,
    ColumnFitter,
    make_table,
    show_status,
    status_label,
)
from ibconsole.ui.blotter_models import (
    OrderLine,
    SnapshotTableModel,
    history_line,
    order_ident,
    order_line,
    orders_model,
    plain_price_text,
    quantity_text,
)
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.confirm_dialog import ConfirmDialog
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone

HISTORY_LIMIT = 500
_DISCONNECTED = (
    "Disconnected: statuses are the last known until the broker is reconciled on reconnect; "
    "cancels cannot be sent."
)
_CANCEL_ALL_LISTED = 8  # orders named in the cancel-all confirmation; the rest are counted


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
        self.status = status_label("ordersStatus")

        self.table, self._proxy = make_table("ordersTable", self._model)
        metrics = self.table.fontMetrics()
        self._fitter = ColumnFitter(
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
            show_status(self.status, refused.reason, Tone.BAD)
            return
        show_status(self.status, f"Cancel sent for order {order_id}.", Tone.NEUTRAL)

    @Slot()
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
            show_status(self.status, text, Tone.NEUTRAL)
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

    @Slot(bool)
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
                show_status(self.status, f"History unavailable: {error}", Tone.BAD)
                return
            self._model.upsert(history_line(j, now) for j in journalled if j.key not in self._live)
        else:
            self._model.remove(
                line.ident for line in self._model.lines() if line.ident not in self._live
            )

    def export_csv(self, path: Path) -> int:
        """Write the journal's orders and fills to ``path``; returns the rows written."""
        try:
            written = export_csv(self._broker.journal, path)
        except (JournalError, OSError) as error:
            show_status(self.status, f"Export failed: {error}", Tone.BAD)
            return 0
        show_status(self.status, f"Exported {written} rows to {path}.", Tone.NEUTRAL)
        return written

    # -- bridge ---------------------------------------------------------------------------
    @Slot(object)
    def _on_bridge_order_changed(self, row: OrderRow) -> None:
        self._pending[order_ident(row)] = row
        self._timer.request()

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        self._populated = True
        # Reconciliation reports before this; only the disconnection note is out of date now.
        if self.status.text() == _DISCONNECTED:
            show_status(self.status, "", Tone.NEUTRAL)

    @Slot(str)
    def _on_bridge_ended(self, reason: str) -> None:
        show_status(self.status, _DISCONNECTED, Tone.WARN)

    @Slot(object)
    def _on_bridge_reconciled(self, result: Reconciliation) -> None:
        self._let_go_of_earlier_sessions(result)
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
            show_status(
                self.status,
                f"{len(result.unknown)} order(s) in the journal are unknown to the broker and "
                "were not resent: check them in TWS.",
                Tone.BAD,
            )

    def _let_go_of_earlier_sessions(self, result: Reconciliation) -> None:
        """Take away the lines of orders the reconciled session neither reports nor names (an
        order it found unknown or filled meanwhile is named, and shown until the next one), then
        keep the entries and first-seen times of the lines still shown only."""
        named = {
            *(order_ident(row) for row in self._broker.orders.rows()),
            *self._pending,
            *result.matched,
            *result.unknown,
            *result.filled_while_disconnected,
            *result.adopted,
        }
        gone = self._live - named
        if gone:
            self._model.remove(gone)
            self._live -= gone
        shown = self._live | self._pending.keys()
        self._journalled = {k: j for k, j in self._journalled.items() if k in shown}
        self._seen = {ident: at for ident, at in self._seen.items() if ident in shown}
        if gone and self.history_toggle.isChecked():
            self.show_history(True)  # the orders taken away are history now

    @Slot()
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
    @Slot(object)
    def _on_buttons_clicked(self, index: QModelIndex | QPersistentModelIndex) -> None:
        source = self._proxy.mapToSource(self._proxy.index(index.row(), index.column()))
        line = self._model.line(source.row())
        if line.cancellable:
            self.cancel_order(line.order_id)

    @Slot(QPoint)
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

    @Slot(bool)
    def _on_cancel_all_decided(self, confirmed: bool) -> None:
        self._confirmation = None
        if not confirmed:
            show_status(self.status, "Cancel all: nothing was cancelled.", Tone.NEUTRAL)
            return
        try:
            sent = self._broker.orders.cancel_all()
        except OrderRefused as refused:
            show_status(self.status, f"Cancel all stopped: {refused.reason}", Tone.BAD)
            return
        show_status(self.status, f"Cancel sent for {sent} order(s).", Tone.NEUTRAL)

    @Slot()
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
