"""The connection manager, driven through its object names against the simulator."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QWidget

from ibconsole.broker.launcher import port_accepts
from ibconsole.broker.session import Session
from ibconsole.config import ConnectionProfile, Settings
from ibconsole.domain.health import HealthState
from ibconsole.domain.trading_mode import AccountMode, PortPreset, simulator_preset
from ibconsole.sim import PaperGateway
from ibconsole.ui.confirm_dialog import ConfirmDialog
from ibconsole.ui.connection_panel import ConnectionPanel
from ibconsole.ui.context import UiContext
from ibconsole.ui.main_window import MainWindow
from ibconsole.ui.theme import Tone, tone_color


class LiveSetup(NamedTuple):
    window: MainWindow
    session: Session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child(panel: QWidget, kind: type[Any], name: str) -> Any:
    found = panel.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name!r}"
    return found


def type_into(panel: ConnectionPanel, name: str, text: str) -> None:
    edit: QLineEdit = child(panel, QLineEdit, name)
    edit.setText(text)


def shown(panel: ConnectionPanel, name: str) -> str:
    """The text of a message label, or "" when it is hidden."""
    label: QLabel = child(panel, QLabel, name)
    return label.text() if label.isVisible() else ""


@pytest.fixture
async def idle_context(make_ui_context: Any, gateway: PaperGateway) -> UiContext:
    """A context pointing at ``gateway`` but not connected yet."""
    context: UiContext = await make_ui_context(gateway, connect=False)
    return context


@pytest.fixture
def panel(idle_context: UiContext, qtbot: Any) -> ConnectionPanel:
    widget = ConnectionPanel(idle_context)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_the_fields_show_the_session_endpoint(
    panel: ConnectionPanel, gateway: PaperGateway
) -> None:
    assert panel.objectName() == "connectionPanel"
    assert child(panel, QLineEdit, "hostEdit").text() == "127.0.0.1"
    assert child(panel, QLineEdit, "portEdit").text() == str(gateway.port)
    assert child(panel, QLineEdit, "clientIdEdit").text() == "1"
    profiles: QComboBox = child(panel, QComboBox, "profileCombo")
    assert [profiles.itemText(i) for i in range(profiles.count())] == [
        "tws-paper",
        "gateway-paper",
    ]
    assert child(panel, QPushButton, "connectButton").text() == "Connect"


@pytest.mark.parametrize(
    ("port", "words", "tone"),
    [
        (7496, "LIVE: Port 7496 is the TWS live default. Orders will move real money.", Tone.BAD),
        (7497, "Paper: Port 7497 is the TWS paper default.", Tone.GOOD),
        (4001, "LIVE: Port 4001 is the IB Gateway live default.", Tone.BAD),
        (4002, "Paper: Port 4002 is the IB Gateway paper default.", Tone.GOOD),
        (5555, "Unknown mode: Port 5555 is not an IB default", Tone.WARN),
    ],
)
def test_each_port_says_its_mode(panel: ConnectionPanel, port: int, words: str, tone: Tone) -> None:
    type_into(panel, "portEdit", str(port))
    text = shown(panel, "portWarning")
    assert text.startswith(words)
    label: QLabel = child(panel, QLabel, "portWarning")
    assert tone_color(tone).name() in label.styleSheet()


def test_a_port_preset_fills_the_port(panel: ConnectionPanel) -> None:
    presets: QComboBox = child(panel, QComboBox, "portPresetCombo")
    index = presets.findData(4002)
    presets.activated.emit(index)
    assert child(panel, QLineEdit, "portEdit").text() == "4002"
    assert "IB Gateway paper" in shown(panel, "portWarning")


@pytest.mark.parametrize(
    ("host", "warned"),
    [("10.1.2.3", True), ("tws.example.com", True), ("localhost", False), ("::1", False)],
)
def test_a_host_other_than_this_machine_is_warned_about(
    panel: ConnectionPanel, host: str, warned: bool
) -> None:
    type_into(panel, "hostEdit", host)
    warning = shown(panel, "hostWarning")
    assert ("is not this machine" in warning) is warned
    assert shown(panel, "hostError") == ""


@pytest.mark.parametrize(
    ("field", "text", "error_label", "reason"),
    [
        ("portEdit", "abc", "portError", "'abc' is not a port"),
        ("portEdit", "70000", "portError", "from 1 to 65535"),
        ("portEdit", "", "portError", "Enter the API port"),
        ("clientIdEdit", "-1", "clientIdError", "'-1' is not a clientId"),
        ("hostEdit", "", "hostError", "Enter the host name"),
        ("hostEdit", "my host", "hostError", "is not a host name"),
        ("accountEdit", "DU-1", "accountError", "letters and digits only"),
    ],
)
async def test_invalid_fields_say_why_and_nothing_connects(
    panel: ConnectionPanel,
    idle_context: UiContext,
    field: str,
    text: str,
    error_label: str,
    reason: str,
) -> None:
    type_into(panel, field, text)
    assert reason in shown(panel, error_label)
    child(panel, QPushButton, "connectButton").click()
    assert idle_context.broker.session.state is HealthState.DISCONNECTED
    assert "correct the fields" in shown(panel, "connectionStatus")
    child(panel, QPushButton, "testConnectionButton").click()
    if field != "accountEdit":
        assert "Not tested" in shown(panel, "testResult")
    assert idle_context.runner.pending == 0 or field == "accountEdit"


async def test_test_connection_against_the_simulator_shows_the_measurements(
    panel: ConnectionPanel, wait_for: Any
) -> None:
    type_into(panel, "clientIdEdit", "9")
    child(panel, QPushButton, "testConnectionButton").click()
    await wait_for(lambda: "Test passed" in shown(panel, "testResult"), what="the probe result")
    result = shown(panel, "testResult")
    assert "server version 176" in result
    assert "accounts DU1234567" in result
    assert "round trip" in result
    assert "paper account" in result
    assert child(panel, QPushButton, "testConnectionButton").isEnabled()


async def test_test_connection_on_a_closed_port_says_not_listening(
    panel: ConnectionPanel, wait_for: Any
) -> None:
    port = free_port()
    type_into(panel, "portEdit", str(port))
    child(panel, QPushButton, "testConnectionButton").click()
    await wait_for(lambda: "Not listening" in shown(panel, "testResult"), what="the diagnosis")
    result = shown(panel, "testResult")
    assert f"127.0.0.1:{port}" in result
    assert "Nothing is listening" in result
    label: QLabel = child(panel, QLabel, "testResult")
    assert tone_color(Tone.BAD).name() in label.styleSheet()


async def test_connect_and_disconnect(
    panel: ConnectionPanel, idle_context: UiContext, gateway: PaperGateway, wait_for: Any
) -> None:
    session = idle_context.broker.session
    button: QPushButton = child(panel, QPushButton, "connectButton")
    button.click()
    await wait_for(lambda: session.state is HealthState.CONNECTED, what="the connection")
    await wait_for(lambda: "Paper account DU1234567" in shown(panel, "modeLabel"), what="mode")
    assert button.text() == "Disconnect"
    assert not child(panel, QLineEdit, "portEdit").isEnabled()
    assert shown(panel, "modeMismatch") == ""
    assert "Connected to 127.0.0.1" in shown(panel, "connectionStatus")
    button.click()
    await wait_for(lambda: session.state is HealthState.DISCONNECTED, what="the disconnect")
    assert button.text() == "Connect"
    assert child(panel, QLineEdit, "portEdit").isEnabled()
    assert shown(panel, "modeLabel") == ""


# --- live accounts -------------------------------------------------------------------------


@pytest.fixture
async def live(make_ui_context: Any, make_gateway: Any, make_main_window: Any) -> LiveSetup:
    gateway = await make_gateway(accounts=("U1234567",))
    context: UiContext = await make_ui_context(gateway, connect=False)
    return LiveSetup(make_main_window(context), context.broker.session)


async def open_live_dialog(window: MainWindow, wait_for: Any) -> ConfirmDialog:
    child(window, QPushButton, "connectButton").click()
    await wait_for(lambda: window.connection.live_dialog is not None, what="the live dialog")
    dialog = window.connection.live_dialog
    assert dialog is not None
    assert dialog.objectName() == "liveConfirmDialog"
    assert dialog.isVisible()
    assert "LIVE account U1234567" in " ".join(dialog.lines)
    return dialog


async def test_a_live_account_is_confirmed_once_per_session_then_shows_the_banner(
    live: LiveSetup, wait_for: Any
) -> None:
    window, session = live
    banner = window.findChild(QLabel, "liveBanner")
    assert banner is not None
    assert not banner.isVisible()
    dialog = await open_live_dialog(window, wait_for)
    assert not banner.isVisible()
    dialog.confirm_button.click()
    await wait_for(banner.isVisible, what="the LIVE banner")
    assert "LIVE" in banner.text()
    assert "U1234567" in banner.text()
    assert "LIVE account U1234567" in shown(window.connection, "modeLabel")

    button = child(window, QPushButton, "connectButton")
    button.click()
    await wait_for(lambda: session.state is HealthState.DISCONNECTED, what="the disconnect")
    assert not banner.isVisible()
    button.click()
    await wait_for(lambda: session.state is HealthState.CONNECTED, what="the reconnect")
    await wait_for(banner.isVisible, what="the LIVE banner again")
    assert window.connection.live_dialog is None


async def test_declining_the_live_confirmation_disconnects(live: LiveSetup, wait_for: Any) -> None:
    window, session = live
    dialog = await open_live_dialog(window, wait_for)
    dialog.cancel_button.click()
    await wait_for(lambda: session.state is HealthState.DISCONNECTED, what="the disconnect")
    await wait_for(
        lambda: (
            "Live account declined. Disconnected." in shown(window.connection, "connectionStatus")
        ),
        what="the reason",
    )
    assert not child(window, QLabel, "liveBanner").isVisible()


@pytest.mark.expect_log_warnings
async def test_a_port_that_promises_another_mode_is_a_loud_mismatch(
    make_ui_context: Any, make_gateway: Any, qtbot: Any, wait_for: Any
) -> None:
    # A live account behind a port that stands for IB Gateway's paper default: a free port,
    # told to the session as that preset, so no test binds IB's real ports on this machine.
    gateway = await make_gateway(accounts=("U7654321",))
    paper_port = PortPreset(gateway.port, "IB Gateway", AccountMode.PAPER)
    context = await make_ui_context(gateway, connect=False, preset=paper_port)
    panel = ConnectionPanel(context)
    qtbot.addWidget(panel)
    panel.show()
    assert (
        shown(panel, "portWarning")
        == f"Paper: Port {gateway.port} is the IB Gateway paper default."
    )
    child(panel, QPushButton, "connectButton").click()
    await wait_for(lambda: shown(panel, "modeMismatch"), what="the mismatch warning")
    text = shown(panel, "modeMismatch")
    assert text.startswith("⚠ MODE MISMATCH")
    assert f"Port {gateway.port} is the IB Gateway paper default" in text
    assert "is LIVE" in text
    if panel.live_dialog is not None:
        panel.live_dialog.cancel_button.click()
    await context.broker.session.disconnect()


async def test_the_demo_simulator_port_is_named_plainly_not_unknown(
    make_ui_context: Any, gateway: PaperGateway, qtbot: Any
) -> None:
    context = await make_ui_context(gateway, connect=False, preset=simulator_preset(gateway.port))
    panel = ConnectionPanel(context)
    qtbot.addWidget(panel)
    panel.show()
    text = shown(panel, "portWarning")
    assert text == (
        f"Paper: Port {gateway.port} is the built-in paper simulator: no TWS, no real money."
    )
    label: QLabel = child(panel, QLabel, "portWarning")
    assert tone_color(Tone.GOOD).name() in label.styleSheet()
    type_into(panel, "portEdit", "5555")
    assert shown(panel, "portWarning").startswith("Unknown mode: Port 5555 is not an IB default")


# --- gateway launcher ----------------------------------------------------------------------

STAND_IN = """\
import os, sys
record, sim, port = sys.argv[1], sys.argv[2], sys.argv[3]
with open(record, "w", encoding="utf-8") as out:
    out.write(os.environ.get("TWS_USERID", "") + "\\n")
os.execv(sim, [sim, "--port", port])
"""


async def test_a_profile_with_a_gateway_command_starts_it_with_the_stored_login_and_connects(
    make_ui_context: Any,
    gateway: PaperGateway,
    tmp_path: Path,
    qtbot: Any,
    wait_for: Any,
    memory_keyring: Any,
) -> None:
    script, record, port = tmp_path / "gateway.py", tmp_path / "record.txt", free_port()
    script.write_text(STAND_IN, encoding="utf-8")
    sim = str(Path(sys.executable).with_name("ibconsole-sim"))
    launched = ConnectionProfile(
        "launched",
        port=port,
        client_id=3,
        gateway_command=(sys.executable, str(script), str(record), sim, str(port)),
        keyring_entry="ib-test-login",
    )
    base = Settings()
    settings = Settings(
        profiles={"tws-paper": base.profile("tws-paper"), "launched": launched},
        health=base.health,
    )
    context = await make_ui_context(gateway, connect=False, settings=settings)
    panel = ConnectionPanel(context)
    qtbot.addWidget(panel)
    panel.show()
    profiles: QComboBox = child(panel, QComboBox, "profileCombo")
    profiles.setCurrentIndex(profiles.findData("launched"))
    assert child(panel, QLineEdit, "portEdit").text() == str(port)
    assert "starts" in shown(panel, "gatewayCommand")

    child(panel, QPushButton, "connectButton").click()
    await wait_for(lambda: "No login is stored" in shown(panel, "connectionStatus"), what="refusal")
    await wait_for(
        lambda: context.broker.session.state is HealthState.DISCONNECTED, what="the stop"
    )

    child(panel, QPushButton, "gatewayLoginButton").click()
    await wait_for(lambda: panel.login_dialog is not None, what="the login dialog")
    dialog = panel.login_dialog
    assert dialog is not None
    assert dialog.objectName() == "gatewayLoginDialog"
    dialog.save_button.click()
    assert "Enter both" in dialog.error.text()
    assert memory_keyring.items == {}
    dialog.username.setText("trader7")
    dialog.password.setText("pw-in-keyring")
    dialog.save_button.click()
    assert memory_keyring.items[("ibconsole", "ib-test-login:password")] == "pw-in-keyring"

    child(panel, QPushButton, "connectButton").click()
    session = context.broker.session
    await wait_for(lambda: session.state is HealthState.CONNECTED, timeout=20, what="connect")
    launcher = context.gateways.launchers["launched"]
    assert launcher.is_ready
    assert record.read_text(encoding="utf-8").strip() == "trader7"
    assert "Paper account DU1234567" in shown(panel, "modeLabel")
    await session.disconnect()
    context.gateways.terminate()
    await launcher.stop(grace=5)
    assert context.gateways.launchers == {}
    assert not await port_accepts("127.0.0.1", port)
