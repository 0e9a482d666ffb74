"""The price ladder against the simulator, driven through its automation names: a Bid click
places a buy limit at that row's price, a drag moves an own order, a click on it cancels it, a
far-side click asks first (and a "no" sends nothing) or places a stop, a refused click says why
and sends nothing, refused depth leaves a usable top-of-book ladder, and the window re-centres.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QPushButton, QSpinBox

from ibconsole.broker.ib_client import Contract
from ibconsole.config import Settings
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import DepthState
from ibconsole.domain.ladder import FarSideClick, LadderColumn, LadderSettings
from ibconsole.domain.risk import RiskLimits, SymbolLimits
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.ladder import PriceLadder
from ibconsole.ui.main_window import MainWindow

COLUMNS = {column.title: int(column) for column in LadderColumn}


async def _front(ctx: UiContext) -> ListedContract:
    return (await ctx.broker.contracts.chain("ES")).months[0].contract


async def _open(ctx: UiContext, qtbot: Any, wait_for: Any, *, depth: bool = True) -> PriceLadder:
    """A shown ladder on the ES front month, with its quote (and depth) on screen."""
    ladder = PriceLadder(ctx)
    qtbot.addWidget(ladder)
    ladder.resize(380, 900)
    ladder.show()
    ladder.follow(await _front(ctx))
    await wait_for(ladder.ladder.market_in_view, what="the market in the window")
    if depth:
        await wait_for(lambda: not ladder.ladder.book.empty, what="the depth")
    return ladder


def _click(ladder: PriceLadder, price: Decimal, column: str) -> None:
    row = ladder.ladder.row_of(price)
    assert row is not None, f"{price} is not in the ladder's window"
    x, y, w, h = ladder.view.cell_rect(row, COLUMNS[column])
    QTest.mouseClick(
        ladder.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        QPoint(x + w // 2, y + h // 2),
    )  # fmt: skip


def _drag(ladder: PriceLadder, source: Decimal, target: Decimal, column: str) -> None:
    rows = ladder.ladder.row_of(source), ladder.ladder.row_of(target)
    assert None not in rows
    points = []
    for row in rows:
        assert row is not None
        x, y, w, h = ladder.view.cell_rect(row, COLUMNS[column])
        points.append(QPoint(x + w // 2, y + h // 2))
    viewport = ladder.view.viewport()
    none = Qt.KeyboardModifier.NoModifier
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, none, points[0])
    QTest.mouseMove(viewport, points[1])
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, none, points[1])


def _ours(gateway: PaperGateway) -> list[Any]:
    return [o.request for o in gateway.orders if not o.request.what_if]


async def _sent_after_a_round_trip(ctx: UiContext, gateway: PaperGateway) -> int:
    """Orders at the simulator, counted after a request sent later has come back: an order sent
    before it arrives first, so "nothing was sent" is observed, not assumed."""
    contract = Contract(conId=(await _front(ctx)).con_id)
    await asyncio.wait_for(ctx.broker.session.ib.reqContractDetailsAsync(contract), 5)
    return len(_ours(gateway))


def _cell(ladder: PriceLadder, price: Decimal, column: str, role: int) -> Any:
    row = ladder.ladder.row_of(price)
    assert row is not None
    model = ladder.model
    return model.data(model.index(row, COLUMNS[column]), role)


async def _working_at(ladder: PriceLadder, price: Decimal, wait_for: Any) -> None:
    """Wait until the Buy cell at ``price`` shows an acknowledged own order."""
    tip = Qt.ItemDataRole.ToolTipRole

    def shown() -> bool:
        text = _cell(ladder, price, "Buy", tip) or ""
        return "working" in text

    await wait_for(shown, what=f"an acknowledged buy order at {price}")


# --------------------------------------------------------------------------------- placing
async def test_a_bid_click_sends_a_buy_limit_at_that_price_for_the_ladder_quantity(
    ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(ui_context, qtbot, wait_for)
    preset = ladder.findChild(QPushButton, "ladderPreset2")
    assert preset is not None
    preset.click()
    quantity = ladder.findChild(QSpinBox, "ladderQuantity")
    assert quantity is not None
    assert quantity.value() == 2
    bid = ladder.ladder.best_bid
    assert bid is not None
    price = bid - 2 * ladder.ladder.tick

    _click(ladder, price, "Bid")

    await wait_for(lambda: len(_ours(gateway)) == 1, what="the order at the simulator")
    (sent,) = _ours(gateway)
    assert (sent.action, sent.order_type, sent.quantity) == ("BUY", "LMT", Decimal(2))
    assert sent.lmt_price == price
    assert ladder.status_text.startswith("Sent: Buy 2")
    # shown pending at once, then working once IB acknowledged it
    await _working_at(ladder, price, wait_for)
    assert _cell(ladder, price, "Buy", Qt.ItemDataRole.DisplayRole) == "2"
    journalled = ui_context.broker.journal.orders(limit=1)
    assert journalled[0].intent.limit_price == price


async def test_the_price_column_reads_as_prices_and_the_header_names_the_columns(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(ui_context, qtbot, wait_for)
    view = ladder.findChild(QAbstractItemView, "priceLadder")
    assert view is ladder.view
    model = view.model()
    labels = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert labels[:5] == ["Buy", "Bid", "Price", "Ask", "Sell"]
    texts = [model.data(model.index(r, COLUMNS["Price"])) for r in range(model.rowCount())]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", text) for text in texts), texts[:3]
    prices = [Decimal(text.replace(",", "")) for text in texts]
    assert prices == sorted(prices, reverse=True)
    assert prices[0] - prices[1] == Decimal("0.25")


# ------------------------------------------------------------------ modifying, cancelling
async def test_dragging_an_own_order_modifies_it_and_clicking_it_cancels_it(
    ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(ui_context, qtbot, wait_for)
    bid = ladder.ladder.best_bid
    assert bid is not None
    tick = ladder.ladder.tick
    price, moved = bid - 3 * tick, bid - 6 * tick
    _click(ladder, price, "Bid")
    await _working_at(ladder, price, wait_for)
    order_id = _ours(gateway)[0].order_id

    _drag(ladder, price, moved, "Buy")

    await wait_for(lambda: len(_ours(gateway)) == 2, what="the modify at the simulator")
    change = gateway.orders[-1]
    assert change.is_modify
    assert (change.request.order_id, change.request.lmt_price) == (order_id, moved)
    assert ladder.status_text.startswith("Change sent")
    await _working_at(ladder, moved, wait_for)
    assert _cell(ladder, price, "Buy", Qt.ItemDataRole.DisplayRole) == ""

    _click(ladder, moved, "Buy")

    await wait_for(
        lambda: [o.order_id for o in gateway.desk.completed_orders()] == [order_id],
        what="the cancel at the simulator",
    )
    assert ladder.status_text == f"Cancel sent: order {order_id}."
    await wait_for(
        lambda: _cell(ladder, moved, "Buy", Qt.ItemDataRole.DisplayRole) == "",
        what="the order gone from the ladder",
    )


# -------------------------------------------------------------------------------- far side
async def test_a_far_side_click_asks_first_and_a_no_sends_nothing(
    ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(ui_context, qtbot, wait_for)
    ask = ladder.ladder.best_ask
    assert ask is not None

    _click(ladder, ask + ladder.ladder.tick, "Bid")

    dialog = ladder.confirmation
    assert dialog is not None
    assert any("marketable" in line for line in dialog.lines)
    dialog.cancel()
    assert ladder.confirmation is None
    assert ladder.status_text.startswith("Declined, nothing was sent: Buy 1")
    assert await _sent_after_a_round_trip(ui_context, gateway) == 0


async def test_a_confirmed_far_side_click_sends_the_marketable_limit(
    ui_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(ui_context, qtbot, wait_for)
    bid = ladder.ladder.best_bid
    assert bid is not None

    _click(ladder, bid, "Ask")  # a sell at the bid

    dialog = ladder.confirmation
    assert dialog is not None
    dialog.confirm()
    await wait_for(lambda: len(_ours(gateway)) == 1, what="the order at the simulator")
    (sent,) = _ours(gateway)
    assert (sent.action, sent.order_type, sent.lmt_price) == ("SELL", "LMT", bid)


@pytest.fixture
async def stop_context(make_ui_context: Any, gateway: PaperGateway) -> UiContext:
    settings = Settings(ladder=LadderSettings(far_side_click=FarSideClick.STOP))
    return await make_ui_context(gateway, settings=settings)


async def test_with_the_stop_setting_a_far_side_click_places_a_stop(
    stop_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(stop_context, qtbot, wait_for)
    ask = ladder.ladder.best_ask
    assert ask is not None
    price = ask + 2 * ladder.ladder.tick

    _click(ladder, price, "Bid")

    assert ladder.confirmation is None
    await wait_for(lambda: len(_ours(gateway)) == 1, what="the stop at the simulator")
    (sent,) = _ours(gateway)
    assert (sent.action, sent.order_type, sent.aux_price) == ("BUY", "STP", price)


# --------------------------------------------------------------------------------- refused
@pytest.fixture
async def small_limit_context(make_ui_context: Any, gateway: PaperGateway) -> UiContext:
    risk = RiskLimits(defaults=replace(SymbolLimits(), max_quantity=Decimal(3)))
    return await make_ui_context(gateway, settings=Settings(risk=risk))


async def test_a_click_over_a_risk_limit_sends_nothing_and_says_why(
    small_limit_context: UiContext, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(small_limit_context, qtbot, wait_for)
    ladder.findChild(QSpinBox, "ladderQuantity").setValue(5)
    bid = ladder.ladder.best_bid
    assert bid is not None

    _click(ladder, bid - ladder.ladder.tick, "Bid")

    assert ladder.status_text.startswith("Blocked, nothing was sent")
    assert "5" in ladder.status_text
    assert ladder.confirmation is None
    assert await _sent_after_a_round_trip(small_limit_context, gateway) == 0


# ----------------------------------------------------------------------------- depth refused
async def test_refused_depth_is_said_and_the_ladder_trades_on_the_top_of_book(
    make_gateway: Any, make_ui_context: Any, qtbot: Any, wait_for: Any
) -> None:
    gateway = await make_gateway(max_depth_requests=1)
    other = await make_ui_context(gateway, client_id=2)
    nq = (await other.broker.contracts.chain("NQ")).months[0].contract
    other.broker.depth.subscribe(nq)
    await wait_for(
        lambda: other.broker.depth.status(nq.con_id).state is DepthState.LIVE,
        what="another client holding the one depth line",
    )
    ctx = await make_ui_context(gateway)
    ladder = await _open(ctx, qtbot, wait_for, depth=False)

    await wait_for(lambda: "error 309" in ladder.depth_text, what="the refusal in words")
    assert "top of the book" in ladder.depth_text
    assert ladder.ladder.book.empty
    bid = ladder.ladder.best_bid
    assert bid is not None
    _click(ladder, bid - ladder.ladder.tick, "Bid")
    await wait_for(lambda: len(_ours(gateway)) == 1, what="an order from the top of book")
    assert _ours(gateway)[0].lmt_price == bid - ladder.ladder.tick


# ------------------------------------------------------------------------------ re-centring
async def test_the_window_re_centres_on_space_and_after_the_trader_stops_aiming(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    ladder = await _open(ui_context, qtbot, wait_for)
    view = ladder.view
    assert ladder.ladder.market_in_view()
    rows = ladder.ladder.rows

    def wheel(notches: int) -> None:
        centre = QPointF(view.viewport().rect().center())
        event = QWheelEvent(
            centre, view.viewport().mapToGlobal(centre), QPoint(), QPoint(0, 120 * notches),
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
            False,
        )  # fmt: skip
        view.wheelEvent(event)

    wheel(rows)  # two rows a notch: the market is far below the window
    assert not ladder.ladder.market_in_view()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Space)
    assert ladder.ladder.market_in_view()

    wheel(-rows)
    assert not ladder.ladder.market_in_view()
    await wait_for(ladder.ladder.market_in_view, what="the automatic re-centre after aiming")


# ------------------------------------------------------------------------------ main window
async def test_the_dock_follows_the_tickets_contract(
    main_window: MainWindow, wait_for: Any
) -> None:
    dock = main_window.findChild(QDockWidget, "priceLadderDock")
    assert dock is not None
    assert dock.isVisible()
    await wait_for(lambda: main_window.ticket.contract is not None, what="the ticket's contract")
    await wait_for(
        lambda: main_window.ladder.contract == main_window.ticket.contract,
        what="the ladder on the ticket's contract",
    )
    await wait_for(
        lambda: main_window.ladder.ladder.best_bid is not None, what="the ladder's market"
    )
