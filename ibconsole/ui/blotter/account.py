"""The account summary: net liquidation, funds, margin and P&L from the account's latest snapshot."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from ibconsole.domain.account import AccountSnapshot
from ibconsole.ui.blotter.table import REPAINT_MS
from ibconsole.ui.blotter_models import money_text, pnl_color, tabular_font
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.steady_label import SteadyLabel
from ibconsole.ui.theme import Tone, restyle, tone_style

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
        # The heading and the values change with every account update: their changes repaint
        # them without a layout pass of the window.
        self.heading = SteadyLabel("accountHeading")
        self.heading.label.setWordWrap(True)
        self._captions: list[QLabel] = []
        self._values: dict[str, SteadyLabel] = {}
        font = tabular_font()
        for name, caption, _, _ in _ACCOUNT_FIELDS:
            label = QLabel(caption)
            self._captions.append(label)
            value = SteadyLabel(f"account{name}")
            value.setText("—")
            value.label.setFont(font)
            value.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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

    @Slot(object)
    def _on_bridge_account_changed(self, snapshot: AccountSnapshot) -> None:
        self._snapshot = snapshot
        self._timer.request()

    @Slot(object)
    def _on_bridge_session_changed(self, info: object) -> None:
        self._timer.request()

    @Slot()
    def _flush(self) -> None:
        snapshot = self._snapshot
        known = self._broker.account.positions_known
        if snapshot is None or not snapshot.account:
            self.heading.setText("Account values unknown: not synced with the broker yet.")
            restyle(self.heading.label, tone_style(Tone.WARN))
            return
        for name, _, source, signed in _ACCOUNT_FIELDS:
            value = source(snapshot)
            label = self._values[name]
            label.setText(money_text(value, signed=signed))
            color = pnl_color(value) if signed else None
            restyle(label.label, f"color: {color.name()};" if color is not None and known else "")
            label.setEnabled(known)
        updated = (
            f" · updated {snapshot.updated_at.astimezone():%H:%M:%S}" if snapshot.updated_at else ""
        )
        if known:
            self.heading.setText(f"Account {snapshot.account} · {snapshot.currency}{updated}")
            restyle(self.heading.label, "font-weight: 600;")
            self._populated = True
        else:
            self.heading.setText(
                f"Account {snapshot.account}: disconnected, values are the last known{updated}."
            )
            restyle(self.heading.label, tone_style(Tone.WARN))
