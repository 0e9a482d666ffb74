"""Blotter table models: orders, fills and positions as QAbstractTableModels over frozen lines.

Each model keeps its lines in a list plus an index by identity (order key, exec id, conId), so
applying one broker event costs O(1) and emits ``dataChanged`` for that row alone. The lines are
display-ready snapshots built here from the broker's and the journal's values; figures use the
contract's tick, thousands separators, explicit signs for P&L and tabular digits.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from ibconsole.broker.order_values import OrderRow
from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import price_text, quantity_text, side_word, signed_quantity_text
from ibconsole.domain.orders import Side
from ibconsole.journal import JournalFill, JournalOrder, OrderState
from ibconsole.ui.theme import Tone, tone_color

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ACTION_ROLE = Qt.ItemDataRole.UserRole + 2  # True when the cell shows its row's action button

NO_VALUE = "—"


# ------------------------------------------------------------------------------- figures


def money_text(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return NO_VALUE
    if signed:
        return f"{value:+,.2f}" if value else "0.00"
    return f"{value:,.2f}"


def plain_price_text(value: Decimal | None, contract: ListedContract | None) -> str:
    """A price on the contract's tick grid when the contract is known, else as IB sent it."""
    if contract is not None:
        return price_text(value, contract)
    return NO_VALUE if value is None else f"{value.normalize():,f}"


def pnl_color(value: Decimal | None) -> QColor | None:
    """Gains in the good tone and losses in the bad one; the sign says the same in text."""
    if value is None or value == 0:
        return None
    return tone_color(Tone.GOOD if value > 0 else Tone.BAD)


def tabular_font() -> QFont:
    """The application font with tabular (fixed-width) digits, so columns of figures line up."""
    font = QFont(QGuiApplication.font())
    font.setFeature(QFont.Tag("tnum"), 1)
    return font


def _time_text(when: datetime | None, now: datetime) -> str:
    if when is None:
        return NO_VALUE
    local = when.astimezone()
    if local.date() == now.astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%d %b %H:%M")


# ------------------------------------------------------------------------- order status


class StatusKind(Enum):
    """What an order status means to the trader; each has a colour as well as its words."""

    ACTIVE = "active"  # working at the exchange
    PENDING = "pending"  # on its way in or out
    DONE = "done"  # filled
    ENDED = "ended"  # cancelled or never sent by choice
    FAILED = "failed"  # rejected, blocked or unknown: needs a look


def status_color(kind: StatusKind) -> QColor:
    if kind is StatusKind.ACTIVE:
        app = QGuiApplication.instance()
        palette = app.palette() if isinstance(app, QGuiApplication) else QPalette()
        return palette.color(QPalette.ColorRole.Link)
    return tone_color(
        {
            StatusKind.PENDING: Tone.WARN,
            StatusKind.DONE: Tone.GOOD,
            StatusKind.ENDED: Tone.NEUTRAL,
            StatusKind.FAILED: Tone.BAD,
        }[kind]
    )


# IB's order statuses (ib_insync OrderStatus) in the trader's words.
_BROKER_STATUS = {
    "PendingSubmit": ("Sending", StatusKind.PENDING),
    "ApiPending": ("Sending", StatusKind.PENDING),
    # PreSubmitted: accepted but not yet elected (an untriggered stop, a bracket child).
    "PreSubmitted": ("Held", StatusKind.ACTIVE),
    "Submitted": ("Working", StatusKind.ACTIVE),
    "PendingCancel": ("Cancelling", StatusKind.PENDING),
    "ApiCancelled": ("Cancelled", StatusKind.ENDED),
    "Cancelled": ("Cancelled", StatusKind.ENDED),
    "Filled": ("Filled", StatusKind.DONE),
    "Inactive": ("Inactive", StatusKind.FAILED),
}

_JOURNAL_STATE = {
    OrderState.INTENDED: ("Not sent", StatusKind.FAILED),
    OrderState.CONFIRMED: ("Not sent", StatusKind.FAILED),
    OrderState.DECLINED: ("Declined", StatusKind.ENDED),
    OrderState.BLOCKED: ("Blocked", StatusKind.FAILED),
    OrderState.SUBMITTED: ("Sending", StatusKind.PENDING),
    OrderState.WORKING: ("Working", StatusKind.ACTIVE),
    OrderState.PARTIALLY_FILLED: ("Part filled", StatusKind.ACTIVE),
    OrderState.FILLED: ("Filled", StatusKind.DONE),
    OrderState.CANCELLED: ("Cancelled", StatusKind.ENDED),
    OrderState.REJECTED: ("Rejected", StatusKind.FAILED),
    OrderState.INACTIVE: ("Inactive", StatusKind.FAILED),
    OrderState.UNKNOWN: ("Unknown", StatusKind.FAILED),
}


def broker_status(status: str, filled: Decimal) -> tuple[str, StatusKind]:
    word, kind = _BROKER_STATUS.get(status, ("Unknown", StatusKind.FAILED))
    if word == "Working" and filled > 0:
        return "Part filled", kind
    return word, kind


def journal_status(state: OrderState) -> tuple[str, StatusKind]:
    return _JOURNAL_STATE[state]


# ----------------------------------------------------------------------------- lines


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One order as the orders table shows it (live from the broker, or history from the journal)."""

    ident: str  # the key (orderRef); for orders placed elsewhere their client and order id
    key: str
    order_id: int
    contract: ListedContract | None  # None for an order placed elsewhere on an unknown contract
    local_symbol: str
    side: Side
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    status: str
    kind: StatusKind
    filled: Decimal
    avg_price: Decimal | None
    note: str
    time: datetime | None
    time_text: str
    working: bool
    cancellable: bool  # working and placed by this console's client
    live: bool  # reported by the broker in this session (False: journal history only)


def order_ident(row: OrderRow) -> str:
    return row.key or f"client {row.client_id} order {row.order_id}"


def order_line(
    row: OrderRow,
    journalled: JournalOrder | None,
    *,
    seen_at: datetime,
    now: datetime,
    contract: ListedContract | None,
    cancellable: bool,
) -> OrderLine:
    """A live order; the journal's verdict wins where IB's status cannot tell (a rejection)."""
    word, kind = broker_status(row.status, row.filled)
    note = row.message
    order_id, filled, avg_price = row.order_id, row.filled, row.avg_fill_price
    if journalled is not None:
        lifecycle = journalled.lifecycle
        if lifecycle.state in (OrderState.REJECTED, OrderState.UNKNOWN, OrderState.INACTIVE):
            word, kind = journal_status(lifecycle.state)
            note = lifecycle.rejection or note
        contract = journalled.intent.contract
        # IB reports a completed order (after a reconnect) by permId with no fill figures;
        # the journal has its id and executions.
        order_id = order_id or lifecycle.order_id or 0
        if lifecycle.filled > filled:
            filled, avg_price = lifecycle.filled, lifecycle.avg_fill_price
    when = journalled.intent.created_at if journalled is not None else seen_at
    return OrderLine(
        ident=order_ident(row),
        key=row.key,
        order_id=order_id,
        contract=contract,
        local_symbol=row.local_symbol,
        side=row.side,
        quantity=row.quantity,
        order_type=row.order_type,
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        tif=row.tif,
        status=word,
        kind=kind,
        filled=filled,
        avg_price=avg_price,
        note=note,
        time=when,
        time_text=_time_text(when, now),
        working=row.working,
        cancellable=cancellable and row.working,
        live=True,
    )


def history_line(journalled: JournalOrder, now: datetime) -> OrderLine:
    intent, lifecycle = journalled.intent, journalled.lifecycle
    word, kind = journal_status(lifecycle.state)
    note = lifecycle.rejection or "; ".join(lifecycle.findings)
    return OrderLine(
        ident=intent.key,
        key=intent.key,
        order_id=lifecycle.order_id or 0,
        contract=intent.contract,
        local_symbol=intent.contract.local_symbol,
        side=intent.side,
        quantity=intent.quantity,
        order_type=intent.order_type.value,
        limit_price=intent.limit_price,
        stop_price=intent.stop_price,
        tif=intent.tif.value,
        status=word,
        kind=kind,
        filled=lifecycle.filled,
        avg_price=lifecycle.avg_fill_price,
        note=note,
        time=intent.created_at,
        time_text=_time_text(intent.created_at, now),
        working=False,
        cancellable=False,
        live=False,
    )


@dataclass(frozen=True, slots=True)
class FillLine:
    exec_id: str
    key: str
    contract: ListedContract | None
    local_symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    time: datetime
    time_text: str
    commission: Decimal | None
    commission_currency: str
    realized_pnl: Decimal | None


def fill_line(fill: JournalFill, contract: ListedContract | None, now: datetime) -> FillLine:
    return FillLine(
        exec_id=fill.exec_id,
        key=fill.key,
        contract=contract,
        local_symbol=contract.local_symbol if contract else f"conId {fill.con_id}",
        side=fill.side,
        quantity=fill.quantity,
        price=fill.price,
        time=fill.time,
        time_text=_time_text(fill.time, now),
        commission=fill.commission,
        commission_currency=fill.commission_currency or "",
        realized_pnl=fill.realized_pnl,
    )


@dataclass(frozen=True, slots=True)
class PositionLine:
    row: PortfolioRow
    contract: ListedContract | None
    multiplier: Decimal | None  # None when neither the chain nor the product list knows it
    stale: bool  # the session ended: the last known position, not a current one

    @property
    def avg_price(self) -> Decimal | None:
        """IB reports a future's average cost per contract (price × multiplier)."""
        if self.multiplier is None or self.multiplier == 0:
            return None
        return self.row.avg_cost / self.multiplier


# ---------------------------------------------------------------------------- models

R = TypeVar("R")


@dataclass(frozen=True)
class Column(Generic[R]):
    title: str
    text: Callable[[R], str]
    numeric: bool = False
    sort: Callable[[R], object] | None = None
    color: Callable[[R], QColor | None] | None = None
    tip: Callable[[R], str] | None = None
    action: Callable[[R], bool] | None = None  # the cell shows a button when this is True
    header_tip: str = ""

    @property
    def alignment(self) -> Qt.AlignmentFlag:
        """Figures to the right so their digits line up, words to the left; both centred."""
        horizontal = Qt.AlignmentFlag.AlignRight if self.numeric else Qt.AlignmentFlag.AlignLeft
        return horizontal | Qt.AlignmentFlag.AlignVCenter


class SnapshotTableModel(QAbstractTableModel, Generic[R]):
    """A table over frozen lines, indexed by identity so an update touches one row."""

    def __init__(self, columns: Sequence[Column[R]], ident: Callable[[R], Hashable]) -> None:
        super().__init__()
        self._columns = tuple(columns)
        self._ident = ident
        self._lines: list[R] = []
        self._index: dict[Hashable, int] = {}
        self._font = tabular_font()
        self._muted: Callable[[R], bool] = lambda line: False

    # -- queries --------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._lines)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._columns)

    def line(self, row: int) -> R:
        return self._lines[row]

    def lines(self) -> tuple[R, ...]:
        return tuple(self._lines)

    def find(self, ident: Hashable) -> R | None:
        row = self._index.get(ident)
        return None if row is None else self._lines[row]

    def row_of(self, ident: Hashable) -> int | None:
        return self._index.get(ident)

    def column_titles(self) -> tuple[str, ...]:
        return tuple(c.title for c in self._columns)

    def column(self, title: str) -> int:
        return self.column_titles().index(title)

    def text(self, ident: Hashable, title: str) -> str:
        """The text the table shows for one line and column (what the trader reads)."""
        line = self.find(ident)
        if line is None:
            raise KeyError(f"no line {ident!r} in the table")
        return self._columns[self.column(title)].text(line)

    def shown(self, row: int, column: int) -> tuple[str, QFont | None]:
        """The text of one cell and its font (None: the view's), as ``data()`` gives them."""
        column_ = self._columns[column]
        return column_.text(self._lines[row]), self._font if column_.numeric else None

    def set_muted(self, muted: Callable[[R], bool]) -> None:
        """Lines for which ``muted`` is True are drawn in the disabled text colour."""
        self._muted = muted

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation is not Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.alignment
        if role == Qt.ItemDataRole.ToolTipRole and column.header_tip:
            return column.header_tip
        return None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._lines):
            return None
        line = self._lines[index.row()]
        column = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(line)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.alignment
        if role == Qt.ItemDataRole.ForegroundRole:
            if self._muted(line):
                return QGuiApplication.palette().color(
                    QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text
                )
            return column.color(line) if column.color else None
        if role == Qt.ItemDataRole.FontRole:
            return self._font if column.numeric else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip(line) if column.tip else None
        if role == SORT_ROLE:
            # Decimals become floats: Qt's proxy compares only values it knows the type of.
            key = column.sort(line) if column.sort else column.text(line)
            return float(key) if isinstance(key, Decimal) else key
        if role == ACTION_ROLE:
            return bool(column.action and column.action(line))
        return None

    # -- updates --------------------------------------------------------------------------
    def upsert(self, lines: Iterable[R]) -> None:
        """Replace lines already shown (one ``dataChanged`` per row) and append new ones."""
        added: dict[Hashable, R] = {}
        last = len(self._columns) - 1
        for line in lines:
            ident = self._ident(line)
            row = self._index.get(ident)
            if row is None:
                added[ident] = line
            elif self._lines[row] != line:
                self._lines[row] = line
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))
        if added:
            first = len(self._lines)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            for ident, line in added.items():
                self._index[ident] = len(self._lines)
                self._lines.append(line)
            self.endInsertRows()

    def remove(self, idents: Iterable[Hashable]) -> None:
        rows = sorted({self._index[i] for i in idents if i in self._index}, reverse=True)
        for row in rows:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._lines[row]
            self.endRemoveRows()
        if rows:
            self._index = {self._ident(line): row for row, line in enumerate(self._lines)}

    def refresh(self) -> None:
        """Repaint every row (a theme change or a muted state that applies to all)."""
        if self._lines:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._lines) - 1, len(self._columns) - 1)
            )


# ---------------------------------------------------------------------------- columns


def side_color(side: Side) -> QColor:
    """Buy in the palette's blue and sell in red, as trading screens conventionally show them."""
    return status_color(StatusKind.ACTIVE) if side is Side.BUY else tone_color(Tone.BAD)


def _pnl_column(title: str, amount: Callable[[R], Decimal | None]) -> Column[R]:
    """Profit or loss: signed money coloured by its sign, sorted with an unknown amount as zero."""
    return Column(
        title,
        lambda line: money_text(amount(line), signed=True),
        numeric=True,
        sort=lambda line: amount(line) or Decimal(0),
        color=lambda line: pnl_color(amount(line)),
    )


def _order_price(line: OrderLine, value: Decimal | None) -> str:
    return "" if value is None else plain_price_text(value, line.contract)


ORDER_COLUMNS: tuple[Column[OrderLine], ...] = (
    Column("", lambda o: "Cancel" if o.cancellable else "", action=lambda o: o.cancellable),
    # Status comes first after the button so a narrow dock still shows where each order stands.
    Column("Status", lambda o: o.status, color=lambda o: status_color(o.kind)),
    Column("Contract", lambda o: o.local_symbol),
    Column("Side", lambda o: side_word(o.side), color=lambda o: side_color(o.side)),
    Column("Qty", lambda o: quantity_text(o.quantity), numeric=True, sort=lambda o: o.quantity),
    Column("Type", lambda o: o.order_type),
    Column(
        "Limit",
        lambda o: _order_price(o, o.limit_price),
        numeric=True,
        sort=lambda o: o.limit_price or Decimal(0),
    ),
    Column(
        "Stop",
        lambda o: _order_price(o, o.stop_price),
        numeric=True,
        sort=lambda o: o.stop_price or Decimal(0),
    ),
    Column("Filled", lambda o: quantity_text(o.filled), numeric=True, sort=lambda o: o.filled),
    Column(
        "Avg fill",
        lambda o: _order_price(o, o.avg_price),
        numeric=True,
        sort=lambda o: o.avg_price or Decimal(0),
    ),
    Column("TIF", lambda o: o.tif),
    Column("Time", lambda o: o.time_text, sort=lambda o: o.time.timestamp() if o.time else 0.0),
    Column(
        "Id",
        lambda o: str(o.order_id) if o.order_id else "",
        numeric=True,
        sort=lambda o: o.order_id,
    ),
    Column("Note", lambda o: o.note, tip=lambda o: f"{o.note}\norderRef {o.key}".strip()),
)


FILL_COLUMNS: tuple[Column[FillLine], ...] = (
    Column(
        "Time",
        lambda f: f.time_text,
        sort=lambda f: f.time.timestamp(),
        tip=lambda f: f.time.astimezone().isoformat(" ", "seconds"),
    ),
    Column("Contract", lambda f: f.local_symbol),
    Column("Side", lambda f: side_word(f.side), color=lambda f: side_color(f.side)),
    Column("Qty", lambda f: quantity_text(f.quantity), numeric=True, sort=lambda f: f.quantity),
    Column(
        "Price",
        lambda f: plain_price_text(f.price, f.contract),
        numeric=True,
        sort=lambda f: f.price,
    ),
    Column(
        "Commission",
        lambda f: money_text(f.commission),
        numeric=True,
        sort=lambda f: f.commission or Decimal(0),
        tip=lambda f: f.commission_currency,
    ),
    _pnl_column("Realized P&L", lambda f: f.realized_pnl),
    Column("Order", lambda f: f.key),
    Column("Execution", lambda f: f.exec_id),
)


def _position_price(p: PositionLine, value: Decimal | None) -> str:
    return plain_price_text(value, p.contract) if value is not None else NO_VALUE


POSITION_COLUMNS: tuple[Column[PositionLine], ...] = (
    Column("Contract", lambda p: p.row.local_symbol),
    Column(
        "Position",
        lambda p: signed_quantity_text(p.row.quantity),
        numeric=True,
        sort=lambda p: p.row.quantity,
        color=lambda p: (
            None
            if not p.row.quantity
            else side_color(Side.BUY if p.row.quantity > 0 else Side.SELL)
        ),
        tip=lambda p: "long" if p.row.quantity > 0 else "short" if p.row.quantity < 0 else "flat",
    ),
    Column(
        "Avg price",
        lambda p: _position_price(p, p.avg_price),
        numeric=True,
        sort=lambda p: p.avg_price or Decimal(0),
    ),
    Column(
        "Market",
        lambda p: _position_price(p, p.row.market_price),
        numeric=True,
        sort=lambda p: p.row.market_price or Decimal(0),
    ),
    Column(
        "Value",
        lambda p: money_text(p.row.market_value),
        numeric=True,
        sort=lambda p: p.row.market_value or Decimal(0),
    ),
    _pnl_column("Daily P&L", lambda p: p.row.daily_pnl),
    _pnl_column("Unrealized P&L", lambda p: p.row.unrealized_pnl),
    _pnl_column("Realized P&L", lambda p: p.row.realized_pnl),
    Column("Account", lambda p: p.row.account),
)


def orders_model() -> SnapshotTableModel[OrderLine]:
    return SnapshotTableModel(ORDER_COLUMNS, lambda o: o.ident)


def fills_model() -> SnapshotTableModel[FillLine]:
    return SnapshotTableModel(FILL_COLUMNS, lambda f: f.exec_id)


def positions_model() -> SnapshotTableModel[PositionLine]:
    model = SnapshotTableModel(POSITION_COLUMNS, lambda p: p.row.con_id)
    model.set_muted(lambda p: p.stale)
    return model
