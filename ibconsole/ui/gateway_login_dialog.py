"""The dialog that stores the login a profile's gateway command needs in the OS keyring."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ibconsole.config import ConnectionProfile
from ibconsole.credentials import CredentialError, Login
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, tone_style


class GatewayLoginDialog(QDialog):
    """Stores the login a profile's gateway command needs in the OS keyring.

    Signals:
        sig_saved(str)   the login was stored; the text names the keyring entry
    """

    sig_saved = Signal(str)

    def __init__(
        self, ctx: UiContext, profile: ConnectionProfile, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("gatewayLoginDialog")
        self.setWindowTitle(f"Gateway login for {profile.name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._ctx = ctx
        self._profile = profile
        self.username = QLineEdit(self)
        self.username.setObjectName("gatewayUsername")
        self.password = QLineEdit(self)
        self.password.setObjectName("gatewayPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel(self)
        self.error.setObjectName("gatewayLoginError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(tone_style(Tone.BAD))
        self.error.hide()
        note = QLabel(
            f"Kept in the OS keyring under {profile.keyring_entry!r} and handed to the gateway "
            "command only in its environment (TWS_USERID, TWS_PASSWORD); never written to a "
            "file or a log.",
            self,
        )
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("IB username:", self.username)
        form.addRow("Password:", self.password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        save = buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None  # created just above
        self.save_button = save
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    @Slot()
    def _on_buttons_accepted(self) -> None:
        username, password = self.username.text().strip(), self.password.text()
        if not username or not password:
            self.error.setText("Enter both the IB username and the password: nothing was stored.")
            self.error.show()
            return
        try:
            self._ctx.credentials.set(self._profile, Login(username, password))
        except CredentialError as error:
            self.error.setText(str(error))
            self.error.show()
            return
        self.sig_saved.emit(self._profile.keyring_entry)
        self.accept()
