"""The QApplication (name, organisation, version, icon, theme) and the handler of uncaught errors.

qasync hands exceptions from async slots to ``sys.excepthook``, and the background runner does
the same for work without a failure handler; ``install_excepthook`` logs each one and shows it in
a dialog, so the window never dies silently.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ibconsole import __version__
from ibconsole.resources_path import ResourceNotFoundError, default_locator
from ibconsole.ui.gui_gc import collect_on_gui_thread
from ibconsole.ui.theme import follow_system_theme

log = logging.getLogger(__name__)

APP_NAME = "ibconsole"
ORGANIZATION = "ibconsole"
DISPLAY_NAME = "IB Console"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def app_icon() -> QIcon:
    """The candlestick icon at every rendered size (resources/icons/ibconsole-<size>.png)."""
    icon = QIcon()
    locator = default_locator()
    for size in ICON_SIZES:
        try:
            icon.addFile(str(locator.find(f"icons/ibconsole-{size}.png")))
        except ResourceNotFoundError as missing:
            log.error("application icon missing: %s", missing)
    return icon


def create_application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, named so QSettings and the desktop file find it, themed and iconed."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    configure_application(app)
    return app


def configure_application(app: QApplication) -> None:
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    QApplication.setApplicationDisplayName(DISPLAY_NAME)
    QApplication.setDesktopFileName(APP_NAME)
    # The console shuts down from the window's sig_closed (disconnect, journal, gateway) while
    # the loop still runs; Qt must not stop the loop itself when the last window closes.
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    follow_system_theme(app)
    collect_on_gui_thread(app)


class ErrorReporter(QObject):
    """The ``sys.excepthook`` of the console: log the error, then show it in a dialog.

    One dialog at a time: errors arriving while it is open are added to its details, so a burst
    of failures cannot bury the window under dialogs. Dialogs open window-modal without a nested
    event loop (``open()``, never ``exec()``), which would stall the qasync loop.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.previous: ExceptHook = sys.excepthook
        self.dialog: QMessageBox | None = None
        self.reported = 0

    def __call__(
        self,
        kind: type[BaseException],
        error: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        self.reported += 1
        log.error("uncaught %s: %s", kind.__name__, error, exc_info=(kind, error, tb))
        if not isinstance(QApplication.instance(), QApplication):
            return
        details = "".join(traceback.format_exception(kind, error, tb))
        summary = f"{kind.__name__}: {error}" if str(error) else kind.__name__
        self._show(summary, details)

    def _show(self, summary: str, details: str) -> None:
        dialog = self.dialog
        if dialog is not None and dialog.isVisible():
            dialog.setDetailedText(f"{dialog.detailedText()}\n{details}")
            dialog.setInformativeText(
                "More errors followed; the details list all of them. The console keeps running."
            )
            return
        parent = QApplication.activeWindow() or _main_window()
        dialog = QMessageBox(parent)
        dialog.setObjectName("errorDialog")
        dialog.setIcon(QMessageBox.Icon.Critical)
        dialog.setWindowTitle("Unexpected error")
        dialog.setText(f"Something went wrong: {summary}")
        dialog.setInformativeText(
            "The console keeps running. The error is in the log file; check the blotter and "
            "positions before trading on."
        )
        dialog.setDetailedText(details)
        dialog.setStandardButtons(QMessageBox.StandardButton.Ok)
        self.dialog = dialog
        dialog.open()

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous


def _main_window() -> QWidget | None:
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == "mainWindow" and widget.isVisible():
            return widget
    return None


def install_excepthook() -> ErrorReporter:
    """Make every uncaught exception (also from async slots) logged and shown; returns the hook."""
    reporter = ErrorReporter(QApplication.instance())
    sys.excepthook = reporter
    return reporter
