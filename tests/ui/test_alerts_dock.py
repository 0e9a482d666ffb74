"""The alerts dock in the main window (``alertsDock``, ``alertsTable``): the history of alerts,
price alerts set from the chart's context menu and from the watch list, and removed again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QLineEdit,
    QPushButton,
)

from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.sim import PaperGateway
from ibconsole.ui.alerts_dock import AlertsPanel, PriceAlertDialog
from ibconsole.ui.context import UiContext
from ibconsole.ui.main_window import MainWindow
from ibconsole.ui.notifier import Notifier


def texts(view: QAbstractItemView, column: int) -> list[str]:
    model = view.model()
    return [str(model.index(row, column).data()) for row in range(model.rowCount())]


async def populated(window: MainWindow, ctx: UiContext, wait_for: Any) -> MainWindow:
    await wait_for(lambda: window.chart.is_populated, timeout=15, what="the chart")
    await wait_for(lambda: window.rollover.is_populated, timeout=30, what="the watch list")
    contract = window.chart.contract
    assert contract is not None
    market = ctx.broker.market
    await wait_for(
        lambda: (q := market.quote(contract.con_id)) is not None and q.last_good_price(),
        what="a price on the chart",
    )
    return window


def ok(dialog: QDialog) -> None:
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    buttons.button(QDialogButtonBox.StandardButton.Ok).click()


@pytest.mark.expect_log_warnings  # the dropped connection is logged as an error
async def test_the_dock_lists_each_alert_newest_first(
    main_window: MainWindow, gateway: PaperGateway, wait_for: Any
) -> None:
    dock = main_window.findChild(QDockWidget, "alertsDock")
    assert dock is not None
    table = main_window.findChild(QAbstractItemView, "alertsTable")
    assert table is not None
    await wait_for(lambda: main_window.is_populated, timeout=30, what="the window")
    gateway.drop_connections()
    await wait_for(lambda: table.model().rowCount() == 2, timeout=10, what="lost and restored")
    assert texts(table, 1) == ["Connection restored", "Connection lost"]
    assert texts(table, 2) == ["Connection restored", "Connection lost"]
    assert main_window.notifier.history[-1].kind is AlertKind.CONNECTION_RESTORED
    assert main_window.statusBar().currentMessage().startswith("Connection restored")


async def test_a_price_alert_from_the_chart_menu_shows_in_the_dock_and_is_removed_there(
    main_window: MainWindow, ui_context: UiContext, wait_for: Any
) -> None:
    window = await populated(main_window, ui_context, wait_for)
    contract = window.chart.contract
    assert contract is not None
    quote = ui_context.broker.market.quote(contract.con_id)
    assert quote is not None
    price = quote.last_good_price()
    assert price is not None
    level = price + 30 * contract.min_tick
    menu = window.chart.trading.menu_at(float(level))
    assert menu is not None
    action = next(a for a in menu.actions() if a.objectName() == "chartPriceAlert")
    assert action.text() == f"Alert when {contract.local_symbol} crosses {level:,.2f}"
    action.trigger()
    (alert,) = window.price_alerts.alerts
    assert (alert.level, alert.direction.value) == (level, "above")
    (alert_line,) = window.chart.trading.alert_lines  # drawn on the chart while armed
    assert alert_line.objectName() == "priceAlertLine"
    assert alert_line.value() == float(level)
    table = window.findChild(QAbstractItemView, "priceAlertsTable")
    assert table is not None
    assert texts(table, 0) == [contract.local_symbol]
    assert texts(table, 1) == [f"above {level:,f}"]
    assert texts(table, 3) == ["Armed"]
    table.selectRow(0)
    remove = window.findChild(QPushButton, "removePriceAlertButton")
    assert remove is not None
    assert remove.isEnabled()
    remove.click()
    assert window.price_alerts.alerts == ()
    assert window.chart.trading.alert_lines == ()
    assert table.model().rowCount() == 0


async def test_a_price_alert_from_the_watch_list_asks_for_its_level(
    main_window: MainWindow, ui_context: UiContext, wait_for: Any
) -> None:
    window = await populated(main_window, ui_context, wait_for)
    panel = window.rollover
    menu = panel.alert_menu(panel.model.row_of("ES"))
    assert menu is not None
    action = next(a for a in menu.actions() if a.objectName() == "rolloverPriceAlert")
    action.trigger()
    dialog = window.findChild(PriceAlertDialog, "priceAlertDialog")
    assert dialog is not None
    level_edit = dialog.findChild(QLineEdit, "priceAlertLevel")
    assert level_edit is not None
    market = Decimal(level_edit.text())  # prefilled with the market's price
    level_edit.setText("not a price")
    ok(dialog)
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert "is not a price" in dialog.error.text()
    level_edit.setText(f"{market - 50:f}")
    ok(dialog)
    (alert,) = window.price_alerts.alerts
    assert alert.level == market - 50
    assert alert.direction.value == "below"


async def test_the_history_keeps_only_the_alerts_the_notifier_remembers(
    main_window: MainWindow, ui_context: UiContext, qtbot: Any
) -> None:
    # A session of fills and daily reconnects raises alerts without end: the dock's table keeps
    # the newest ones, as many as the notifier remembers, not one row per alert ever raised.
    notifier = Notifier(
        main_window.notifier.settings, ui_context.clock, main_window.notifier.sound, None, 3
    )
    panel = AlertsPanel(notifier, main_window.price_alerts)
    qtbot.addWidget(panel)

    for number in range(7):
        notifier.notify(AlertKind.CONNECTION_RESTORED, "Connection restored", f"restart {number}")

    assert [r.text for r in notifier.history] == ["restart 4", "restart 5", "restart 6"]
    assert panel.history.rowCount() == 3
    assert sorted(texts(panel.table, 3)) == ["restart 4", "restart 5", "restart 6"]


async def test_a_later_alert_with_a_longer_title_widens_its_column(
    main_window: MainWindow, ui_context: UiContext, qtbot: Any
) -> None:
    # The first alert sets the widths; a later one widens a column for its own row alone.
    notifier = Notifier(
        main_window.notifier.settings, ui_context.clock, main_window.notifier.sound, None, 50
    )
    panel = AlertsPanel(notifier, main_window.price_alerts)
    qtbot.addWidget(panel)
    header = panel.table.horizontalHeader()
    notifier.notify(AlertKind.SIGNAL, "Fill", "one")
    first = header.sectionSize(2)
    for number in range(5):
        notifier.notify(AlertKind.SIGNAL, "Fill", f"again {number}")
    assert header.sectionSize(2) == first
    notifier.notify(AlertKind.SIGNAL, "A signal with a much longer title than the rest", "two")
    assert header.sectionSize(2) > first
