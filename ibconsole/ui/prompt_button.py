"""A push button that acts on the click before anything is painted: the order ticket's Buy and
Sell, whose click must reach the wire within a frame whatever the window is painting.

Qt's buttons repaint themselves synchronously (``QWidget.repaint``) on the press and again on
the release *before* emitting ``clicked``; a synchronous repaint paints every widget of the
window that is waiting for a repaint, so under a fast market a click first paints the chart, the
ladder and the tables. This button keeps a click's meaning (pressed and released on the button,
dragging off cancels, disabled does nothing) and repaints the usual way, after the loop turn.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QPushButton, QWidget


class PromptButton(QPushButton):
    """A ``QPushButton`` whose mouse click emits ``clicked`` before any repaint."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._armed = False  # pressed on the button with the left button, not yet released

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() is Qt.MouseButton.LeftButton and self.hitButton(
            event.position().toPoint()
        ):
            self._armed = True
            self.setDown(True)  # shown pressed at the next paint
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        # Still held: pressed while over the button, as Qt's buttons show it.
        self._armed = self._armed and bool(event.buttons() & Qt.MouseButton.LeftButton)
        if self._armed:
            self.setDown(self.hitButton(event.position().toPoint()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() is Qt.MouseButton.LeftButton and self._armed:
            self._armed = False
            inside = self.isDown() and self.hitButton(event.position().toPoint())
            self.setDown(False)
            event.accept()
            if inside:
                self.click()  # pressed, released, clicked: no repaint on the way
            return
        super().mouseReleaseEvent(event)
