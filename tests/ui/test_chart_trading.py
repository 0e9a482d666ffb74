"""Chart trading against the simulator: working orders as lines (DESIGN.md section 5: an
``orderLine`` with its ``orderRef``), a drag that modifies the order at the exchange, a refused
drag that snaps back and says why, cancel from a line, orders from the context menu, and the
position line with its P&L."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QMenu, QSpinBox

from ibconsole.domain.alert_kinds import AlertKind, AlertSettings
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import EntryFields, Sent
from ibconsole.domain.orders import OrderType, Side, SnapDirection, snap_to_tick
from ibconsole.journal.price_alert_file import PriceAlertFile
from ibconsole.sim import PaperGateway
from ibconsole.ui.alert_center import AlertCenter
from ibconsole.ui.alert_sound import AlertSound
from ibconsole.ui.chart_orders import OrderLine
from ibconsole.ui.charts import ChartPanel
from ibconsole.ui.confirm_dialog import ConfirmDialog
from ibconsole.ui.context import UiContext
from ibconsole.ui.notifier import Notifier
from ibconsole.ui.price_alert_book import PriceAlertBook


@pytest.fixture
async def chart(ui_context: UiContext, qtbot: Any, wait_for: Any) -> ChartPanel:
    panel = ChartPanel(ui_context)
    qtbot.addWidget(panel)
    panel.resize(1100, 620)
    panel.show()
    await wait_for(lambda: panel.is_populated, timeout=15, what="bars on the chart")
    contract = charted(panel)
    await wait_for(lambda: bid(ui_context, contract) is not None, what="a quote")
    return panel


def charted(chart: ChartPanel) -> ListedContract:
    contract = chart.contract
    assert contract is not None
    return contract


def bid(ctx: UiContext, contract: ListedContract) -> Decimal | None:
    quote = ctx.broker.market.quote(contract.con_id)
    return quote.bid if quote is not None else None


def lines_named(chart: ChartPanel, name: str) -> list[pg.InfiniteLine]:
    """The plot's InfiniteLines with this objectName, as an automation client finds them."""
    return [
        item
        for item in chart.price_plot.items
        if isinstance(item, pg.InfiniteLine) and item.objectName() == name
    ]


def line_of(chart: ChartPanel, key: str) -> pg.InfiniteLine | None:
    return next(
        (ln for ln in lines_named(chart, "orderLine") if ln.property("orderRef") == key), None
    )


def exchange_limit(gateway: PaperGateway, key: str) -> Decimal | None:
    """The limit price the simulator's exchange works the order with ``key`` at."""
    for order in gateway.desk.open_orders():
        if order.request.order_ref == key:
            return order.request.lmt_price
    return None


def place_limit(ctx: UiContext, contract: ListedContract, side: Side, price: Decimal) -> str:
    outcome = ctx.broker.entry.place(
        side, EntryFields(contract, 1, OrderType.LIMIT, limit_price=price)
    )
    assert isinstance(outcome, Sent), outcome
    assert outcome.intent is not None
    return outcome.intent.key


async def working_line(
    chart: ChartPanel, ctx: UiContext, wait_for: Any, ticks_below: int = 8
) -> tuple[pg.InfiniteLine, str, Decimal]:
    contract = charted(chart)
    market = bid(ctx, contract)
    assert market is not None
    price = market - contract.min_tick * ticks_below
    key = place_limit(ctx, contract, Side.BUY, price)
    await wait_for(lambda: line_of(chart, key) is not None, what="the order's line")
    line = line_of(chart, key)
    assert line is not None
    return line, key, price


def action_named(menu: QMenu, name: str) -> QAction:
    found = next((a for a in menu.actions() if a.objectName() == name), None)
    assert found is not None, f"no action {name} in {[a.text() for a in menu.actions()]}"
    return found


async def test_a_working_order_is_a_labelled_movable_line(
    chart: ChartPanel, ui_context: UiContext, wait_for: Any
) -> None:
    line, key, price = await working_line(chart, ui_context, wait_for)
    contract = charted(chart)
    assert line.movable
    assert Decimal(repr(line.value())) == price
    assert isinstance(line, OrderLine)
    assert line.label.format == f"BUY 1 LMT {price:,.2f}"
    assert lines_named(chart, "orderLine") == [line]
    assert contract.local_symbol in line.toolTip() or key in line.toolTip()


async def test_dragging_a_line_modifies_the_order_at_the_exchange_snapped_to_the_tick(
    chart: ChartPanel, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    line, key, price = await working_line(chart, ui_context, wait_for)
    tick = charted(chart).min_tick
    await wait_for(lambda: exchange_limit(gateway, key) == price, what="the order at the exchange")
    # Let go three ticks lower and a little off the grid: it snaps to the nearest tick.
    target = price - 3 * tick
    line.setValue(float(target) + float(tick) * 0.3)
    line.sigPositionChangeFinished.emit(line)
    await wait_for(lambda: exchange_limit(gateway, key) == target, what="the modified order")
    assert Decimal(repr(line.value())) == target
    assert chart.trading.said.startswith("Change sent")
    await wait_for(lambda: "changing" not in line.label.format, what="the confirmed label")
    assert line.label.format == f"BUY 1 LMT {target:,.2f}"
    events = [e.kind.value for e in ui_context.broker.journal.events(key)]
    assert "modification" in " ".join(events)


async def test_a_refused_drag_snaps_back_and_says_why(
    chart: ChartPanel, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    line, key, price = await working_line(chart, ui_context, wait_for)
    await wait_for(lambda: exchange_limit(gateway, key) == price, what="the order at the exchange")
    sent_before = len(gateway.orders)
    # A buy limit dragged 10 % above the market would buy far through it: the checks block it.
    line.setValue(float(price * Decimal("1.1")))
    line.sigPositionChangeFinished.emit(line)
    assert Decimal(repr(line.value())) == price
    assert chart.trading.said.startswith("Blocked, nothing was sent")
    assert "far through the market" in chart.trading.said
    assert len(gateway.orders) == sent_before
    assert exchange_limit(gateway, key) == price


async def test_a_move_the_checks_question_is_sent_only_once_confirmed(
    chart: ChartPanel, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    line, key, price = await working_line(chart, ui_context, wait_for)
    await wait_for(lambda: exchange_limit(gateway, key) == price, what="the order at the exchange")
    # 5 % below the market, beyond the 2 % band: the checks ask first.
    far = snap_to_tick(price * Decimal("0.95"), charted(chart).min_tick, SnapDirection.DOWN)
    line.setValue(float(far))
    line.sigPositionChangeFinished.emit(line)
    dialog = chart.trading.confirmation
    assert isinstance(dialog, ConfirmDialog)
    assert any("band" in text for text in dialog.lines)
    dialog.cancel()
    assert Decimal(repr(line.value())) == price
    assert exchange_limit(gateway, key) == price
    line.setValue(float(far))
    line.sigPositionChangeFinished.emit(line)
    dialog = chart.trading.confirmation
    assert dialog is not None
    dialog.confirm()
    await wait_for(lambda: exchange_limit(gateway, key) == far, what="the confirmed move")


async def test_cancel_from_the_line_ends_the_order_and_removes_the_line(
    chart: ChartPanel, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    line, key, _ = await working_line(chart, ui_context, wait_for)
    assert isinstance(line, OrderLine)
    menu = chart.trading.menu_for(line)
    cancel = action_named(menu, "cancelOrderLine")
    assert cancel.text() == f"Cancel {line.label.format}"
    cancel.trigger()
    assert chart.trading.said.startswith("Cancel sent")
    await wait_for(lambda: line_of(chart, key) is None, what="the line to go")
    assert exchange_limit(gateway, key) is None
    assert ui_context.broker.journal.order(key).lifecycle.state.value == "cancelled"
    assert chart.trading.order_lines == {}
    assert lines_named(chart, "orderLine") == []


# The offscreen platform cannot raise a popup or grab the keyboard for it; it opens all the same.
POPUP_NOISE = (
    "This plugin does not support raise",
    "does not support grabbing the keyboard",
    "does not support propagateSizeHints",
)


@pytest.mark.qt_log_ignore(*POPUP_NOISE)
async def test_a_right_click_on_a_line_opens_its_cancel_menu(
    chart: ChartPanel, ui_context: UiContext, wait_for: Any
) -> None:
    line, _, _ = await working_line(chart, ui_context, wait_for)
    view = chart.price_plot.getViewBox()
    graphics = chart.price_plot.scene().views()[0]
    scene_point = view.mapViewToScene(
        pg.Point(view.viewRange()[0][0] * 0.5 + view.viewRange()[0][1] * 0.5, line.value())
    )
    where = graphics.mapFromScene(scene_point)
    QTest.mouseClick(
        graphics.viewport(), Qt.MouseButton.RightButton, pos=QPoint(where.x(), where.y())
    )
    await wait_for(lambda: isinstance(QApplication.activePopupWidget(), QMenu), what="a menu")
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    assert menu.objectName() == "orderLineMenu"
    menu.close()


async def test_the_context_menu_places_a_limit_or_a_stop_at_that_price(
    chart: ChartPanel, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    contract = charted(chart)
    market = bid(ui_context, contract)
    assert market is not None
    quantity = chart.findChild(QSpinBox, "chartQuantity")
    assert quantity is not None
    quantity.setValue(2)
    below = market - 6 * contract.min_tick
    menu = chart.trading.menu_at(float(below) + 0.1)
    assert menu is not None
    assert [a.objectName() for a in menu.actions() if a.objectName()] == [
        "chartBuyLimit",
        "chartSellStop",
        "chartPriceAlert",
    ]
    buy = action_named(menu, "chartBuyLimit")
    assert buy.text() == f"Buy 2 {contract.local_symbol} LMT @ {below:,.2f}"
    before = len(gateway.orders)
    buy.trigger()
    await wait_for(lambda: len(gateway.orders) > before, what="the order at the exchange")
    sent = gateway.orders[-1].request
    assert (sent.action, sent.order_type, sent.lmt_price, sent.quantity) == (
        "BUY",
        "LMT",
        below,
        Decimal(2),
    )
    await wait_for(lambda: line_of(chart, sent.order_ref) is not None, what="its line")
    above = market + 12 * contract.min_tick
    menu = chart.trading.menu_at(float(above))
    assert menu is not None
    action_named(menu, "chartBuyStop").trigger()
    # A second buy of 2 so soon is a possible duplicate: the same confirmation as the ticket's.
    dialog = chart.trading.confirmation
    assert dialog is not None, chart.trading.said
    assert chart.trading.said == "Waiting for your confirmation…"
    dialog.confirm()
    await wait_for(lambda: gateway.orders[-1].request.order_type == "STP", what="the stop")
    stop = gateway.orders[-1].request
    assert (stop.action, stop.aux_price) == ("BUY", above)
    await wait_for(lambda: line_of(chart, stop.order_ref) is not None, what="the stop's line")
    stop_line = line_of(chart, stop.order_ref)
    assert stop_line is not None
    assert stop_line.pen.style() == Qt.PenStyle.DashLine


async def test_the_position_line_sits_at_the_average_price_with_its_pnl(
    chart: ChartPanel, ui_context: UiContext, wait_for: Any
) -> None:
    contract = charted(chart)
    assert lines_named(chart, "positionLine") == []
    outcome = ui_context.broker.entry.place(Side.BUY, EntryFields(contract, 2, OrderType.MARKET))
    assert isinstance(outcome, Sent)
    await wait_for(lambda: lines_named(chart, "positionLine"), what="the position line")
    (line,) = lines_named(chart, "positionLine")
    position = ui_context.broker.entry.position(contract)
    assert position is not None
    assert position.quantity == 2
    average = position.avg_cost / contract.multiplier
    assert line.value() == pytest.approx(float(average))
    label = chart.trading.position_label
    await wait_for(lambda: "P&L" in label.format, what="the P&L on the position line")
    assert label.format.startswith(f"LONG +2 @ {average:,.2f} · P&L ")
    assert label.format.endswith(" USD")
    flatten = ui_context.broker.entry.place(Side.SELL, EntryFields(contract, 2, OrderType.MARKET))
    assert isinstance(flatten, Sent)
    await wait_for(lambda: not lines_named(chart, "positionLine"), what="the line to go")


async def test_switching_contract_takes_the_lines_away(
    chart: ChartPanel, ui_context: UiContext, wait_for: Any
) -> None:
    await working_line(chart, ui_context, wait_for)
    family = chart.findChild(QComboBox, "chartSymbol")
    assert family is not None
    family.setCurrentText("NQ")
    family.activated.emit(family.currentIndex())
    await wait_for(lambda: charted(chart).symbol == "NQ", what="the NQ chart")
    assert lines_named(chart, "orderLine") == []


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_after_a_reconnect_each_working_order_has_one_line_again(
    chart: ChartPanel, ui_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    _, key, price = await working_line(chart, ui_context, wait_for)
    session = ui_context.broker.session
    synced: list[object] = []
    ui_context.bridge.sig_synced.connect(synced.append)
    gateway.drop_connections()
    await wait_for(lambda: synced, timeout=10, what="the resync after the reconnect")
    await wait_for(lambda: line_of(chart, key) is not None, what="the line drawn again")
    assert session.sync_info is not None
    (line,) = lines_named(chart, "orderLine")
    assert line.property("orderRef") == key
    assert Decimal(repr(line.value())) == price
    assert list(chart.trading.order_lines.values()) == [line]


@pytest.mark.expect_log_warnings  # IB's rejection of the change is logged as a warning
async def test_a_move_ib_rejects_puts_the_line_back_and_says_so(
    chart: ChartPanel,
    ui_context: UiContext,
    gateway: PaperGateway,
    tmp_path: Path,
    wait_for: Any,
) -> None:
    notifier = Notifier(AlertSettings(), ui_context.clock, AlertSound(None))
    book = PriceAlertBook(ui_context, PriceAlertFile(tmp_path / "alerts.json"))
    center = AlertCenter(ui_context, notifier, book)
    line, key, price = await working_line(chart, ui_context, wait_for)
    await wait_for(lambda: exchange_limit(gateway, key) == price, what="the order at the exchange")
    gateway.faults.reject_next_order("Price does not conform to the market rules")
    target = price - 2 * charted(chart).min_tick
    line.setValue(float(target))
    line.sigPositionChangeFinished.emit(line)
    assert chart.trading.said.startswith("Change sent")
    await wait_for(lambda: "did not take" in chart.trading.said, what="the chart to say so")
    assert Decimal(repr(line.value())) == price
    assert exchange_limit(gateway, key) == price
    await wait_for(lambda: notifier.history, what="the reject alert")
    (alert,) = notifier.history
    assert alert.kind is AlertKind.REJECT
    assert alert.title == f"Change rejected: Buy 1 {charted(chart).local_symbol} LMT"
    assert alert.text.endswith("The order works unchanged.")
    assert center.parent() is None  # kept alive by this test until here
