"""The roll confirmation: both legs, quantities, the live calendar spread, the working orders that
leave the old month and the reopen choice; then the roll's progress. Also the partial-roll alert,
which offers the one-click retry of a failed open leg.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.mapping import ACTIVE_STATUSES
from ibconsole.broker.order_values import OrderRefused, OrderRow, RollFailure
from ibconsole.domain.calendar_spread import CalendarSpread, spread_for_roll
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import price_text, quantity_text
from ibconsole.domain.orders import Side, WorkingOrder
from ibconsole.domain.quotes import Quote
from ibconsole.domain.rollover import OrderAction, RollLeg, RollPlan, plan_roll
from ibconsole.journal import JournalOrder, OrderState
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import contract_name, exchange_time
from ibconsole.ui.spread_roll_panel import SpreadRollPanel
from ibconsole.ui.theme import Tone, tone_color, tone_style

log = logging.getLogger(__name__)

_QUOTES_MS = 250  # the spread repaints at most four times a second, whatever the tick rate


class Step(StrEnum):
    WAITING = "waiting"
    SENT = "sent"
    FILLED = "filled"
    FAILED = "failed"


_STEP_MARKS = {
    Step.WAITING: ("○", Tone.NEUTRAL),
    Step.SENT: ("…", Tone.WARN),
    Step.FILLED: ("✓", Tone.GOOD),
    Step.FAILED: ("✗", Tone.BAD),
}


def leg_text(leg: RollLeg) -> str:
    """ "SELL 1 ESH5" """
    return f"{leg.side.value} {quantity_text(leg.quantity)} {contract_name(leg.contract)}"


def _order_text(order: WorkingOrder, contract: ListedContract) -> str:
    prices = []
    if order.limit_price is not None:
        prices.append(f"limit {price_text(order.limit_price, contract)}")
    if order.stop_price is not None:
        prices.append(f"stop {price_text(order.stop_price, contract)}")
    priced = f" ({', '.join(prices)})" if prices else ""
    return (
        f"#{order.order_id} {order.side.value} {quantity_text(order.remaining)} "
        f"{order.order_type.value}{priced}"
    )


class RollFailureAlert(QFrame):
    """A critical, persistent banner for a roll whose close leg filled but open leg did not.

    Signals:
        sig_retry_requested(RollFailure)   the trader clicked "Retry open leg"
    """

    sig_retry_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rollFailureAlert")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#rollFailureAlert { background: #b3261e; border-radius: 4px; }"
            "#rollFailureAlert QLabel { color: white; font-weight: 600; }"
        )
        self._failure: RollFailure | None = None
        self._text = QLabel(self)
        self._text.setObjectName("rollFailureText")
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._retry = QPushButton("Retry open leg", self)
        self._retry.setObjectName("retryOpenButton")
        self._retry.clicked.connect(self._on_retry_clicked)
        self._dismiss = QPushButton("Dismiss", self)
        self._dismiss.setObjectName("dismissRollAlertButton")
        self._dismiss.setToolTip("Hide this alert (for example after entering the leg by hand)")
        self._dismiss.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._retry)
        layout.addWidget(self._dismiss)
        self.hide()

    @property
    def failure(self) -> RollFailure | None:
        return self._failure

    @property
    def text(self) -> str:
        return self._text.text()

    def show_failure(self, failure: RollFailure, detail: str = "") -> None:
        """Show ``failure``; ``detail`` is what IB said about the failed leg, if anything."""
        self._failure = failure
        said = f"\nIB said: {detail}" if detail else ""
        self._text.setText(f"⚠ {failure.sentence}{said}")
        self._retry.setEnabled(failure.plan.open is not None)
        self._retry.setText("Retry open leg")
        self.show()

    def show_retrying(self) -> None:
        self._retry.setEnabled(False)
        self._retry.setText("Retrying…")

    def show_error(self, text: str) -> None:
        self._text.setText(f"⚠ {text}")
        self._retry.setEnabled(self._failure is not None)
        self._retry.setText("Retry open leg")
        self.show()

    @Slot()
    def clear(self) -> None:
        self._failure = None
        self.hide()

    @Slot()
    def _on_retry_clicked(self) -> None:
        if self._failure is not None:
            self.sig_retry_requested.emit(self._failure)


class RollDialog(QDialog):
    """Confirm and follow the roll of one held position into the next month.

    Quotes of both months are subscribed while the dialog is open (for the calendar spread) and
    released when it closes. Confirming runs ``broker.orders.roll(plan)`` in the background.

    Signals:
        sig_retry_requested(RollFailure)   "Retry open leg" clicked on the dialog's alert
        sig_roll_finished(bool)            the roll ended; True when every leg filled
    """

    sig_retry_requested = Signal(object)
    sig_roll_finished = Signal(bool)

    def __init__(
        self,
        ctx: UiContext,
        quantity: Decimal,
        held: ListedContract,
        target: ListedContract,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("rollDialog")
        self.setWindowTitle(f"Roll {contract_name(held)} → {contract_name(target)}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self._ctx = ctx
        self._quantity = quantity
        self._held = held
        self._target = target
        self._working = ctx.broker.orders.working_orders(held.con_id)
        self._plan = self._make_plan(ctx.settings.rollover.reopen_on_roll)
        self._running = False
        self._started = False  # a roll runs at most once per dialog
        self._complete = False
        self._known_keys: frozenset[str] = frozenset()
        self._steps: dict[str, Step] = {}
        self._shown_quotes: tuple[Quote | None, Quote | None] | None = None

        title = QLabel(
            f"Roll {quantity_text(abs(quantity))} {held.symbol} "
            f"{'long' if quantity > 0 else 'short'} from {contract_name(held)} "
            f"into {contract_name(target)}",
            self,
        )
        title.setStyleSheet("font-size: 14pt; font-weight: 600;")

        legs = QGroupBox("Legs", self)
        legs.setObjectName("rollLegs")
        grid = QGridLayout(legs)
        grid.setHorizontalSpacing(16)
        for column, header in enumerate(
            ("Leg", "Order", "Expires (exchange time)", "Bid", "Ask", "Last")
        ):
            label = QLabel(f"<b>{header}</b>", legs)
            if column >= 3:
                label.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(label, 0, column)
        self._leg_labels: dict[str, list[QLabel]] = {}
        for row, name in enumerate(("close", "open"), start=1):
            cells = [QLabel(legs) for _ in range(6)]
            for column, cell in enumerate(cells):
                if column >= 3:
                    cell.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(cell, row, column)
            cells[1].setObjectName(f"roll{name.title()}Leg")
            self._leg_labels[name] = cells
        self._spread = QLabel(legs)
        self._spread.setObjectName("rollSpread")
        grid.addWidget(self._spread, 3, 0, 1, 6)

        self._reopen = QCheckBox(f"Reopen the position in {contract_name(target)}", self)
        self._reopen.setObjectName("rollReopen")
        self._reopen.setChecked(self._plan.open is not None)
        self._reopen.toggled.connect(self._on_reopen_toggled)

        # The spread of this roll, quoted while the dialog is open (one market-data line).
        self._calendar: CalendarSpread | None = (
            spread_for_roll(self._plan) if self._plan.open is not None else None
        )
        self._spread_key: str | None = None
        self._spread_panel = SpreadRollPanel(ctx.settings.spread_roll, self)
        self._spread_panel.set_spread(self._calendar)
        self._spread_panel.sig_modify.connect(self._on_spread_modify)
        self._spread_panel.sig_cancel_rest.connect(self._on_spread_cancel)
        self._spread_panel.sig_leg_rest.connect(self._on_spread_leg_rest)

        orders = QGroupBox(f"Working orders on {contract_name(held)}", self)
        self._orders = QLabel(orders)
        self._orders.setObjectName("rollOrders")
        self._orders.setWordWrap(True)
        QVBoxLayout(orders).addWidget(self._orders)

        self._progress = QLabel(self)
        self._progress.setObjectName("rollProgress")
        self._progress.setTextFormat(Qt.TextFormat.RichText)
        self._error = QLabel(self)
        self._error.setObjectName("rollError")
        self._error.setWordWrap(True)
        self._error.setStyleSheet(tone_style(Tone.BAD))
        self._error.hide()
        self._blocked = QLabel(self)
        self._blocked.setObjectName("rollBlocked")
        self._blocked.setWordWrap(True)
        self._blocked.setStyleSheet(tone_style(Tone.WARN))
        self._blocked.hide()
        self._alert = RollFailureAlert(self)
        self._alert.sig_retry_requested.connect(self.sig_retry_requested)

        self._buttons = QDialogButtonBox(self)
        self._confirm = self._buttons.addButton("Roll", QDialogButtonBox.ButtonRole.AcceptRole)
        self._confirm.setObjectName("rollConfirmButton")
        self._confirm.setDefault(False)
        self._confirm.setAutoDefault(False)
        self._cancel = self._buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self._cancel.setObjectName("rollCancelButton")
        self._confirm.clicked.connect(self._on_confirm_clicked)
        self._cancel.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(legs)
        layout.addWidget(self._reopen)
        layout.addWidget(self._spread_panel)
        layout.addWidget(orders)
        layout.addWidget(self._progress)
        layout.addWidget(self._blocked)
        layout.addWidget(self._error)
        layout.addWidget(self._alert)
        layout.addWidget(self._buttons)

        market = ctx.broker.market
        market.subscribe(held)
        market.subscribe(target)
        if self._calendar is not None:
            ctx.broker.spread_quotes.subscribe(self._calendar)
        self._subscribed = True
        self._quote_timer = QTimer(self)
        self._quote_timer.setInterval(_QUOTES_MS)
        self._quote_timer.timeout.connect(self._on_quote_timer)
        self._quote_timer.start()
        ctx.bridge.sig_order_changed.connect(self._on_bridge_order_changed)
        self._show_plan()
        self._on_quote_timer()
        self.setMinimumWidth(720)
        self.adjustSize()

    # ------------------------------------------------------------------ public
    @property
    def plan(self) -> RollPlan:
        return self._plan

    @property
    def running(self) -> bool:
        return self._running

    @property
    def steps(self) -> dict[str, Step]:
        return dict(self._steps)

    @property
    def spread_panel(self) -> SpreadRollPanel:
        return self._spread_panel

    @property
    def failure_alert(self) -> RollFailureAlert:
        return self._alert

    def show_failure(self, failure: RollFailure, detail: str = "") -> None:
        if failure.plan.close.contract.con_id != self._held.con_id:
            return
        if "open" in self._steps:
            self._steps["open"] = Step.FAILED
            self._show_progress()
        self._alert.show_failure(failure, detail)
        self.adjustSize()

    def show_retrying(self) -> None:
        self._alert.show_retrying()
        self._known_keys = frozenset(row.key for row in self._ctx.broker.orders.rows())
        self._steps["open"] = Step.WAITING
        self._show_progress()

    def show_retry_filled(self) -> None:
        self._alert.clear()
        self._steps["open"] = Step.FILLED
        self._show_progress()
        self._finish(True)

    def done(self, result: int) -> None:
        # Market orders need live quotes of both months: a running roll keeps them until it ends.
        if self._running:
            self.sig_roll_finished.connect(self._release)
        else:
            self._release()
        super().done(result)

    # ----------------------------------------------------------------- plan
    def _make_plan(self, reopen: bool) -> RollPlan:
        settings = dataclasses.replace(self._ctx.settings.rollover, reopen_on_roll=reopen)
        return plan_roll(self._quantity, self._held, self._target, self._working, settings)

    @Slot(bool)
    def _on_reopen_toggled(self, checked: bool) -> None:
        self._plan = self._make_plan(checked)
        self._spread_panel.set_spread(self._calendar if checked else None)
        self._show_plan()
        self._shown_quotes = None
        self._on_quote_timer()

    def _show_plan(self) -> None:
        plan = self._plan
        close = self._leg_labels["close"]
        close[0].setText("1. Close")
        close[1].setText(leg_text(plan.close))
        close[2].setText(exchange_time(plan.close.contract.last_trade, plan.close.contract))
        opening = self._leg_labels["open"]
        opening[0].setText("2. Open")
        if plan.open is None:
            opening[1].setText(f"— not reopened in {contract_name(self._target)}")
            opening[2].setText("")
        else:
            opening[1].setText(leg_text(plan.open))
            opening[2].setText(exchange_time(plan.open.contract.last_trade, plan.open.contract))
        if not plan.orders:
            self._orders.setText("None: no working order has to leave the old month.")
        else:
            lines = []
            for old in plan.orders:
                order = _order_text(old.order, self._held)
                if old.action is OrderAction.MOVE:
                    lines.append(
                        f"{order}: moved to {contract_name(self._target)} once it is "
                        "open, its prices shifted by the calendar spread the roll fills at"
                    )
                else:
                    lines.append(f"{order}: cancelled with the roll")
            self._orders.setText("\n".join(lines))
        self._confirm.setText(
            f"Roll {contract_name(self._held)} → {contract_name(self._target)}"
            if plan.open is not None
            else f"Close {contract_name(self._held)}"
        )
        self._steps = {"close": Step.WAITING}
        if plan.open is not None:
            self._steps["open"] = Step.WAITING
        self._show_progress()

    # ---------------------------------------------------------------- quotes
    def _show_quotes(self) -> None:
        market = self._ctx.broker.market
        quotes = (market.quote(self._held.con_id), market.quote(self._target.con_id))
        if quotes == self._shown_quotes:
            return
        self._shown_quotes = quotes
        old, new = quotes
        for name, quote, contract in (
            ("close", old, self._held),
            ("open", new, self._target),
        ):
            cells = self._leg_labels[name]
            cells[3].setText(price_text(quote.bid if quote else None, contract))
            cells[4].setText(price_text(quote.ask if quote else None, contract))
            cells[5].setText(price_text(quote.last if quote else None, contract))
        self._spread.setText(self._spread_text(old, new))

    @Slot()
    def _on_quote_timer(self) -> None:
        self._show_quotes()
        if self._calendar is not None:
            old, new = self._shown_quotes or (None, None)
            own = self._ctx.broker.spread_quotes.quote(self._calendar)
            self._spread_panel.show_quotes(own, old, new)
        self._update_confirm()

    def _update_confirm(self) -> None:
        """Roll only with both months quoted (market orders need it) and orders allowed."""
        old, new = self._shown_quotes or (None, None)
        quoted = old is not None and (self._plan.open is None or new is not None)
        block = self._ctx.broker.orders.entry_block()
        self._confirm.setEnabled(quoted and not block and not self._started)
        self._confirm.setToolTip(block or ("" if quoted else "Waiting for quotes of both months"))
        if not self._started:
            self._blocked.setText(block)
            self._blocked.setVisible(bool(block))

    def _spread_text(self, old: Quote | None, new: Quote | None) -> str:
        name = f"Calendar spread {contract_name(self._target)} − {contract_name(self._held)}"
        if old is None or new is None:
            return f"{name}: waiting for quotes of both months…"

        def diff(a: Decimal | None, b: Decimal | None) -> str:
            if a is None or b is None:
                return "—"
            return price_text(a - b, self._held, signed=True)

        parts = [
            f"bid {diff(new.bid, old.ask)}",
            f"ask {diff(new.ask, old.bid)}",
            f"last {diff(new.last, old.last)}",
        ]
        kinds = {q.data_type.label for q in (old, new)}
        data = f" ({' / '.join(sorted(kinds))} data)" if kinds != {"live"} else ""
        return f"{name}: {'   '.join(parts)}{data}"

    @Slot()
    def _release(self) -> None:
        if not self._subscribed:
            return
        self._subscribed = False
        self._quote_timer.stop()
        market = self._ctx.broker.market
        for contract in (self._held, self._target):
            try:
                market.unsubscribe(contract.con_id)
            except KeyError:
                log.info("quote subscription of %s was already gone", contract_name(contract))
        if self._calendar is not None:
            self._ctx.broker.spread_quotes.unsubscribe(self._calendar)

    # ------------------------------------------------------------------- roll
    @Slot()
    def _on_confirm_clicked(self) -> None:
        if self._running or self._started:
            return
        self._running = True
        self._started = True
        self._blocked.hide()
        self._reopen.setEnabled(False)
        self._confirm.setEnabled(False)
        self._cancel.setText("Close")
        self._error.hide()
        self._known_keys = frozenset(row.key for row in self._ctx.broker.orders.rows())
        plan = self._plan
        if self._spread_panel.as_spread:
            self._start_spread(plan)
            return
        self._ctx.runner.start(
            self._ctx.broker.orders.roll(plan),
            name=f"roll {contract_name(plan.close.contract)}",
            done=lambda _: self._on_roll_done(),
            failed=self._on_roll_failed,
        )

    # ------------------------------------------------------------ spread roll
    def _start_spread(self, plan: RollPlan) -> None:
        kind, price = self._spread_panel.terms()
        if price is None and kind.needs_limit:
            self._on_roll_failed(OrderRefused("Enter the spread price of the limit order."))
            return
        self._spread_panel.lock()
        self._ctx.runner.start(
            self._ctx.broker.orders.roll_spread(plan, kind, price),
            name=f"spread roll {contract_name(plan.close.contract)}",
            done=self._on_spread_answer,
            failed=self._on_roll_failed,
        )

    def _on_spread_answer(self, order: JournalOrder) -> None:
        """The spread order ended, or is still working after the fill timeout."""
        self._spread_key = order.key
        self._running = False
        self._show_spread(order)

    def _show_spread(self, order: JournalOrder) -> None:
        self._spread_panel.show_order(order)
        if not order.is_final:
            for name in self._steps:
                self._steps[name] = Step.SENT
            self._show_progress()
            return
        if order.state is OrderState.FILLED:
            self._on_roll_done()
            return
        self._error.setText(self._spread_panel.status_text)
        self._error.show()
        self._finish(False)

    @Slot()
    def _on_spread_modify(self) -> None:
        self._spread_action(
            lambda order_id: self._ctx.broker.orders.modify(
                order_id, limit_price=self._spread_panel.price(), confirmed=True
            )
        )

    @Slot()
    def _on_spread_cancel(self) -> None:
        self._spread_action(self._ctx.broker.orders.cancel)

    def _spread_action(self, act: Callable[[int], None]) -> None:
        order = self._ctx.broker.journal.order(self._spread_key or "")
        order_id = order.lifecycle.order_id if order is not None else None
        try:
            if order_id is None:
                raise OrderRefused("The spread order has not reached IB yet.")
            act(order_id)
        except OrderRefused as refused:
            self._error.setText(refused.reason)
            self._error.show()
        else:
            self._error.hide()

    @Slot()
    def _on_spread_leg_rest(self) -> None:
        key = self._spread_key
        if key is None or self._running:
            return
        self._running = True
        self._error.hide()
        self._ctx.runner.start(
            self._ctx.broker.orders.leg_rest(key),
            name=f"legging the rest of {key}",
            done=lambda _: self._on_roll_done(),
            failed=self._on_roll_failed,
        )

    def _on_roll_done(self) -> None:
        for name in self._steps:
            self._steps[name] = Step.FILLED
        self._show_progress()
        self._finish(True)

    def _on_roll_failed(self, error: BaseException) -> None:
        if not isinstance(error, OrderRefused):
            log.error("the roll of %s failed", contract_name(self._held), exc_info=error)
        if self._steps.get("close") is not Step.FILLED:
            self._steps["close"] = Step.FAILED
        elif "open" in self._steps:
            self._steps["open"] = Step.FAILED
        self._show_progress()
        # After a failed open leg the alert carries the sentence and the retry.
        if self._alert.isHidden():
            self._error.setText(str(error))
            self._error.show()
            self.adjustSize()
        self._finish(False)

    def _finish(self, complete: bool) -> None:
        self._running = False
        self._complete = complete
        self._cancel.setText("Close")
        self._show_progress()
        self.sig_roll_finished.emit(complete)

    @Slot(object)
    def _on_bridge_order_changed(self, row: OrderRow) -> None:
        if row.key and row.key == self._spread_key:
            order = self._ctx.broker.journal.order(row.key)
            if order is not None and self._running:  # legging the rest: the spread is history
                self._spread_panel.show_order(order)
            elif order is not None and not self._complete:
                self._show_spread(order)
            return
        if not self._running and self._alert.failure is None:
            return
        if row.key in self._known_keys or not row.ours:
            return
        legs = {"close": self._plan.close, "open": self._plan.open}
        for name, leg in legs.items():
            if leg is None or row.con_id != leg.contract.con_id or row.side is not leg.side:
                continue
            if row.status == "Filled":
                self._steps[name] = Step.FILLED
            elif row.status in ACTIVE_STATUSES:
                self._steps[name] = Step.SENT
            else:
                self._steps[name] = Step.FAILED
            self._show_progress()

    def _show_progress(self) -> None:
        lines = []
        names = {"close": self._plan.close, "open": self._plan.open}
        for name, step in self._steps.items():
            leg = names[name]
            if leg is None:
                continue
            mark, tone = _STEP_MARKS[step]
            color = tone_color(tone).name()
            verb = "Close" if name == "close" else "Open"
            lines.append(
                f"<span style='color:{color}; font-weight:600'>{mark} {verb} "
                f"{leg_text(leg)}: {step.value}</span>"
            )
        if self._complete:
            held = self._plan.open or self._plan.close
            result = (
                f"now {'long' if held.side is Side.BUY else 'short'} "
                f"{quantity_text(held.quantity)} {contract_name(held.contract)}"
                if self._plan.open is not None
                else f"{contract_name(held.contract)} closed"
            )
            lines.append(f"<b>Roll complete: {result}.</b>")
        self._progress.setText("<br>".join(lines))
