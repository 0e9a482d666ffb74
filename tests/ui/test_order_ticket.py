"""The order ticket against the simulator: what the trader sees, what reaches the exchange and
what the journal says, for plain, bracket, blocked, duplicate, invalid and flatten orders."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton, QWidget

from ibconsole.broker.ib_client import Contract
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthState
from ibconsole.journal import OrderState
from ibconsole.sim import PaperGateway
from ibconsole.ui.blotter import OrdersPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.holdings_view import HoldingsView
from ibconsole.ui.months import rollover_view
from ibconsole.ui.order_ticket import OrderTicket
from ibconsole.ui.quote_line import QuoteLine

T = TypeVar("T", bound=QObject)


@pytest.fixture
async def ticket(ui_context: UiContext, qtbot: Any, wait_for: Any) -> OrderTicket:
    widget = OrderTicket(ui_context)
    qtbot.addWidget(widget)
    widget.resize(400, 760)
    widget.show()
    await wait_for(lambda: widget.is_populated, what="the ticket's contract")
    contract = widget.contract
    assert contract is not None
    await wait_for(
        lambda: ui_context.broker.market.quote(contract.con_id) is not None, what="a quote"
    )
    return widget


def child(ticket: OrderTicket, kind: type[T], name: str) -> T:
    found = ticket.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    return found


def _choose(combo: QComboBox, data: str) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def _contract(ticket: OrderTicket) -> ListedContract:
    contract = ticket.contract
    assert contract is not None
    return contract


def _bid(ctx: UiContext, ticket: OrderTicket) -> Decimal:
    quote = ctx.broker.market.quote(_contract(ticket).con_id)
    assert quote is not None
    assert quote.bid is not None
    return quote.bid


def _orders_for(gateway: PaperGateway, key: str) -> list[Any]:
    return [o.request for o in gateway.orders if o.request.order_ref.startswith(key)]


def _limit_order(ticket: OrderTicket, quantity: str, price: Decimal) -> None:
    _choose(child(ticket, QComboBox, "ticketOrderType"), "LMT")
    child(ticket, DecimalSpinBox, "ticketQuantity").set_text(quantity)
    child(ticket, DecimalSpinBox, "ticketLimitPrice").set_value(price)


def _bracket(ticket: OrderTicket, take_profit: Decimal, stop_loss: Decimal | None = None) -> None:
    child(ticket, QCheckBox, "ticketBracket").setChecked(True)
    child(ticket, DecimalSpinBox, "ticketTakeProfit").set_value(take_profit)
    if stop_loss is not None:
        child(ticket, DecimalSpinBox, "ticketStopLoss").set_value(stop_loss)


async def _sent_after_the_loop_ran(ctx: UiContext, gateway: PaperGateway, wait_for: Any) -> int:
    """How many orders reached the simulator, counted once the ticket's background work is done
    and a round trip on the order socket has come back: an order sent before that round trip
    reaches the simulator first, so "nothing was sent" is observed, not assumed."""
    await wait_for(lambda: ctx.runner.pending == 0, what="the ticket's background work")
    # A request with its own id: reqCurrentTime shares one pending slot with the heartbeat's.
    chain = ctx.broker.contracts.cached("ES")
    assert chain is not None
    contract = Contract(conId=chain.contracts[0].con_id)
    await asyncio.wait_for(ctx.broker.session.ib.reqContractDetailsAsync(contract), 5)
    return len(gateway.orders)


def _newest_key(ctx: UiContext) -> str:
    """The key of the newest order the trader entered (a bracket's exits have their own)."""
    entered = [o for o in ctx.broker.journal.orders(limit=5) if o.lifecycle.parent_key is None]
    assert entered, "the journal holds no order"
    return entered[0].key


async def test_the_ticket_opens_on_the_active_month_and_lists_the_others(
    ticket: OrderTicket, ui_context: UiContext
) -> None:
    view = await rollover_view(
        ui_context.broker, "ES", ui_context.settings.rollover, ui_context.clock.now()
    )
    assert child(ticket, QComboBox, "ticketSymbol").currentText() == "ES"
    assert ticket.contract == view.active
    assert child(ticket, QLabel, "ticketContract").text() == view.active.local_symbol
    months = child(ticket, QComboBox, "ticketMonth")
    assert months.count() > 1
    assert "active" in months.currentText()
    other = next(i for i in range(months.count()) if i != months.currentIndex())
    changed: list[object] = []
    ticket.sig_contract_changed.connect(changed.append)
    months.setCurrentIndex(other)
    assert changed == [ticket.contract]
    assert _contract(ticket).con_id == months.itemData(other)
    assert child(ticket, QLabel, "ticketContract").text() == _contract(ticket).local_symbol
    assert _contract(ticket).local_symbol != view.active.local_symbol


async def test_the_quote_line_says_live_and_the_position_is_flat(
    ticket: OrderTicket, wait_for: Any
) -> None:
    state = child(ticket, QLabel, "ticketQuoteState")
    position = child(ticket, QLabel, "ticketPosition")
    await wait_for(lambda: "Live" in state.text(), what="the live label")
    assert position.text() == "Flat (0)"


async def test_the_margin_estimate_follows_the_order_and_sends_nothing(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    margin = child(ticket, QLabel, "ticketMargin")
    _limit_order(ticket, "2", _bid(ui_context, ticket) - 4 * _contract(ticket).min_tick)

    # two what-if requests, answered one after the other
    await wait_for(lambda: "Buy: init +" in margin.text(), what="IB's what-if for a buy")
    await wait_for(lambda: "Sell: init +" in margin.text(), what="IB's what-if for a sell")
    assert "USD" in margin.text()
    # what-if orders are answered without reaching the exchange, and are not journalled
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 0
    assert ui_context.broker.journal.orders() == []


async def test_a_limit_order_reaches_the_simulator_and_the_orders_table(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    orders = OrdersPanel(ui_context)
    qtbot.addWidget(orders)
    contract = _contract(ticket)
    price = _bid(ui_context, ticket) - 8 * contract.min_tick
    _limit_order(ticket, "2", price)

    qtbot.mouseClick(child(ticket, QPushButton, "buyButton"), Qt.MouseButton.LeftButton)

    assert ticket.confirmation is None
    key = _newest_key(ui_context)
    assert key.startswith("ibc-")
    await wait_for(lambda: _orders_for(gateway, key), what="the order at the simulator")
    (sent,) = _orders_for(gateway, key)
    assert (sent.action, sent.quantity, sent.order_type, sent.lmt_price, sent.tif) == (
        "BUY",
        Decimal(2),
        "LMT",
        price,
        "DAY",
    )
    assert sent.contract.con_id == contract.con_id
    assert sent.transmit
    assert ticket.status_text.startswith("Sent: Buy 2")
    await wait_for(
        lambda: (
            orders.model.find(key) is not None and orders.model.text(key, "Status") == "Working"
        ),
        what="the order working in ordersTable",
    )
    assert orders.model.text(key, "Limit") == f"{price:,.2f}"
    assert orders.model.text(key, "Qty") == "2"


async def test_a_bracket_goes_out_as_parent_take_profit_and_stop_loss_held_until_the_last(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    tick = _contract(ticket).min_tick
    entry = _bid(ui_context, ticket) - 4 * tick
    _limit_order(ticket, "1", entry)
    _bracket(ticket, take_profit=entry + 20 * tick, stop_loss=entry - 20 * tick)

    ticket.buy()

    key = _newest_key(ui_context)
    await wait_for(lambda: len(_orders_for(gateway, key)) == 3, what="three bracket legs")
    parent, take_profit, stop_loss = _orders_for(gateway, key)
    assert (parent.order_ref, take_profit.order_ref, stop_loss.order_ref) == (
        key,
        f"{key}.tp",
        f"{key}.sl",
    )
    assert (parent.action, parent.order_type, parent.lmt_price) == ("BUY", "LMT", entry)
    assert (take_profit.action, take_profit.order_type, take_profit.lmt_price) == (
        "SELL",
        "LMT",
        entry + 20 * tick,
    )
    assert (stop_loss.action, stop_loss.order_type, stop_loss.aux_price) == (
        "SELL",
        "STP",
        entry - 20 * tick,
    )
    assert [o.transmit for o in (parent, take_profit, stop_loss)] == [False, False, True]
    assert take_profit.parent_id == stop_loss.parent_id == parent.order_id


async def test_a_fat_finger_quantity_is_shown_blocked_and_nothing_is_sent(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    _limit_order(ticket, "50", _bid(ui_context, ticket) - _contract(ticket).min_tick)

    await wait_for(
        lambda: any("Quantity 50 is above your limit of 10" in f for f in ticket.findings_text),
        what="the size finding in place",
    )
    assert all(f.startswith("Blocked") for f in ticket.findings_text if "Quantity 50" in f)
    ticket.buy()

    assert ticket.confirmation is None
    assert ticket.status_text.startswith("Blocked, nothing was sent")
    assert "above your limit of 10" in ticket.status_text
    journalled = ui_context.broker.journal.orders()
    assert [o.state for o in journalled] == [OrderState.BLOCKED]
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 0


async def test_findings_follow_the_fields_for_each_side(
    ticket: OrderTicket, ui_context: UiContext, wait_for: Any
) -> None:
    # 5% above the market: a buy would pay far through it, a sell merely rests far away.
    price = (_bid(ui_context, ticket) * Decimal("1.05")).quantize(Decimal(1))
    _limit_order(ticket, "1", price)

    await wait_for(
        lambda: any(f.startswith("Blocked: Buy: The limit price") for f in ticket.findings_text),
        what="the buy-side band block",
    )
    assert any(f.startswith("Check: Sell: The limit price") for f in ticket.findings_text)
    findings = child(ticket, QLabel, "ticketFindings")
    assert "far through the market" in findings.text()


async def test_a_second_identical_click_asks_again_and_declining_sends_nothing(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    _limit_order(ticket, "1", _bid(ui_context, ticket) - 10 * _contract(ticket).min_tick)
    ticket.buy()
    first = _newest_key(ui_context)
    await wait_for(lambda: _orders_for(gateway, first), what="the first order")

    ticket.buy()

    dialog = ticket.confirmation
    assert dialog is not None
    assert any("You sent the same order (buy 1" in line for line in dialog.lines)
    second = ticket.findChild(QWidget, "confirmDialog")
    assert second is dialog
    dialog.cancel()
    assert ticket.confirmation is None
    assert ticket.status_text.startswith("Declined, nothing was sent")
    declined = ui_context.broker.journal.orders(limit=1)[0]
    assert declined.key != first
    assert declined.state is OrderState.DECLINED
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 1

    ticket.buy()
    again = ticket.confirmation
    assert again is not None
    again.confirm()
    confirmed = _newest_key(ui_context)
    await wait_for(lambda: _orders_for(gateway, confirmed), what="the confirmed repeat")
    assert len(gateway.orders) == 2


async def test_enter_and_escape_in_the_confirmation_never_confirm(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    _limit_order(ticket, "1", _bid(ui_context, ticket) - 10 * _contract(ticket).min_tick)
    ticket.buy()
    await wait_for(lambda: gateway.orders, what="the first order")

    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        ticket.buy()  # the same order again: the duplicate check asks
        dialog = ticket.confirmation
        assert dialog is not None
        qtbot.keyClick(dialog, key)
        assert ticket.confirmation is None, key
        assert ui_context.broker.journal.orders(limit=1)[0].state is OrderState.DECLINED, key

    declined = [o for o in ui_context.broker.journal.orders() if o.state is OrderState.DECLINED]
    assert len(declined) == 2
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 1


@pytest.mark.parametrize(
    ("field", "text", "order_type", "message"),
    [
        ("quantity", "", "LMT", "Enter a quantity"),
        ("quantity", "-2", "LMT", "Quantity must be above zero, got -2"),
        ("quantity", "1.5", "LMT", "whole number of contracts"),
        ("limit_price", "", "LMT", "Limit price is required for a LMT order"),
        ("limit_price", "5000.10", "LMT", "not a multiple of the tick 0.25"),
        ("stop_price", "", "STP", "Stop price is required for a STP order"),
    ],
)
async def test_an_invalid_field_says_why_next_to_it_and_nothing_is_sent(
    ticket: OrderTicket,
    ui_context: UiContext,
    gateway: PaperGateway,
    wait_for: Any,
    field: str,
    text: str,
    order_type: str,
    message: str,
) -> None:
    _limit_order(ticket, "1", _bid(ui_context, ticket))
    _choose(child(ticket, QComboBox, "ticketOrderType"), order_type)
    names = {
        "quantity": "ticketQuantity",
        "limit_price": "ticketLimitPrice",
        "stop_price": "ticketStopPrice",
    }
    child(ticket, DecimalSpinBox, names[field]).set_text(text)

    ticket.sell()

    assert message in ticket.field_error(field)
    error = child(ticket, QLabel, f"{names[field]}Error")
    assert not error.isHidden()
    assert ticket.status_text.startswith("Not sent")
    assert not ui_context.broker.journal.orders()
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 0


async def test_a_wrong_side_take_profit_is_named_when_that_side_is_clicked(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    tick = _contract(ticket).min_tick
    entry = _bid(ui_context, ticket) - 4 * tick
    _limit_order(ticket, "1", entry)
    _bracket(ticket, take_profit=entry + 8 * tick)

    ticket.sell()

    assert "take-profit" in ticket.field_error("take_profit")
    assert "must be below the entry price" in ticket.field_error("take_profit")
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 0


async def test_enter_in_the_ticket_never_sends_an_order(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    _limit_order(ticket, "1", _bid(ui_context, ticket) - _contract(ticket).min_tick)
    for name in ("ticketQuantity", "ticketLimitPrice"):
        qtbot.keyClick(child(ticket, DecimalSpinBox, name), Qt.Key.Key_Return)
        qtbot.keyClick(child(ticket, DecimalSpinBox, name), Qt.Key.Key_Enter)
    buy = child(ticket, QPushButton, "buyButton")
    buy.setFocus()
    qtbot.keyClick(buy, Qt.Key.Key_Return)
    qtbot.keyClick(ticket, Qt.Key.Key_Return)

    assert not buy.autoDefault()
    assert not buy.isDefault()
    assert not ui_context.broker.journal.orders()
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 0


async def test_flatten_asks_then_closes_the_position_at_market(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    con_id = _contract(ticket).con_id
    position = child(ticket, QLabel, "ticketPosition")
    _choose(child(ticket, QComboBox, "ticketOrderType"), "MKT")
    child(ticket, DecimalSpinBox, "ticketQuantity").set_text("2")
    ticket.buy()
    await wait_for(
        lambda: (p := ui_context.broker.account.position(con_id)) is not None and p.quantity == 2,
        what="a long position of 2",
    )
    await wait_for(lambda: position.text().startswith("Long +2 @"), what="the position shown")

    ticket.flatten()
    dialog = ticket.confirmation
    assert dialog is not None
    assert "you are long +2" in dialog.lines[0]
    assert "Sell 2" in dialog.lines[0]
    assert "MKT" in dialog.lines[0]
    assert await _sent_after_the_loop_ran(ui_context, gateway, wait_for) == 1
    dialog.confirm()

    key = _newest_key(ui_context)
    await wait_for(lambda: _orders_for(gateway, key), what="the flatten order")
    (sent,) = _orders_for(gateway, key)
    assert (sent.action, sent.quantity, sent.order_type) == ("SELL", Decimal(2), "MKT")
    await wait_for(lambda: position.text() == "Flat (0)", what="the position flat again")


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_the_position_reads_unknown_while_the_broker_cannot_tell(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    position = child(ticket, QLabel, "ticketPosition")
    assert position.text() == "Flat (0)"

    gateway.drop_connections()

    await wait_for(lambda: position.text().startswith("Unknown"), what="the unknown position")
    assert "0" not in position.text()
    ticket.flatten()
    assert "unknown" in ticket.status_text
    assert ticket.confirmation is None
    await wait_for(
        lambda: ui_context.broker.session.state is HealthState.CONNECTED, what="reconnect"
    )
    await wait_for(lambda: position.text() == "Flat (0)", what="the position known again")


async def test_the_family_line_shows_working_orders_of_the_micro_sibling(
    ticket: OrderTicket, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    family = child(ticket, QLabel, "ticketFamily")
    _choose(child(ticket, QComboBox, "ticketSymbol"), "MES")
    assert ticket.contract is None  # never the ES month while the picker says MES
    ticket.buy()
    assert ticket.status_text == "Not sent: Choose a contract first."
    await wait_for(
        lambda: ticket.contract is not None and ticket.contract.symbol == "MES", what="MES"
    )
    micro = _contract(ticket)
    await wait_for(
        lambda: ui_context.broker.market.quote(micro.con_id) is not None, what="an MES quote"
    )
    _limit_order(ticket, "1", _bid(ui_context, ticket) - 10 * micro.min_tick)
    ticket.buy()
    await wait_for(lambda: gateway.orders, what="the MES order")

    _choose(child(ticket, QComboBox, "ticketSymbol"), "ES")
    await wait_for(
        lambda: ticket.contract is not None and ticket.contract.symbol == "ES", what="ES"
    )

    await wait_for(
        lambda: f"1 working on {micro.local_symbol}" in family.text(),
        what="the sibling's working order",
    )


async def test_the_ask_fills_the_limit_and_the_arrows_step_by_the_tick(
    ticket: OrderTicket, ui_context: UiContext
) -> None:
    quote = ui_context.broker.market.quote(_contract(ticket).con_id)
    assert quote is not None
    assert quote.ask is not None
    _choose(child(ticket, QComboBox, "ticketOrderType"), "MKT")
    ask = child(ticket, QPushButton, "ticketAsk")
    ask.click()
    limit = child(ticket, DecimalSpinBox, "ticketLimitPrice")
    assert child(ticket, QComboBox, "ticketOrderType").currentData() == "LMT"
    assert limit.value() == quote.ask
    limit.stepBy(2)
    assert limit.value() == quote.ask + Decimal("0.50")


def test_stepping_from_between_ticks_lands_on_the_grid(qtbot: Any) -> None:
    field = DecimalSpinBox(Decimal("0.25"))
    qtbot.addWidget(field)
    field.set_anchor(lambda: Decimal("5000.10"))
    field.stepBy(1)
    assert field.text() == "5000.00"  # an empty field starts at the market, on the grid
    field.set_text("5000.10")
    field.stepBy(1)
    assert field.text() == "5000.25"
    field.set_text("5000.10")
    field.stepBy(-2)
    assert field.text() == "4999.75"


def test_quantity_never_steps_below_one_and_letters_are_refused(qtbot: Any) -> None:
    field = DecimalSpinBox(Decimal(1), minimum=Decimal(1))
    qtbot.addWidget(field)
    field.set_text("2")
    field.stepBy(-5)
    assert field.text() == "1"
    field.set_text("")
    qtbot.keyClicks(field, "1x2")
    assert field.text() == "12"


async def test_quotes_repaint_the_quote_not_the_holdings_which_follow_broker_events(
    ticket: OrderTicket, ui_context: UiContext, wait_for: Any
) -> None:
    """The ticket's contract quotes several times a second: each burst repaints its quote line,
    while the position, working orders and family lines are read again only after the broker
    reports a change of them."""
    holdings, quote_line = ticket.findChild(HoldingsView), ticket.findChild(QuoteLine)
    assert holdings is not None
    assert quote_line is not None
    calls = {"holdings": 0, "quote": 0}

    def counted(name: str, repaint: Any) -> Any:
        def count() -> None:
            calls[name] += 1
            repaint()

        return count

    holdings.repaint_holdings = counted("holdings", holdings.repaint_holdings)  # type: ignore[method-assign]
    quote_line.repaint_quote = counted("quote", quote_line.repaint_quote)  # type: ignore[method-assign]
    await wait_for(lambda: calls["quote"] >= 3, what="three bursts of quotes shown")
    assert calls["holdings"] == 0

    working = child(ticket, QLabel, "ticketWorking")
    _limit_order(ticket, "1", _bid(ui_context, ticket) - 20 * _contract(ticket).min_tick)
    ticket.buy()

    await wait_for(lambda: working.text().startswith("Buy 1 LMT"), what="the working order shown")
    assert calls["holdings"] >= 1


async def test_a_limit_orders_outcome_is_not_formatted_again_while_only_the_market_moves(
    ticket: OrderTicket, ui_context: UiContext, wait_for: Any
) -> None:
    quote_line, result = ticket.findChild(QuoteLine), child(ticket, QLabel, "ticketResult")
    assert quote_line is not None
    _limit_order(ticket, "2", _bid(ui_context, ticket) - 8 * _contract(ticket).min_tick)
    await wait_for(lambda: "2 ×" in child(ticket, QLabel, "ticketNotional").text(), what="2 lots")
    calls = {"quote": 0, "result": 0}
    repaint, set_result = quote_line.repaint_quote, result.setText

    def counted_repaint() -> None:
        calls["quote"] += 1
        repaint()

    def counted_result(text: str) -> None:
        calls["result"] += 1
        set_result(text)

    quote_line.repaint_quote = counted_repaint  # type: ignore[method-assign]
    result.setText = counted_result  # type: ignore[method-assign]
    await wait_for(lambda: calls["quote"] >= 3, what="three bursts of quotes shown")
    assert calls["result"] == 0

    child(ticket, DecimalSpinBox, "ticketQuantity").set_text("3")

    await wait_for(lambda: "long +3" in result.text(), what="the new quantity's outcome")
    assert calls["result"] >= 1
