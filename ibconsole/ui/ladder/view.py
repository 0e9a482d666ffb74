"""The ladder's table view: every row visible at once (no scroll bar: the wheel moves the
window of prices instead), a click is a press and a release on one cell, a drag is a press on
one row and a release on another, and any pointer movement over it says the trader is aiming.

It paints the model's ready-made cells itself, in one pass over the window: a table view's
item delegate asks the model for seven roles of every cell, which for a ladder repainted every
frame costs more than the whole rest of the frame.

Signals:
    sig_clicked(int, int)         row, column of a left click
    sig_dragged(int, int, int)    from row, column, to row of a left drag
    sig_scrolled(int)             rows to move the window (positive: towards higher prices)
    sig_aimed()                   the pointer moved over the ladder
    sig_rows_fit(int)             this many rows fit the view's height
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPalette, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ibconsole.domain.ladder import LadderColumn
from ibconsole.ui.ladder.table_model import LadderTableModel

ROW_HEIGHT = 20
_PADDING = 5  # text inset from the cell's edges
_ICON = 10
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
        self._ladder_model: LadderTableModel | None = None

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        self._ladder_model = model if isinstance(model, LadderTableModel) else None

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

    # ---------------------------------------------------------------- painting
    def paintEvent(self, event: QPaintEvent) -> None:
        model = self._ladder_model
        if model is None:
            super().paintEvent(event)
            return
        viewport = self.viewport()
        painter = QPainter(viewport)
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.Text)
        grid = palette.color(QPalette.ColorRole.Mid)
        header = self.horizontalHeader()
        spans = [
            (header.sectionViewportPosition(c), header.sectionSize(c))
            for c in range(header.count())
        ]
        width = viewport.width()
        # The cells the model said changed, not every row or cell between the first and the
        # last (text is clipped to its cell, so a cell alone paints as it does in its row).
        dirty = event.region()
        bound = dirty.boundingRect()
        all_cells = model.cells()
        first = max(0, bound.top() // ROW_HEIGHT)
        last = min(len(all_cells) - 1, bound.bottom() // ROW_HEIGHT)
        for row in range(first, last + 1):
            cells = all_cells[row]
            top = row * ROW_HEIGHT
            if cells is None or not dirty.intersects(QRect(0, top, width, ROW_HEIGHT)):
                continue
            for (left, span), cell in zip(spans, cells, strict=False):
                rect = QRect(left, top, span, ROW_HEIGHT)
                if not dirty.intersects(rect):
                    continue
                if cell.background is not None:
                    painter.fillRect(rect, cell.background)
                inner = rect.adjusted(_PADDING, 0, -_PADDING, 0)
                if cell.icon is not None:
                    cell.icon.paint(
                        painter, QRect(inner.left(), top + (ROW_HEIGHT - _ICON) // 2, _ICON, _ICON)
                    )
                if cell.text:
                    painter.setFont(cell.font)
                    painter.setPen(cell.foreground or text_colour)
                    painter.drawText(inner, cell.alignment, cell.text)
        # The grid lines crossing the region only (the painter clips to it anyway), as
        # one-pixel fills: the pixels a one-pixel line covers, without the cost of stroking
        # a line (most of a full repaint).
        bottom = min(len(all_cells) * ROW_HEIGHT, bound.bottom() + 1)
        across = bound.right() - bound.left() + 1
        for row in range(first + 1, last + 2):
            painter.fillRect(bound.left(), row * ROW_HEIGHT - 1, across, 1, grid)
        down = bottom - bound.top() + 1
        for left, span in spans:
            painter.fillRect(left + span - 1, bound.top(), 1, down, grid)
        painter.end()

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
