"""File → Settings…: every setting of the TOML file, edited in the window.

Save checks the values with the config loader's own parser (same rules, same sentences) and,
when one is refused, keeps the dialog open on that field and writes nothing. Otherwise the file
is written preserving the trader's comments (atomically, the previous file kept as a backup),
the new settings apply at once, and the change is journalled. Keys set by ``IBCONSOLE_*``
variables are shown read-only and never written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ibconsole.config import ConfigError, default_config_path
from ibconsole.config.writer import (
    SettingsFile,
    backup_path,
    check,
    edit,
    read_settings_file,
    save,
)
from ibconsole.credentials import CredentialError
from ibconsole.ui.context import UiContext
from ibconsole.ui.settings.applying import apply_settings, describe_changes
from ibconsole.ui.settings.page import SettingsPage
from ibconsole.ui.settings.pages import build_pages
from ibconsole.ui.settings.secret import SignalSecretField
from ibconsole.ui.theme import Tone, set_toned_text

__all__ = ["SettingsDialog", "open_settings_file"]

_NAV_STYLE = "QListWidget#settingsPages::item { padding: 7px 10px; }"
_NAV_WIDTH = 190
_SIZE = QSize(1300, 700)  # every page without scrolling at 1366 × 768, the smallest screen

# The key a loader sentence is about: "risk.symbols.MES.max_quantity = 0: …" → its dotted path.
_LEADING_KEY = re.compile(r"^([A-Za-z0-9_.\-]+)")


def open_settings_file(ctx: UiContext, environ: Mapping[str, str]) -> SettingsFile:
    """The file the console's settings came from (or will go to); ``ConfigError`` if unreadable."""
    return read_settings_file(ctx.settings.source or default_config_path(), environ)


class SettingsDialog(QDialog):
    sig_applied = Signal(object)  # Settings, after a save

    def __init__(
        self,
        ctx: UiContext,
        file: SettingsFile,
        environ: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self._ctx = ctx
        self._file = file
        self._environ = os.environ if environ is None else environ
        self.secret = SignalSecretField(ctx.signal_secret)
        self.pages: list[SettingsPage] = build_pages(ctx.settings, file, self._environ, self.secret)

        self.nav = QListWidget()
        self.nav.setObjectName("settingsPages")
        self.nav.setFixedWidth(_NAV_WIDTH)
        self.nav.setFrameShape(QFrame.Shape.NoFrame)
        self.nav.setStyleSheet(_NAV_STYLE)
        self.stack = QStackedWidget()
        for page in self.pages:
            self.nav.addItem(page.title)
            scroller = QScrollArea()
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setWidget(page)
            self.stack.addWidget(scroller)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)

        where = QLabel(self._where_text())
        where.setObjectName("settingsFileLabel")
        where.setEnabled(False)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel()
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.clicked.connect(self._on_buttons_clicked)

        body = QHBoxLayout()
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.error)
        footer = QHBoxLayout()
        footer.addWidget(where, 1)
        footer.addWidget(self.buttons)
        layout.addLayout(footer)
        self.resize(_SIZE)

    # ------------------------------------------------------------------ public
    @property
    def error_text(self) -> str:
        return self.error.text()

    def page(self, title: str) -> SettingsPage:
        for page in self.pages:
            if page.title == title:
                return page
        raise KeyError(title)

    def show_page(self, title: str) -> None:
        self.nav.setCurrentRow(self.pages.index(self.page(title)))

    def save_and_apply(self) -> bool:
        """Check, save and apply; False (dialog kept open) when refused, with nothing written,
        or when the signal secret could not be stored."""
        changes: dict[tuple[str, ...], object] = {}
        for page in self.pages:
            changes.update(page.changes())
        try:
            document = edit(self._file, changes)
            settings = check(self._file, document, self._environ)
        except ConfigError as error:
            self._refuse(str(error))
            return False
        described = describe_changes(self._file, changes)
        if changes:
            try:
                self._file = save(self._file, document)
            except ConfigError as error:
                self._say(str(error), Tone.BAD)
                return False
            except OSError as error:
                self._say(
                    f"The settings file could not be written, nothing changed: {error}", Tone.BAD
                )
                return False
        problem = apply_settings(self._ctx, settings, self._file.path, described)
        stored = True
        try:
            self.secret.store()
        except CredentialError as error:
            stored = False
            problem = f"Settings saved and applied, but the signal secret was not stored: {error}"
        if problem:
            self._say(problem, Tone.WARN)
        self.sig_applied.emit(settings)
        return stored

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter in a field (the symbol to add, a value) never saves: Save is a click."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ internals
    def _where_text(self) -> str:
        path = self._file.path
        shown = str(path)
        if path.is_relative_to(Path.home()):
            shown = str(Path("~") / path.relative_to(Path.home()))
        state = "" if self._file.exists else " (created on save)"
        return f"{shown}{state} · the previous file is kept as {backup_path(path).name}"

    def _say(self, text: str, tone: Tone) -> None:
        set_toned_text(self.error, text, tone)

    def _refuse(self, message: str) -> None:
        self._say(f"Not saved: {message}", Tone.BAD)
        match = _LEADING_KEY.match(message)
        if match is None:
            return
        key = match.group(1).rstrip(".")
        shown = self.nav.currentRow()
        for number, page in enumerate(self.pages):
            self.nav.setCurrentRow(number)
            if page.focus(key):
                return
        self.nav.setCurrentRow(shown)

    @Slot(QAbstractButton)
    def _on_buttons_clicked(self, button: QAbstractButton) -> None:
        role = self.buttons.buttonRole(button)
        if role is QDialogButtonBox.ButtonRole.AcceptRole:
            if self.save_and_apply():
                self.accept()
        elif role is QDialogButtonBox.ButtonRole.RejectRole:
            self.reject()
