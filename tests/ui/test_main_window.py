"""The assembled window: docks, first-run layouts, layout memory, menus and shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, QSettings, QSize
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox, QWidget

from ibconsole.domain.orders import OrderType, Side, build_intent
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.health import HealthIndicator
from ibconsole.ui.main_window import MainWindow

# DESIGN.md section 5: the names end-to-end tests rely on.
OBJECT_NAMES = (
    "connectionPanel",
    "profileCombo",
    "hostEdit",
    "portEdit",
    "clientIdEdit",
    "portWarning",
    "testConnectionButton",
    "connectButton",
    "healthIndicator",
    "liveBanner",
    "rolloverPanel",
    "rollButton",
    "orderTicket",
    "ticketSymbol",
    "ticketQuantity",
    "ticketOrderType",
    "ticketLimitPrice",
    "ticketStopPrice",
    "ticketPosition",
    "buyButton",
    "sellButton",
    "ordersTable",
    "fillsTable",
    "positionsTable",
    "accountSummary",
    "chartPanel",
    "priceLadderDock",
    "priceLadder",
    "ladderQuantity",
    "signalInboxDock",
    "signalTable",
    "signalSendButton",
    "signalReviewButton",
    "signalDismissButton",
)

SHORTCUTS = {
    "buy": "Ctrl+Alt+B",
    "sell": "Ctrl+Alt+S",
    "flatten": "Ctrl+Alt+F",
    "cancelAll": "Ctrl+Alt+X",
    "connect": "Ctrl+K",
    "testConnection": "Ctrl+T",
    "exportJournal": "Ctrl+E",
    "resetBreaker": "Ctrl+Shift+R",
    "quit": "Ctrl+Q",
}


async def test_every_name_of_the_automation_contract_is_in_the_window(
    main_window: MainWindow,
) -> None:
    missing = [name for name in OBJECT_NAMES if main_window.findChild(QWidget, name) is None]
    assert missing == []
    indicator = main_window.statusBar().findChild(HealthIndicator, "healthIndicator")
    assert indicator is not None
    assert indicator.isVisible()


async def test_every_part_is_a_dock_the_trader_can_move(main_window: MainWindow) -> None:
    assert set(main_window.docks) == {
        "connection",
        "ticket",
        "priceLadder",
        "chart",
        "orders",
        "fills",
        "positions",
        "account",
        "rollover",
        "health",
        "alerts",
        "signalInbox",
        "optionChain",
    }
    for name, dock in main_window.docks.items():
        assert dock.objectName() == f"{name}Dock"
        assert dock.features() & QDockWidget.DockWidgetFeature.DockWidgetMovable
        assert dock.widget() is not None


def placed(window: MainWindow) -> list[str]:
    """Docks that are neither shown inside the window nor waiting behind a tab."""
    inside = QRect(0, 0, window.width(), window.height())
    wrong = []
    for name, dock in window.docks.items():
        tabbed = bool(window.tabifiedDockWidgets(dock))
        if dock.isVisible() and inside.contains(dock.geometry()):
            too_small = dock.width() < dock.minimumSizeHint().width()
            if too_small:
                wrong.append(f"{name} clipped")
            continue
        if not tabbed:
            wrong.append(name)
    return wrong


@pytest.mark.parametrize("size", [QSize(1920, 1080), QSize(1366, 768)])
async def test_the_first_run_layout_fits_every_part(
    main_window: MainWindow, size: QSize, wait_for: Any
) -> None:
    main_window.resize(size)
    await wait_for(lambda: main_window.size() == size, what="the window size")
    main_window.reset_layout()
    await wait_for(lambda: not placed(main_window), what=f"every dock placed ({size})")
    chart = main_window.docks["chart"]
    await wait_for(
        lambda: (
            chart.width() > size.width() * 45 // 100 and chart.height() > size.height() * 45 // 100
        ),
        what="a chart of about half the window",
    )
    ticket = main_window.docks["ticket"]
    assert not main_window.tabifiedDockWidgets(ticket), "the ticket is never behind a tab"


async def test_the_layout_is_saved_and_restored(
    main_window: MainWindow,
    ui_context: UiContext,
    make_main_window: Any,
    qsettings_dir: Path,
    wait_for: Any,
) -> None:
    main_window.resize(1500, 900)
    await wait_for(lambda: main_window.size() == QSize(1500, 900), what="the new size")
    main_window.docks["health"].hide()
    main_window.tabifyDockWidget(main_window.docks["orders"], main_window.docks["positions"])
    main_window.save_layout()
    assert QSettings().fileName().startswith(str(qsettings_dir)), "a temporary QSettings file"
    assert QSettings().value("mainWindow/state") is not None

    # The offscreen screen is 800×800 and Qt fits restored geometry onto the screen, so the
    # size cannot be compared here; the dock arrangement can.
    again: MainWindow = make_main_window(ui_context)
    assert again.docks["health"].isHidden()
    assert again.docks["positions"] in again.tabifiedDockWidgets(again.docks["orders"])
    again.reset_layout()
    assert not again.docks["health"].isHidden()


async def test_closing_saves_the_layout_and_says_so(
    main_window: MainWindow, qsettings_dir: Path
) -> None:
    closed: list[bool] = []
    main_window.sig_closed.connect(lambda: closed.append(True))
    main_window.actions_by_name["quit"].trigger()
    assert closed == [True]
    assert not main_window.isVisible()
    assert QSettings().value("mainWindow/geometry") is not None


async def test_menu_actions_carry_their_shortcuts(main_window: MainWindow) -> None:
    menu_actions = {
        action.objectName()
        for menu in main_window.menuBar().findChildren(QWidget)
        for action in menu.actions()
    }
    for name, keys in SHORTCUTS.items():
        action = main_window.actions_by_name[name]
        assert action.objectName() == f"{name}Action"
        assert action.shortcut().toString() == keys, name
        assert action.objectName() in menu_actions
    for name in ("resetLayout", "about"):
        assert f"{name}Action" in menu_actions


async def test_cancel_all_from_the_menu_asks_then_cancels(
    main_window: MainWindow, ui_context: UiContext, wait_for: Any
) -> None:
    orders = main_window.orders
    main_window.actions_by_name["cancelAll"].trigger()
    assert orders.confirmation is None
    assert "No working orders" in orders.status.text()

    ticket = main_window.ticket
    await wait_for(lambda: ticket.contract is not None, what="the ticket's contract")
    contract = ticket.contract
    assert contract is not None
    market = ui_context.broker.market
    await wait_for(lambda: market.quote(contract.con_id) is not None, what="a quote")
    quote = market.quote(contract.con_id)
    assert quote is not None
    assert quote.bid is not None
    intent = build_intent(
        contract=contract,
        side=Side.BUY,
        quantity=1,
        order_type=OrderType.LIMIT,
        limit_price=quote.bid - contract.min_tick * 12,
        clock=ui_context.clock,
        account=ui_context.broker.account.account,
        key_factory=ui_context.broker.orders.new_key,
    )
    ui_context.broker.orders.submit(intent, confirmed=True)
    rows = ui_context.broker.orders.rows

    def status() -> str:
        return next((r.status for r in rows() if r.key == intent.key), "")

    await wait_for(lambda: status() == "Submitted", what="the working order")
    await wait_for(lambda: orders.model.find(intent.key) is not None, what="the blotter row")
    main_window.actions_by_name["cancelAll"].trigger()
    dialog = orders.confirmation
    assert dialog is not None
    assert dialog.isVisible()
    dialog.confirm_button.click()
    await wait_for(lambda: status() == "Cancelled", what="the cancel at the exchange")


async def test_buy_from_the_menu_goes_through_the_ticket_checks(
    main_window: MainWindow, gateway: PaperGateway, wait_for: Any
) -> None:
    await wait_for(lambda: main_window.ticket.is_populated, what="the ticket's contract")
    before = len(gateway.orders)
    main_window.actions_by_name["buy"].trigger()
    await wait_for(lambda: main_window.ticket.status_text, what="the ticket's answer")
    # The default ticket is a limit order without a price: nothing may reach the exchange.
    assert "not sent" in main_window.ticket.status_text.lower()
    assert len(gateway.orders) == before


async def test_export_journal_opens_a_save_dialog(main_window: MainWindow, wait_for: Any) -> None:
    main_window.actions_by_name["exportJournal"].trigger()
    await wait_for(
        lambda: any(d.isVisible() for d in main_window.findChildren(QFileDialog)),
        what="the save dialog",
    )
    for dialog in main_window.findChildren(QFileDialog):
        dialog.reject()


async def test_about_shows_the_version(main_window: MainWindow) -> None:
    main_window.actions_by_name["about"].trigger()
    about = main_window.findChild(QMessageBox, "aboutDialog")
    assert about is not None
    assert "IB Console" in about.text()
    about.close()


async def test_the_window_is_populated_and_the_chart_follows_the_ticket(
    main_window: MainWindow, wait_for: Any
) -> None:
    await wait_for(lambda: main_window.is_populated, timeout=15, what="every panel populated")
    await main_window.wait_populated()
    ticket, chart = main_window.ticket, main_window.chart
    assert ticket.contract is not None
    await wait_for(lambda: chart.contract == ticket.contract, what="the chart on the contract")
    assert "Paper DU1234567" in main_window.mode_label.text()


async def test_the_live_banner_starts_hidden(main_window: MainWindow) -> None:
    banner = main_window.findChild(QWidget, "liveBanner")
    assert banner is not None
    assert not banner.isVisible()
    main_window.connection.sig_live_confirmed.emit("U1234567")
    assert banner.isVisible()
    main_window.connection.sig_live_ended.emit()
    assert not banner.isVisible()
