"""The manual order ticket: contract, size, type, tick-true prices, TIF and bracket, with the
position, working orders, notional and every pre-trade finding in view before anything is sent.

A view over the broker's order-entry model (``broker.order_entry.OrderEntry``): the fields go to
the model as they are typed, and it answers with each side's findings; Buy and Sell hand it the
fields and show its answer, opening the confirmation dialog when it asks for the trader's word.
Enter never sends an order: only the Buy and Sell buttons (or the window's shortcuts, through
``buy()``/``sell()``) do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from functools import partial

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

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
    position_words,
    price_text,
    quantity_text,
    side_word,
)
from ibconsole.domain.orders import OrderIntent, OrderValidationError, Side
from ibconsole.domain.quotes import Quote
from ibconsole.ui.blotter_models import money_text, tabular_font
from ibconsole.ui.captions import captioned, rule, section
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.confirm_dialog import ConfirmDialog, open_confirmation
from ibconsole.ui.context import UiContext
from ibconsole.ui.contract_picker import ContractPicker
from ibconsole.ui.findings_view import FindingsView
from ibconsole.ui.holdings_view import HoldingsView
from ibconsole.ui.margin_view import MarginView
from ibconsole.ui.order_form import OrderForm
from ibconsole.ui.prompt_button import PromptButton
from ibconsole.ui.quote_line import QuoteLine
from ibconsole.ui.steady_label import SteadyLabel
from ibconsole.ui.theme import Tone, tone_style

log = logging.getLogger(__name__)

REFRESH_MS = 150  # coalesces quote, position and order events into one repaint
EDIT_PREVIEW_MS = 200  # findings follow typing after this pause
EVENT_PREVIEW_MS = 500  # findings follow the market at most this often

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
        self._contract: ListedContract | None = None
        self._subscribed: int | None = None
        self._confirmation: ConfirmDialog | None = None
        self._click_error: OrderValidationError | None = None
        self._holdings_stale = True  # a broker event since the holdings were last shown
        # The fields, position and reference price the outcome was last shown for.
        self._outcome_shown: tuple[object, ...] | None = None

        self._refresh_timer = CoalescingTimer(self, REFRESH_MS, self._refresh)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.timeout.connect(self._preview)

        self._build_widgets()
        self._lay_out()
        self._connect()
        self._picker.show_family("ES")

    # ----------------------------------------------------------------------- widgets
    def _build_widgets(self) -> None:
        ctx = self._ctx
        figures = tabular_font()
        self._picker = ContractPicker(ctx)
        self._quote_line = QuoteLine(ctx.clock, self._entry)
        self._holdings = HoldingsView(ctx)
        self._form = OrderForm(self._reference_price)
        self._result = QLabel()
        self._result.setObjectName("ticketResult")
        # The notional moves with every price: its changes repaint it without a layout pass.
        self._notional = SteadyLabel("ticketNotional")
        for label in (self._result, self._notional.label):
            label.setFont(figures)
            label.setWordWrap(True)
        self._margin = MarginView(ctx)
        self._margin.setObjectName("ticketMargin")
        self._findings = FindingsView()
        self._findings.setObjectName("ticketFindings")

        # Acting before repainting: a click reaches the wire before the window's pending paints.
        self._buy = PromptButton("Buy")
        self._buy.setObjectName("buyButton")
        self._sell = PromptButton("Sell")
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
        self._flatten = PromptButton("Flatten")
        self._flatten.setObjectName("flattenButton")
        self._flatten.setAutoDefault(False)
        self._flatten.setToolTip(
            "Close the whole position in this contract at market, after asking"
        )
        self._status = QLabel()
        self._status.setObjectName("ticketStatus")
        self._status.setWordWrap(True)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _lay_out(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(10, 8, 10, 10)
        root.setSpacing(6)
        root.addWidget(self._picker)
        root.addWidget(self._quote_line)
        root.addWidget(self._holdings)
        root.addWidget(rule())
        root.addWidget(self._form)
        root.addWidget(rule())
        root.addLayout(
            captioned(
                ("If filled", self._result),
                ("Notional", self._notional),
                ("Margin", self._margin),
            )
        )
        root.addWidget(section("Checks"))
        root.addWidget(self._findings)
        root.addStretch(1)
        sides = QHBoxLayout()
        sides.setSpacing(8)
        sides.addWidget(self._buy)
        sides.addWidget(self._sell)
        root.addLayout(sides)
        root.addWidget(self._flatten)
        root.addWidget(self._status)

    def _connect(self) -> None:
        self._picker.sig_family_chosen.connect(self._on_picker_family_chosen)
        self._picker.sig_contract_changed.connect(self._on_picker_contract_changed)
        self._quote_line.sig_price_picked.connect(self._on_quote_line_price_picked)
        self._form.sig_edited.connect(self._on_form_edited)
        self._buy.clicked.connect(self.buy)
        self._sell.clicked.connect(self.sell)
        self._flatten.clicked.connect(self.flatten)
        bridge = self._ctx.bridge
        bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)
        bridge.sig_portfolio_changed.connect(self._on_bridge_state_changed)
        bridge.sig_order_changed.connect(self._on_bridge_state_changed)
        bridge.sig_synced.connect(self._on_bridge_state_changed)
        bridge.sig_ended.connect(self._on_bridge_ended)

    # ------------------------------------------------------------------------ public
    @property
    def is_populated(self) -> bool:
        """True once a contract is chosen and its quote is on screen."""
        return self._contract is not None and self._quote_line.priced

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
        return self._findings.sentences

    @property
    def status_text(self) -> str:
        """What happened to the last order (sent, blocked, declined, not sent and why)."""
        return self._status.text()

    def field_error(self, field: str) -> str:
        """The message shown next to a field ("quantity", "limit_price", ...), "" if none."""
        return self._form.error(field)

    def load(self, fields: EntryFields, note: str) -> None:
        """Load another entry point's order (a signal under review): its contract, quantity, type
        and limit price; ``note`` says where it came from. Nothing is sent: the trader reviews
        it and clicks Buy or Sell."""
        if self._busy():
            return
        contract = fields.contract
        if contract is not None and contract != self._contract:
            self._picker.show_family(contract.symbol, keep=contract)
        self._form.load(fields)
        self._say(note, Tone.WARN)

    def load_option(self, option: ListedContract, price: Decimal) -> None:
        """Load ``option`` (a click in the options chain) as a limit order at ``price``."""
        self._picker.show_option(option)
        self._form.set_tick(option.tick_at(price))
        self._form.use_limit(price)
        self._say(
            f"{option.local_symbol} loaded at {price_text(price, option)} (limit): "
            "choose Buy or Sell.",
            Tone.NEUTRAL,
        )

    @Slot()
    def recheck(self) -> None:
        """Show the findings again at once (the risk limits changed)."""
        self._schedule_preview(0, restart=True)

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
    @Slot(str)
    def _on_picker_family_chosen(self, symbol: str) -> None:
        self._form.clear_prices()

    @Slot(object)
    def _on_picker_contract_changed(self, contract: ListedContract | None) -> None:
        market = self._broker.market
        if self._subscribed is not None:
            market.unsubscribe(self._subscribed)
        self._subscribed = None
        self._contract = contract
        if contract is not None:
            market.subscribe(contract)
            self._subscribed = contract.con_id
            self._form.set_tick(contract.min_tick)
            self._click_error = None
        self._flatten.setText(f"Flatten {contract.local_symbol}" if contract else "Flatten")
        self._quote_line.follow(contract, market.quote(contract.con_id) if contract else None)
        self._holdings.follow(contract)
        self._refresh()
        self._schedule_preview(0, restart=True)
        if contract is not None:
            self.sig_contract_changed.emit(contract)

    # ----------------------------------------------------------------- broker events
    @Slot(object)
    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        con_id = self._subscribed
        for quote in quotes:
            if quote.con_id == con_id:
                self._quote_line.set_quote(quote)
                self._refresh_timer.request()
                return

    @Slot(object)
    def _on_bridge_state_changed(self, payload: object) -> None:
        self._holdings_stale = True
        self._refresh_timer.request()

    @Slot(str)
    def _on_bridge_ended(self, reason: str) -> None:
        self._holdings_stale = True
        self._refresh_timer.request()

    def _schedule_preview(self, delay_ms: int, *, restart: bool) -> None:
        if restart or not self._preview_timer.isActive():
            self._preview_timer.start(delay_ms)

    @Slot()
    def _refresh(self) -> None:
        """Show what the quotes and the broker's events of the last burst changed: the holdings
        (position, working orders, family) only after a broker event, as quotes leave them be."""
        self._quote_line.repaint_quote()
        if self._holdings_stale:
            self._holdings_stale = False
            self._holdings.repaint_holdings()
        self._paint_outcome()
        self._schedule_preview(EVENT_PREVIEW_MS, restart=False)

    # -------------------------------------------------------------------- painting
    def _say(self, text: str, tone: Tone) -> None:
        self._status.setText(text)
        style = tone_style(tone)
        if self._status.styleSheet() != style:  # setting one, even the same, re-polishes
            self._status.setStyleSheet(style)

    def _paint_outcome(self) -> None:
        """The position after either side fills and the notional, formatted again only when the
        fields, the position or the notional's price changed (a limit order's is its own, not
        the market's)."""
        contract = self._contract
        if contract is None:
            self._outcome_shown = None
            self._result.setText("—")
            self._notional.setText("—")
            return
        fields = self._form.fields(contract)
        position = self._entry.position(contract)
        shown = (fields, position, notional_price(fields, self._entry.reference_price(contract)))
        if shown == self._outcome_shown:
            return
        self._outcome_shown = shown
        quantity = whole_quantity(fields.quantity)
        if position is None:
            self._result.setText("Unknown: the current position is not synced")
        elif quantity is None:
            self._result.setText("Enter a whole number of contracts")
        else:
            after_buy, after_sell = positions_after(position, quantity)
            self._result.setText(
                f"Buy → {position_words(after_buy)}   ·   Sell → {position_words(after_sell)}"
            )
        price = shown[2]
        if price is None or quantity is None:
            self._notional.setText("No price yet" if price is None else "—")
            return
        # An option's notional is the premium paid or received.
        premium = " premium" if contract.is_option else ""
        self._notional.setText(
            f"≈ {money_text(notional(contract, price, quantity))} {contract.currency}{premium}  "
            f"({quantity_text(quantity)} × {quantity_text(contract.multiplier)} × "
            f"{price_text(price, contract)})"
        )

    def _reference_price(self) -> Decimal | None:
        contract = self._contract
        return self._entry.reference_price(contract) if contract is not None else None

    # ---------------------------------------------------------------------- editing
    @Slot()
    def _on_form_edited(self) -> None:
        self._click_error = None
        self._paint_outcome()
        self._schedule_preview(EDIT_PREVIEW_MS, restart=True)

    @Slot(object)
    def _on_quote_line_price_picked(self, price: Decimal) -> None:
        self._form.use_price(price)

    @Slot()
    def _preview(self) -> None:
        """Validate both sides and show every finding the broker's checks would raise now."""
        if self._contract is None:
            self._show_field_errors({})
            self._findings.show_reports({})
            return
        preview = self._entry.preview(self._form.fields(self._contract))
        self._show_field_errors(preview.errors)
        self._findings.show_reports(preview.reports)
        self._label_buttons(preview.outcomes)
        self._margin.follow(preview.intents)

    def _show_field_errors(self, shared: Mapping[str, str]) -> None:
        messages = dict(shared)
        clicked = self._click_error
        if clicked is not None:
            messages[clicked.field] = clicked.message
        other = self._form.show_errors(messages)
        if other:
            self._say(" ".join(other), Tone.BAD)

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
        outcome = self._entry.place(side, self._form.fields(self._contract))
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
        self._say("Waiting for your confirmation…", Tone.WARN)
        self._confirmation = open_confirmation(asked, self, partial(self._on_decided, asked))

    def _on_decided(self, asked: NeedsConfirmation, confirmed: bool) -> None:
        self._confirmation = None
        if confirmed:
            self._show(self._entry.confirm(asked))
        else:
            self._say(self._entry.decline(asked), Tone.NEUTRAL)
