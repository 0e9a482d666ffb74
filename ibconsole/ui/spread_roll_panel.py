"""The roll dialog's calendar-spread section: roll as one spread order (the default where the
exchange lists the spread) or as two orders; the spread's own quote beside the one its legs
imply, its tick, market or a limit at a spread price (by default a marketable limit some ticks
through the touch) with what each leg would trade at; then the spread order as it works, with
modify, cancel and a switch to legging the rest.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from ibconsole.domain.calendar_spread import (
    CalendarSpread,
    SpreadQuote,
    implied_quote,
    own_quote,
)
from ibconsole.domain.order_words import price_text, quantity_text
from ibconsole.domain.orders import OrderType
from ibconsole.domain.quotes import Quote
from ibconsole.domain.spread_roll import SpreadRollSettings
from ibconsole.journal import JournalOrder, OrderState
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.months import contract_name
from ibconsole.ui.theme import Tone, tone_style

_TYPES = (("Limit at a spread price", OrderType.LIMIT), ("Market", OrderType.MARKET))


class SpreadRollPanel(QGroupBox):
    """Chooses how a roll goes out and follows its spread order.

    Signals:
        sig_mode_changed(bool)   the trader chose the spread (True) or two orders (False)
        sig_modify()             "Modify" clicked: send the price in the field to the order
        sig_cancel_rest()        "Cancel rest" clicked
        sig_leg_rest()           "Leg the rest" clicked: cancel the rest, roll it as two orders
    """

    sig_mode_changed = Signal(bool)
    sig_modify = Signal()
    sig_cancel_rest = Signal()
    sig_leg_rest = Signal()

    def __init__(self, settings: SpreadRollSettings, parent: QWidget | None = None) -> None:
        super().__init__("How the roll goes out", parent)
        self.setObjectName("rollSpreadPanel")
        self._settings = settings
        self._spread: CalendarSpread | None = None
        # the default limit last filled in: it follows the touch until the trader changes it
        self._default: Decimal | None = None
        self._order: JournalOrder | None = None
        self._locked = False

        self._as_spread = QPushButton(self)
        self._as_spread.setObjectName("rollAsSpread")
        self._as_spread.setCheckable(True)
        self._as_spread.setStyleSheet("QPushButton:checked { font-weight: 600; }")
        self._as_spread.toggled.connect(self._on_as_spread_toggled)
        self._mode = QLabel(self)
        self._mode.setObjectName("rollSpreadMode")
        self._mode.setWordWrap(True)
        self._quote = QLabel(self)
        self._quote.setObjectName("rollSpreadQuote")
        self._quote.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._type = QComboBox(self)
        self._type.setObjectName("rollSpreadOrderType")
        for text, kind in _TYPES:
            self._type.addItem(text, kind)
        self._type.currentIndexChanged.connect(self._on_type_changed)
        self._price = DecimalSpinBox(Decimal("0.01"), parent=self)
        self._price.setObjectName("rollSpreadPrice")
        self._price.setMinimumWidth(110)
        self._price.sig_edited.connect(self._show_leg_prices)
        self._hint = QLabel(self)
        self._hint.setObjectName("rollSpreadHint")
        self._legs = QLabel(self)
        self._legs.setObjectName("rollSpreadLegs")
        self._legs.setWordWrap(True)
        self._status = QLabel(self)
        self._status.setObjectName("rollSpreadStatus")
        self._status.setWordWrap(True)
        self._modify = QPushButton("Modify price", self)
        self._modify.setObjectName("rollSpreadModify")
        self._modify.clicked.connect(self.sig_modify)
        self._cancel = QPushButton("Cancel rest", self)
        self._cancel.setObjectName("rollSpreadCancel")
        self._cancel.clicked.connect(self.sig_cancel_rest)
        self._leg = QPushButton("Leg the rest as two orders", self)
        self._leg.setObjectName("rollSpreadLegRest")
        self._leg.clicked.connect(self.sig_leg_rest)
        self._near_quote: Quote | None = None

        grid = QGridLayout(self)
        grid.setHorizontalSpacing(12)
        grid.addWidget(self._as_spread, 0, 0)
        grid.addWidget(self._mode, 0, 1, 1, 3)
        grid.addWidget(self._quote, 1, 0, 1, 4)
        grid.addWidget(self._type, 2, 0)
        grid.addWidget(self._price, 2, 1)
        grid.addWidget(self._hint, 2, 2, 1, 2)
        grid.addWidget(self._legs, 3, 0, 1, 4)
        grid.addWidget(self._status, 4, 0, 1, 4)
        actions = QHBoxLayout()
        for button in (self._modify, self._cancel, self._leg):
            actions.addWidget(button)
        actions.addStretch(1)
        grid.addLayout(actions, 5, 0, 1, 4)
        grid.setColumnStretch(3, 1)
        self._show_working(False)
        self._status.hide()

    # ------------------------------------------------------------------ public
    @property
    def as_spread(self) -> bool:
        return self._spread is not None and self._as_spread.isChecked()

    @property
    def spread(self) -> CalendarSpread | None:
        return self._spread

    def set_spread(self, spread: CalendarSpread | None) -> None:
        """The spread of the planned roll (None when it does not reopen: no spread then)."""
        self._spread = spread
        available = spread is not None
        self._as_spread.setEnabled(available)
        if spread is None:
            self._as_spread.setText("As one calendar-spread order")
            self._as_spread.setChecked(False)
            self._mode.setText("Closing only: there is no spread to trade.")
        else:
            listed = "listed by the exchange" if spread.listed else "not listed by the exchange"
            self._as_spread.setText(f"One spread order: {spread.name}")
            self._as_spread.setToolTip(
                f"The {spread.name} calendar is {listed}. One combo order directed to the "
                "exchange fills both legs together at one spread price, or neither."
            )
            self._as_spread.setChecked(spread.listed and self._settings.prefer_spread)
            self._price.set_step(spread.tick)
        self._show_mode()

    def terms(self) -> tuple[OrderType, Decimal | None]:
        """The spread order's type and limit price as the trader set them."""
        kind = OrderType(self._type.currentData())
        return kind, self._price.value() if kind is OrderType.LIMIT else None

    def price(self) -> Decimal | None:
        return self._price.value()

    @property
    def status_text(self) -> str:
        return self._status.text()

    def show_quotes(self, own: Quote | None, near: Quote | None, far: Quote | None) -> None:
        spread = self._spread
        if spread is None:
            self._quote.setText("")
            return
        self._near_quote = near
        book, implied = own_quote(own), implied_quote(near, far)
        contract = spread.contract

        def pair(quote: SpreadQuote) -> str:
            bid = price_text(quote.bid, contract, signed=True)
            ask = price_text(quote.ask, contract, signed=True)
            return f"bid {bid} · ask {ask}"

        self._quote.setText(
            f"Spread {spread.name}: {pair(book)} · legs imply {pair(implied)} · "
            f"tick {spread.tick.normalize():f}"
        )
        touch = book if book.complete else implied
        untouched = self._price.value() is None or self._price.value() == self._default
        if untouched and touch.complete and not self._locked:
            default = spread.limit_through(touch, self._settings.ticks_through)
            if default is not None and default != self._default:
                self._default = default
                self._price.set_value(default)
        self._show_leg_prices()

    def lock(self) -> None:
        """The roll started: how it goes out, and at what price, is decided."""
        self._locked = True
        self._as_spread.setEnabled(False)
        self._type.setEnabled(False)
        self._price.setEnabled(False)

    def show_order(self, order: JournalOrder) -> None:
        """The spread order as the journal has it now."""
        self._order = order
        spread = self._spread
        if spread is None:
            return
        life = order.lifecycle
        contract = spread.contract
        done = f"{quantity_text(life.filled)} of {quantity_text(life.quantity)} rolled"
        price = (
            f" at {price_text(life.avg_fill_price, contract, signed=True)}"
            if life.avg_fill_price is not None
            else ""
        )
        limit = order.intent.limit_price
        at = f", limit {price_text(limit, contract, signed=True)}" if limit is not None else ""
        working = not order.is_final and order.state is not OrderState.INTENDED
        if order.state is OrderState.FILLED:
            text, tone = f"Spread order filled: {done}{price}.", Tone.GOOD
        elif working:
            text, tone = f"Spread order working{at}: {done}{price}.", Tone.WARN
        else:
            left = life.quantity - life.filled
            rest = (
                f" {quantity_text(left)} {contract_name(spread.near)} not rolled." if left else ""
            )
            why = f" IB: {life.rejection}." if life.rejection else ""
            text = f"Spread order {order.state.value}: {done}{price}.{rest}{why}"
            tone = Tone.BAD if life.filled == 0 else Tone.WARN
        self._status.setText(text)
        self._status.setStyleSheet(tone_style(tone))
        self._status.show()
        self._show_working(working)
        self._price.setEnabled(working and order.intent.order_type is OrderType.LIMIT)

    # ----------------------------------------------------------------- inside
    def _show_working(self, working: bool) -> None:
        for button in (self._modify, self._cancel, self._leg):
            button.setVisible(working)
        self._modify.setEnabled(
            working and self._order is not None and self._order.intent.limit_price is not None
        )

    def _show_mode(self) -> None:
        spread = self._spread
        spread_mode = self.as_spread
        text = self._as_spread.text().removeprefix("✓ ")
        self._as_spread.setText(f"✓ {text}" if spread_mode else text)
        for widget in (self._quote, self._type, self._price, self._hint, self._legs):
            widget.setVisible(spread_mode)
        if spread is None:
            return
        if spread_mode:
            side = "buy" if spread.side.value == "BUY" else "sell"
            self._mode.setText(
                f"One order: {side} {quantity_text(spread.quantity)} {spread.name} "
                f"(deferred minus nearby), guaranteed by the exchange: never legged."
            )
        else:
            self._mode.setText("Two orders: close the old month, then open the new one.")
        self._on_type_changed()

    @Slot(bool)
    def _on_as_spread_toggled(self, checked: bool) -> None:
        self._show_mode()
        self.sig_mode_changed.emit(self.as_spread)

    @Slot()
    def _on_type_changed(self) -> None:
        limit = self.terms()[0] is OrderType.LIMIT
        self._price.setEnabled(limit and not self._locked)
        spread = self._spread
        if spread is not None:
            touch = "ask" if spread.side.value == "BUY" else "bid"
            self._hint.setText(
                f"default: {self._settings.ticks_through} tick(s) through the {touch}"
                if limit
                else "fills at whatever the spread trades at"
            )
        self._show_leg_prices()

    @Slot()
    def _show_leg_prices(self) -> None:
        spread = self._spread
        kind, limit = self.terms()
        near = self._near_quote.last_good_price() if self._near_quote else None
        if spread is None or near is None or (kind is OrderType.LIMIT and limit is None):
            self._legs.setText("")
            return
        if limit is None:
            self._legs.setText("Each leg at the price the exchange assigns when it fills.")
            return
        legs = " · ".join(
            f"{leg.side_for(spread.side).value} {quantity_text(spread.quantity * leg.ratio)} "
            f"{contract_name(leg.contract)} ≈ {price_text(price, leg.contract)}"
            for leg, price in spread.leg_prices(limit, near)
        )
        self._legs.setText(f"At {price_text(limit, spread.contract, signed=True)}: {legs}")
