"""Rolling a held ES position inside its roll window, through the rollover panel's Roll… action:
both legs at the simulator and in the journal; a rejected open leg raises the critical alert and
its retry places only the open leg."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton, QWidget

from ibconsole.broker.order_values import OrderRow
from ibconsole.config import Settings
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderType, Purpose, Side, build_intent
from ibconsole.domain.spread_roll import SpreadRollSettings
from ibconsole.journal import OrderState
from ibconsole.sim import PaperGateway
from ibconsole.ui.blotter import FillsPanel, OrdersPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.decimal_spin_box import DecimalSpinBox
from ibconsole.ui.months import rollover_view
from ibconsole.ui.roll_dialog import RollDialog, Step
from ibconsole.ui.rollover_panel import Column, RolloverPanel

# Monday 17 March 2025, 10:00 in Chicago: ESH5 expires on Friday 21 March, its roll date was
# Thursday 13 March, so it is in its roll window and the market is open.
IN_ES_ROLL_WINDOW = datetime(2025, 3, 17, 15, 0, tzinfo=UTC)

T = TypeVar("T", bound=QObject)


def child(widget: QWidget, kind: type[T], name: str) -> T:
    found = widget.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    return found


@pytest.fixture
def as_of() -> datetime:
    return IN_ES_ROLL_WINDOW


async def hold_es(ctx: UiContext, wait_for: Any, quantity: int = 1) -> ListedContract:
    """Buy ``quantity`` of the ES front month through the broker, as a trader would have."""
    view = await rollover_view(ctx.broker, "ES", ctx.settings.rollover, ctx.clock.now())
    front = view.front.contract
    market = ctx.broker.market
    market.subscribe(front)
    await wait_for(lambda: market.quote(front.con_id) is not None, what="an ESH5 quote")
    intent = build_intent(
        contract=front,
        side=Side.BUY,
        quantity=quantity,
        order_type=OrderType.MARKET,
        clock=ctx.clock,
        account=ctx.broker.account.account,
    )
    ctx.broker.orders.submit(intent, confirmed=True)
    await wait_for(
        lambda: (
            (p := ctx.broker.account.position(front.con_id)) is not None and p.quantity == quantity
        ),
        what="the ES position",
    )
    market.unsubscribe(front.con_id)
    return front


async def open_roll_dialog(
    ctx: UiContext, qtbot: Any, wait_for: Any, *, as_spread: bool = False, default: bool = True
) -> tuple[RolloverPanel, RollDialog]:
    """The panel (keep it referenced: it owns the dialog) and its open roll dialog, set to roll
    as one spread order or, unless ``as_spread``, as two orders; ``default`` is what the dialog
    must offer first (the spread, for ES, unless the settings prefer two orders)."""
    panel = RolloverPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1200, 420)
    await wait_for(
        lambda: (
            (row := panel.model.row_at(panel.model.row_of("ES"))) is not None
            and row.roll_candidate is not None
        ),
        what="the held ES position in the watch list",
    )
    panel.select_family("ES")
    button = child(panel, QPushButton, "rollButton")
    assert button.isEnabled()
    button.click()
    dialog = panel.roll_dialog
    assert dialog is not None
    spread = child(dialog, QPushButton, "rollAsSpread")
    assert spread.isChecked() is default  # CME lists the ES calendar
    spread.setChecked(as_spread)
    return panel, dialog


def new_orders(gateway: PaperGateway, before: int) -> list[tuple[str, str, Decimal]]:
    return [
        (o.request.contract.local_symbol, o.request.action, o.request.quantity)
        for o in gateway.orders[before:]
        if not o.is_modify
    ]


async def test_the_watch_list_marks_the_held_position_in_its_roll_window(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    await hold_es(ui_context, wait_for)
    panel = RolloverPanel(ui_context)
    qtbot.addWidget(panel)
    panel.resize(1200, 420)
    await wait_for(lambda: panel.is_populated and all(r.months for r in panel.model.rows))
    await wait_for(lambda: panel.model.rows[panel.model.row_of("ES")].held, what="ES held")
    model = panel.model
    row = model.row_of("ES")
    assert model.data(model.index(row, Column.POSITION)) == "+1 ESH5"
    assert model.data(model.index(row, Column.STATUS)) == "Roll window → ESM5"
    button = child(panel, QPushButton, "rollButton")
    panel.select_family("CL")
    assert not button.isEnabled()  # nothing held in CL
    panel.select_family("ES")
    assert button.isEnabled()
    assert "roll into ESM5" in child(panel, QLabel, "rolloverHint").text()


async def test_roll_closes_the_old_month_and_opens_the_next_at_the_simulator(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for)
    before = len(gateway.orders)
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for)

    assert child(dialog, QLabel, "rollCloseLeg").text() == "SELL 1 ESH5"
    assert child(dialog, QLabel, "rollOpenLeg").text() == "BUY 1 ESM5"
    assert child(dialog, QCheckBox, "rollReopen").isChecked()
    assert child(dialog, QLabel, "rollOrders").text().startswith("None")
    spread = child(dialog, QLabel, "rollSpread")
    await wait_for(lambda: "bid +" in spread.text() or "bid -" in spread.text(), what="spread")
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="the Roll button, once both months are quoted")
    market = ui_context.broker.market
    target = dialog.plan.open
    assert target is not None
    assert market.subscriptions() == {held.con_id: 1, target.contract.con_id: 1}

    confirm.click()
    await wait_for(
        lambda: dialog.steps == {"close": Step.FILLED, "open": Step.FILLED},
        timeout=10,
        what="both legs filled",
    )
    await wait_for(lambda: not dialog.running, what="the roll to end")
    assert new_orders(gateway, before) == [
        ("ESH5", "SELL", Decimal(1)),
        ("ESM5", "BUY", Decimal(1)),
    ]
    account = ui_context.broker.account
    await wait_for(lambda: account.position(target.contract.con_id).quantity == 1)  # type: ignore[union-attr]
    assert account.position(held.con_id).quantity == 0  # type: ignore[union-attr]
    journalled = {
        o.intent.purpose: o for o in ui_context.broker.journal.orders() if o.intent.purpose
    }
    assert journalled[Purpose.ROLL_CLOSE].intent.contract == held
    assert journalled[Purpose.ROLL_CLOSE].lifecycle.state is OrderState.FILLED
    assert journalled[Purpose.ROLL_OPEN].intent.contract == target.contract
    assert journalled[Purpose.ROLL_OPEN].lifecycle.state is OrderState.FILLED
    assert "✓" in child(dialog, QLabel, "rollProgress").text()

    dialog.reject()
    assert market.subscriptions() == {}


async def test_unticking_reopen_closes_only(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    await hold_es(ui_context, wait_for)
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for)
    child(dialog, QCheckBox, "rollReopen").setChecked(False)
    assert dialog.plan.open is None
    assert "not reopened" in child(dialog, QLabel, "rollOpenLeg").text()
    assert child(dialog, QPushButton, "rollConfirmButton").text() == "Close ESH5"


@pytest.mark.expect_log_warnings  # the failed open leg is logged as critical
async def test_a_rejected_open_leg_raises_the_alert_and_the_retry_places_only_the_open_leg(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for)
    panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for)
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="both months quoted")

    def reject_open_leg(row: OrderRow) -> None:
        if row.con_id == held.con_id and row.side is Side.SELL and row.status == "Filled":
            ui_context.bridge.sig_order_changed.disconnect(reject_open_leg)
            gateway.faults.reject_next_order("Simulated reject of the open leg")

    ui_context.bridge.sig_order_changed.connect(reject_open_leg)
    before = len(gateway.orders)
    confirm.click()
    alert = panel.failure_alert
    await wait_for(lambda: alert.isVisibleTo(panel), timeout=10, what="the partial-roll alert")
    assert "ESH5" in alert.text
    assert "ESM5" in alert.text
    assert "Simulated reject" in alert.text
    assert dialog.failure_alert.isVisibleTo(dialog)
    assert dialog.steps == {"close": Step.FILLED, "open": Step.FAILED}
    assert new_orders(gateway, before) == [
        ("ESH5", "SELL", Decimal(1)),
        ("ESM5", "BUY", Decimal(1)),
    ]

    dialog.reject()  # the alert stays on the panel after the dialog is gone
    retried = len(gateway.orders)
    child(alert, QPushButton, "retryOpenButton").click()
    await wait_for(lambda: not alert.isVisibleTo(panel), timeout=10, what="the retry to fill")
    assert new_orders(gateway, retried) == [("ESM5", "BUY", Decimal(1))]
    account = ui_context.broker.account
    target = dialog.plan.open
    assert target is not None
    await wait_for(lambda: account.position(target.contract.con_id).quantity == 1)  # type: ignore[union-attr]
    assert account.position(held.con_id).quantity == 0  # type: ignore[union-attr]
    opens = [o for o in ui_context.broker.journal.orders() if o.intent.purpose is Purpose.ROLL_OPEN]
    assert sorted(o.lifecycle.state for o in opens) == sorted(
        [OrderState.REJECTED, OrderState.FILLED]
    )
    assert ui_context.broker.market.subscriptions() == {}


async def test_the_roll_waits_while_orders_are_blocked_and_says_why(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    await hold_es(ui_context, wait_for)
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for)
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="the Roll button")
    await ui_context.broker.session.disconnect()
    blocked = child(dialog, QLabel, "rollBlocked")
    await wait_for(lambda: blocked.isVisibleTo(dialog), what="the reason orders are blocked")
    assert not confirm.isEnabled()
    assert blocked.text() == ui_context.broker.orders.entry_block()


async def test_working_orders_on_the_old_month_are_listed_and_cancelled_or_moved_by_the_roll(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for)
    orders = ui_context.broker.orders
    protective = build_intent(
        contract=held,
        side=Side.SELL,
        quantity=1,
        order_type=OrderType.STOP,
        stop_price=Decimal("5800"),
        clock=ui_context.clock,
        account=ui_context.broker.account.account,
    )
    orders.submit(protective, confirmed=True)
    await wait_for(lambda: len(orders.working_orders(held.con_id)) == 1, what="the stop working")
    (stop,) = orders.working_orders(held.con_id)

    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for)
    listed = child(dialog, QLabel, "rollOrders")
    assert listed.text() == (
        f"#{stop.order_id} SELL 1 STP (stop 5,800.00): moved to ESM5 once it is open, its "
        "prices shifted by the calendar spread the roll fills at"
    )
    child(dialog, QCheckBox, "rollReopen").setChecked(False)
    assert listed.text() == f"#{stop.order_id} SELL 1 STP (stop 5,800.00): cancelled with the roll"
    child(dialog, QCheckBox, "rollReopen").setChecked(True)

    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="both months quoted")
    confirm.click()
    await wait_for(lambda: not dialog.running, timeout=10, what="the roll to end")
    assert orders.working_orders(held.con_id) == ()
    target = dialog.plan.open
    assert target is not None
    await wait_for(
        lambda: (
            [(o.side, o.order_type) for o in orders.working_orders(target.contract.con_id)]
            == [(Side.SELL, OrderType.STOP)]
        ),
        what="the stop moved to the new month",
    )
    assert dialog.steps == {"close": Step.FILLED, "open": Step.FILLED}
    assert "Roll complete: now long 1 ESM5." in child(dialog, QLabel, "rollProgress").text()


# ------------------------------------------------------------------ as one spread order
# The spread is the default for a listed calendar, its own quote shows beside the legs', and
# confirming sends one BAG; a limit that does not fill stays working in the dialog and the
# blotter with modify, cancel and a switch to legging the rest.


def combos(gateway: PaperGateway, before: int) -> list[Any]:
    return [
        o.request
        for o in gateway.orders[before:]
        if o.request.contract.sec_type == "BAG" and not o.is_modify
    ]


def spread_orders(ctx: UiContext) -> list[Any]:
    return [o for o in ctx.broker.journal.orders() if o.intent.purpose is Purpose.ROLL_SPREAD]


async def test_the_spread_is_the_default_and_rolls_both_legs_in_one_order(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for)
    before = len(gateway.orders)
    orders_panel, fills_panel = OrdersPanel(ui_context), FillsPanel(ui_context)
    for blotter in (orders_panel, fills_panel):
        qtbot.addWidget(blotter)
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for, as_spread=True)
    target = dialog.plan.open
    assert target is not None

    as_spread = child(dialog, QPushButton, "rollAsSpread")
    assert as_spread.isChecked()
    assert "ESH5-ESM5" in as_spread.text()
    quote = child(dialog, QLabel, "rollSpreadQuote")
    await wait_for(
        lambda: "bid —" not in quote.text().split("legs imply")[0], what="the spread's own quote"
    )
    assert "legs imply bid" in quote.text()
    assert "tick 0.05" in quote.text()
    price = child(dialog, DecimalSpinBox, "rollSpreadPrice")
    await wait_for(lambda: price.value() is not None, what="the default marketable limit")
    assert "SELL 1 ESH5" in child(dialog, QLabel, "rollSpreadLegs").text()
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="the Roll button")

    confirm.click()
    await wait_for(lambda: dialog.steps["open"] is Step.FILLED, timeout=10, what="the spread fill")
    await wait_for(lambda: not dialog.running, what="the roll to end")

    (sent,) = combos(gateway, before)
    assert [(leg.con_id, leg.action) for leg in sent.combo_legs] == [
        (held.con_id, "SELL"),
        (target.contract.con_id, "BUY"),
    ]
    assert sent.order_type == "LMT"
    assert sent.lmt_price == price.value()
    (order,) = spread_orders(ui_context)
    assert order.state is OrderState.FILLED
    assert "filled: 1 of 1 rolled at" in child(dialog, QLabel, "rollSpreadStatus").text()
    assert "Roll complete" in child(dialog, QLabel, "rollProgress").text()
    # the blotter shows the roll as one order at its spread price, and a fill per leg
    await wait_for(
        lambda: any(line.key == order.key for line in orders_panel.model.lines()),
        what="the spread order in the blotter",
    )
    (line,) = [line for line in orders_panel.model.lines() if line.key == order.key]
    assert (line.local_symbol, line.avg_price) == ("ESH5-ESM5", order.lifecycle.avg_fill_price)
    await wait_for(
        lambda: len([f for f in fills_panel.model.lines() if f.key == order.key]) == 3,
        what="the spread's fills",
    )
    named = {f.local_symbol for f in fills_panel.model.lines() if f.key == order.key}
    assert named == {"ESH5", "ESM5", "ESH5-ESM5"}
    account = ui_context.broker.account
    await wait_for(lambda: account.position(target.contract.con_id).quantity == 1)  # type: ignore[union-attr]
    assert account.position(held.con_id).quantity == 0  # type: ignore[union-attr]
    dialog.reject()
    assert ui_context.broker.market.subscriptions() == {}


async def test_a_limit_that_does_not_fill_stays_working_then_the_rest_is_legged(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for)
    ui_context.broker.orders.spread_rolls.fill_timeout = 1.0
    before = len(gateway.orders)
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for, as_spread=True)
    kind = child(dialog, QComboBox, "rollSpreadOrderType")
    assert kind.currentText().startswith("Limit")
    price = child(dialog, DecimalSpinBox, "rollSpreadPrice")
    await wait_for(lambda: price.value() is not None, what="the default limit")
    far_below = price.value() - 50  # type: ignore[operator]
    price.set_value(far_below)
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="the Roll button")

    confirm.click()
    status = child(dialog, QLabel, "rollSpreadStatus")
    await wait_for(lambda: "working" in status.text(), timeout=10, what="the working spread")
    assert "0 of 1 rolled" in status.text()
    for name in ("rollSpreadModify", "rollSpreadCancel", "rollSpreadLegRest"):
        assert child(dialog, QPushButton, name).isVisibleTo(dialog), name
    (order,) = spread_orders(ui_context)
    row = next(r for r in ui_context.broker.orders.rows() if r.key == order.key)
    assert row.working
    assert row.local_symbol == "ESH5-ESM5"

    price.set_value(far_below - Decimal("0.05"))
    child(dialog, QPushButton, "rollSpreadModify").click()
    await wait_for(
        lambda: any(o.is_modify and o.request.order_ref == order.key for o in gateway.orders),
        what="the change at the simulator",
    )
    child(dialog, QPushButton, "rollSpreadLegRest").click()
    await wait_for(lambda: dialog.steps["open"] is Step.FILLED, timeout=10, what="legged")
    await wait_for(lambda: not dialog.running, what="the legged roll to end")

    assert len(combos(gateway, before)) == 1
    legged = [
        (o.request.contract.local_symbol, o.request.action)
        for o in gateway.orders[before:]
        if o.request.contract.sec_type == "FUT" and not o.is_modify
    ]
    assert legged == [("ESH5", "SELL"), ("ESM5", "BUY")]
    assert ui_context.broker.journal.order(order.key).state is OrderState.CANCELLED  # type: ignore[union-attr]
    assert "cancelled: 0 of 1 rolled" in status.text()
    target = dialog.plan.open
    assert target is not None
    account = ui_context.broker.account
    await wait_for(lambda: account.position(target.contract.con_id).quantity == 1)  # type: ignore[union-attr]
    assert account.position(held.con_id).quantity == 0  # type: ignore[union-attr]


@pytest.mark.expect_log_warnings  # the rejected order is logged
async def test_a_rejected_spread_says_why_and_rolls_nothing(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for)
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for, as_spread=True)
    child(dialog, QComboBox, "rollSpreadOrderType").setCurrentIndex(1)  # market
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="the Roll button")
    gateway.faults.reject_next_order("No permission for calendar spreads")

    confirm.click()
    error = child(dialog, QLabel, "rollError")
    await wait_for(lambda: error.isVisibleTo(dialog), timeout=10, what="the reason")
    await wait_for(lambda: not dialog.running, what="the roll to end")

    assert "No permission for calendar spreads" in error.text()
    assert "nothing was rolled" in error.text()
    (order,) = spread_orders(ui_context)
    assert order.state is OrderState.REJECTED
    assert order.intent.order_type is OrderType.MARKET
    assert dialog.steps["close"] is Step.FAILED
    assert ui_context.broker.account.position(held.con_id).quantity == 1  # type: ignore[union-attr]


async def test_a_partly_filled_spread_shows_what_rolled_and_its_rest_can_be_cancelled(
    gateway: PaperGateway, ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    held = await hold_es(ui_context, wait_for, quantity=2)
    ui_context.broker.orders.spread_rolls.fill_timeout = 1.0
    _panel, dialog = await open_roll_dialog(ui_context, qtbot, wait_for, as_spread=True)
    child(dialog, QComboBox, "rollSpreadOrderType").setCurrentIndex(1)  # market
    confirm = child(dialog, QPushButton, "rollConfirmButton")
    await wait_for(confirm.isEnabled, what="the Roll button")
    gateway.desk.set_partial_fills(2, stall=True)  # one of two fills, the rest never does

    confirm.click()
    status = child(dialog, QLabel, "rollSpreadStatus")
    await wait_for(lambda: "1 of 2 rolled" in status.text(), timeout=10, what="the part")
    assert "working" in status.text()
    cancel = child(dialog, QPushButton, "rollSpreadCancel")
    assert cancel.isVisibleTo(dialog)
    cancel.click()
    await wait_for(lambda: "cancelled" in status.text(), what="the rest cancelled")

    assert "1 of 2 rolled" in status.text()
    assert "1 ESH5 not rolled" in status.text()
    assert not cancel.isVisibleTo(dialog)
    assert not dialog.running
    target = dialog.plan.open
    assert target is not None
    account = ui_context.broker.account
    await wait_for(lambda: account.position(target.contract.con_id).quantity == 1)  # type: ignore[union-attr]
    assert account.position(held.con_id).quantity == 1  # type: ignore[union-attr]


async def test_a_trader_who_prefers_two_orders_gets_them_by_default(
    gateway: PaperGateway, make_ui_context: Any, qtbot: Any, wait_for: Any
) -> None:
    settings = Settings(
        spread_roll=SpreadRollSettings(prefer_spread=False, fill_timeout=timedelta(seconds=7))
    )
    ctx = await make_ui_context(gateway, settings=settings)
    await hold_es(ctx, wait_for)
    assert ctx.broker.orders.spread_rolls.fill_timeout == 7

    _panel, dialog = await open_roll_dialog(ctx, qtbot, wait_for, default=False)

    as_spread = child(dialog, QPushButton, "rollAsSpread")
    assert as_spread.isEnabled()
    assert not dialog.spread_panel.as_spread
    assert "Two orders" in child(dialog, QLabel, "rollSpreadMode").text()
    assert not child(dialog, QLabel, "rollSpreadQuote").isVisibleTo(dialog)
    as_spread.click()
    assert dialog.spread_panel.as_spread
    assert child(dialog, QLabel, "rollSpreadQuote").isVisibleTo(dialog)
    dialog.reject()
