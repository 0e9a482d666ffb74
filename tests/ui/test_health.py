"""Connection health: the status-bar words, the dock, the history and the breaker reset."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from ibconsole.config import Settings
from ibconsole.domain.clock import ManualClock
from ibconsole.domain.health import (
    BackoffPolicy,
    BreakerPolicy,
    BreakerState,
    ConnectFailed,
    ConnectRequested,
    HealthMachine,
    HealthSettings,
    HealthState,
    ReconnectDue,
)
from ibconsole.sim import PaperGateway
from ibconsole.ui.context import UiContext
from ibconsole.ui.health import HealthDock, HealthIndicator, HealthModel
from ibconsole.ui.theme import Tone

AS_OF = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def views(ui_context: UiContext, qtbot: Any) -> tuple[HealthIndicator, HealthDock]:
    model = HealthModel(ui_context)
    indicator = HealthIndicator(ui_context, model=model)
    dock = HealthDock(ui_context, model=model)
    model.setParent(dock)
    for widget in (indicator, dock):
        qtbot.addWidget(widget)
        widget.show()
    return indicator, dock


def history_texts(model: HealthModel) -> list[str]:
    return [entry.text for entry in model.history.entries]


async def test_the_indicator_says_connected_in_words_and_colour(
    views: tuple[HealthIndicator, HealthDock], wait_for: Any
) -> None:
    indicator, dock = views
    assert indicator.objectName() == "healthIndicator"
    assert indicator.text().startswith("Connected")
    assert indicator.tone is Tone.GOOD
    assert dock.state_text.startswith("Connected")
    await wait_for(lambda: "heartbeats" in dock.round_trip.text(), what="a heartbeat round trip")
    await wait_for(lambda: " ms" in indicator.text(), what="the round trip in the indicator")
    assert "ago" in dock.last_message.text()
    assert dock.breaker.text().startswith("Closed")
    assert not dock.reset_button.isEnabled()
    assert dock.reset_button.objectName() == "resetBreakerButton"
    assert dock.order_entry.text() == "allowed"


@pytest.mark.expect_log_warnings
async def test_the_words_follow_a_dropped_connection_and_the_reconnect(
    views: tuple[HealthIndicator, HealthDock], gateway: PaperGateway, wait_for: Any
) -> None:
    indicator, dock = views
    gateway.drop_connections()
    await wait_for(lambda: indicator.text().startswith("Reconnecting"), what="Reconnecting")
    assert indicator.model.headline()[1] is Tone.BAD
    await wait_for(lambda: indicator.text().startswith("Connected"), what="the reconnect")
    assert indicator.tone is Tone.GOOD
    texts = history_texts(dock.model)
    assert any("dropped" in text for text in texts)
    assert any(text.startswith("Connected and in sync") for text in texts)
    states = [entry.state for entry in dock.model.history.entries]
    assert HealthState.RECONNECTING in states
    table = dock.history
    assert table.model().rowCount() == len(texts)


async def test_farm_status_from_ib_messages(
    views: tuple[HealthIndicator, HealthDock], gateway: PaperGateway, wait_for: Any
) -> None:
    indicator, dock = views
    gateway.faults.farm_broken("market")
    await wait_for(lambda: "broken" in dock.farms.text(), what="the broken farm")
    assert indicator.text().startswith("Degraded")
    assert "data farm(s) down" in indicator.text()
    assert indicator.tone is Tone.WARN
    gateway.faults.farm_ok("market")
    await wait_for(lambda: indicator.text().startswith("Connected"), what="the farm back")
    await wait_for(lambda: ": OK" in dock.farms.text(), what="the farm OK in the dock")


@pytest.mark.expect_log_warnings
async def test_the_breaker_reset_button_tries_again_at_once(
    make_ui_context: Any, gateway: PaperGateway, as_of: Any, qtbot: Any, wait_for: Any
) -> None:
    port = free_port()
    settings = Settings(
        health=HealthSettings(
            backoff=BackoffPolicy(),
            breaker=BreakerPolicy(failure_threshold=1),
        )
    )
    context: UiContext = await make_ui_context(gateway, connect=False, settings=settings, port=port)
    dock = HealthDock(context)
    indicator = HealthIndicator(context, model=dock.model)
    for widget in (dock, indicator):
        qtbot.addWidget(widget)
        widget.show()
    session = context.broker.session
    context.runner.start(session.connect(), name="connect", failed=lambda error: None)
    await wait_for(lambda: session.state is HealthState.CIRCUIT_OPEN, what="the open breaker")
    await wait_for(lambda: indicator.text().startswith("Circuit open"), what="the words")
    assert indicator.tone is Tone.BAD
    button = dock.reset_button
    await wait_for(button.isEnabled, what="the reset button enabled")
    assert dock.breaker.text().startswith("Open")
    assert "next try in" in dock.reconnect.text()

    late = PaperGateway(seed=7, as_of=as_of)
    await late.start("127.0.0.1", port)
    try:
        button.click()
        await wait_for(lambda: session.state is HealthState.CONNECTED, what="the reconnect")
        await wait_for(lambda: indicator.text().startswith("Connected"), what="the words")
        await wait_for(lambda: not button.isEnabled(), what="the reset button disabled")
        assert session.health.breaker is BreakerState.CLOSED
        assert any("reset by you" in text for text in history_texts(dock.model))
        await session.disconnect()
    finally:
        await late.stop()


async def test_throttling_is_said_in_words(
    views: tuple[HealthIndicator, HealthDock], ui_context: UiContext, wait_for: Any
) -> None:
    indicator, dock = views
    ui_context.bridge.sig_throttled.emit(True)
    await wait_for(lambda: "throttled" in indicator.text(), what="throttled in the indicator")
    assert indicator.tone is Tone.WARN
    await wait_for(lambda: dock.throttling.text().startswith("Throttled"), what="the dock")
    ui_context.bridge.sig_throttled.emit(False)
    await wait_for(lambda: "throttled" not in indicator.text(), what="pacing ended")
    assert dock.throttling.objectName() == "healthThrottling"
    assert dock.throttling.text() == "not throttled"


async def test_reconnect_attempts_come_from_the_health_snapshot(
    make_ui_context: Any, gateway: PaperGateway, qtbot: Any, wait_for: Any
) -> None:
    # Not connected: no heartbeat of a live session overwrites the snapshots fed here.
    ui_context = await make_ui_context(gateway, connect=False)
    dock = HealthDock(ui_context)
    qtbot.addWidget(dock)
    dock.show()
    machine = HealthMachine(HealthSettings(), ManualClock(AS_OF), random.Random(1))
    emit = ui_context.bridge.sig_health_changed.emit
    machine.handle(ConnectRequested())
    emit(machine.snapshot())
    assert dock.model.reconnect_attempts == 1  # the first attempt, under way
    machine.handle(ConnectFailed(1, "nothing is listening"))
    emit(machine.snapshot())
    assert dock.model.reconnect_attempts == 1  # failed, the next one scheduled
    await wait_for(lambda: "1 attempt(s) so far" in dock.reconnect.text(), what="the schedule")
    machine.handle(ReconnectDue(2))
    emit(machine.snapshot())
    assert dock.model.reconnect_attempts == 2
    await wait_for(lambda: "attempt 2 under way" in dock.reconnect.text(), what="attempt 2")


async def test_a_dock_behind_another_lays_out_nothing_and_shows_the_present_in_front(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    # Two health docks on one model, tabbed in a window: the one in front proves the repaints
    # happened, the one behind that they skipped it (its figures are laid out again on every
    # change, for nobody). A dock behind a tab is moved off the window, not hidden.
    window = QMainWindow()
    qtbot.addWidget(window)
    model = HealthModel(ui_context)
    front, behind = HealthDock(ui_context, model=model), HealthDock(ui_context, model=model)
    model.setParent(front)
    docks = []
    for view in (front, behind):
        dock = QDockWidget("Connection health", window)
        dock.setWidget(view)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        docks.append(dock)
    window.tabifyDockWidget(docks[0], docks[1])
    docks[1].raise_()
    window.resize(700, 600)
    window.show()
    await wait_for(lambda: "heartbeats" in behind.round_trip.text(), what="a round trip")
    docks[0].raise_()
    await wait_for(lambda: behind.visibleRegion().isEmpty(), what="the dock behind")
    assert behind.isVisible()

    def heartbeats(view: HealthDock) -> int:
        words = view.round_trip.text()
        return int(words.rsplit("(", 1)[1].split()[0]) if "heartbeats" in words else 0

    before = behind.round_trip.text()
    await wait_for(
        lambda: heartbeats(front) >= heartbeats(behind) + 3,
        what="three more heartbeats on the dock in front",
    )
    assert behind.round_trip.text() == before

    docks[1].raise_()
    await wait_for(
        lambda: heartbeats(behind) >= heartbeats(front) > 0, what="the present, in front"
    )
