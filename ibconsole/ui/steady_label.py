"""A label whose changing text repaints it alone, without a layout pass of the window, while the
text needs the size it already has: word-wrapped figures in a form (a notional, a round trip, an
account heading) whose width follows their column, where ``fixed_text`` cannot fix a size.

A label's new text asks its parent's layout to run again, and that pass climbs to the main
window (its docks, their animations): one to three milliseconds a change, several times a
second. Here the label lives in a box without a layout, so a new text only repaints it; the box
answers the layout's size questions for it and asks for a pass only when the text's needs change.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget


class SteadyLabel(QWidget):
    """``label`` (named ``name``) in a box that sizes it; ``setText``/``text`` as a QLabel's."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setObjectName(name)
        self.setSizePolicy(self.label.sizePolicy())
        # Opaque: a new text repaints the box and its label, not the form and dock under them.
        self.setAutoFillBackground(True)

    def text(self) -> str:
        return self.label.text()

    def wordWrap(self) -> bool:
        return self.label.wordWrap()

    def setText(self, text: str) -> None:
        if self.label.text() == text:
            return
        before = self._needs()
        self.label.setText(text)
        if self._needs() != before:
            self.updateGeometry()

    def _needs(self) -> tuple[QSize, QSize, int]:
        label = self.label
        height = label.heightForWidth(self.width()) if label.hasHeightForWidth() else -1
        return label.sizeHint(), label.minimumSizeHint(), height

    def sizeHint(self) -> QSize:
        return self.label.sizeHint()

    def minimumSizeHint(self) -> QSize:
        return self.label.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:
        return self.label.hasHeightForWidth()

    def heightForWidth(self, width: int) -> int:
        return self.label.heightForWidth(width)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())
