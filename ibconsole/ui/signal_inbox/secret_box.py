"""Where the signal endpoint listens and where its secret comes from, with a field to keep a new
secret in the keyring. The secret is never shown back (only a demo's generated one)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QLineEdit, QPushButton, QWidget

from ibconsole.credentials import (
    MIN_SIGNAL_SECRET,
    SIGNAL_SECRET_VARIABLE,
    CredentialError,
    SignalSecretStore,
)
from ibconsole.ui.theme import Tone, set_toned_text

log = logging.getLogger(__name__)


class SecretBox(QWidget):
    """The endpoint's address and the secret's origin; Save keeps a typed secret in the keyring.

    Signals:
        sig_saved()   a new secret is in the keyring
    """

    sig_saved = Signal()

    def __init__(self, store: SignalSecretStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._endpoint = QLabel()
        self._endpoint.setObjectName("signalEndpoint")
        self._endpoint.setWordWrap(True)
        self._origin = QLabel()
        self._origin.setObjectName("signalSecretOrigin")
        self._origin.setWordWrap(True)
        self._edit = QLineEdit()
        self._edit.setObjectName("signalSecretEdit")
        self._edit.setEchoMode(QLineEdit.EchoMode.Password)
        self._edit.setPlaceholderText(f"new secret, {MIN_SIGNAL_SECRET}+ characters")
        self._save = QPushButton("Save secret")
        self._save.setObjectName("signalSecretButton")
        self._save.setAutoDefault(False)
        self._save.setToolTip("Keep the secret in the OS keyring; senders put it in the JSON body")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self._endpoint, 0, 0, 1, 2)
        grid.addWidget(self._origin, 1, 0, 1, 2)
        grid.addWidget(self._edit, 2, 0)
        grid.addWidget(self._save, 2, 1)
        self._save.clicked.connect(self._on_save_clicked)
        self._edit.returnPressed.connect(self._on_save_clicked)
        self._origin_shown = False  # the secret's origin (or a demo's secret) is on screen
        self._painted = False
        self.show_endpoint(None)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            # Read once the box is on screen, not while the window builds: the keyring's first
            # read finds its backend, a few hundred milliseconds of the cold start.
            QTimer.singleShot(0, self, self._on_first_painted)

    def show_endpoint(self, url: str | None, demo_secret: str | None = None) -> None:
        """Say where signals go (None: the endpoint is off); a demo shows its made-up secret."""
        if url is None:
            set_toned_text(
                self._endpoint,
                "Endpoint off: start with --signals-port N, or set enabled = true in [signals].",
                Tone.NEUTRAL,
            )
        else:
            set_toned_text(self._endpoint, f"Listening on {url}", Tone.GOOD)
        self._endpoint.setToolTip(
            "Only this computer can reach it; put a reverse proxy with TLS in front for "
            "TradingView (see the README)"
        )
        if demo_secret is not None:
            self._origin_shown = True
            set_toned_text(
                self._origin,
                f"Demo secret (made up for this run): {demo_secret}",
                Tone.WARN,
            )

    def show_endpoint_down(self, reason: str) -> None:
        """Say that the endpoint stopped listening, and why (it is being started again)."""
        set_toned_text(self._endpoint, reason, Tone.BAD)

    @Slot()
    def _on_first_painted(self) -> None:
        if not self._origin_shown:
            self.show_origin()

    def show_origin(self) -> None:
        self._origin_shown = True
        if self._store.from_environment:
            text, tone = f"The secret comes from {SIGNAL_SECRET_VARIABLE}.", Tone.NEUTRAL
        else:
            try:
                stored = self._store.get() is not None
            except CredentialError as error:
                set_toned_text(self._origin, str(error), Tone.BAD)
                return
            text, tone = (
                ("The secret is in the keyring.", Tone.NEUTRAL)
                if stored
                else ("No secret is set: every signal is refused (401).", Tone.WARN)
            )
        set_toned_text(self._origin, text, tone)

    @Slot()
    def _on_save_clicked(self) -> None:
        try:
            self._store.set(self._edit.text())
        except CredentialError as error:
            set_toned_text(self._origin, str(error), Tone.BAD)
            return
        self._edit.clear()
        self.show_origin()
        self.sig_saved.emit()
