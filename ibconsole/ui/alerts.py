"""Alerts from the broker: critical ones stay in a red bar until the trader acknowledges each;
the others pass through the status bar (the health history keeps them all).

A partial roll is the one exception: the rollover panel shows it with its retry button, so it
is not repeated here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ibconsole.broker.order_values import RollFailure
from ibconsole.ui.context import UiContext
from ibconsole.ui.health import local_time

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CriticalAlert:
    at: datetime
    text: str


class AlertBar(QFrame):
    """A red bar at the top of the window with the oldest unacknowledged critical alert.

    Signals:
        sig_notice(str)          a non-critical alert, for the status bar
        sig_acknowledged(str)    the trader acknowledged this critical alert
    """

    sig_notice = Signal(str)
    sig_acknowledged = Signal(str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alertBar")
        self._ctx = ctx
        self._queue: list[CriticalAlert] = []
        self.setStyleSheet(
            "#alertBar { background: #b3261e; border-radius: 4px; }"
            "#alertBar QLabel { color: white; font-weight: 600; }"
            "#alertBar QPushButton { padding: 3px 12px; }"
        )
        self._text = QLabel(self)
        self._text.setObjectName("alertText")
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._count = QLabel(self)
        self._count.setObjectName("alertCount")
        self._acknowledge = QPushButton("Acknowledge", self)
        self._acknowledge.setObjectName("acknowledgeAlertButton")
        self._acknowledge.setToolTip("Mark this alert as seen and show the next one, if any")
        self._acknowledge.clicked.connect(self.acknowledge)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(10)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._count)
        layout.addWidget(self._acknowledge)
        self.hide()
        ctx.bridge.sig_alert.connect(self._on_bridge_alert)
        ctx.bridge.sig_roll_failed.connect(self._on_bridge_roll_failed)

    @property
    def pending(self) -> tuple[CriticalAlert, ...]:
        """Critical alerts not yet acknowledged, oldest first."""
        return tuple(self._queue)

    def text(self) -> str:
        return self._text.text()

    def acknowledge(self) -> None:
        if not self._queue:
            return
        alert = self._queue.pop(0)
        log.info("critical alert acknowledged: %s", alert.text)
        self.sig_acknowledged.emit(alert.text)
        self._repaint()

    def _on_bridge_alert(self, sentence: str, critical: bool) -> None:
        if not critical:
            self.sig_notice.emit(sentence)
            return
        self._queue.append(CriticalAlert(self._ctx.clock.now(), sentence))
        self._repaint()
        window = self.window()
        if window.isVisible():
            QApplication.alert(window)

    def _on_bridge_roll_failed(self, failure: RollFailure) -> None:
        before = len(self._queue)
        self._queue = [a for a in self._queue if a.text != failure.sentence]
        if len(self._queue) != before:
            self._repaint()

    def _repaint(self) -> None:
        if not self._queue:
            self.hide()
            return
        alert = self._queue[0]
        self._text.setText(f"⚠ {local_time(alert.at)}  {alert.text}")
        more = len(self._queue) - 1
        self._count.setText(f"{more} more" if more else "")
        self._count.setVisible(bool(more))
        self.show()
