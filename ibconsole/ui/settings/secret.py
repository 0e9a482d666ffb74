"""The signal inbox's shared secret: typed here, stored in the OS keyring, never in the file."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QLineEdit

from ibconsole.config import SIGNAL_SECRET_VARIABLE
from ibconsole.credentials import SIGNAL_SECRET_ENTRY, CredentialError, SignalSecretStore
from ibconsole.ui.theme import Tone, set_toned_text

__all__ = ["SignalSecretField"]


class SignalSecretField(QGroupBox):
    def __init__(self, store: SignalSecretStore) -> None:
        super().__init__("Shared secret")
        self._store = store
        self.edit = QLineEdit()
        self.edit.setObjectName("signalSecretEdit")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText("type a new secret to replace the stored one")
        self.state = QLabel()
        self.state.setObjectName("signalSecretState")
        self.state.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("New secret", self.edit)
        form.addRow("", self.state)
        self._describe()

    def _describe(self) -> None:
        where = f"the OS keyring (entry {SIGNAL_SECRET_ENTRY!r})"
        try:
            stored = self._store.get() is not None
        except CredentialError as error:
            set_toned_text(self.state, str(error), Tone.BAD)
            return
        if self._store.from_environment:
            set_toned_text(
                self.state,
                f"{SIGNAL_SECRET_VARIABLE} is set for this run and is used instead of {where}.",
                Tone.WARN,
            )
        elif stored:
            set_toned_text(self.state, f"A secret is stored in {where}.", Tone.GOOD)
        else:
            set_toned_text(
                self.state,
                f"No secret is stored yet: the inbox refuses every signal until one is set in "
                f"{where}.",
                Tone.WARN,
            )

    def new_secret(self) -> str:
        """The secret typed, "" when the stored one stays."""
        return self.edit.text()

    def store(self) -> bool:
        """Put the typed secret into the keyring (``CredentialError`` if refused); False when
        nothing was typed."""
        secret = self.edit.text()
        if not secret:
            return False
        self._store.set(secret)
        self.edit.clear()
        return True
