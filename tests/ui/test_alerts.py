"""Critical alerts stay on top until acknowledged; the others pass through the status bar."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from ibconsole.broker.order_values import RollFailure
from ibconsole.domain.rollover import RolloverSettings, plan_roll
from ibconsole.sim import PaperGateway
from ibconsole.ui.alerts import AlertBar
from ibconsole.ui.context import UiContext
from ibconsole.ui.main_window import MainWindow


def alert_bar(window: MainWindow) -> AlertBar:
    bar = window.findChild(AlertBar, "alertBar")
    assert bar is not None
    return bar


def banner_area(window: MainWindow) -> QWidget:
    area = window.findChild(QWidget, "bannerArea")
    assert area is not None
    return area


@pytest.mark.expect_log_warnings
async def test_a_dropped_connection_stays_on_top_until_acknowledged(
    main_window: MainWindow, gateway: PaperGateway, wait_for: Any
) -> None:
    bar = alert_bar(main_window)
    assert not bar.isVisible()
    assert not banner_area(main_window).isVisible()
    gateway.drop_connections()
    await wait_for(bar.isVisible, what="the critical alert")
    assert "dropped" in bar.text()
    assert banner_area(main_window).isVisible()
    await wait_for(
        lambda: main_window.health_indicator.text().startswith("Connected"), what="reconnect"
    )
    assert bar.isVisible(), "reconnecting must not hide an alert the trader has not seen"
    acknowledge = bar.findChild(QPushButton, "acknowledgeAlertButton")
    assert acknowledge is not None
    acknowledge.click()
    assert not bar.isVisible()
    assert bar.pending == ()
    assert not banner_area(main_window).isVisible()


async def test_several_critical_alerts_are_acknowledged_one_by_one(
    main_window: MainWindow, ui_context: UiContext
) -> None:
    emit = ui_context.bridge.sig_alert.emit
    emit("First: TWS/Gateway lost its connection to IB (1100).", True)
    emit("Second: 2 journalled order(s) are unknown to the broker.", True)
    bar = alert_bar(main_window)
    assert bar.isVisible()
    assert "First" in bar.text()
    assert len(bar.pending) == 2
    bar.acknowledge()
    assert "Second" in bar.text()
    assert bar.isVisible()
    bar.acknowledge()
    assert not bar.isVisible()


async def test_a_notice_goes_to_the_status_bar_and_the_health_history(
    main_window: MainWindow, ui_context: UiContext, wait_for: Any
) -> None:
    ui_context.bridge.sig_alert.emit("Market data farm is idle.", False)
    assert not alert_bar(main_window).isVisible()
    assert main_window.statusBar().currentMessage() == "Market data farm is idle."
    history = main_window.health_model.history
    await wait_for(
        lambda: any(e.text == "Market data farm is idle." for e in history.entries),
        what="the notice in the health history",
    )


async def test_a_partial_roll_is_left_to_the_rollover_panel(
    main_window: MainWindow, ui_context: UiContext
) -> None:
    broker = ui_context.broker
    chain = await broker.contracts.chain("ES")
    held, target = chain.contracts[0], chain.contracts[1]
    plan = plan_roll(Decimal(2), held, target, (), RolloverSettings())
    failure = RollFailure(plan, "rejected by the exchange")
    bridge = ui_context.bridge
    # The broker announces a partial roll twice: as a critical alert, then with its retry.
    bridge.sig_alert.emit(failure.sentence, True)
    bridge.sig_roll_failed.emit(failure)
    assert alert_bar(main_window).pending == ()
    assert not alert_bar(main_window).isVisible()
    assert main_window.rollover.failure_alert.isVisible()
    assert "ROLL INCOMPLETE" in main_window.rollover.failure_alert.text
