"""The options chain as a Qt table: calls mirrored on the left, the strike in the middle, puts on
the right, over the pure ``ChainTable``; in-the-money sides shaded, the at-the-money strike
marked. Quote and greek updates repaint only the rows they touched, coalesced: once a frame at
most, whatever the number of updates in between."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from ibconsole.domain.contracts import ListedContract, OptionRight
from ibconsole.domain.option_chain import PRICE_COLUMNS, ChainTable, Column, table_columns
from ibconsole.ui.blotter_models import tabular_font
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.theme import Tone, is_dark, tone_color

REPAINT_MS = 16  # quotes and greeks of a burst repaint together, once a frame at most

_ITM = {False: QColor("#fff4d6"), True: QColor("#3a3320")}  # light / dark theme
_STRIKE = {False: QColor("#e8ebef"), True: QColor("#2a2e35")}
_ATM = {False: QColor("#cfd8e6"), True: QColor("#34405a")}
_BID = {False: QColor("#1f5fbf"), True: QColor("#6ea8ff")}
_ASK = {False: QColor("#c62828"), True: QColor("#ff6b6b")}

Index = QModelIndex | QPersistentModelIndex


class ChainTableModel(QAbstractTableModel):
    """One row per strike of the window; columns from ``domain.option_chain.table_columns``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = table_columns()
        self._table: ChainTable | None = None
        self._dirty: set[int] = set()
        self._timer = CoalescingTimer(self, REPAINT_MS, self._flush)
        self._font = tabular_font()
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        # Read once per repaint, not per cell: the palette is copied on every read.
        self._dark = is_dark()

    # ----------------------------------------------------------------- contents
    @property
    def table(self) -> ChainTable | None:
        return self._table

    def set_table(self, table: ChainTable | None) -> None:
        self.beginResetModel()
        self._dark = is_dark()
        self._table = table
        self._dirty.clear()
        self.endResetModel()

    def row_changed(self, row: int) -> None:
        self._dirty.add(row)
        self._timer.request()

    def all_changed(self) -> None:
        """The underlying moved: money shading may change anywhere."""
        if self._table is not None:
            self._dirty.update(range(len(self._table)))
            self._timer.request()

    def cell(self, index: Index) -> tuple[OptionRight | None, Column | None]:
        return self._columns[index.column()]

    def column_of(self, right: OptionRight | None, column: Column | None) -> int:
        return self._columns.index((right, column))

    def clicked_price(self, index: Index) -> tuple[ListedContract, Decimal | None] | None:
        """The option and price a click on ``index`` trades: only Bid and Ask cells do."""
        table = self._table
        right, column = self.cell(index)
        if table is None or right is None or column not in PRICE_COLUMNS or column is None:
            return None
        contract = table.contract(index.row(), right)
        if contract is None:
            return None
        return contract, table.price_at(index.row(), right, column)

    def _flush(self) -> None:
        if not self._dirty or self._table is None:
            return
        rows = sorted(r for r in self._dirty if r < len(self._table))
        self._dirty.clear()
        if not rows:
            return
        self._dark = is_dark()
        # One announcement per run of adjacent dirty rows: the view repaints those rows, not
        # the clean rows between two that changed (the runs of one frame make one paint).
        last = len(self._columns) - 1
        first = previous = rows[0]
        for row in rows[1:]:
            if row != previous + 1:
                self.dataChanged.emit(self.index(first, 0), self.index(previous, last))
                first = row
            previous = row
        self.dataChanged.emit(self.index(first, 0), self.index(previous, last))

    # --------------------------------------------------------------- Qt model
    def rowCount(self, parent: Index | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self._table) if self._table is not None else 0

    def columnCount(self, parent: Index | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation is not Qt.Orientation.Horizontal:
            return None
        right, column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return "Strike" if column is None else column.value
        if role == Qt.ItemDataRole.ToolTipRole:
            if right is None:
                return "Strike price; the at-the-money strike is marked"
            side = "Calls" if right is OptionRight.CALL else "Puts"
            if column in PRICE_COLUMNS:
                return f"{side}: click a {column} to load that option into the ticket at it"
            return f"{side}: {column} (from IB's option computation)"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        table = self._table
        if table is None or not index.isValid():
            return None
        row = index.row()
        right, column = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return table.text(row, right, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignHCenter if right is None else Qt.AlignmentFlag.AlignRight
            )
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        dark = self._dark
        if role == Qt.ItemDataRole.BackgroundRole:
            if right is None:
                return _ATM[dark] if row == table.atm_row() else _STRIKE[dark]
            return _ITM[dark] if table.itm(row, right) else None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column is Column.BID:
                return _BID[dark]
            if column is Column.ASK:
                return _ASK[dark]
            if right is not None and table.text(row, right, column) == "none":
                return tone_color(Tone.NEUTRAL)
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if right is None or column in PRICE_COLUMNS else self._font
        if role == Qt.ItemDataRole.ToolTipRole and right is not None:
            contract = table.contract(row, right)
            if contract is None:
                return None
            if column in PRICE_COLUMNS and column is not None:
                price = table.price_at(row, right, column)
                if price is None:
                    return f"{contract.local_symbol}: no {column.value.lower()} now"
                return f"Load {contract.local_symbol} into the ticket: limit at {price}"
            return contract.local_symbol
        return None
