"""The once-per-session confirmation before trading on a live account: asked after the sync that
proves the account live, remembered for that set of accounts until the console closes."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from ibconsole.broker.session import SyncInfo
from ibconsole.ui.confirm_dialog import ConfirmDialog

log = logging.getLogger(__name__)


class LiveConfirmation(QObject):
    """Owned by the connection panel; its dialog opens over the panel's window.

    Signals:
        sig_confirmed(str)   trading on this live account is confirmed for the session
        sig_ended()          no confirmed live session any more (disconnected, or paper)
        sig_declined()       the trader declined: the connection must close
    """

    sig_confirmed = Signal(str)
    sig_ended = Signal()
    sig_declined = Signal()

    def __init__(self, owner: QWidget) -> None:
        super().__init__(owner)
        self._owner = owner
        self._confirmed: set[str] = set()
        self._account = ""
        self._dialog: ConfirmDialog | None = None
        self._asking = ("", "")  # (accounts key, account) the open dialog asks about

    @property
    def dialog(self) -> ConfirmDialog | None:
        """The confirmation while it is open."""
        return self._dialog

    @property
    def account(self) -> str:
        """The live account confirmed for the current session, or ""."""
        return self._account

    def synced(self, info: SyncInfo) -> None:
        """After each sync: ask (once per set of accounts) when the session is live."""
        if not info.mode.is_live:
            self._end()
            return
        account = info.account or ", ".join(info.accounts)
        key = ",".join(sorted(info.accounts))
        if key in self._confirmed:
            self._set(account)
        elif self._dialog is None:
            self._ask(key, account)

    def disconnected(self) -> None:
        if self._dialog is not None:
            self._dialog.cancel()
        self._end()

    def _ask(self, key: str, account: str) -> None:
        dialog = ConfirmDialog(
            "Live account",
            f"You are connected to the LIVE account {account}.",
            notes=(
                "Orders sent from this console will move real money.",
                "Confirm once for this session; Disconnect closes the connection.",
            ),
            confirm_text="Trade on the live account",
            parent=self._owner.window(),
        )
        dialog.setObjectName("liveConfirmDialog")
        dialog.cancel_button.setText("Disconnect")
        dialog.sig_decided.connect(self._on_dialog_decided)
        self._asking = (key, account)
        self._dialog = dialog
        dialog.open()

    @Slot(bool)
    def _on_dialog_decided(self, confirmed: bool) -> None:
        self._dialog = None
        key, account = self._asking
        if confirmed:
            log.info("live trading confirmed for this session")
            self._confirmed.add(key)
            self._set(account)
        else:
            self.sig_declined.emit()

    def _set(self, account: str) -> None:
        if self._account != account:
            self._account = account
            self.sig_confirmed.emit(account)

    def _end(self) -> None:
        if self._account:
            self._account = ""
            self.sig_ended.emit()
