"""The fills panel: today's executions from the journal and every new one, with commission and
realized P&L. At each sync those of an earlier day leave: a console that runs for days, reconnected
after each daily restart, shows the day's fills, not every fill since it started."""

from __future__ import annotations

from datetime import datetime, time

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderIntent
from ibconsole.journal import JournalFill
from ibconsole.ui.blotter.table import REPAINT_MS, ColumnFitter, make_table
from ibconsole.ui.blotter_models import FillLine, SnapshotTableModel, fill_line, fills_model
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext


def start_of_today(now: datetime) -> datetime:
    local = now.astimezone()
    return datetime.combine(local.date(), time(0), local.tzinfo)


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
        self._intents: dict[str, OrderIntent | None] = {}
        self._populated = ctx.broker.session.sync_info is not None
        self._timer = CoalescingTimer(self, REPAINT_MS, self._flush)
        self.table, self._proxy = make_table("fillsTable", self._model)
        self._fitter = ColumnFitter(self.table)
        self.table.sortByColumn(self._model.column("Time"), Qt.SortOrder.DescendingOrder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.table)
        ctx.bridge.sig_fill_recorded.connect(self._on_bridge_fill_recorded)
        ctx.bridge.sig_synced.connect(self._on_bridge_synced)
        since = start_of_today(ctx.clock.now())
        for fill in self._broker.journal.fills(since):
            self._pending[fill.exec_id] = fill
        self._flush()

    @property
    def is_populated(self) -> bool:
        return self._populated

    @property
    def model(self) -> SnapshotTableModel[FillLine]:
        return self._model

    @Slot(object)
    def _on_bridge_fill_recorded(self, fill: JournalFill) -> None:
        self._pending[fill.exec_id] = fill
        self._timer.request()

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        self._populated = True
        self._let_go_of_earlier_days()

    def _let_go_of_earlier_days(self) -> None:
        """Take away the fills of an earlier day, and the intents kept for their orders."""
        since = start_of_today(self._ctx.clock.now())
        self._model.remove(line.exec_id for line in self._model.lines() if line.time < since)
        shown = {line.key for line in self._model.lines()}
        shown.update(fill.key for fill in self._pending.values())
        self._intents = {key: intent for key, intent in self._intents.items() if key in shown}

    @Slot()
    def _flush(self) -> None:
        if not self._pending:
            return
        fills, self._pending = self._pending, {}
        now = self._ctx.clock.now()
        self._model.upsert(fill_line(f, self._contract(f), now) for f in fills.values())
        self._fitter.fit()

    def _contract(self, fill: JournalFill) -> ListedContract | None:
        """The contract a fill traded: its order's, or for a combo's leg that leg's month."""
        key = fill.key
        if key not in self._intents:
            journalled = self._broker.journal.order(key)
            self._intents[key] = journalled.intent if journalled else None
        intent = self._intents[key]
        return intent.traded(fill.con_id) if intent is not None else None
