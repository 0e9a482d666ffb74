"""The QApplication (name, organisation, version, icon, theme) and the handler of uncaught errors.

qasync hands exceptions from async slots to ``sys.excepthook``, and the background runner does
the same for work without a failure handler; ``install_excepthook`` logs each one and shows it in
a dialog, so the window never dies silently.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ibconsole import __version__
from ibconsole.resources_path import ResourceNotFoundError, default_locator
from ibconsole.ui.theme import follow_system_theme

log = logging.getLogger(__name__)

APP_NAME = "ibconsole"
ORGANIZATION = "ibconsole"
DISPLAY_NAME = "IB Console"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_IMMORTAL_REFERENCES = 1 << 48

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


class _EmitProbe(QObject):
    sig_probed = Signal(int)


def guard_emit_refcount() -> bool:
    """Work around PySide6 6.12.0 returning ``True`` from ``Signal.emit()`` without a reference.

    Each emit then lowers the reference count of ``True`` by one; on Python 3.11, where ``True``
    is not immortal, the interpreter aborts ("bool_dealloc") after a few hundred or thousand
    emits, that is within minutes of live quotes. When one probe emit shows the leak, ``True``
    and ``False`` get a reference count no session can use up (what Python 3.12 does for all
    immortal objects). Returns True when the guard was applied.
    """
    if sys.version_info >= (3, 12) or sys.getrefcount(True) > _IMMORTAL_REFERENCES // 2:
        return False
    probe = _EmitProbe()
    before = sys.getrefcount(True)
    probe.sig_probed.emit(0)
    if sys.getrefcount(True) >= before:
        return False
    for value in (True, False):
        ctypes.c_ssize_t.from_address(id(value)).value += _IMMORTAL_REFERENCES
    log.debug("Signal.emit() leaks references to True: bool reference counts guarded")
    return True


def create_application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, named so QSettings and the desktop file find it, themed and iconed."""
    guard_emit_refcount()
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
    app.setWindowIcon(app_icon())
    follow_system_theme(app)


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
