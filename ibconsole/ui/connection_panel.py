"""The connection manager: profile, host, port, clientId, read-only and account; the port's mode
and a non-loopback host said plainly; Test connection; Connect/Disconnect (through the gateway
supervisor when the profile names a command); and after each sync, live or paper from the account
code, with a loud mismatch warning and a once-per-session confirmation for a live account.

A view: the fields are in ``connection_form`` (their rules and words in ``connection_fields``),
the gateway commands in ``broker.gateway_supervisor``, the live confirmation in
``live_confirmation``.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ibconsole.broker.launcher import LauncherError
from ibconsole.broker.probe import ProbeReport, probe
from ibconsole.broker.session import Endpoint, SyncInfo
from ibconsole.config import ConnectionProfile
from ibconsole.credentials import CredentialError
from ibconsole.domain.health import HealthSnapshot, HealthState
from ibconsole.ui.confirm_dialog import ConfirmDialog
from ibconsole.ui.connection_fields import MAX_CLIENT_ID, mode_words, probe_text
from ibconsole.ui.connection_form import ConnectionForm, message_line, show_message
from ibconsole.ui.context import UiContext
from ibconsole.ui.event_follow import follow
from ibconsole.ui.gateway_login_dialog import GatewayLoginDialog
from ibconsole.ui.live_confirmation import LiveConfirmation
from ibconsole.ui.theme import Tone

log = logging.getLogger(__name__)


class ConnectionPanel(QWidget):
    """Where the trader chooses, tests and opens the connection to TWS/Gateway.

    Signals:
        sig_live_confirmed(str)   the trader confirmed trading on this live account
        sig_live_ended()          no confirmed live session any more (disconnected, or paper)
    """

    sig_live_confirmed = Signal(str)
    sig_live_ended = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionPanel")
        self._ctx = ctx
        self._session = ctx.broker.session
        self._live = LiveConfirmation(self)
        self._live.sig_confirmed.connect(self.sig_live_confirmed)
        self._live.sig_ended.connect(self.sig_live_ended)
        self._live.sig_declined.connect(self._on_live_declined)
        self._login_dialog: GatewayLoginDialog | None = None
        self._testing = False

        self.form = ConnectionForm(ctx, self)
        self.form.sig_profile_chosen.connect(self._on_form_profile_chosen)
        self.form.sig_submitted.connect(self.request_connect)
        self.form.gateway_login_button.clicked.connect(self._on_gateway_login_clicked)

        self.test_button = QPushButton("Test connection", self)
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.setToolTip(
            "Check reach, API handshake, accounts and round trip without connecting"
        )
        self.test_button.clicked.connect(self._on_test_clicked)
        self.connect_button = QPushButton("Connect", self)
        self.connect_button.setObjectName("connectButton")
        self.connect_button.setDefault(True)
        self.connect_button.clicked.connect(self._on_connect_clicked)

        self.test_result = message_line(self, "testResult")
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)
        self.status = message_line(self, "connectionStatus")
        self.mode_label = message_line(self, "modeLabel")
        self.mode_mismatch = message_line(self, "modeMismatch")
        self.mode_mismatch.setStyleSheet(
            "#modeMismatch { background: #b3261e; color: white; font-weight: 700; "
            "padding: 6px; border-radius: 4px; }"
        )

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.connect_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.test_result)
        layout.addWidget(self.status)
        layout.addWidget(self.mode_label)
        layout.addWidget(self.mode_mismatch)
        layout.addStretch(1)

        bridge = ctx.bridge
        bridge.sig_health_changed.connect(self._on_bridge_health_changed)
        bridge.sig_synced.connect(self._on_bridge_synced)
        gateways = ctx.gateways
        follow(
            self,
            (gateways.ready, self._on_gateways_ready),
            (gateways.exited, self._on_gateways_exited),
            (gateways.failed, self._on_gateways_failed),
        )

        # The session's endpoint already merges the profile with the command line.
        self.form.show_gateway(self.profile())
        self.show_endpoint(self._session.endpoint)
        self._on_bridge_health_changed(self._session.health)
        info = self._session.sync_info
        if info is not None:
            self._on_bridge_synced(info)

    # ------------------------------------------------------------------ public
    def profile(self) -> ConnectionProfile:
        return self.form.profile()

    @Slot()
    def reload_profiles(self) -> None:
        """List the profiles of the settings as saved now (see ``ConnectionForm``)."""
        self.form.reload_profiles()

    def endpoint(self) -> Endpoint | None:
        """The endpoint the fields describe, or None (with the reasons shown) when invalid."""
        return self.form.endpoint()

    def show_endpoint(self, endpoint: Endpoint) -> None:
        """Put an endpoint chosen elsewhere (the command line, the demo) into the fields."""
        self.form.show_endpoint(endpoint)

    @property
    def live_dialog(self) -> ConfirmDialog | None:
        """The live-account confirmation while it is open."""
        return self._live.dialog

    @property
    def live_account(self) -> str:
        """The live account the trader confirmed for the current session, or ""."""
        return self._live.account

    @property
    def login_dialog(self) -> GatewayLoginDialog | None:
        """The gateway login dialog while it is open."""
        return self._login_dialog

    @Slot()
    def request_connect(self) -> None:
        """Connect with the fields as they are (through the gateway command, if any)."""
        if self._session.state is not HealthState.DISCONNECTED:
            return
        endpoint = self.endpoint()
        if endpoint is None:
            self._say("Not connected: correct the fields marked in red.", Tone.BAD)
            return
        self._session.set_endpoint(endpoint)
        profile = self.profile()
        where = f"{endpoint.host}:{endpoint.port}"
        if profile.gateway_command:
            self._say(f"Starting the gateway command of {profile.name}…", Tone.WARN)
            work = self._launch_and_connect(profile, endpoint)
        else:
            self._say(f"Connecting to {where}…", Tone.WARN)
            work = self._session.connect()
        self._ctx.runner.start(
            work, name=f"connect {where}", done=self._on_connected, failed=self._on_connect_failed
        )

    def request_disconnect(self, why: str = "") -> None:
        """Close the session; ``why`` (a sentence) is shown once it is closed."""
        if self._session.state is HealthState.DISCONNECTED:
            return
        self._say("Disconnecting…", Tone.NEUTRAL)
        self._ctx.runner.start(
            self._session.disconnect(),
            name="disconnect",
            done=lambda _: self._say(
                f"{why} Disconnected." if why else "Disconnected.", Tone.NEUTRAL
            ),
        )

    def toggle_connection(self) -> None:
        if self._session.state is HealthState.DISCONNECTED:
            self.request_connect()
        else:
            self.request_disconnect()

    def test_connection(self) -> None:
        """Probe the endpoint in the fields without connecting; the result shows below."""
        if self._testing:
            return
        errors = self.form.show_errors()
        host, port, client_id = self.form.host(), self.form.port(), self.form.client_id()
        if errors.host or port is None or client_id is None:
            self._show_test("Not tested: correct the fields marked in red.", Tone.BAD)
            return
        note = ""
        current = self._session.endpoint
        if self._session.state is not HealthState.DISCONNECTED and (
            (current.host, current.port, current.client_id) == (host, port, client_id)
        ):
            # This session holds the clientId; TWS would refuse a second use of it (326).
            spare = (client_id + 1000) % (MAX_CLIENT_ID + 1)
            note = f" (with clientId {spare}: {client_id} is in use by this session)"
            client_id = spare
        self._testing = True
        self.test_button.setEnabled(False)
        self._show_test(f"Testing {host}:{port}{note}…", Tone.NEUTRAL)
        self._ctx.runner.start(
            probe(host, port, client_id),
            name=f"test connection {host}:{port}",
            done=self._on_probe_done,
            failed=self._on_probe_failed,
        )

    # ------------------------------------------------------------------ fields
    @Slot()
    def _on_form_profile_chosen(self) -> None:
        if self._session.state is HealthState.DISCONNECTED:
            self.form.fill_from_profile(self.profile())

    # ---------------------------------------------------------------- connect
    async def _launch_and_connect(self, profile: ConnectionProfile, endpoint: Endpoint) -> SyncInfo:
        await self._ctx.gateways.ensure_running(profile, endpoint.host, endpoint.port)
        return await self._session.connect()

    @Slot()
    def _on_connect_clicked(self) -> None:
        self.toggle_connection()

    def _on_connected(self, info: SyncInfo) -> None:
        log.info("connected from the connection panel")

    def _on_connect_failed(self, error: BaseException) -> None:
        if isinstance(error, LauncherError | CredentialError):
            self._say(f"Not connected: {error}", Tone.BAD)
            self._ctx.runner.start(self._session.disconnect(), name="disconnect after failure")
            return
        if isinstance(error, ConnectionError):
            # The session keeps retrying with backoff; the health indicator counts the attempts.
            self._say(f"Connect failed: {error}. Retrying in the background.", Tone.BAD)
            return
        sys.excepthook(type(error), error, error.__traceback__)

    def _on_gateways_ready(self) -> None:
        self._say("The gateway is up; its API port accepts connections.", Tone.NEUTRAL)

    def _on_gateways_exited(self, code: int) -> None:
        self._say(f"The gateway command exited (code {code}); starting it again.", Tone.WARN)

    def _on_gateways_failed(self, reason: str) -> None:
        self._say(f"Gateway restart failed: {reason}", Tone.BAD)

    @Slot()
    def _on_gateway_login_clicked(self) -> None:
        profile = self.profile()
        if not profile.keyring_entry:
            return
        dialog = GatewayLoginDialog(self._ctx, profile, self)
        dialog.sig_saved.connect(
            lambda entry: self._say(f"Login stored under keyring entry {entry!r}.", Tone.NEUTRAL)
        )
        dialog.finished.connect(self._on_login_dialog_finished)
        self._login_dialog = dialog
        dialog.open()

    @Slot(int)
    def _on_login_dialog_finished(self, result: int) -> None:
        self._login_dialog = None

    # ------------------------------------------------------------------ test
    @Slot()
    def _on_test_clicked(self) -> None:
        self.test_connection()

    def _on_probe_done(self, report: ProbeReport) -> None:
        self._testing = False
        self.test_button.setEnabled(True)
        self._show_test(probe_text(report), Tone.GOOD if report.ok else Tone.BAD)

    def _on_probe_failed(self, error: BaseException) -> None:
        self._testing = False
        self.test_button.setEnabled(True)
        self._show_test(f"✖ The test could not run: {error}", Tone.BAD)

    def _show_test(self, text: str, tone: Tone) -> None:
        show_message(self.test_result, text, tone)

    # ---------------------------------------------------------------- session
    @Slot(object)
    def _on_bridge_health_changed(self, snapshot: HealthSnapshot) -> None:
        disconnected = snapshot.state is HealthState.DISCONNECTED
        self.connect_button.setText("Connect" if disconnected else "Disconnect")
        self.connect_button.setToolTip(
            "Connect with these settings"
            if disconnected
            else "Close the session and stop reconnecting"
        )
        self.form.set_editable(disconnected)
        if disconnected:
            self.mode_label.hide()
            self.mode_mismatch.hide()
            self._live.disconnected()

    @Slot(object)
    def _on_bridge_synced(self, info: SyncInfo) -> None:
        verdict = info.mode
        account = info.account or ", ".join(info.accounts)
        show_message(self.mode_label, *mode_words(verdict.mode, account))
        # The session alerts (and logs) the mismatch; here it is shown where the port was chosen.
        self.mode_mismatch.setText(f"⚠ MODE MISMATCH: {verdict.mismatch}")
        self.mode_mismatch.setVisible(bool(verdict.mismatch))
        self._say(
            f"Connected to {self._session.endpoint.host}:{self._session.endpoint.port} "
            f"(server {info.server_version}, synced in {info.sync_ms:.0f} ms).",
            Tone.GOOD,
        )
        self._live.synced(info)

    @Slot()
    def _on_live_declined(self) -> None:
        self.request_disconnect("Live account declined.")

    # ------------------------------------------------------------------ words
    def _say(self, text: str, tone: Tone) -> None:
        show_message(self.status, text, tone)
