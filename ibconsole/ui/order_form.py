"""The fields of an order: quantity, type, TIF, limit and stop prices and an optional bracket,
each with the message that says what is wrong with it, laid out as the ticket shows them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QLabel, QWidget

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import EntryFields
from ibconsole.domain.orders import OrderType, TimeInForce
from ibconsole.ui.captions import caption
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.theme import Tone, tone_style

_TYPE_NAMES = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP: "stop",
    OrderType.STOP_LIMIT: "stop limit",
}


class OrderForm(QWidget):
    """The order's fields; prices step along the contract's tick from the market's price.

    Signals:
        sig_edited()   a field changed (typed, stepped, chosen or ticked)
    """

    sig_edited = Signal()

    def __init__(self, anchor: Callable[[], Decimal | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._quantity = DecimalSpinBox(Decimal(1), minimum=Decimal(1))
        self._quantity.setObjectName("ticketQuantity")
        self._quantity.set_text("1")
        self._quantity.setToolTip("Number of contracts")
        self._type_box = QComboBox()
        self._type_box.setObjectName("ticketOrderType")
        for kind in OrderType:
            self._type_box.addItem(kind.value, kind.value)
            self._type_box.setItemData(
                self._type_box.count() - 1,
                f"{_TYPE_NAMES[kind]} order",
                Qt.ItemDataRole.ToolTipRole,
            )
        self._type_box.setCurrentIndex(self._type_box.findData(OrderType.LIMIT.value))
        self._tif_box = QComboBox()
        self._tif_box.setObjectName("ticketTif")
        for tif in TimeInForce:
            self._tif_box.addItem(tif.value, tif.value)
        self._tif_box.setToolTip("Time in force: DAY, good till cancelled, immediate or cancel")
        self._limit = DecimalSpinBox(Decimal("0.25"))
        self._limit.setObjectName("ticketLimitPrice")
        self._stop = DecimalSpinBox(Decimal("0.25"))
        self._stop.setObjectName("ticketStopPrice")
        self._bracket = QCheckBox("Bracket: take-profit and/or stop-loss")
        self._bracket.setObjectName("ticketBracket")
        self._take_profit = DecimalSpinBox(Decimal("0.25"))
        self._take_profit.setObjectName("ticketTakeProfit")
        self._stop_loss = DecimalSpinBox(Decimal("0.25"))
        self._stop_loss.setObjectName("ticketStopLoss")
        self._prices = (self._limit, self._stop, self._take_profit, self._stop_loss)
        for field in self._prices:
            field.set_anchor(anchor)
        self._inputs: dict[str, DecimalSpinBox] = {
            "quantity": self._quantity,
            "limit_price": self._limit,
            "stop_price": self._stop,
            "take_profit": self._take_profit,
            "stop_loss": self._stop_loss,
        }
        self._errors: dict[str, QLabel] = {}
        for name, field in self._inputs.items():
            label = QLabel()
            label.setObjectName(f"{field.objectName()}Error")
            label.setWordWrap(True)
            label.setStyleSheet(tone_style(Tone.BAD))
            label.hide()
            self._errors[name] = label
        self._lay_out()
        self._type_box.currentIndexChanged.connect(self._on_edited)
        self._tif_box.currentIndexChanged.connect(self._on_edited)
        self._bracket.toggled.connect(self._on_edited)
        for field in self._inputs.values():
            field.sig_edited.connect(self._on_edited)
        self._apply_order_type()

    def _lay_out(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        errors = self._errors
        rows: tuple[tuple[str, QWidget, str, QWidget | None, str], ...] = (
            ("Quantity", self._quantity, "Type", self._type_box, "quantity"),
            ("Limit", self._limit, "TIF", self._tif_box, "limit_price"),
            ("Stop", self._stop, "", None, "stop_price"),
        )
        row = 0
        for text, field, side_text, side_field, error in rows:
            grid.addWidget(caption(text), row, 0)
            grid.addWidget(field, row, 1)
            if side_field is not None:
                grid.addWidget(caption(side_text), row, 2)
                grid.addWidget(side_field, row, 3)
            grid.addWidget(errors[error], row + 1, 1, 1, 3)
            row += 2
        grid.addWidget(self._bracket, row, 0, 1, 4)
        row += 1
        for text, field, error in (
            ("Take-profit", self._take_profit, "take_profit"),
            ("Stop-loss", self._stop_loss, "stop_loss"),
        ):
            grid.addWidget(caption(text), row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(errors[error], row + 1, 1, 1, 3)
            row += 2
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(3, 2)

    def fields(self, contract: ListedContract | None) -> EntryFields:
        """The order as the fields hold it now, for the order-entry model."""
        return EntryFields(
            contract=contract,
            quantity=self._quantity.text(),
            order_type=self.order_type(),
            limit_price=self._limit.text(),
            stop_price=self._stop.text(),
            tif=str(self._tif_box.currentData()),
            bracket=self._bracket.isChecked(),
            take_profit=self._take_profit.text(),
            stop_loss=self._stop_loss.text(),
        )

    def order_type(self) -> OrderType:
        return OrderType(str(self._type_box.currentData()))

    def set_tick(self, tick: Decimal) -> None:
        """Prices step by ``tick`` from now on."""
        for field in self._prices:
            field.set_step(tick)

    def clear_prices(self) -> None:
        for field in self._prices:
            field.clear()

    def load(self, fields: EntryFields) -> None:
        """Fill the quantity, type and limit price from ``fields`` (another entry point's order)."""
        self._quantity.set_text(str(fields.quantity))
        order_type = OrderType(fields.order_type)
        self._type_box.setCurrentIndex(self._type_box.findData(order_type.value))
        if order_type.needs_limit and fields.limit_price is not None:
            self._limit.set_text(str(fields.limit_price))
        self._bracket.setChecked(False)
        self._on_edited()

    def use_price(self, price: Decimal) -> None:
        """Put ``price`` into the limit, making the order a limit order if it has none."""
        if not self.order_type().needs_limit:
            self._type_box.setCurrentIndex(self._type_box.findData(OrderType.LIMIT.value))
        self._limit.set_value(price)

    def use_limit(self, price: Decimal) -> None:
        """Make the order a plain limit order at ``price`` (a click on a quoted price)."""
        self._type_box.setCurrentIndex(self._type_box.findData(OrderType.LIMIT.value))
        self._limit.set_value(price)

    def show_errors(self, messages: Mapping[str, str]) -> list[str]:
        """Show each message next to its field; returns those about no field of this form."""
        for name, label in self._errors.items():
            text = messages.get(name, "")
            label.setText(text)
            label.setVisible(bool(text))
        return [m for f, m in messages.items() if f not in self._errors]

    def error(self, field: str) -> str:
        """The message shown next to ``field``, "" if none."""
        label = self._errors[field]
        return "" if label.isHidden() else label.text()

    @Slot()
    def _on_edited(self) -> None:
        self._apply_order_type()
        self.sig_edited.emit()

    def _apply_order_type(self) -> None:
        order_type = self.order_type()
        self._limit.setEnabled(order_type.needs_limit)
        self._stop.setEnabled(order_type.needs_stop)
        bracket = self._bracket.isChecked()
        self._take_profit.setEnabled(bracket)
        self._stop_loss.setEnabled(bracket)
