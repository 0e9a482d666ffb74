"""Fuzzed order ticket: hypothesis fills the real OrderTicket's fields (set, typed key by key, or
pasted) with quantities, prices, type and TIF combinations, brackets and text of every kind
(negative, NaN, huge, off the tick, commas, unicode digits, letters), then clicks Buy or Sell and
answers any confirmation, against the paper gateway over TCP.

What must hold for every example: no exception escapes a slot or reaches the loop; invalid
fields are refused with a reason next to a field and nothing journalled or sent; valid fields
are never refused as invalid; whatever reaches the gateway (``gw.orders``) is exactly what the
fields say, was journalled first, and was confirmed whenever the ticket asked; blocked and
declined orders reach the journal and never the gateway.

The examples run from a worker thread; each one is carried out on the console's qasync loop,
which owns the widgets, the broker and the gateway, as in the console.
``IBCONSOLE_FUZZ_EXAMPLES=N`` runs N examples instead of the quick default.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import asyncio
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import qasync
import shiboken6
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QPushButton

from ibconsole.broker.broker import Broker
from ibconsole.broker.gateway_supervisor import GatewaySupervisor
from ibconsole.broker.session import Endpoint
from ibconsole.config import Settings
from ibconsole.credentials import CredentialStore, SignalSecretStore
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.health import BackoffPolicy, HealthSettings
from ibconsole.journal import Journal, OrderState
from ibconsole.sim import PaperGateway
from ibconsole.ui.background import BackgroundRunner
from ibconsole.ui.bridge import BrokerBridge
from ibconsole.ui.context import UiContext, signal_inbox
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.order_ticket import EDIT_PREVIEW_MS, OrderTicket


def _examples(default: int) -> int:
    return int(os.environ.get("IBCONSOLE_FUZZ_EXAMPLES") or default)


AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
TICK = Decimal("0.25")
STEP_TIMEOUT = 5.0
EXAMPLE_TIMEOUT = 60.0

FIELDS = ("quantity", "limit_price", "stop_price", "take_profit", "stop_loss")
OBJECT_NAMES = {
    "quantity": "ticketQuantity",
    "limit_price": "ticketLimitPrice",
    "stop_price": "ticketStopPrice",
    "take_profit": "ticketTakeProfit",
    "stop_loss": "ticketStopLoss",
}
NEEDS_LIMIT = {"LMT", "STP LMT"}
NEEDS_STOP = {"STP", "STP LMT"}


# --- what the trader does -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One field's input: ``text``, or a price ``ticks`` from the bid (``off`` the grid by 0.1,
    ``commas`` for thousands separators), entered by ``how``: set, typed or pasted."""

    how: str
    text: str | None = None
    ticks: int = 0
    off: bool = False
    commas: bool = False

    def render(self, bid: Decimal) -> str:
        if self.text is not None:
            return self.text
        price = bid + self.ticks * TICK + (Decimal("0.1") if self.off else 0)
        return f"{price:,.2f}" if self.commas else f"{price:.2f}"


@dataclass(frozen=True)
class Order:
    side: str
    order_type: str
    tif: str
    bracket: bool
    entries: dict[str, Entry]
    decisions: tuple[bool, ...]  # the answer to each confirmation the ticket asks, in turn
    enter_first: bool  # press Enter in every field before clicking (must never send)


_QUANTITY_TEXT = (
    "1",
    "2",
    "3",
    "5",
    "10",
    "11",
    "50",
    "0",
    "-1",
    "-2",
    "1.5",
    "1.0",
    "01",
    " 2 ",
    "2,0",
    "1,000",
    "1e1",
    "1e30",
    "1e-30",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "sNaN",
    "١",
    "٢",
    "５",
    "1_0",
    "",
    " ",
    "abc",
    "1 2",
    "0x1",
    "+1",
    "−1",
    "9" * 40,
    "1e999999",
    "1.",
    ".5",
    "\u00a01",
    "1\u2003",
)
_PRICE_TEXT = (
    "",
    " ",
    "0",
    "-0",
    "-5",
    "0.25",
    "nan",
    "inf",
    "-inf",
    "1e30",
    "1e-30",
    "5e3",
    "5.7e3",
    "9" * 40,
    "abc",
    "５７００",
    "١٢٣",
    "1,000,000.00",
    "5712.125",
    "1e999999",
    "-1e999999",
    ".",
    "-",
    ",",
    "5..25",
    "0x10",
)
hows = st.sampled_from(["set", "set", "type", "paste"])
quantity_entries = st.one_of(
    st.builds(Entry, hows, text=st.sampled_from(_QUANTITY_TEXT)),
    st.builds(Entry, hows, text=st.integers(min_value=-3, max_value=12).map(str)),
    st.builds(Entry, hows, text=st.text(max_size=6)),
)
price_entries = st.one_of(
    st.builds(
        Entry,
        hows,
        ticks=st.integers(min_value=-60, max_value=60),
        off=st.booleans(),
        commas=st.booleans(),
    ),
    st.builds(Entry, hows, ticks=st.integers(min_value=-30, max_value=30)),
    st.builds(Entry, hows, text=st.sampled_from(_PRICE_TEXT)),
    st.builds(Entry, hows, text=st.text(max_size=8)),
)
fuzzed_orders = st.builds(
    Order,
    side=st.sampled_from(["BUY", "SELL"]),
    order_type=st.sampled_from(["MKT", "LMT", "LMT", "STP", "STP LMT"]),
    tif=st.sampled_from(["DAY", "GTC", "IOC"]),
    bracket=st.booleans(),
    entries=st.fixed_dictionaries(
        {
            "quantity": quantity_entries,
            "limit_price": price_entries,
            "stop_price": price_entries,
            "take_profit": price_entries,
            "stop_loss": price_entries,
        }
    ),
    decisions=st.lists(st.booleans(), min_size=3, max_size=3).map(tuple),
    enter_first=st.booleans(),
)


@st.composite
def plausible_orders(draw: st.DrawFn) -> Order:
    """Orders a trader could mean: whole quantities (some above the size limit), prices on the
    grid near the market, exits mostly on the right side; so the checks, the confirmations and
    the wire are reached as often as the refusals."""
    side = draw(st.sampled_from(["BUY", "SELL"]))
    sign = 1 if side == "BUY" else -1
    entry = draw(st.integers(min_value=-12, max_value=12))
    exit_ticks = st.integers(min_value=-4, max_value=40)

    def price(ticks: int) -> Entry:
        return Entry(draw(hows), ticks=ticks, commas=draw(st.booleans()))

    entries = {
        "quantity": Entry(draw(hows), text=str(draw(st.integers(min_value=1, max_value=12)))),
        "limit_price": price(entry),
        "stop_price": price(entry + sign * draw(st.integers(min_value=-8, max_value=8))),
        "take_profit": price(entry + sign * draw(exit_ticks)),
        "stop_loss": price(entry - sign * draw(exit_ticks)),
    }
    if draw(st.booleans()):
        entries[draw(st.sampled_from(["take_profit", "stop_loss"]))] = Entry("set", text="")
    return Order(
        side=side,
        order_type=draw(st.sampled_from(["MKT", "LMT", "LMT", "STP", "STP LMT"])),
        tif=draw(st.sampled_from(["DAY", "DAY", "GTC", "IOC"])),
        bracket=draw(st.booleans()),
        entries=entries,
        decisions=tuple(draw(st.lists(st.booleans(), min_size=3, max_size=3))),
        enter_first=draw(st.booleans()),
    )


orders = st.one_of(plausible_orders(), plausible_orders(), fuzzed_orders)


# --- what the fields mean (the oracle) ------------------------------------------------------


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _extreme(value: Decimal) -> bool:
    """Magnitudes or precisions no trader means: the ticket may refuse them as invalid or let
    the checks block them."""
    exponent = value.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) else 0
    return decimals > 8 or value.copy_abs() >= Decimal("1e12")


@dataclass(frozen=True)
class Verdict:
    """``valid``: True (must reach the checks), False (must be refused in place) or None
    (extreme numbers: either); the parsed values of the fields the order uses."""

    valid: bool | None
    why: str
    quantity: Decimal | None = None
    limit: Decimal | None = None
    stop: Decimal | None = None
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None


def judge(order: Order, texts: dict[str, str], reference: Decimal | None) -> Verdict:
    """Whether the fields as they read describe an order, by the ticket's documented rules."""
    quantity = _number(texts["quantity"])
    if quantity is None or quantity <= 0 or quantity != quantity.to_integral_value():
        return Verdict(False, f"quantity {texts['quantity']!r}")
    prices: dict[str, Decimal | None] = {}
    used = {
        "limit_price": order.order_type in NEEDS_LIMIT,
        "stop_price": order.order_type in NEEDS_STOP,
        "take_profit": order.bracket,
        "stop_loss": order.bracket,
    }
    for name, needed in used.items():
        text = texts[name]
        if not needed or (not text.strip() and name in ("take_profit", "stop_loss")):
            prices[name] = None
            continue
        value = _number(text)
        if value is None:
            return Verdict(False, f"{name} {text!r}")
        if (value / TICK) != (value / TICK).to_integral_value():
            return Verdict(False, f"{name} {text!r} off the tick")
        prices[name] = value
    take_profit, stop_loss = prices["take_profit"], prices["stop_loss"]
    if order.bracket and take_profit is None and stop_loss is None:
        return Verdict(False, "a bracket without exits")
    entry: Decimal | None
    if prices["limit_price"] is not None:
        entry = prices["limit_price"]
    elif prices["stop_price"] is not None:
        entry = prices["stop_price"]
    else:
        entry = reference
    buy = order.side == "BUY"

    def beyond(a: Decimal, b: Decimal) -> bool:
        return a > b if buy else a < b

    if entry is not None:
        if take_profit is not None and not beyond(take_profit, entry):
            return Verdict(False, "take-profit on the wrong side")
        if stop_loss is not None and not beyond(entry, stop_loss):
            return Verdict(False, "stop-loss on the wrong side")
    elif take_profit is not None and stop_loss is not None and not beyond(take_profit, stop_loss):
        return Verdict(False, "take-profit on the wrong side of the stop-loss")
    numbers = [quantity, *(v for v in prices.values() if v is not None)]
    valid = None if any(_extreme(v) for v in numbers) else True
    return Verdict(
        valid,
        "valid",
        quantity,
        prices["limit_price"],
        prices["stop_price"],
        take_profit,
        stop_loss,
    )


# --- carrying an example out on the loop ------------------------------------------------------


@dataclass
class Outcome:
    texts: dict[str, str]
    verdict: Verdict
    status: str
    field_errors: dict[str, str]
    asked: int  # confirmations the ticket asked for
    answered: list[bool]
    journalled: list[tuple[str, OrderState]]  # new journal rows: (key, state)
    sent: list[Any]  # the OrderRequests the gateway received for them
    unexpected_sent: int  # gateway orders of this example that match no new journal row
    crashes: list[str]


class Rig:
    """The gateway, a connected broker and the ticket, all on one qasync loop."""

    def __init__(self, loop: qasync.QEventLoop, tmp_path: Path) -> None:
        self.loop = loop
        self.tmp_path = tmp_path
        self.crashes: list[str] = []
        self.gateway = PaperGateway(seed=7, as_of=AS_OF, tick_rate=0.5)
        self.ticket: OrderTicket | None = None
        self.ctx: UiContext | None = None

    # ---- set-up and tear-down (on the loop) ----
    async def start(self) -> None:
        await self.gateway.start("127.0.0.1", 0)
        clock = OffsetClock(AS_OF)
        health = HealthSettings(
            heartbeat_interval=timedelta(seconds=1),
            backoff=BackoffPolicy(min_delay=timedelta(seconds=0.2), max_delay=timedelta(seconds=1)),
        )
        settings = Settings(health=health)
        journal = Journal(self.tmp_path / "journal.sqlite3", clock)
        broker = Broker(
            Endpoint("127.0.0.1", self.gateway.port, 1),
            journal,
            clock,
            health=settings.health,
            limits=settings.risk,
        )
        self.ctx = UiContext(
            broker=broker,
            bridge=BrokerBridge(broker),
            runner=BackgroundRunner(),
            settings=settings,
            clock=clock,
            credentials=CredentialStore(),
            gateways=GatewaySupervisor(CredentialStore()),
            profile_name=settings.default_profile,
            inbox=signal_inbox(broker, settings, clock),
            signal_secret=SignalSecretStore(),
        )
        await broker.start()
        ticket = OrderTicket(self.ctx)
        ticket.resize(400, 760)
        ticket.show()
        self.ticket = ticket
        await self.until(lambda: ticket.contract is not None, "the ticket's contract")
        contract = ticket.contract
        assert contract is not None
        await self.until(lambda: self.bid() is not None, "a quote")

    async def stop(self) -> None:
        if self.ticket is not None and shiboken6.isValid(self.ticket):
            self.ticket.close()
            shiboken6.delete(self.ticket)
        if self.ctx is not None:
            await self.ctx.runner.cancel_all()
            self.ctx.bridge.detach()
            await self.ctx.inbox.close()
            await self.ctx.broker.stop()
            self.ctx.broker.journal.close()
        await self.gateway.stop()

    # ---- helpers ----
    async def until(self, predicate: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.005)

    @property
    def broker(self) -> Broker:
        assert self.ctx is not None
        return self.ctx.broker

    def widget(self, kind: type[Any], name: str) -> Any:
        assert self.ticket is not None
        found = self.ticket.findChild(kind, name)
        assert found is not None, name
        return found

    def bid(self) -> Decimal | None:
        assert self.ticket is not None
        contract = self.ticket.contract
        quote = None if contract is None else self.broker.market.quote(contract.con_id)
        return None if quote is None else quote.bid

    def reference(self) -> Decimal | None:
        assert self.ticket is not None
        contract = self.ticket.contract
        quote = None if contract is None else self.broker.market.quote(contract.con_id)
        return None if quote is None else quote.last_good_price()

    def previewed(self) -> bool:
        """The ticket has checked the fields as they are now: its preview timer is idle, or only
        the slower one that follows market events is pending (it checks the same fields)."""
        assert self.ticket is not None
        timers = [t for t in self.ticket.findChildren(QTimer) if t.isSingleShot()]
        return all(not t.isActive() or t.remainingTime() > EDIT_PREVIEW_MS for t in timers)

    def excepthook(
        self, kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        where = traceback.extract_tb(trace)[-3:] if trace is not None else []
        path = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(where))
        self.crashes.append(f"{kind.__name__}: {error} at {path}")

    def loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.crashes.append(f"loop: {context.get('message')} {context.get('exception')!r}")

    # ---- one example ----
    def enter(self, spin: DecimalSpinBox, entry: Entry, text: str) -> None:
        line = spin.lineEdit()
        if entry.how == "set":
            spin.set_text(text)
        elif entry.how == "type":
            spin.clear()
            line.setFocus()
            for char in text:
                # QTest.keyClicks aborts on characters beyond Latin-1: send the key events.
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    event = QKeyEvent(
                        kind, Qt.Key.Key_unknown, Qt.KeyboardModifier.NoModifier, char
                    )
                    QApplication.sendEvent(line, event)
        else:
            QApplication.clipboard().setText(text)
            line.selectAll()
            line.paste()

    async def run(self, order: Order) -> Outcome:
        ticket = self.ticket
        assert ticket is not None
        self.crashes.clear()
        bid = self.bid()
        assert bid is not None
        # Each example starts from empty fields, so what it finds is its own doing.
        for name in FIELDS:
            self.widget(DecimalSpinBox, OBJECT_NAMES[name]).set_text("")
        combo: QComboBox = self.widget(QComboBox, "ticketOrderType")
        combo.setCurrentIndex(combo.findData(order.order_type))
        tif: QComboBox = self.widget(QComboBox, "ticketTif")
        tif.setCurrentIndex(tif.findData(order.tif))
        bracket: QCheckBox = self.widget(QCheckBox, "ticketBracket")
        bracket.setChecked(order.bracket)
        for name in FIELDS:
            spin: DecimalSpinBox = self.widget(DecimalSpinBox, OBJECT_NAMES[name])
            self.enter(spin, order.entries[name], order.entries[name].render(bid))
        texts = {name: self.widget(DecimalSpinBox, OBJECT_NAMES[name]).text() for name in FIELDS}
        journal = self.broker.journal
        before_rows = {o.key for o in journal.orders(limit=None)}
        before_sent = len(self.gateway.orders)
        await self.until(self.previewed, "the ticket's check of the fields")
        if order.enter_first:
            for name in FIELDS:
                QTest.keyClick(self.widget(DecimalSpinBox, OBJECT_NAMES[name]), Qt.Key.Key_Return)
        verdict = judge(order, texts, self.reference())
        button: QPushButton = self.widget(
            QPushButton, "buyButton" if order.side == "BUY" else "sellButton"
        )
        button.click()
        asked, answered = 0, []
        while ticket.confirmation is not None:
            dialog = ticket.confirmation
            decision = order.decisions[min(asked, len(order.decisions) - 1)]
            asked += 1
            answered.append(decision)
            if decision:
                dialog.confirm()
            else:
                dialog.cancel()
            if asked > 5:
                raise AssertionError("the ticket keeps asking")
        status = ticket.status_text
        rows = [o for o in journal.orders(limit=None) if o.key not in before_rows]
        keys = {o.key for o in rows}
        if status.startswith("Sent"):
            await self.until(
                lambda: {r.order_ref for r in self._sent_since(before_sent)} >= keys,
                "every journalled leg at the gateway",
            )
        await self.until(self.previewed, "the ticket's check after the click")
        sent = [r for r in self._sent_since(before_sent) if r.order_ref in keys]
        unexpected = [r for r in self._sent_since(before_sent) if r.order_ref not in keys]
        await self.cancel_everything()
        return Outcome(
            texts=texts,
            verdict=verdict,
            status=status,
            field_errors={name: ticket.field_error(name) for name in FIELDS},
            asked=asked,
            answered=answered,
            journalled=[(o.key, o.state) for o in rows],
            sent=sent,
            unexpected_sent=len(unexpected),
            crashes=list(self.crashes),
        )

    def _sent_since(self, index: int) -> list[Any]:
        return [o.request for o in self.gateway.orders[index:] if not o.is_modify]

    async def cancel_everything(self) -> None:
        """Leave no order working for the next example. A bracket whose entry fills while its
        cancel is on the way keeps its exits working (IB says 10148): they are cancelled next."""
        orders = self.broker.orders
        deadline = time.monotonic() + STEP_TIMEOUT
        while orders.working_orders():
            if time.monotonic() > deadline:
                raise AssertionError(f"orders still working: {orders.working_orders()}")
            if all(w.status != "PendingCancel" for w in orders.working_orders()):
                orders.cancel_all()
            await asyncio.sleep(0.005)


def _wire_matches(order: Order, verdict: Verdict, outcome: Outcome) -> list[str]:
    """What the gateway received against what the fields said; the differences, in words."""
    problems = []
    by_ref = {request.order_ref: request for request in outcome.sent}
    parents = [ref for ref in by_ref if not ref.endswith((".tp", ".sl"))]
    if len(parents) != 1:
        return [f"expected one entry order, got {sorted(by_ref)}"]
    parent = by_ref[parents[0]]
    limit = verdict.limit if order.order_type in NEEDS_LIMIT else None
    stop = verdict.stop if order.order_type in NEEDS_STOP else None
    wanted = (order.side, verdict.quantity, order.order_type, order.tif, limit, stop)
    got = (
        parent.action,
        parent.quantity,
        parent.order_type,
        parent.tif,
        parent.lmt_price if order.order_type in NEEDS_LIMIT else None,
        parent.aux_price if order.order_type in NEEDS_STOP else None,
    )
    if wanted != got:
        problems.append(f"entry {got} instead of {wanted}")
    exit_side = "SELL" if order.side == "BUY" else "BUY"
    legs = {f"{parents[0]}.tp": verdict.take_profit, f"{parents[0]}.sl": verdict.stop_loss}
    for ref, price in legs.items():
        request = by_ref.get(ref)
        if price is None:
            if request is not None:
                problems.append(f"{ref} sent though the field was empty")
            continue
        if request is None:
            problems.append(f"{ref} missing")
            continue
        if ref.endswith(".tp"):
            got_leg = (request.action, request.order_type, request.lmt_price, request.quantity)
            wanted_leg = (exit_side, "LMT", price, verdict.quantity)
        else:
            got_leg = (request.action, request.order_type, request.aux_price, request.quantity)
            wanted_leg = (exit_side, "STP", price, verdict.quantity)
        if got_leg != wanted_leg:
            problems.append(f"{ref} {got_leg} instead of {wanted_leg}")
    return problems


def check(order: Order, outcome: Outcome) -> None:
    """The properties every example must have (run in the hypothesis thread)."""
    verdict, status = outcome.verdict, outcome.status
    context = f"fields {outcome.texts}, verdict {verdict.why}, status {status!r}"
    assert not outcome.crashes, f"{outcome.crashes} ({context})"
    assert not outcome.unexpected_sent, f"an order no journal row explains ({context})"
    if verdict.valid is False:
        assert status.startswith("Not sent:"), f"invalid fields not refused ({context})"
        assert any(outcome.field_errors.values()), f"no reason next to a field ({context})"
    if status.startswith("Not sent:"):
        assert verdict.valid is not True, f"valid fields refused ({context})"
        assert not outcome.journalled, f"a refused order was journalled ({context})"
        assert not outcome.sent, f"a refused order was sent ({context})"
        return
    assert outcome.journalled, f"the order was not journalled ({context})"
    states = {state for _, state in outcome.journalled}
    if status.startswith("Blocked"):
        assert states == {OrderState.BLOCKED}, f"{states} ({context})"
        assert not outcome.sent, f"a blocked order was sent ({context})"
    elif status.startswith("Declined"):
        assert states == {OrderState.DECLINED}, f"{states} ({context})"
        assert not outcome.sent, f"a declined order was sent ({context})"
        assert outcome.answered, context
        assert not outcome.answered[-1], context
    else:
        assert status.startswith("Sent:"), f"unexpected status ({context})"
        assert outcome.sent, f"a sent order never reached the gateway ({context})"
        assert not outcome.answered or outcome.answered[-1], f"sent unconfirmed ({context})"
        assert not _wire_matches(order, verdict, outcome), (
            f"{_wire_matches(order, verdict, outcome)} ({context})"
        )


def _fixed(**entries: Entry) -> dict[str, Entry]:
    base = {
        "quantity": Entry("set", text="1"),
        "limit_price": Entry("set", ticks=-8),
        "stop_price": Entry("set", ticks=8),
        "take_profit": Entry("set", text=""),
        "stop_loss": Entry("set", text=""),
    }
    return {**base, **entries}


def _order(order_type: str = "LMT", bracket: bool = False, **entries: Entry) -> Order:
    return Order("BUY", order_type, "DAY", bracket, _fixed(**entries), (False, False, False), False)


@pytest.mark.expect_log_warnings
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen dialogs
def test_the_ticket_refuses_bad_fields_and_sends_only_what_they_say(
    qapp: QApplication, tmp_path: Path
) -> None:
    # As in the console: closing the ticket must not end the Qt loop under the running test.
    quit_on_close = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    rig = Rig(loop, tmp_path)

    @settings(
        max_examples=_examples(40),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(order=orders)
    # Numbers too large for the exact decimal arithmetic of ticks and notional, typed or set.
    @example(order=_order(quantity=Entry("set", text="1e30")))
    @example(order=_order(limit_price=Entry("set", text="1e30")))
    @example(order=_order(limit_price=Entry("type", text="9" * 40)))
    @example(order=_order(quantity=Entry("set", text="1e999999")))
    @example(order=_order("MKT", True, take_profit=Entry("set", text="1e30")))
    @example(order=_order(quantity=Entry("paste", text="１０")))
    def each(order: Order) -> None:
        future = asyncio.run_coroutine_threadsafe(rig.run(order), loop)
        outcome = future.result(EXAMPLE_TIMEOUT)
        event(outcome.status.split(",")[0].split(":")[0] or "no status")
        check(order, outcome)

    async def scenario() -> None:
        previous_hook = sys.excepthook
        sys.excepthook = rig.excepthook
        loop.set_exception_handler(rig.loop_error)
        try:
            await rig.start()
            await loop.run_in_executor(None, each)
        finally:
            sys.excepthook = previous_hook
            await rig.stop()

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        qapp.setQuitOnLastWindowClosed(quit_on_close)
    assert not rig.crashes, rig.crashes
