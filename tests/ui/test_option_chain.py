"""The options chain dock in the whole window over the simulator: populated with IB's greeks and
in-the-money shading, the window within the market-data line budget and given back on an expiry
switch, and a click on an ask that loads the ticket, buys, and shows the option position with its
greeks and the delta summed per underlying."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QDockWidget, QLabel

from ibconsole.config import Settings
from ibconsole.domain.contracts import ListedContract, OptionRight
from ibconsole.domain.market_lines import MarketDataSettings
from ibconsole.domain.option_chain import Column, OptionChainSettings
from ibconsole.domain.order_words import price_text
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.main_window import MainWindow
from ibconsole.ui.option_chain import OptionChainPanel

from .conftest import FAST_HEALTH

WaitFor = Callable[..., Any]


def _settings(line_budget: int = 100, each_side: int = 10) -> Settings:
    return replace(
        Settings(health=FAST_HEALTH),
        market_data=MarketDataSettings(line_budget=line_budget),
        option_chain=OptionChainSettings(strikes_each_side=each_side),
    )


def _headers(view: QAbstractItemView) -> list[str]:
    model = view.model()
    return [str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(model.columnCount())]


def _cell(
    panel: OptionChainPanel, row: int, right: OptionRight | None, column: Column | None
) -> str:
    model = panel.model
    return str(model.data(model.index(row, model.column_of(right, column))))


def _greeks_shown(panel: OptionChainPanel) -> bool:
    table = panel.table
    if table is None or not len(table):
        return False
    return all(
        _cell(panel, row, right, Column.DELTA) not in ("", "none")
        for row in range(len(table))
        for right in OptionRight
    )


async def _window(
    make_ui_context: Any, make_main_window: Any, gateway: PaperGateway, settings: Settings
) -> tuple[UiContext, MainWindow]:
    ctx = await make_ui_context(gateway, settings=settings)
    return ctx, make_main_window(ctx)


async def test_the_chain_shows_the_ticket_family_with_ibs_greeks(
    gateway: PaperGateway, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings(each_side=5))
    dock = window.findChild(QDockWidget, "optionChainDock")
    assert dock is not None
    dock.raise_()
    panel = window.option_chain
    view = window.findChild(QAbstractItemView, "optionTable")
    assert view is panel.view

    await wait_for(lambda: _greeks_shown(panel), timeout=15, what="the chain with greeks")

    headers = _headers(view)
    middle = headers.index("Strike")
    assert {"Bid", "Ask", "Delta", "IV"} <= set(headers[:middle])
    assert set(headers[middle + 1 :]) == set(headers[:middle])
    assert headers[middle - 2 : middle + 3] == ["Bid", "Ask", "Strike", "Bid", "Ask"]
    table = panel.table
    assert table is not None
    assert len(table) == 11, "five strikes each side of the money"
    front = window.ticket.contract
    assert front is not None
    assert all(c.option and c.option.underlying_con_id == front.con_id for c in table.contracts)
    expiry = window.findChild(QComboBox, "optionExpiry")
    assert expiry is not None
    assert expiry.count() >= 1
    assert " d" in expiry.currentText(), "days to expiry"
    info = window.findChild(QLabel, "optionExpiryTime")
    assert info is not None
    assert "08:30 CST" in info.text() or "08:30 CDT" in info.text(), info.text()
    underlying = window.findChild(QLabel, "optionUnderlying")
    assert underlying is not None
    assert underlying.text().startswith(front.local_symbol)
    # Money: the at-the-money strike sits in the middle; calls below it are shaded, puts above.
    atm = table.atm_row()
    assert atm == 5
    model = panel.model
    shade = Qt.ItemDataRole.BackgroundRole
    call_bid = model.column_of(OptionRight.CALL, Column.BID)
    put_bid = model.column_of(OptionRight.PUT, Column.BID)
    assert model.data(model.index(0, call_bid), shade) is not None
    assert model.data(model.index(10, call_bid), shade) is None
    assert model.data(model.index(10, put_bid), shade) is not None
    assert model.data(model.index(0, put_bid), shade) is None
    # IB's figures: deltas fall with the strike for calls, IV in percent.
    deltas = [float(_cell(panel, r, OptionRight.CALL, Column.DELTA)) for r in range(len(table))]
    assert deltas == sorted(deltas, reverse=True)
    assert _cell(panel, atm, OptionRight.PUT, Column.IV).endswith("%")
    lines = window.findChild(QLabel, "optionLines")
    assert lines is not None
    assert lines.text().startswith(f"Lines {ctx.broker.market.lines_in_use} / 100")
    in_status_bar = window.statusBar().findChild(QLabel, "marketDataLines")
    assert in_status_bar is not None
    assert in_status_bar.text() == f"Lines {ctx.broker.market.lines_in_use} / 100"
    assert panel.held_lines == 23, "22 options and the underlying"


async def test_an_expiry_switch_gives_lines_back_and_takes_new_ones_within_the_budget(
    gateway: PaperGateway, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    budget = 30
    ctx, window = await _window(
        make_ui_context, make_main_window, gateway, _settings(line_budget=budget)
    )
    market = ctx.broker.market
    peaks: list[int] = []
    market.lines_changed += lambda used, _budget: peaks.append(used)
    panel = window.option_chain
    await wait_for(lambda: _greeks_shown(panel), timeout=15, what="the chain")
    expiry = window.findChild(QComboBox, "optionExpiry")
    assert expiry is not None
    assert expiry.count() >= 2, "the front month's expiry and the next month's"
    first = panel.table
    assert first is not None
    # 30 lines: the ticket's quote and the chain's underlying leave 28 → 6 strikes each side.
    assert len(first) < 21
    assert market.lines_in_use <= budget
    old = {c.con_id for c in first.contracts}
    assert old <= set(market.subscriptions())

    expiry.setCurrentIndex(1)

    await wait_for(
        lambda: panel.table is not None and panel.table is not first and _greeks_shown(panel),
        timeout=15,
        what="the second expiry's chain",
    )
    second = panel.table
    assert second is not None
    new = {c.con_id for c in second.contracts}
    subscribed = set(market.subscriptions())
    assert not old & subscribed, "the first expiry's lines were given back"
    assert new <= subscribed
    assert max(peaks) <= budget
    assert market.lines_in_use <= budget
    await wait_for(
        lambda: gateway.market_data.subscription_count() == market.lines_in_use,
        what="the simulator to hold exactly the console's lines",
    )


async def test_no_free_line_is_said_and_nothing_is_subscribed(
    gateway: PaperGateway, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    # One line: the ticket's month, which the chain's underlying shares; no pair of options fits.
    ctx, window = await _window(
        make_ui_context, make_main_window, gateway, _settings(line_budget=1)
    )
    panel = window.option_chain
    await wait_for(
        lambda: "market-data lines are in use" in panel.status_text,
        timeout=15,
        what="the chain to say no line is free",
    )
    assert panel.table is None
    assert ctx.broker.market.lines_in_use == 1
    front = window.ticket.contract
    assert front is not None
    assert set(ctx.broker.market.subscriptions()) == {front.con_id}, "no option line taken"


@pytest.mark.parametrize("side", [Column.ASK])
async def test_a_click_on_an_ask_loads_the_ticket_and_a_buy_shows_the_position_with_greeks(
    gateway: PaperGateway,
    make_ui_context: Any,
    make_main_window: Any,
    wait_for: WaitFor,
    qtbot: Any,
    side: Column,
) -> None:
    ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings(each_side=3))
    window.findChild(QDockWidget, "optionChainDock").raise_()
    panel = window.option_chain
    await wait_for(lambda: _greeks_shown(panel), timeout=15, what="the chain")
    table = panel.table
    assert table is not None
    row = table.atm_row()
    assert row is not None
    call = table.contract(row, OptionRight.CALL)
    assert call is not None
    view = panel.view
    index = panel.model.index(row, panel.model.column_of(OptionRight.CALL, side))
    view.scrollTo(index)
    price = table.price_at(row, OptionRight.CALL, side)
    assert price is not None

    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )

    ticket = window.ticket
    assert ticket.contract == call
    assert window.findChild(QLabel, "ticketContract").text() == call.local_symbol
    assert window.findChild(QComboBox, "ticketOrderType").currentData() == "LMT"
    limit = window.findChild(DecimalSpinBox, "ticketLimitPrice")
    assert limit is not None
    assert Decimal(limit.text().replace(",", "")) == price

    # The ticket treats it as an option: premium as notional, IB's what-if margin for it.
    notional = window.findChild(QLabel, "ticketNotional")
    assert notional is not None
    await wait_for(lambda: "premium" in notional.text(), what="the premium")
    assert f"× 50 × {price:,.2f}" in notional.text()
    margin = window.findChild(QLabel, "ticketMargin")
    assert margin is not None
    await wait_for(lambda: "Buy: init" in margin.text(), timeout=10, what="the what-if margin")

    # Buy at the ask: a marketable limit that the simulator fills at once.
    await wait_for(lambda: ctx.broker.market.quote(call.con_id) is not None, what="its quote")
    ticket.buy()
    assert ticket.confirmation is None, ticket.findings_text
    assert ticket.status_text.startswith("Sent: "), ticket.status_text
    await wait_for(
        lambda: (p := ctx.broker.account.position(call.con_id)) is not None and p.quantity == 1,
        timeout=10,
        what="the option position",
    )
    sent = gateway.orders[-1].request
    assert sent.contract.sec_type == "FOP"
    assert sent.contract.con_id == call.con_id
    assert (sent.action, sent.order_type, sent.lmt_price) == ("BUY", "LMT", price)

    positions = window.positions
    await wait_for(
        lambda: (
            call.local_symbol in positions.greeks_text(call.con_id)
            and "Δ" in positions.greeks_text(call.con_id)
        ),
        timeout=10,
        what="the option's greeks in the positions view",
    )
    greeks = ctx.broker.market.greeks(call.con_id)
    assert greeks is not None
    assert greeks.delta is not None
    await wait_for(
        lambda: positions.delta_text(call.option.underlying_con_id) != "",
        what="the delta summed per underlying",
    )
    total = positions.delta_text(call.option.underlying_con_id)
    assert "ES" in total
    assert "futures-equivalent" in total


async def test_delayed_option_quotes_are_said_in_the_dock(
    gateway: PaperGateway, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    gateway.faults.delayed_data_only()
    _ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings(each_side=2))
    panel = window.option_chain
    await wait_for(lambda: "delayed" in panel.status_text, timeout=15, what="the delayed notice")
    assert panel.status_text.startswith("Options quotes: ")


async def test_a_family_without_options_says_so_in_the_dock(
    gateway: PaperGateway, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    _ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings())
    panel = window.option_chain
    await wait_for(lambda: panel.table is not None, timeout=15, what="the ES chain")
    nq = (await _ctx.broker.contracts.chain("NQ")).contracts[0]

    panel.follow(nq)

    await wait_for(lambda: "IB lists no options on" in panel.status_text, timeout=10)
    assert panel.table is None, "the ES chain is gone with its lines"
    assert panel.held_lines == 0


async def test_a_click_on_a_put_bid_loads_a_sell_limit_price_and_a_strike_click_loads_nothing(
    gateway: PaperGateway,
    make_ui_context: Any,
    make_main_window: Any,
    wait_for: WaitFor,
    qtbot: Any,
) -> None:
    _ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings(each_side=2))
    window.findChild(QDockWidget, "optionChainDock").raise_()
    panel = window.option_chain
    await wait_for(lambda: _greeks_shown(panel), timeout=15, what="the chain")
    table = panel.table
    assert table is not None
    view, model = panel.view, panel.model
    before = window.ticket.contract

    strike = model.index(0, model.column_of(None, None))
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(strike).center()
    )
    assert window.ticket.contract == before, "the strike is no price"

    put = table.contract(0, OptionRight.PUT)
    bid = table.price_at(0, OptionRight.PUT, Column.BID)
    assert put is not None
    assert bid is not None
    index = model.index(0, model.column_of(OptionRight.PUT, Column.BID))
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )

    assert window.ticket.contract == put
    limit = window.findChild(DecimalSpinBox, "ticketLimitPrice")
    assert limit is not None
    assert Decimal(limit.text().replace(",", "")) == bid
    assert window.findChild(QComboBox, "ticketOrderType").currentData() == "LMT"
    assert len(gateway.orders) == 0, "a click in the chain sends nothing"


def _hand_over_trade(ctx: Any, underlying: ListedContract, price: Decimal) -> None:
    """A trade of ``underlying`` at ``price`` (bid there, ask a tick up), handed to the views as
    the bridge hands a batch's quotes on."""
    quote = Quote(
        underlying.con_id,
        price,
        price + underlying.min_tick,
        price,
        ctx.clock.now(),
        MarketDataType.LIVE,
    )
    ctx.bridge.sig_quotes_updated.emit((quote,))


async def test_the_window_recentres_as_the_underlying_moves_and_swaps_only_the_lines_it_must(
    make_gateway: Any, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    # A quiet market: the only move of the underlying is the one this test makes.
    gateway = await make_gateway(tick_rate=0.01)
    ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings(each_side=3))
    panel = window.option_chain
    await wait_for(lambda: _greeks_shown(panel), timeout=15, what="the chain")
    first = panel.table
    assert first is not None
    underlying = window.ticket.contract
    assert underlying is not None
    market = ctx.broker.market
    before = {c.con_id for c in first.contracts}
    # The underlying's next price, three strikes up, as the bridge hands quotes to the views.
    step = first.strikes[1] - first.strikes[0]
    moved = first.strikes[3] + 3 * step
    _hand_over_trade(ctx, underlying, moved)

    await wait_for(
        lambda: panel.table is not None and panel.table is not first, timeout=10, what="recentre"
    )
    second = panel.table
    assert second.strikes[3] == moved, "centred at the new money"
    after = {c.con_id for c in second.contracts}
    subscribed = set(market.subscriptions())
    assert after <= subscribed
    assert not (before - after) & subscribed, "the strikes that left gave their lines back"
    assert all(market.subscriptions()[c] == 1 for c in after), "a strike in both windows: one line"
    assert panel.held_lines == len(after) + 1


async def test_the_underlying_label_shows_the_last_price_of_a_burst_of_quotes(
    make_gateway: Any, make_ui_context: Any, make_main_window: Any, wait_for: WaitFor
) -> None:
    # A quiet market: the only moves of the underlying are the ones this test makes.
    gateway = await make_gateway(tick_rate=0.01)
    ctx, window = await _window(make_ui_context, make_main_window, gateway, _settings(each_side=3))
    panel = window.option_chain
    await wait_for(lambda: _greeks_shown(panel), timeout=15, what="the chain")
    underlying = window.ticket.contract
    assert underlying is not None
    label = window.findChild(QLabel, "optionUnderlying")
    assert label is not None
    start = ctx.broker.market.quote(underlying.con_id)
    assert start is not None
    before = start.last_good_price()
    assert before is not None
    # Three trades one tick apart in one burst, as the bridge hands a batch's quotes on.
    trades = [before + n * underlying.min_tick for n in (1, 2, 3)]
    for price in trades:
        _hand_over_trade(ctx, underlying, price)

    shown = f"{underlying.local_symbol}  {price_text(trades[-1], underlying)}"
    await wait_for(lambda: label.text() == shown, timeout=5, what=f"the label {shown!r}")
