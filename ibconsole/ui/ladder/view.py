"""The ladder's table view: every row visible at once (no scroll bar: the wheel moves the
window of prices instead), a click is a press and a release on one cell, a drag is a press on
one row and a release on another, and any pointer movement over it says the trader is aiming.

Signals:
    sig_clicked(int, int)         row, column of a left click
    sig_dragged(int, int, int)    from row, column, to row of a left drag
    sig_scrolled(int)             rows to move the window (positive: towards higher prices)
    sig_aimed()                   the pointer moved over the ladder
    sig_rows_fit(int)             this many rows fit the view's height
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ibconsole.domain.ladder import LadderColumn

ROW_HEIGHT = 20
_WHEEL_STEP = 120  # one notch of a mouse wheel (Qt's angleDelta units)
_ROWS_PER_NOTCH = 2
_WIDTHS = {
    LadderColumn.BUY: 44,
    LadderColumn.BID: 52,
    LadderColumn.PRICE: 84,
    LadderColumn.ASK: 52,
    LadderColumn.SELL: 44,
    LadderColumn.VOLUME: 56,
}


class LadderView(QTableView):
    sig_clicked = Signal(int, int)
    sig_dragged = Signal(int, int, int)
    sig_scrolled = Signal(int)
    sig_aimed = Signal()
    sig_rows_fit = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("priceLadder")
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setShowGrid(True)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setStyleSheet("QTableView#priceLadder { gridline-color: palette(mid); }")
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(ROW_HEIGHT)
        rows.setMinimumSectionSize(ROW_HEIGHT)
        columns = self.horizontalHeader()
        columns.setHighlightSections(False)
        columns.setSectionsClickable(False)
        columns.setStretchLastSection(True)
        self._pressed: tuple[int, int, QPoint] | None = None

    def apply_column_widths(self) -> None:
        header = self.horizontalHeader()
        for column, width in _WIDTHS.items():
            if column is not LadderColumn.VOLUME:
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(column, width)

    def cell_rect(self, row: int, column: int) -> tuple[int, int, int, int]:
        """The viewport rectangle (x, y, width, height) of a cell, for tests and benchmarks."""
        rect = self.visualRect(self.model().index(row, column))
        return rect.x(), rect.y(), rect.width(), rect.height()

    # ------------------------------------------------------------------ events
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() is not Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        index = self.indexAt(event.position().toPoint())
        self._pressed = (
            (index.row(), index.column(), event.position().toPoint()) if index.isValid() else None
        )
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.sig_aimed.emit()
        if self._pressed is not None:
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed, self._pressed = self._pressed, None
        self.viewport().unsetCursor()
        if event.button() is not Qt.MouseButton.LeftButton or pressed is None:
            super().mouseReleaseEvent(event)
            return
        event.accept()
        index = self.indexAt(event.position().toPoint())
        if not index.isValid():
            return
        row, column, _ = pressed
        if index.row() == row and index.column() == column:
            self.sig_clicked.emit(row, column)
        elif index.row() != row:
            self.sig_dragged.emit(row, column, index.row())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        # A double click is two clicks, each of which already did what it does: never a third.
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / _WHEEL_STEP
        rows = round(notches * _ROWS_PER_NOTCH)
        if rows:
            self.sig_scrolled.emit(rows)
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.sig_rows_fit.emit(max(1, self.viewport().height() // ROW_HEIGHT))
