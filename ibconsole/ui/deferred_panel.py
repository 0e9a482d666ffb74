"""A dock's place for a panel that is costly to build (the chart loads pyqtgraph): empty for the
window's first paint, it asks for its panel once it has painted itself, so a dock the trader
keeps closed never builds it; code that needs the panel sooner builds it and ``hold``s it."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget


class DeferredPanel(QWidget):
    """Empty until ``hold(panel)``; asks for the panel after its own first paint.

    Signals:
        sig_needed()   the place has painted without a panel: build it now
    """

    sig_needed = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._held: QWidget | None = None
        self._asked = False

    def hold(self, panel: QWidget) -> None:
        """Show ``panel`` in this place, for good."""
        self._held = panel
        self._layout.addWidget(panel)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._held is None and not self._asked:
            self._asked = True
            # A zero-delay timer: the rest of the window's first paint finishes before the build.
            QTimer.singleShot(0, self, self._ask)

    @Slot()
    def _ask(self) -> None:
        if self._held is None:
            self.sig_needed.emit()
