"""The blotter against the simulator: orders with cancel and cancel all, fills with commission,
positions and account values, history and CSV export, and a dropped connection survived."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QFileDialog, QTableView

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthState
from ibconsole.domain.orders import OrderIntent, OrderType, Side, build_intent
from ibconsole.domain.risk import RiskReport
from ibconsole.journal import OrderState
from ibconsole.sim import PaperGateway
from ibconsole.ui.blotter import AccountSummaryPanel, FillsPanel, OrdersPanel, PositionsPanel
from ibconsole.ui.blotter_models import OrderLine, SnapshotTableModel, StatusKind, orders_model
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import rollover_view


@pytest.fixture
async def es(ui_context: UiContext, wait_for: Any) -> ListedContract:
    """ES's active month, with a live quote."""
    view = await rollover_view(
        ui_context.broker, "ES", ui_context.settings.rollover, ui_context.clock.now()
    )
    market = ui_context.broker.market
    market.subscribe(view.active)
    await wait_for(lambda: market.quote(view.active.con_id) is not None, what="an ES quote")
    return view.active


def _intent(
    ctx: UiContext,
    contract: ListedContract,
    side: Side = Side.BUY,
    quantity: int = 1,
    ticks_away: int | None = 12,
) -> OrderIntent:
    """A limit ``ticks_away`` from the touch on the passive side, or a market order (None)."""
    quote = ctx.broker.market.quote(contract.con_id)
    assert quote is not None
    assert quote.bid is not None
    assert quote.ask is not None
    limit = None
    if ticks_away is not None:
        away = contract.min_tick * ticks_away
        limit = quote.bid - away if side is Side.BUY else quote.ask + away
    return build_intent(
        contract=contract,
        side=side,
        quantity=quantity,
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=limit,
        clock=ctx.clock,
        account=ctx.broker.account.account,
        key_factory=ctx.broker.orders.new_key,
    )


def _send(ctx: UiContext, intent: OrderIntent) -> str:
    ctx.broker.orders.submit(intent, confirmed=True)
    return intent.key


def _status(panel: OrdersPanel, key: str) -> str:
    return panel.model.text(key, "Status") if panel.model.find(key) is not None else ""


def _click_cancel(panel: OrdersPanel, key: str, qtbot: Any) -> None:
    source_row = panel.model.row_of(key)
    assert source_row is not None
    view = panel.table
    proxy = view.model()
    index = proxy.mapFromSource(panel.model.index(source_row, 0))  # type: ignore[attr-defined]
    rect = view.visualRect(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


async def test_a_working_order_is_cancelled_from_its_row(
    ui_context: UiContext,
    es: ListedContract,
    orders: OrdersPanel,
    gateway: PaperGateway,
    qtbot: Any,
    wait_for: Any,
) -> None:
    key = _send(ui_context, _intent(ui_context, es))
    await wait_for(lambda: _status(orders, key) == "Working", what="the working row")
    assert orders.model.text(key, "") == "Cancel"

    _click_cancel(orders, key, qtbot)

    await wait_for(lambda: _status(orders, key) == "Cancelled", what="the cancelled row")
    assert orders.model.text(key, "") == ""
    assert gateway.desk.open_orders() == []
    assert [o.status for o in gateway.desk.completed_orders()] == ["Cancelled"]
    journalled = ui_context.broker.journal.order(key)
    assert journalled is not None
    assert journalled.state is OrderState.CANCELLED


async def test_cancel_all_asks_with_the_count_then_cancels_every_working_order(
    ui_context: UiContext,
    es: ListedContract,
    orders: OrdersPanel,
    gateway: PaperGateway,
    wait_for: Any,
) -> None:
    keys = [
        _send(ui_context, _intent(ui_context, es, Side.BUY, 1, 12)),
        _send(ui_context, _intent(ui_context, es, Side.BUY, 2, 16)),
        _send(ui_context, _intent(ui_context, es, Side.SELL, 1, 12)),
    ]
    await wait_for(
        lambda: all(_status(orders, k) == "Working" for k in keys), what="three working rows"
    )

    orders.cancel_all()
    dialog = orders.confirmation
    assert dialog is not None
    assert dialog.lines[0] == "Cancel all 3 working orders placed from this console?"
    assert sum(es.local_symbol in line for line in dialog.lines[1:]) == 3
    dialog.cancel()
    assert len(gateway.desk.open_orders()) == 3
    assert "nothing was cancelled" in orders.status.text()

    orders.cancel_all()
    again = orders.confirmation
    assert again is not None
    again.confirm()

    await wait_for(
        lambda: all(_status(orders, k) == "Cancelled" for k in keys), what="three cancelled rows"
    )
    assert gateway.desk.open_orders() == []
    assert orders.status.text() == "Cancel sent for 3 order(s)."


async def test_cancel_all_with_nothing_working_says_so_without_asking(
    orders: OrdersPanel,
) -> None:
    orders.cancel_all()

    assert orders.confirmation is None
    assert orders.status.text() == "No working orders from this console to cancel."


async def test_a_market_order_fills_into_fills_positions_and_account(
    ui_context: UiContext,
    es: ListedContract,
    gateway: PaperGateway,
    qtbot: Any,
    wait_for: Any,
) -> None:
    fills = FillsPanel(ui_context)
    positions = PositionsPanel(ui_context)
    account = AccountSummaryPanel(ui_context)
    for panel in (fills, positions, account):
        qtbot.addWidget(panel)
    await wait_for(lambda: account.is_populated, what="the account values")
    assert positions.is_populated
    assert positions.state_text == "No open positions."
    before = account.value_text("InitMarginReq")

    key = _send(ui_context, _intent(ui_context, es, Side.BUY, 2, None))

    await wait_for(
        lambda: (
            any(f.key == key for f in fills.model.lines())
            and next(f for f in fills.model.lines() if f.key == key).commission is not None
        ),
        what="the fill with its commission",
    )
    (fill,) = [f for f in fills.model.lines() if f.key == key]
    (execution,) = [e for e in gateway.desk.executions() if e.order_ref == key]
    assert fills.model.text(fill.exec_id, "Qty") == "2"
    assert fills.model.text(fill.exec_id, "Price") == f"{execution.price:,.2f}"
    assert fills.model.text(fill.exec_id, "Commission") == f"{execution.commission:,.2f}"
    assert fills.model.text(fill.exec_id, "Contract") == es.local_symbol
    await wait_for(lambda: positions.model.find(es.con_id) is not None, what="the position row")
    assert positions.model.text(es.con_id, "Position") == "+2"
    # IB's average cost includes the commission: 2 lots' commission over 2 × the multiplier
    avg_price = execution.price + execution.commission / (2 * 50)
    assert positions.model.text(es.con_id, "Avg price") == f"{avg_price:,.2f}"
    assert positions.state_text == ""
    await wait_for(lambda: account.value_text("InitMarginReq") != before, what="the margin to grow")
    assert account.value_text("NetLiquidation") != "—"


async def test_positions_and_account_say_unknown_until_synced(
    make_ui_context: Any, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    ctx = await make_ui_context(gateway, connect=False)
    positions = PositionsPanel(ctx)
    account = AccountSummaryPanel(ctx)
    qtbot.addWidget(positions)
    qtbot.addWidget(account)

    assert positions.state_text == "Positions unknown: not synced with the broker yet."
    assert not positions.is_populated
    assert positions.model.rowCount() == 0
    assert account.heading.text() == "Account values unknown: not synced with the broker yet."
    assert not account.is_populated

    await ctx.broker.start()

    await wait_for(lambda: positions.is_populated, what="positions loaded")
    assert positions.state_text == "No open positions."
    await wait_for(lambda: account.is_populated, what="account values loaded")


async def test_history_adds_journal_orders_and_takes_them_away(
    ui_context: UiContext, es: ListedContract, orders: OrdersPanel
) -> None:
    declined = _intent(ui_context, es)
    ui_context.broker.orders.decline(declined, RiskReport(()))
    orders.show_history(False)
    assert orders.model.find(declined.key) is None

    orders.history_toggle.setChecked(True)

    assert orders.model.text(declined.key, "Status") == "Declined"
    assert orders.model.text(declined.key, "Contract") == es.local_symbol
    orders.history_toggle.setChecked(False)
    assert orders.model.find(declined.key) is None


async def test_csv_export_writes_the_journal(
    ui_context: UiContext, es: ListedContract, orders: OrdersPanel, tmp_path: Path, wait_for: Any
) -> None:
    key = _send(ui_context, _intent(ui_context, es))
    await wait_for(lambda: _status(orders, key) == "Working", what="the working row")
    target = tmp_path / "journal.csv"

    written = orders.export_csv(target)

    assert written >= 1
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert any(key in row.values() for row in rows)
    assert orders.status.text() == f"Exported {written} rows to {target}."

    orders.export_button.click()
    dialog = orders.findChild(QFileDialog)
    assert dialog is not None
    assert dialog.isVisible()
    chosen = tmp_path / "chosen.csv"
    dialog.fileSelected.emit(str(chosen))
    assert chosen.is_file()
    assert orders.status.text().startswith("Exported")
    dialog.reject()


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_the_blotter_survives_a_drop_and_reconciles_what_happened_meanwhile(
    make_ui_context: Any,
    ui_context: UiContext,
    es: ListedContract,
    orders: OrdersPanel,
    gateway: PaperGateway,
    qtbot: Any,
    wait_for: Any,
) -> None:
    positions = PositionsPanel(ui_context)
    qtbot.addWidget(positions)
    filled = _send(ui_context, _intent(ui_context, es, Side.BUY, 1, None))
    first = _send(ui_context, _intent(ui_context, es, Side.BUY, 1, 12))
    second = _send(ui_context, _intent(ui_context, es, Side.SELL, 1, 12))
    await wait_for(
        lambda: (
            _status(orders, filled) == "Filled"
            and _status(orders, first) == "Working"
            and _status(orders, second) == "Working"
        ),
        what="one filled and two working rows",
    )
    await wait_for(lambda: positions.model.find(es.con_id) is not None, what="the position")
    other = await make_ui_context(gateway, client_id=2)
    (second_id,) = [o.order_id for o in gateway.desk.open_orders() if o.request.order_ref == second]
    session = ui_context.broker.session

    gateway.faults.drop(1)
    # While this console is away, TWS (another client) cancels one of its orders.
    other.broker.session.ib.reqGlobalCancel()
    await wait_for(lambda: len(gateway.desk.open_orders()) == 0, what="the cancel at TWS")
    cancelled_while_away = session.state is not HealthState.CONNECTED
    await wait_for(lambda: "Disconnected" in orders.status.text(), what="the disconnected note")
    assert {_status(orders, k) for k in (first, second)} <= {"Working", "Cancelled"}
    assert _status(orders, filled) == "Filled"
    await wait_for(lambda: "last known" in positions.state_text, what="the stale positions")
    assert positions.model.find(es.con_id) is not None

    await wait_for(lambda: session.state is HealthState.CONNECTED, what="the reconnect")

    await wait_for(
        lambda: _status(orders, first) == "Cancelled" and _status(orders, second) == "Cancelled",
        what="statuses reconciled",
    )
    assert cancelled_while_away
    assert orders.status.text() == ""
    assert _status(orders, filled) == "Filled"
    assert orders.model.rowCount() == 3
    assert orders.model.find(second) is not None
    assert orders.model.text(second, "Id") == str(second_id)
    journalled = ui_context.broker.journal.order(second)
    assert journalled is not None
    assert journalled.state is OrderState.CANCELLED
    await wait_for(lambda: positions.state_text == "", what="positions current again")
    assert positions.model.text(es.con_id, "Position") == "+1"


def test_an_update_repaints_only_its_own_row(qtbot: Any) -> None:
    model: SnapshotTableModel[OrderLine] = orders_model()
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(
        lambda first, last, roles=(): changed.append((first.row(), last.row()))
    )
    lines = [_line(f"k{i}", "Working") for i in range(3)]
    model.upsert(lines)
    assert model.rowCount() == 3

    model.upsert([_line("k1", "Filled")])

    assert changed == [(1, 1)]
    assert model.text("k1", "Status") == "Filled"
    assert model.rowCount() == 3
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    assert model.data(model.index(1, model.column("Qty")), Qt.ItemDataRole.TextAlignmentRole) == (
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    index: QModelIndex | QPersistentModelIndex = model.index(0, 0)
    assert model.data(index) == "Cancel"


def _line(key: str, status: str) -> OrderLine:
    working = status == "Working"
    return OrderLine(
        ident=key,
        key=key,
        order_id=int(key[1:]) + 1,
        contract=None,
        local_symbol="ESH5",
        side=Side.BUY,
        quantity=Decimal(1),
        order_type="LMT",
        limit_price=Decimal("5000.25"),
        stop_price=None,
        tif="DAY",
        status=status,
        kind=StatusKind.ACTIVE if working else StatusKind.DONE,
        filled=Decimal(0) if working else Decimal(1),
        avg_price=None,
        note="",
        time=datetime(2025, 3, 4, 15, tzinfo=UTC),
        time_text="15:00:00",
        working=working,
        cancellable=working,
        live=True,
    )
