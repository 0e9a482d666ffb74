"""The ladder as a table: one row per price of the ladder's window, highest first; columns Buy,
Bid, Price, Ask, Sell and Volume.

Rows are read from the domain ``Ladder`` once per repaint (``refresh``), never per cell, and
turned into ready-to-draw cells then: a burst of depth updates costs one update of the visible
rows when the coalescing timer fires, and the view paints the cells without asking the model
for each one (``cells``). A repaint reads only the rows the ladder says may look different
(``Ladder.take_changed``) and tells the view about those that do; the whole window is read
again only when it moved or the ladder cannot say.
Colours carry the side (bids blue, asks red, own orders in their side's strong colour, pending
ones hatched); every colour is backed by words in the cell's tooltip.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.ladder import Ladder, LadderColumn, LadderRow, Mark, OwnOrders
from ibconsole.domain.order_words import quantity_text
from ibconsole.domain.orders import Side
from ibconsole.ui.blotter_models import tabular_font
from ibconsole.ui.theme import is_dark

_Index = QModelIndex | QPersistentModelIndex
_COLUMNS = tuple(LadderColumn)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTRE = int(Qt.AlignmentFlag.AlignCenter)
_WHOLE_ROW = (0, len(_COLUMNS) - 1)  # the first and last column of a row

# (light, dark) colours of the ladder's parts.
_COLOURS: dict[str, tuple[str, str]] = {
    "bid_side": ("#e8f0fc", "#1b2636"),
    "ask_side": ("#fcecec", "#361d1f"),
    "best_bid": ("#9ec0f2", "#2c4f86"),
    "best_ask": ("#f2a9a9", "#86302f"),
    "buy_order": ("#1f5fbf", "#3d7ae6"),
    "sell_order": ("#c62828", "#e04848"),
    "last": ("#ffe27a", "#6b5a12"),
    "price": ("#f6f7f9", "#22262c"),
    "volume_bar": ("#dfe3e8", "#2e333a"),
    "average": ("#e08a00", "#f0a330"),
    "stop": ("#c62828", "#ff6b6b"),
    "take_profit": ("#1b7f3b", "#4cc173"),
}


def _colour(name: str) -> QColor:
    light, dark = _COLOURS[name]
    return QColor(dark if is_dark() else light)


def _dot(colour: QColor) -> QIcon:
    pixmap = QPixmap(10, 10)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 8, 8)
    painter.end()
    return QIcon(pixmap)


_MARK_WORDS = (
    (Mark.BEST_BID, "best bid"),
    (Mark.BEST_ASK, "best ask"),
    (Mark.LAST, "last trade"),
    (Mark.AVERAGE, "your average price"),
    (Mark.STOP, "your stop"),
    (Mark.TAKE_PROFIT, "your take-profit"),
)


class Cell(NamedTuple):
    """One cell as drawn: its text and how it looks."""

    text: str
    background: QBrush | None
    foreground: QColor | None
    font: QFont
    alignment: int
    icon: QIcon | None


class _Look(NamedTuple):
    """Everything a row's cells are made of: the row, and whether its price is on the bid or
    the ask side of the market (the side's shade)."""

    row: LadderRow
    bid_side: bool
    ask_side: bool


class LadderTableModel(QAbstractTableModel):
    """A table over one ``Ladder``; ``refresh()`` re-reads its window's rows."""

    def __init__(self, ladder: Ladder, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ladder = ladder
        self._contract: ListedContract | None = None
        self._rows: list[LadderRow | None] = []
        self._looks: list[_Look | None] = []
        self._cells: list[tuple[Cell, ...] | None] = []
        self._top: Decimal | None = None
        self._white = QColor("#ffffff")
        self._made: dict[_Look, tuple[Cell, ...]] = {}
        self._font = tabular_font()
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._italic = QFont(self._font)
        self._italic.setItalic(True)
        self._icons: dict[str, QIcon] = {}
        self._brushes: dict[str, QBrush] = {}
        self._hatched: dict[Side, QBrush] = {}
        self._theme()
        self._snapshot()

    # ------------------------------------------------------------------ public
    @property
    def ladder(self) -> Ladder:
        return self._ladder

    def show_ladder(self, ladder: Ladder, contract: ListedContract | None) -> None:
        """Show another ladder (the ticket's contract changed)."""
        self.beginResetModel()
        self._ladder = ladder
        self._contract = contract
        self._made.clear()
        self._snapshot()
        self.endResetModel()

    def relayout(self) -> None:
        """The window moved or changed its number of rows."""
        if len(self._rows) != self._ladder.rows:
            self.beginResetModel()
            self._snapshot()
            self.endResetModel()
        else:
            self.refresh()

    def refresh(self) -> None:
        """Re-read the rows that may look different and tell the view which cells do: it
        repaints those only (a depth change behind the touch repaints a size or two), and
        nothing when no row shown changed."""
        ladder = self._ladder
        changed = ladder.take_changed()
        if changed is None or ladder.top != self._top or ladder.rows != len(self._rows):
            before = self._cells
            self._snapshot()
            self._say_changed(
                (row, _WHOLE_ROW)
                for row, cells in enumerate(self._cells)
                if row >= len(before) or cells is not before[row]
            )
            return
        rows = {row for row in map(ladder.row_of, changed) if row is not None}
        market = ladder.best_bid, ladder.best_ask
        spans = ((row, self._reread(row, *market)) for row in sorted(rows))
        self._say_changed((row, columns) for row, columns in spans if columns is not None)

    def _reread(self, row: int, bid: Decimal | None, ask: Decimal | None) -> tuple[int, int] | None:
        """Read ``row`` again; the first and last of its columns that look different, None
        when none does."""
        old = self._looks[row]
        look = _look(self._ladder.row(row), bid, ask)
        if look == old:
            return None
        cells = self._cells[row]
        if old is not None:
            del self._made[old]
        self._rows[row] = look.row if look is not None else None
        self._looks[row] = look
        if look is None:
            self._cells[row] = None
            return _WHOLE_ROW
        if old is None or cells is None or old.row.price != look.row.price:
            self._cells[row] = self._made[look] = self._made_cells(look)
            return _WHOLE_ROW
        # A size changed, seldom the whole row: its other cells stay as they were.
        remade = tuple(
            cell if _shown(old, column) == _shown(look, column) else self._cell(look, column)
            for column, cell in zip(_COLUMNS, cells, strict=True)
        )
        self._cells[row] = self._made[look] = remade
        differ = [column for column, cell in enumerate(remade) if cell is not cells[column]]
        return (differ[0], differ[-1]) if differ else None

    def _say_changed(self, spans: Iterable[tuple[int, tuple[int, int]]]) -> None:
        """Tell the view which cells changed, given as (row, (first column, last column)) by
        ascending row: one signal per run of adjacent rows changed in the same columns."""
        runs: list[tuple[int, int, tuple[int, int]]] = []  # first row, last row, columns
        for row, columns in spans:
            if runs and row == runs[-1][1] + 1 and columns == runs[-1][2]:
                runs[-1] = (runs[-1][0], row, columns)
            else:
                runs.append((row, row, columns))
        for first, last, (left, right) in runs:
            self.dataChanged.emit(self.index(first, left), self.index(last, right))

    def row_of(self, price: Decimal) -> int | None:
        return self._ladder.row_of(price)

    def cells(self) -> list[tuple[Cell, ...] | None]:
        """Every row's cells as of the last refresh (None for a row outside the market)."""
        return self._cells

    @property
    def rows_kept(self) -> int:
        """Rows whose cells are kept for the next refresh: those of the last one only."""
        return len(self._made)

    def _snapshot(self) -> None:
        ladder = self._ladder
        ladder.take_changed()  # every row is read now
        self._top = ladder.top
        self._rows = [ladder.row(r) for r in range(ladder.rows)]
        market = ladder.best_bid, ladder.best_ask
        self._looks = [_look(row, *market) for row in self._rows]
        # Most rows look the same frame after frame: a row as it was in the last frame takes
        # that frame's cells, and only this frame's rows are kept for the next. (Rows kept
        # across frames up to a cap held a day's worth of rows that no longer look like any on
        # the ladder: megabytes that filled until the cap emptied them.)
        made, kept = self._made, dict[_Look, tuple[Cell, ...]]()
        for look in self._looks:
            if look is not None:
                cells = made.get(look)
                kept[look] = cells if cells is not None else self._made_cells(look)
        self._made = kept
        self._cells = [None if look is None else kept[look] for look in self._looks]

    def _made_cells(self, look: _Look) -> tuple[Cell, ...]:
        return tuple(self._cell(look, column) for column in _COLUMNS)

    def _cell(self, look: _Look, column: LadderColumn) -> Cell:
        row = look.row
        return Cell(
            self._text(row, column),
            self._background(look, column),
            self._foreground(row, column),
            self._font_of(row, column),
            _CENTRE if column in (LadderColumn.BUY, LadderColumn.SELL) else _RIGHT,
            self._decoration(row.marks) if column is LadderColumn.PRICE else None,
        )

    def _theme(self) -> None:
        self._brushes = {name: QBrush(_colour(name)) for name in _COLOURS}
        self._icons = {name: _dot(_colour(name)) for name in ("average", "stop", "take_profit")}
        self._hatched = {
            Side.BUY: QBrush(_colour("buy_order"), Qt.BrushStyle.BDiagPattern),
            Side.SELL: QBrush(_colour("sell_order"), Qt.BrushStyle.BDiagPattern),
        }

    # ---------------------------------------------------------------- Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and 0 <= section < len(_COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return _COLUMNS[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _CENTRE
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._cells):
            return None
        cells = self._cells[index.row()]
        if cells is None:
            return None
        cell = cells[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.BackgroundRole:
            return cell.background
        if role == Qt.ItemDataRole.ForegroundRole:
            return cell.foreground
        if role == Qt.ItemDataRole.FontRole:
            return cell.font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return cell.alignment
        if role == Qt.ItemDataRole.DecorationRole:
            return cell.icon
        if role == Qt.ItemDataRole.ToolTipRole:
            row = self._rows[index.row()]
            return self._tooltip(row, _COLUMNS[index.column()]) if row is not None else None
        return None

    # ------------------------------------------------------------------- cells
    def _price_text(self, price: Decimal) -> str:
        places = self._contract.price_places if self._contract is not None else 2
        return f"{price:,.{places}f}"

    def _text(self, row: LadderRow, column: LadderColumn) -> str:
        if column is LadderColumn.PRICE:
            return self._price_text(row.price)
        if column is LadderColumn.BID:
            return _size(row.bid_size)
        if column is LadderColumn.ASK:
            return _size(row.ask_size)
        if column is LadderColumn.VOLUME:
            return _size(row.volume)
        own = row.own(Side.BUY if column is LadderColumn.BUY else Side.SELL)
        return quantity_text(own.quantity) if own is not None else ""

    def _background(self, look: _Look, column: LadderColumn) -> QBrush | None:
        brushes, row = self._brushes, look.row
        if column is LadderColumn.PRICE:
            return brushes["last"] if Mark.LAST in row.marks else brushes["price"]
        if column is LadderColumn.BID:
            if Mark.BEST_BID in row.marks:
                return brushes["best_bid"]
            return brushes["bid_side"] if look.bid_side else None
        if column is LadderColumn.ASK:
            if Mark.BEST_ASK in row.marks:
                return brushes["best_ask"]
            return brushes["ask_side"] if look.ask_side else None
        if column in (LadderColumn.BUY, LadderColumn.SELL):
            side = Side.BUY if column is LadderColumn.BUY else Side.SELL
            own = row.own(side)
            if own is None:
                return None
            if own.pending:
                return self._hatched[side]
            return brushes["buy_order" if side is Side.BUY else "sell_order"]
        return None

    def _foreground(self, row: LadderRow, column: LadderColumn) -> QColor | None:
        if column in (LadderColumn.BUY, LadderColumn.SELL):
            own = row.own(Side.BUY if column is LadderColumn.BUY else Side.SELL)
            if own is not None and not own.pending:
                return self._white
        if column is LadderColumn.PRICE and Mark.LAST in row.marks and row.last_side is not None:
            return self._brushes["buy_order" if row.last_side is Side.BUY else "sell_order"].color()
        return None

    def _font_of(self, row: LadderRow, column: LadderColumn) -> QFont:
        if column in (LadderColumn.BUY, LadderColumn.SELL):
            own = row.own(Side.BUY if column is LadderColumn.BUY else Side.SELL)
            if own is not None:
                return self._italic if own.pending else self._bold
        if column is LadderColumn.PRICE and row.marks & (Mark.BEST_BID | Mark.BEST_ASK | Mark.LAST):
            return self._bold
        return self._font

    def _decoration(self, marks: Mark) -> QIcon | None:
        for mark, name in ((Mark.STOP, "stop"), (Mark.TAKE_PROFIT, "take_profit")):
            if mark in marks:
                return self._icons[name]
        return self._icons["average"] if Mark.AVERAGE in marks else None

    def _tooltip(self, row: LadderRow, column: LadderColumn) -> str:
        price = self._price_text(row.price)
        if column in (LadderColumn.BUY, LadderColumn.SELL):
            side = Side.BUY if column is LadderColumn.BUY else Side.SELL
            own = row.own(side)
            if own is None:
                return ""
            return _own_words(own, price)
        words = [text for mark, text in _MARK_WORDS if mark in row.marks]
        if Mark.LAST in row.marks and row.last_side is not None:
            words.append("bought at the ask" if row.last_side is Side.BUY else "sold at the bid")
        if column is LadderColumn.BID:
            return f"Click: buy limit at {price}"
        if column is LadderColumn.ASK:
            return f"Click: sell limit at {price}"
        return f"{price}: {', '.join(words)}" if words else ""


def _look(row: LadderRow | None, bid: Decimal | None, ask: Decimal | None) -> _Look | None:
    if row is None:
        return None
    return _Look(row, bid is not None and row.price <= bid, ask is not None and row.price >= ask)


def _shown(look: _Look, column: LadderColumn) -> object:
    """What ``column``'s cell of a row is made of (besides the row's price and the theme)."""
    row = look.row
    if column is LadderColumn.BID:
        return row.bid_size, Mark.BEST_BID in row.marks, look.bid_side
    if column is LadderColumn.ASK:
        return row.ask_size, Mark.BEST_ASK in row.marks, look.ask_side
    if column is LadderColumn.PRICE:
        return row.marks, row.last_side
    if column is LadderColumn.VOLUME:
        return row.volume
    return row.own(Side.BUY if column is LadderColumn.BUY else Side.SELL)


def _size(value: Decimal | None) -> str:
    return quantity_text(value) if value is not None else ""


def _own_words(own: OwnOrders, price: str) -> str:
    side = "buy" if own.side is Side.BUY else "sell"
    count = len(own.orders)
    state = "pending: not yet acknowledged by IB" if own.pending else "working"
    return (
        f"Your {count} {side} order{'s' if count > 1 else ''} at {price}, "
        f"{quantity_text(own.quantity)} in all, {state}. Click to cancel; drag to move."
    )
