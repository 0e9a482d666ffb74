"""The manual order ticket: contract, size, type, tick-true prices, TIF and bracket, with the
position, working orders, notional and every pre-trade finding in view before anything is sent.

A view over the broker's order-entry model (``broker.order_entry.OrderEntry``): the fields go to
the model as they are typed, and it answers with each side's findings; Buy and Sell hand it the
fields and show its answer, opening the confirmation dialog when it asks for the trader's word.
Enter never sends an order: only the Buy and Sell buttons (or the window's shortcuts, through
``buy()``/``sell()``) do.
"""

from __future__ import annotations

import calendar
import html
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import partial

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.order_values import MarginImpact, OrderRefused
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import (
    EntryFields,
    EntryOutcome,
    NeedsConfirmation,
    Refusal,
    Refused,
    Sent,
    notional,
    notional_price,
    positions_after,
    whole_quantity,
)
from ibconsole.domain.order_words import (
    order_caption,
    position_text,
    position_words,
    price_text,
    quantity_text,
    side_word,
    working_text,
)
from ibconsole.domain.orders import (
    OrderIntent,
    OrderType,
    OrderValidationError,
    Side,
    TimeInForce,
)
from ibconsole.domain.products import PRODUCTS, product, siblings
from ibconsole.domain.quotes import Quote
from ibconsole.domain.risk import RiskReport, Severity
from ibconsole.domain.rollover import RollStatus, order_month, trading_months
from ibconsole.ui.blotter_models import money_text, tabular_font
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.confirm_dialog import ConfirmDialog, severity_word
from ibconsole.ui.context import UiContext
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.months import FamilyMonths, family_months
from ibconsole.ui.theme import Tone, tone_color, tone_style

log = logging.getLogger(__name__)

REFRESH_MS = 150  # coalesces quote, position and order events into one repaint
EDIT_PREVIEW_MS = 200  # findings follow typing after this pause
EVENT_PREVIEW_MS = 500  # findings follow the market at most this often
QUOTE_AGE_MS = 1000  # the quote's age label is re-read this often
MARGIN_DEBOUNCE_MS = 400  # a what-if goes to IB once the trader pauses editing
_LISTED_WORKING = 3

_ROLL_WORDS = {
    RollStatus.OK: "",
    RollStatus.ROLL_WINDOW: "roll window",
    RollStatus.MUST_ROLL: "must roll",
    RollStatus.EXPIRED: "expired",
}

# How loudly each reason for sending nothing is said.
_REFUSAL_TONES = {
    Refusal.INVALID: Tone.BAD,
    Refusal.BLOCKED: Tone.BAD,
    Refusal.UNKNOWN: Tone.WARN,
    Refusal.NOTHING: Tone.NEUTRAL,
}

_BUTTON_STYLE = """
QPushButton#%(name)s {
    background: %(base)s; color: white; border: none; border-radius: 4px;
    padding: 7px 10px; font-weight: 600;
}
QPushButton#%(name)s:hover { background: %(hover)s; }
QPushButton#%(name)s:pressed { background: %(pressed)s; }
QPushButton#%(name)s:disabled { background: #9aa0a6; color: #eef0f2; }
"""


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def _captioned(*rows: tuple[str, QLabel]) -> QGridLayout:
    """Values under captions in a column to their left; a caption stays level with the first
    line of a value that may wrap onto several."""
    grid = QGridLayout()
    grid.setHorizontalSpacing(10)
    grid.setVerticalSpacing(3)
    for row, (caption, value) in enumerate(rows):
        if value.wordWrap():
            grid.addWidget(_caption(caption), row, 0, Qt.AlignmentFlag.AlignTop)
        else:
            grid.addWidget(_caption(caption), row, 0)
        grid.addWidget(value, row, 1)
    grid.setColumnStretch(1, 1)
    return grid


def _section(text: str) -> QLabel:
    label = QLabel(text.upper())
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setBold(True)
    font.setLetterSpacing(font.SpacingType.PercentageSpacing, 108)
    label.setFont(font)
    label.setStyleSheet("color: palette(placeholder-text); padding-top: 6px;")
    return label


def _line() -> QFrame:
    rule = QFrame()
    rule.setFrameShape(QFrame.Shape.HLine)
    rule.setFrameShadow(QFrame.Shadow.Plain)
    rule.setStyleSheet("color: palette(mid);")
    return rule


def _month_label(contract: ListedContract) -> str:
    year, month = int(contract.contract_month[:4]), int(contract.contract_month[4:])
    return f"{contract.local_symbol}  ·  {calendar.month_abbr[month]} {year}"


class OrderTicket(QWidget):
    """Manual order entry for one futures contract, checked in place as the trader types.

    Signals:
        sig_contract_changed(ListedContract)   the ticket's contract changed
    """

    sig_contract_changed = Signal(object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orderTicket")
        self._ctx = ctx
        self._broker = ctx.broker
        self._entry = ctx.broker.entry
        self._family = ""
        self._months: FamilyMonths | None = None
        self._contract: ListedContract | None = None
        self._subscribed: int | None = None
        self._quote: Quote | None = None
        self._quote_shown = False  # a price of the current contract is on screen
        self._confirmation: ConfirmDialog | None = None
        self._click_error: OrderValidationError | None = None
        self._findings: tuple[str, ...] = ()
        self._fetching: set[str] = set()
        # The intents whose margin was last asked for, so a late answer for an older order
        # shape is dropped instead of shown.
        self._margin_asked: dict[Side, OrderIntent] = {}
        self._margins: dict[Side, str] = {}

        self._refresh_timer = CoalescingTimer(self, REFRESH_MS, self._refresh)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.timeout.connect(self._preview)
        self._margin_timer = QTimer(self)
        self._margin_timer.setSingleShot(True)
        self._margin_timer.setInterval(MARGIN_DEBOUNCE_MS)
        self._margin_timer.timeout.connect(self._ask_margins)
        self._pending_margin: dict[Side, OrderIntent] = {}
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(QUOTE_AGE_MS)
        self._age_timer.timeout.connect(self._paint_quote)

        self._build_widgets()
        self._layout_widgets()
        self._connect()
        self._family_box.setCurrentIndex(self._family_box.findData("ES"))
        self._load_family(str(self._family_box.currentData()))

    # ----------------------------------------------------------------------- widgets
    def _build_widgets(self) -> None:
        figures = tabular_font()
        self._family_box = QComboBox()
        self._family_box.setObjectName("ticketSymbol")
        for item in PRODUCTS.values():
            self._family_box.addItem(item.symbol, item.symbol)
            self._family_box.setItemData(
                self._family_box.count() - 1, item.description, Qt.ItemDataRole.ToolTipRole
            )
        self._family_box.setToolTip("Futures family")
        self._month_box = QComboBox()
        self._month_box.setObjectName("ticketMonth")
        self._month_box.setToolTip("Contract month (the active month is chosen by default)")
        self._month_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._description = QLabel()
        self._description.setObjectName("ticketDescription")
        self._contract_note = QLabel()
        self._contract_note.setObjectName("ticketContractNote")
        self._contract_note.setWordWrap(True)

        self._bid_button = QPushButton("Bid —")
        self._bid_button.setObjectName("ticketBid")
        self._ask_button = QPushButton("Ask —")
        self._ask_button.setObjectName("ticketAsk")
        for button, tip in ((self._bid_button, "the bid"), (self._ask_button, "the ask")):
            button.setFlat(True)
            button.setFont(figures)
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(f"Click to put {tip} into the limit price")
        self._last = QLabel("Last —")
        self._last.setObjectName("ticketLast")
        self._last.setFont(figures)
        self._feed = QLabel()
        self._feed.setObjectName("ticketQuoteState")

        self._position = QLabel()
        self._position.setObjectName("ticketPosition")
        self._position.setFont(figures)
        self._working = QLabel()
        self._working.setObjectName("ticketWorking")
        self._working.setWordWrap(True)
        self._family_line = QLabel()
        self._family_line.setObjectName("ticketFamily")
        self._family_line.setWordWrap(True)

        self._quantity = DecimalSpinBox(Decimal(1), minimum=Decimal(1))
        self._quantity.setObjectName("ticketQuantity")
        self._quantity.set_text("1")
        self._quantity.setToolTip("Number of contracts")
        self._type_box = QComboBox()
        self._type_box.setObjectName("ticketOrderType")
        names = {
            OrderType.MARKET: "market",
            OrderType.LIMIT: "limit",
            OrderType.STOP: "stop",
            OrderType.STOP_LIMIT: "stop limit",
        }
        for kind in OrderType:
            self._type_box.addItem(kind.value, kind.value)
            self._type_box.setItemData(
                self._type_box.count() - 1, f"{names[kind]} order", Qt.ItemDataRole.ToolTipRole
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
        for field in (self._limit, self._stop, self._take_profit, self._stop_loss):
            field.set_anchor(self._reference_price)
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

        self._result = QLabel()
        self._result.setObjectName("ticketResult")
        self._result.setFont(figures)
        self._result.setWordWrap(True)
        self._notional = QLabel()
        self._notional.setObjectName("ticketNotional")
        self._notional.setFont(figures)
        self._notional.setWordWrap(True)
        self._margin = QLabel("—")
        self._margin.setObjectName("ticketMargin")
        self._margin.setFont(figures)
        self._margin.setWordWrap(True)
        self._findings_label = QLabel()
        self._findings_label.setObjectName("ticketFindings")
        self._findings_label.setWordWrap(True)
        self._findings_label.setTextFormat(Qt.TextFormat.RichText)
        self._findings_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        self._buy = QPushButton("Buy")
        self._buy.setObjectName("buyButton")
        self._sell = QPushButton("Sell")
        self._sell.setObjectName("sellButton")
        for button, base, hover, pressed in (
            (self._buy, "#1f5fbf", "#2a6fd6", "#194f9f"),
            (self._sell, "#c62828", "#d83a3a", "#a32020"),
        ):
            button.setAutoDefault(False)
            button.setDefault(False)
            button.setMinimumHeight(48)
            # The caption may not set the ticket's width: the dock decides, the text elides.
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            button.setMinimumWidth(120)
            button.setStyleSheet(
                _BUTTON_STYLE
                % {"name": button.objectName(), "base": base, "hover": hover, "pressed": pressed}
            )
        self._flatten = QPushButton("Flatten")
        self._flatten.setObjectName("flattenButton")
        self._flatten.setAutoDefault(False)
        self._flatten.setToolTip(
            "Close the whole position in this contract at market, after asking"
        )
        self._status = QLabel()
        self._status.setObjectName("ticketStatus")
        self._status.setWordWrap(True)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _layout_widgets(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(10, 8, 10, 10)
        root.setSpacing(6)

        picker = QHBoxLayout()
        picker.addWidget(self._family_box)
        picker.addWidget(self._month_box, 1)
        root.addLayout(picker)
        root.addWidget(self._description)
        root.addWidget(self._contract_note)

        quote = QHBoxLayout()
        quote.setSpacing(4)
        quote.addWidget(self._bid_button)
        quote.addWidget(self._ask_button)
        quote.addWidget(self._last)
        quote.addStretch(1)
        quote.addWidget(self._feed)
        root.addLayout(quote)

        root.addLayout(
            _captioned(
                ("Position", self._position),
                ("Working", self._working),
                ("Family", self._family_line),
            )
        )
        root.addWidget(_line())

        order = QGridLayout()
        order.setHorizontalSpacing(10)
        order.setVerticalSpacing(4)
        order.addWidget(_caption("Quantity"), 0, 0)
        order.addWidget(self._quantity, 0, 1)
        order.addWidget(_caption("Type"), 0, 2)
        order.addWidget(self._type_box, 0, 3)
        order.addWidget(self._errors["quantity"], 1, 1, 1, 3)
        order.addWidget(_caption("Limit"), 2, 0)
        order.addWidget(self._limit, 2, 1)
        order.addWidget(_caption("TIF"), 2, 2)
        order.addWidget(self._tif_box, 2, 3)
        order.addWidget(self._errors["limit_price"], 3, 1, 1, 3)
        order.addWidget(_caption("Stop"), 4, 0)
        order.addWidget(self._stop, 4, 1)
        order.addWidget(self._errors["stop_price"], 5, 1, 1, 3)
        order.addWidget(self._bracket, 6, 0, 1, 4)
        order.addWidget(_caption("Take-profit"), 7, 0)
        order.addWidget(self._take_profit, 7, 1)
        order.addWidget(self._errors["take_profit"], 8, 1, 1, 3)
        order.addWidget(_caption("Stop-loss"), 9, 0)
        order.addWidget(self._stop_loss, 9, 1)
        order.addWidget(self._errors["stop_loss"], 10, 1, 1, 3)
        order.setColumnStretch(1, 3)
        order.setColumnStretch(3, 2)
        root.addLayout(order)
        root.addWidget(_line())

        root.addLayout(
            _captioned(
                ("If filled", self._result),
                ("Notional", self._notional),
                ("Margin", self._margin),
            )
        )
        root.addWidget(_section("Checks"))
        root.addWidget(self._findings_label)
        root.addStretch(1)

        sides = QHBoxLayout()
        sides.setSpacing(8)
        sides.addWidget(self._buy)
        sides.addWidget(self._sell)
        root.addLayout(sides)
        root.addWidget(self._flatten)
        root.addWidget(self._status)

    def _connect(self) -> None:
        self._family_box.currentIndexChanged.connect(self._on_family_box_changed)
        self._month_box.currentIndexChanged.connect(self._on_month_box_changed)
        self._type_box.currentIndexChanged.connect(self._on_fields_edited)
        self._tif_box.currentIndexChanged.connect(self._on_fields_edited)
        self._bracket.toggled.connect(self._on_fields_edited)
        for field in self._inputs.values():
            field.sig_edited.connect(self._on_fields_edited)
        self._bid_button.clicked.connect(self._on_bid_button_clicked)
        self._ask_button.clicked.connect(self._on_ask_button_clicked)
        self._buy.clicked.connect(self.buy)
        self._sell.clicked.connect(self.sell)
        self._flatten.clicked.connect(self.flatten)
        bridge = self._ctx.bridge
        bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)
        bridge.sig_portfolio_changed.connect(self._on_bridge_state_changed)
        bridge.sig_order_changed.connect(self._on_bridge_state_changed)
        bridge.sig_synced.connect(self._on_bridge_synced)
        bridge.sig_ended.connect(self._on_bridge_state_changed)
        self._apply_order_type()

    # ------------------------------------------------------------------------ public
    @property
    def is_populated(self) -> bool:
        """True once a contract is chosen and its quote is on screen."""
        return self._contract is not None and self._quote_shown

    @property
    def contract(self) -> ListedContract | None:
        return self._contract

    @property
    def confirmation(self) -> ConfirmDialog | None:
        """The confirmation dialog while it is open."""
        return self._confirmation

    @property
    def findings_text(self) -> tuple[str, ...]:
        """The pre-trade findings shown in place, as plain sentences ("Blocked: …")."""
        return self._findings

    @property
    def status_text(self) -> str:
        """What happened to the last order (sent, blocked, declined, not sent and why)."""
        return self._status.text()

    def field_error(self, field: str) -> str:
        """The message shown next to a field ("quantity", "limit_price", ...), "" if none."""
        label = self._errors[field]
        return "" if label.isHidden() else label.text()

    @Slot()
    def buy(self) -> None:
        self._send(Side.BUY)

    @Slot()
    def sell(self) -> None:
        self._send(Side.SELL)

    @Slot()
    def flatten(self) -> None:
        """Close the whole position in the ticket's contract with a market order, after asking."""
        if not self._busy():
            self._show(self._entry.flatten(self._contract))

    # ---------------------------------------------------------------- contract choice
    @Slot(int)
    def _on_family_box_changed(self, index: int) -> None:
        symbol = self._family_box.itemData(index)
        if isinstance(symbol, str):
            for field in (self._limit, self._stop, self._take_profit, self._stop_loss):
                field.clear()
            self._load_family(symbol)

    def _load_family(self, symbol: str, keep: ListedContract | None = None) -> None:
        self._family = symbol
        self._months = None
        if self._contract is not None and self._contract.symbol != symbol:
            # Until the new family's months arrive the ticket has no contract: Buy must never
            # send the previous family's contract while the picker shows another.
            self._drop_contract()
        self._description.setText(product(symbol).description)
        if self._broker.session.sync_info is None:
            self._note(f"Connect to load the {symbol} contract months.", Tone.WARN)
            return
        self._note(f"Loading the {symbol} contract months…", Tone.NEUTRAL)
        self._ctx.runner.start(
            family_months(self._broker, symbol, self._ctx.settings.rollover, self._ctx.clock.now()),
            name=f"ticket: {symbol} months",
            done=lambda months: self._on_family_loaded(symbol, months, keep),
            failed=lambda error: self._on_family_failed(symbol, error),
        )
        for sibling in siblings(symbol):
            self._fetch_chain(sibling.symbol)

    def _on_family_loaded(
        self, symbol: str, months: FamilyMonths, keep: ListedContract | None
    ) -> None:
        if symbol != self._family:
            return
        self._months = months
        listed = trading_months(months.chain.contracts, self._ctx.clock.now())
        chosen = order_month(months.view, listed, keep)
        if chosen is None:
            self._note(f"No {symbol} contract month is trading now.", Tone.BAD)
            return
        self._fill_months(listed, chosen)
        self._note("", Tone.NEUTRAL)

    def _on_family_failed(self, symbol: str, error: BaseException) -> None:
        if symbol != self._family:
            return
        log.info("ticket: %s months not loaded: %s", symbol, error)
        self._note(f"The {symbol} contract months could not be loaded: {error}", Tone.BAD)

    def _fill_months(self, listed: Iterable[ListedContract], chosen: ListedContract) -> None:
        view = self._months.view if self._months is not None else None
        self._month_box.blockSignals(True)
        self._month_box.clear()
        for contract in listed:
            tags = []
            if view is not None and contract == view.active:
                tags.append("active")
            if (
                view is not None
                and contract == view.front.contract
                and view.front.contract != view.active
            ):
                status = _ROLL_WORDS[view.status]
                tags.append(f"front, {status}" if status else "front")
            label = _month_label(contract) + (f"  ·  {', '.join(tags)}" if tags else "")
            self._month_box.addItem(label, contract.con_id)
            self._month_box.setItemData(
                self._month_box.count() - 1, contract, Qt.ItemDataRole.UserRole + 1
            )
        self._month_box.setCurrentIndex(max(0, self._month_box.findData(chosen.con_id)))
        self._month_box.blockSignals(False)
        self._use_contract(chosen)

    @Slot(int)
    def _on_month_box_changed(self, index: int) -> None:
        contract = self._month_box.itemData(index, Qt.ItemDataRole.UserRole + 1)
        if isinstance(contract, ListedContract):
            self._use_contract(contract)

    def _use_contract(self, contract: ListedContract) -> None:
        if contract == self._contract:
            return
        market = self._broker.market
        if self._subscribed is not None:
            market.unsubscribe(self._subscribed)
        market.subscribe(contract)
        self._subscribed = contract.con_id
        self._contract = contract
        self._quote = market.quote(contract.con_id)
        for name, field in self._inputs.items():
            if name != "quantity":
                field.set_step(contract.min_tick)
        self._flatten.setText(f"Flatten {contract.local_symbol}")
        self._click_error = None
        self._age_timer.start()
        self._refresh()
        self._schedule_preview(0, restart=True)
        self.sig_contract_changed.emit(contract)

    def _drop_contract(self) -> None:
        if self._subscribed is not None:
            self._broker.market.unsubscribe(self._subscribed)
        self._subscribed = None
        self._contract = None
        self._quote = None
        self._month_box.blockSignals(True)
        self._month_box.clear()
        self._month_box.blockSignals(False)
        self._flatten.setText("Flatten")
        self._age_timer.stop()
        self._refresh()
        self._schedule_preview(0, restart=True)

    def _fetch_chain(self, symbol: str) -> None:
        """Load a sibling's chain once, so its positions and working orders can be shown."""
        if symbol in self._fetching or self._broker.contracts.cached(symbol) is not None:
            return
        self._fetching.add(symbol)

        def settled(_: object) -> None:
            self._fetching.discard(symbol)
            self._refresh_timer.request()

        def failed(error: BaseException) -> None:
            self._fetching.discard(symbol)
            log.info("ticket: %s chain not loaded: %s", symbol, error)

        self._ctx.runner.start(
            self._broker.contracts.chain(symbol),
            name=f"ticket: {symbol} chain",
            done=settled,
            failed=failed,
        )

    # ----------------------------------------------------------------- broker events
    @Slot(object)
    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        con_id = self._subscribed
        for quote in quotes:
            if quote.con_id == con_id:
                self._quote = quote
                self._refresh_timer.request()
                return

    @Slot(object)
    def _on_bridge_state_changed(self, payload: object) -> None:
        self._refresh_timer.request()

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        if self._months is None and self._family:
            self._load_family(self._family, keep=self._contract)
        self._refresh_timer.request()

    def _schedule_preview(self, delay_ms: int, *, restart: bool) -> None:
        if restart or not self._preview_timer.isActive():
            self._preview_timer.start(delay_ms)

    @Slot()
    def _refresh(self) -> None:
        self._paint_quote()
        self._paint_holdings()
        self._paint_outcome()
        self._schedule_preview(EVENT_PREVIEW_MS, restart=False)

    # -------------------------------------------------------------------- painting
    def _note(self, text: str, tone: Tone) -> None:
        self._contract_note.setText(text)
        self._contract_note.setStyleSheet(tone_style(tone) if tone is not Tone.NEUTRAL else "")
        self._contract_note.setVisible(bool(text))

    def _say(self, text: str, tone: Tone) -> None:
        self._status.setText(text)
        self._status.setStyleSheet(tone_style(tone))

    def _price(self, value: Decimal | None) -> str:
        contract = self._contract
        if contract is None or value is None:
            return "—"
        return price_text(value, contract)

    @Slot()
    def _paint_quote(self) -> None:
        quote = self._quote
        self._quote_shown = quote is not None and quote.last_good_price() is not None
        self._bid_button.setText(f"Bid {self._price(quote.bid if quote else None)}")
        self._ask_button.setText(f"Ask {self._price(quote.ask if quote else None)}")
        self._last.setText(f"Last {self._price(quote.last if quote else None)}")
        if self._contract is None:
            self._feed.setText("")
            return
        if quote is None or quote.last_good_price() is None:
            word, tone = "No quote", Tone.BAD
        elif quote.data_type.is_delayed:
            word, tone = quote.data_type.label.capitalize(), Tone.WARN
        elif quote.data_type.is_frozen:
            word, tone = "Frozen", Tone.WARN
        else:
            now = self._ctx.clock.now()
            if quote.is_stale(now, self._entry.limits.max_quote_age):
                word, tone = f"Stale {int(quote.age(now).total_seconds())} s", Tone.WARN
            else:
                word, tone = "Live", Tone.GOOD
        self._feed.setText(f"● {word}")
        self._feed.setStyleSheet(tone_style(tone))

    def _paint_holdings(self) -> None:
        contract = self._contract
        if contract is None:
            self._position.setText("—")
            self._working.setText("—")
            self._family_line.setText("—")
            return
        position = self._entry.position(contract)
        self._position.setText(position_text(position, contract))
        self._position.setStyleSheet(tone_style(Tone.WARN) if position is None else "")
        working = self._entry.working_orders(contract)
        self._working.setText(
            "Unknown until synced"
            if working is None
            else working_text(working, contract, _LISTED_WORKING)
        )
        family = self._entry.family(contract)
        self._family_line.setText("Unknown until synced" if family is None else family.sentence)

    def _paint_outcome(self) -> None:
        contract = self._contract
        if contract is None:
            self._result.setText("—")
            self._notional.setText("—")
            return
        fields = self._fields()
        quantity = whole_quantity(fields.quantity)
        position = self._entry.position(contract)
        if position is None:
            self._result.setText("Unknown: the current position is not synced")
        elif quantity is None:
            self._result.setText("Enter a whole number of contracts")
        else:
            after_buy, after_sell = positions_after(position, quantity)
            self._result.setText(
                f"Buy → {position_words(after_buy)}   ·   Sell → {position_words(after_sell)}"
            )
        price = notional_price(fields, self._entry.reference_price(contract))
        if price is None or quantity is None:
            self._notional.setText("No price yet" if price is None else "—")
            return
        self._notional.setText(
            f"≈ {money_text(notional(contract, price, quantity))} {contract.currency}  "
            f"({quantity_text(quantity)} × {quantity_text(contract.multiplier)} × "
            f"{price_text(price, contract)})"
        )

    def _reference_price(self) -> Decimal | None:
        contract = self._contract
        return self._entry.reference_price(contract) if contract is not None else None

    # ---------------------------------------------------------------------- editing
    def _order_type(self) -> OrderType:
        return OrderType(str(self._type_box.currentData()))

    def _fields(self) -> EntryFields:
        """The order as the fields hold it now, for the order-entry model."""
        return EntryFields(
            contract=self._contract,
            quantity=self._quantity.text(),
            order_type=self._order_type(),
            limit_price=self._limit.text(),
            stop_price=self._stop.text(),
            tif=str(self._tif_box.currentData()),
            bracket=self._bracket.isChecked(),
            take_profit=self._take_profit.text(),
            stop_loss=self._stop_loss.text(),
        )

    def _apply_order_type(self) -> None:
        order_type = self._order_type()
        self._limit.setEnabled(order_type.needs_limit)
        self._stop.setEnabled(order_type.needs_stop)
        bracket = self._bracket.isChecked()
        self._take_profit.setEnabled(bracket)
        self._stop_loss.setEnabled(bracket)

    @Slot()
    def _on_fields_edited(self) -> None:
        self._apply_order_type()
        self._click_error = None
        self._paint_outcome()
        self._schedule_preview(EDIT_PREVIEW_MS, restart=True)

    @Slot()
    def _on_bid_button_clicked(self) -> None:
        self._use_quote_price(Side.SELL)

    @Slot()
    def _on_ask_button_clicked(self) -> None:
        self._use_quote_price(Side.BUY)

    def _use_quote_price(self, side: Side) -> None:
        """Put the price ``side`` would trade at now (a buy's ask, a sell's bid) into the limit."""
        quote = self._quote
        price = None if quote is None else quote.ask if side is Side.BUY else quote.bid
        if price is None:
            return
        if not self._order_type().needs_limit:
            self._type_box.setCurrentIndex(self._type_box.findData(OrderType.LIMIT.value))
        self._limit.set_value(price)

    @Slot()
    def _preview(self) -> None:
        """Validate both sides and show every finding the broker's checks would raise now."""
        if self._contract is None:
            self._show_field_errors({})
            self._show_findings({})
            return
        preview = self._entry.preview(self._fields())
        self._show_field_errors(preview.errors)
        self._show_findings(preview.reports)
        self._label_buttons(preview.outcomes)
        self._schedule_margins(preview.intents)

    # ----------------------------------------------------------------------- margin
    def _schedule_margins(self, intents: dict[Side, OrderIntent]) -> None:
        """Ask IB's what-if for each valid side once the trader pauses; keys differ per build,
        so an order shape is compared without them."""
        shapes = {side: _shape(intent) for side, intent in intents.items()}
        if shapes == {side: _shape(i) for side, i in self._margin_asked.items()}:
            return
        self._pending_margin = intents
        if not intents:
            self._margin_asked = {}
            self._margins = {}
            self._margin.setText("—")
            return
        self._margin_timer.start()

    @Slot()
    def _ask_margins(self) -> None:
        if self._broker.session.sync_info is None:
            self._margin.setText("No estimate while not connected")
            return
        self._margin_asked = dict(self._pending_margin)
        self._margins = {}
        self._margin.setText("Asking IB…")
        for side, intent in self._margin_asked.items():
            self._ctx.runner.start(
                self._entry.margin(intent),
                name=f"margin estimate {side.value}",
                done=partial(self._on_margin, side, intent),
                failed=partial(self._on_margin_failed, side, intent),
            )

    def _on_margin(self, side: Side, intent: OrderIntent, impact: MarginImpact) -> None:
        if self._margin_asked.get(side) is not intent:
            return
        change = impact.init_margin_change
        if change is None:
            text = "IB gave no figure"
        else:
            sign = "+" if change >= 0 else "−"
            text = f"init {sign}{money_text(abs(change))} {impact.currency}"
            if impact.commission is not None:
                text += f", fee {money_text(impact.commission)}"
        self._margins[side] = f"{side_word(side)}: {text}"
        self._paint_margins()

    def _on_margin_failed(self, side: Side, intent: OrderIntent, error: BaseException) -> None:
        if self._margin_asked.get(side) is not intent:
            return
        reason = error.reason if isinstance(error, OrderRefused) else str(error)
        self._margins[side] = f"{side_word(side)}: {reason}"
        self._paint_margins()

    def _paint_margins(self) -> None:
        self._margin.setText(
            "   ·   ".join(self._margins[s] for s in (Side.BUY, Side.SELL) if s in self._margins)
        )

    # --------------------------------------------------------------------- findings
    def _show_field_errors(self, shared: Mapping[str, str]) -> None:
        messages = dict(shared)
        clicked = self._click_error
        if clicked is not None:
            messages[clicked.field] = clicked.message
        for name, label in self._errors.items():
            text = messages.get(name, "")
            label.setText(text)
            label.setVisible(bool(text))
        other = [m for f, m in messages.items() if f not in self._errors]
        if other:
            self._say(" ".join(other), Tone.BAD)

    def _show_findings(self, reports: Mapping[Side, RiskReport]) -> None:
        entries: list[tuple[Severity, str]] = []
        if len(reports) == 2:
            common = [f for f in reports[Side.BUY].findings if f in reports[Side.SELL].findings]
        else:
            common = []
        entries.extend((f.severity, f.message) for f in common)
        for side, report in reports.items():
            entries.extend(
                (f.severity, f"{side_word(side)}: {f.message}")
                for f in report.findings
                if f not in common
            )
        order = {Severity.BLOCK: 0, Severity.CONFIRM: 1, Severity.INFO: 2}
        entries.sort(key=lambda entry: order[entry[0]])
        self._findings = tuple(f"{severity_word(s)[0]}: {m}" for s, m in entries)
        if not reports:
            self._findings_label.setText(
                f"<span style='color:{tone_color(Tone.NEUTRAL).name()}'>"
                "The checks run once the quantity and prices are entered.</span>"
            )
            return
        if not entries:
            self._findings_label.setText(
                f"<span style='{tone_style(Tone.GOOD)}'>All checks pass.</span>"
            )
            return
        rows = "".join(
            f"<tr><td style='{tone_style(severity_word(s)[1])} padding-right:8px'>"
            f"{severity_word(s)[0]}</td><td>{html.escape(m)}</td></tr>"
            for s, m in entries
        )
        self._findings_label.setText(f"<table cellspacing='0' cellpadding='2'>{rows}</table>")

    def _label_buttons(self, outcomes: Mapping[Side, OrderIntent | OrderValidationError]) -> None:
        for side, button in ((Side.BUY, self._buy), (Side.SELL, self._sell)):
            outcome = outcomes.get(side)
            if isinstance(outcome, OrderIntent):
                button.setText(f"{side_word(side)}\n{order_caption(outcome)}")
            else:
                button.setText(side_word(side))

    # ---------------------------------------------------------------------- sending
    def _busy(self) -> bool:
        if self._confirmation is not None:
            self._confirmation.raise_()
            self._confirmation.activateWindow()
            return True
        return False

    def _send(self, side: Side) -> None:
        if self._busy():
            return
        outcome = self._entry.place(side, self._fields())
        if not (isinstance(outcome, Refused) and outcome.error is not None):
            self._click_error = None
        self._show(outcome)

    def _show(self, outcome: EntryOutcome) -> None:
        """Say what the order-entry model did, or ask the trader what it needs confirmed."""
        if isinstance(outcome, NeedsConfirmation):
            self._ask(outcome)
        elif isinstance(outcome, Sent):
            self._say(outcome.message, Tone.GOOD)
            self._schedule_preview(0, restart=True)
        elif outcome.error is not None:
            self._click_error = outcome.error
            self._show_field_errors({})
            self._say(outcome.message, Tone.BAD)
        else:
            self._say(outcome.message, _REFUSAL_TONES[outcome.kind])
            if outcome.kind is Refusal.BLOCKED:
                self._schedule_preview(0, restart=True)

    def _ask(self, asked: NeedsConfirmation) -> None:
        dialog = ConfirmDialog(
            asked.title,
            asked.summary,
            asked.report.findings,
            notes=asked.notes,
            confirm_text=asked.confirm_text,
            parent=self,
        )
        dialog.sig_decided.connect(partial(self._on_decided, asked))
        self._confirmation = dialog
        self._say("Waiting for your confirmation…", Tone.WARN)
        dialog.open()

    def _on_decided(self, asked: NeedsConfirmation, confirmed: bool) -> None:
        self._confirmation = None
        if confirmed:
            self._show(self._entry.confirm(asked))
        else:
            self._say(self._entry.decline(asked), Tone.NEUTRAL)


def _shape(intent: OrderIntent) -> tuple[object, ...]:
    """What a margin estimate depends on: everything of the order but its key and time."""
    return (
        intent.contract.con_id,
        intent.side,
        intent.quantity,
        intent.order_type,
        intent.limit_price,
        intent.stop_price,
    )
