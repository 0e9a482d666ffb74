"""What the blotter's panels share: the sortable table view over a snapshot model, the column
fitter, the status line and the repaint interval."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

from ibconsole.ui.blotter_models import SORT_ROLE, SnapshotTableModel
from ibconsole.ui.theme import Tone, restyle, tone_style

REPAINT_MS = 150
_MEASURED_ROWS = 50  # rows measured to set the widths
_WIDEST = 260  # pixels: a column wider than this elides
_ROOM = 6  # pixels beyond the widest cell's own measure


def status_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.hide()
    return label


def show_status(label: QLabel, text: str, tone: Tone) -> None:
    """Say ``text`` in a panel's status line (hidden when empty). The panels say it again after
    each burst of broker events, mostly the same words: the style sheet is set only when the tone
    changes, as setting one re-polishes the label and lays its window out again."""
    label.setText(text)
    restyle(label, tone_style(tone))
    label.setVisible(bool(text))


def make_table(name: str, model: QAbstractItemModel) -> tuple[QTableView, QSortFilterProxyModel]:
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


class ColumnFitter:
    """Widens a table's columns to their contents as rows arrive; never narrows them.

    The first rows set the widths (up to 50 of them measured); after that only the rows inserted
    since the last ``fit`` are measured, wherever sorting put them: measuring every row again took
    tens of milliseconds a call on a table of fifty rows, on every new order, fill or alert.

    A new row's cell is measured from its text and font alone (read from a snapshot model's line,
    else through ``data()``) when the view has measured that column's padding once already: the
    view's own measure asks the model for every role of the cell and lays its text out, and a new
    row rarely needs a wider column. A cell whose text may not fit, or drawn by a delegate of its
    own, is measured by the view."""

    def __init__(self, view: QTableView, minimums: dict[int, int] | None = None) -> None:
        # sizeHintForColumn measures up to this many rows: by default a thousand, on every new
        # row, which froze the window for a busy day's blotter.
        view.horizontalHeader().setResizeContentsPrecision(_MEASURED_ROWS)
        self._view = view
        self._minimums = minimums or {}
        self._fitted = False
        self._arrived: list[QPersistentModelIndex] = []
        self._padding: dict[int, int] = {}  # by column: the view's width of a cell beyond its text
        self._metrics: dict[str, QFontMetrics] = {}  # by font key
        view.model().rowsInserted.connect(self._on_rows_inserted)

    def fit(self) -> None:
        """Widen the columns for the rows that arrived since the last call."""
        arrived, self._arrived = self._arrived, []
        if self._view.model().rowCount() == 0:
            return
        if not self._fitted or len(arrived) > _MEASURED_ROWS:
            self._fit_all(first=not self._fitted)
            self._fitted = True
            return
        for index in arrived:
            if index.isValid():
                self._fit_row(index.row())

    @Slot(QModelIndex, int, int)
    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if not self._fitted or len(self._arrived) > _MEASURED_ROWS:
            return  # the next fit measures the table whole
        model = self._view.model()
        self._arrived.extend(
            QPersistentModelIndex(model.index(row, 0, parent)) for row in range(first, last + 1)
        )

    def _fit_all(self, *, first: bool) -> None:
        view = self._view
        header = view.horizontalHeader()
        model = view.model()
        metrics = header.fontMetrics()
        for column in range(header.count() - 1):
            # The title's own width, not the header's hint: that reserves room for a sort
            # arrow on every column, which a narrow dock cannot spare.
            title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
            hint = max(view.sizeHintForColumn(column), metrics.horizontalAdvance(title) + 14)
            width = max(self._minimums.get(column, 0), min(hint + _ROOM, _WIDEST))
            if not first:
                width = max(width, header.sectionSize(column))
            header.resizeSection(column, width)

    def _fit_row(self, row: int) -> None:
        view = self._view
        header = view.horizontalHeader()
        model = view.model()
        cell = self._cells(row)
        for column in range(header.count() - 1):
            section = header.sectionSize(column)
            # A delegate of the column's own may draw more than the text: the view measures.
            text = None if view.itemDelegateForColumn(column) else self._advance(*cell(column))
            padding = self._padding.get(column)
            if text is not None and padding is not None and text + padding + _ROOM <= section:
                continue  # fits: the view's measure would ask for no more
            hint = view.sizeHintForIndex(model.index(row, column)).width()
            if text is not None:
                self._padding[column] = hint - text
            width = min(hint + _ROOM, _WIDEST)
            if width > section:
                header.resizeSection(column, width)

    def _cells(self, row: int) -> Callable[[int], tuple[str, QFont | None]]:
        """The text and font (None: the view's) of each cell of the view's ``row``: straight
        from a snapshot model's line (no crossing into Qt and back per cell), else from
        ``data()``."""
        model = self._view.model()
        proxy = model if isinstance(model, QSortFilterProxyModel) else None
        source = proxy.sourceModel() if proxy is not None else model
        if isinstance(source, SnapshotTableModel):
            line = proxy.mapToSource(proxy.index(row, 0)).row() if proxy is not None else row
            return lambda column: source.shown(line, column)

        def cell(column: int) -> tuple[str, QFont | None]:
            index = model.index(row, column)
            font = index.data(Qt.ItemDataRole.FontRole)
            return str(index.data() or ""), font if isinstance(font, QFont) else None

        return cell

    def _advance(self, text: str, font: QFont | None) -> int:
        """The width of ``text`` in ``font`` (None: the view's)."""
        if font is None:
            font = self._view.font()
        key = font.key()
        metrics = self._metrics.get(key)
        if metrics is None:
            metrics = self._metrics[key] = QFontMetrics(font)
        return metrics.horizontalAdvance(text)
