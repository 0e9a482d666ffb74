"""The application object, the shared qasync loop and the handler of uncaught exceptions."""

from __future__ import annotations

import asyncio
import configparser
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox

from ibconsole import __version__
from ibconsole.app import build_console
from ibconsole.domain.health import HealthState
from ibconsole.resources_path import resource_path
from ibconsole.ui.application import (
    ErrorReporter,
    create_application,
    install_excepthook,
)
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, apply_theme, is_dark, tone_color


async def test_async_tests_run_on_a_qasync_loop_over_the_qapplication(qapp: QApplication) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, qasync.QEventLoop)
    assert QApplication.instance() is qapp


async def test_the_broker_connects_to_the_simulator_from_the_qasync_loop(
    ui_context: UiContext,
) -> None:
    session = ui_context.broker.session
    assert session.state is HealthState.CONNECTED
    assert session.sync_info is not None
    assert session.sync_info.accounts == ("DU1234567",)
    assert session.ib.client.isReady()


def test_create_application_names_the_app_and_gives_it_an_icon(qapp: QApplication) -> None:
    app = create_application()
    assert app is qapp
    assert QCoreApplication.applicationName() == "ibconsole"
    assert QCoreApplication.organizationName() == "ibconsole"
    assert QCoreApplication.applicationVersion() == __version__
    assert not app.windowIcon().isNull()
    assert app.style().name().lower() == "fusion"


@pytest.fixture
def reporter(qapp: QApplication) -> Iterator[ErrorReporter]:
    hook = install_excepthook()
    yield hook
    if hook.dialog is not None and shiboken6.isValid(hook.dialog):
        hook.dialog.close()
    hook.uninstall()


class _Source(QObject):
    """Signals:
    sig_submitted(str)
    """

    # qasync.asyncSlot needs a signal with arguments: PySide6 6.12 passes none to its *args
    # wrapper for argument-less emissions, and qasync then refuses to call the slot.
    sig_submitted = Signal(str)


@pytest.mark.expect_log_warnings
async def test_an_exception_from_an_async_slot_is_logged_and_shown_and_the_window_survives(
    reporter: ErrorReporter, qtbot: Any, wait_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    window = QMainWindow()
    window.setObjectName("mainWindow")
    qtbot.addWidget(window)
    window.show()
    source = _Source()
    ran = asyncio.Event()

    @qasync.asyncSlot(str)  # type: ignore[untyped-decorator]
    async def on_submitted(text: str) -> None:
        ran.set()
        raise RuntimeError(f"the order service broke on {text}")

    source.sig_submitted.connect(on_submitted)
    source.sig_submitted.emit("ESH5")
    await asyncio.wait_for(ran.wait(), 5)
    await wait_for(lambda: reporter.dialog is not None, what="the error dialog")
    dialog = reporter.dialog
    assert dialog is not None
    assert dialog.objectName() == "errorDialog"
    assert dialog.isVisible()
    assert "RuntimeError: the order service broke on ESH5" in dialog.text()
    assert "the order service broke" in dialog.detailedText()
    assert any("the order service broke" in r.getMessage() for r in caplog.records)
    assert window.isVisible()
    assert sys.excepthook is reporter


@pytest.mark.expect_log_warnings
def test_errors_during_an_open_dialog_are_added_to_it(reporter: ErrorReporter, qtbot: Any) -> None:
    for n in range(3):
        try:
            raise ValueError(f"bad value {n}")
        except ValueError as error:
            reporter(type(error), error, error.__traceback__)
    dialog = reporter.dialog
    assert dialog is not None
    assert reporter.reported == 3
    assert "bad value 0" in dialog.text()
    assert "bad value 2" in dialog.detailedText()
    assert "More errors followed" in dialog.informativeText()
    assert len(qtbot_dialogs()) == 1


def qtbot_dialogs() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()
    ]


def test_the_desktop_entry_launches_ibconsole_with_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment, method-assign]
    entry.read(resource_path("ibconsole.desktop"), encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == "ibconsole"
    assert desktop["Icon"] == "ibconsole"
    assert desktop["StartupWMClass"] == "ibconsole"
    assert "Finance" in desktop["Categories"].split(";")
    for size in (16, 32, 64, 128, 256, 512):
        assert resource_path(f"icons/ibconsole-{size}.png").stat().st_size > 0


def test_the_palette_follows_the_system_colour_scheme(qapp: QApplication) -> None:
    create_application()
    hints = qapp.styleHints()
    try:
        # The offscreen platform cannot switch its scheme; the signal is what a desktop sends.
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert is_dark()
        dark_bad = tone_color(Tone.BAD).name()
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert not is_dark()
        assert tone_color(Tone.BAD).name() != dark_bad
    finally:
        apply_theme(qapp, hints.colorScheme())
    assert not is_dark()  # the offscreen platform reports no scheme: light


async def test_the_demo_names_its_port_as_the_built_in_simulator(
    tmp_path: Path, wait_for: Any
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('schema_version = 1\njournal_path = "journal.sqlite3"\n', encoding="utf-8")
    console = build_console(["--demo", "--config", str(config)])
    try:
        await console.start()
        gateway = console.gateway
        assert gateway is not None
        warning = console.window.findChild(QLabel, "portWarning")
        assert warning is not None
        await wait_for(
            lambda: console.broker.session.state is HealthState.CONNECTED, what="the demo session"
        )
        assert warning.text() == (
            f"Paper: Port {gateway.port} is the built-in paper simulator: no TWS, no real money."
        )
        assert console.window.findChild(QLabel, "modeMismatch").isHidden()
    finally:
        await console.stop()
