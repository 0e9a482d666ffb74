"""The connection manager: profile, host, port, clientId, read-only and account; the port's mode
and a non-loopback host said plainly; Test connection; Connect/Disconnect (through the gateway
supervisor when the profile names a command); and after each sync, live or paper from the account
code, with a loud mismatch warning and a once-per-session confirmation for a live account.

A view: the field rules and words are in ``connection_fields``, the gateway commands in
``broker.gateway_supervisor``, the live confirmation in ``live_confirmation``.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.launcher import LauncherError
from ibconsole.broker.probe import ProbeReport, probe
from ibconsole.broker.session import Endpoint, SyncInfo
from ibconsole.config import ConnectionProfile
from ibconsole.credentials import CredentialError
from ibconsole.domain.health import HealthSnapshot, HealthState
from ibconsole.domain.trading_mode import PORT_PRESETS, is_loopback
from ibconsole.ui.confirm_dialog import ConfirmDialog
from ibconsole.ui.connection_fields import (
    MAX_CLIENT_ID,
    FieldErrors,
    account_error,
    host_error,
    mode_words,
    parse_client_id,
    parse_port,
    port_words,
    probe_text,
)
from ibconsole.ui.context import UiContext
from ibconsole.ui.gateway_login_dialog import GatewayLoginDialog
from ibconsole.ui.live_confirmation import LiveConfirmation
from ibconsole.ui.theme import Tone, set_toned_text

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
        self._filling = False

        self.profile_combo = QComboBox(self)
        self.profile_combo.setObjectName("profileCombo")
        for name in ctx.settings.profiles:
            self.profile_combo.addItem(name, name)
        self.host_edit = _edit(self, "hostEdit", "127.0.0.1")
        self.port_edit = _edit(self, "portEdit", "7497")
        self.port_edit.setMaximumWidth(90)
        self.preset_combo = QComboBox(self)
        self.preset_combo.setObjectName("portPresetCombo")
        self.preset_combo.setToolTip("IB's default API ports")
        self.preset_combo.addItem("Preset…", None)
        for preset in PORT_PRESETS:
            name = "Gateway" if preset.application == "IB Gateway" else preset.application
            self.preset_combo.addItem(f"{name} {preset.mode.value} {preset.port}", preset.port)
        self.client_id_edit = _edit(self, "clientIdEdit", "1")
        self.client_id_edit.setMaximumWidth(90)
        self.account_edit = _edit(self, "accountEdit", "only account")
        self.account_edit.setToolTip(
            "Leave empty when the login manages one account; required with several"
        )
        self.read_only_check = QCheckBox("Read-only (no orders)", self)
        self.read_only_check.setObjectName("readOnlyCheck")
        self.read_only_check.setToolTip(
            "Connect without loading or sending orders; positions and data only"
        )

        self.host_error = _message(self, "hostError")
        self.host_warning = _message(self, "hostWarning")
        self.port_error = _message(self, "portError")
        self.port_warning = _message(self, "portWarning")
        self.client_id_error = _message(self, "clientIdError")
        self.account_error = _message(self, "accountError")

        self.gateway_label = _message(self, "gatewayCommand")
        self.gateway_login_button = QPushButton("Gateway login…", self)
        self.gateway_login_button.setObjectName("gatewayLoginButton")
        self.gateway_login_button.setToolTip(
            "Store the IB login the gateway command needs in the OS keyring"
        )
        self.gateway_login_button.clicked.connect(self._on_gateway_login_clicked)

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

        self.test_result = _message(self, "testResult")
        self.test_result.setTextFormat(Qt.TextFormat.PlainText)
        self.status = _message(self, "connectionStatus")
        self.mode_label = _message(self, "modeLabel")
        self.mode_mismatch = _message(self, "modeMismatch")
        self.mode_mismatch.setStyleSheet(
            "#modeMismatch { background: #b3261e; color: white; font-weight: 700; "
            "padding: 6px; border-radius: 4px; }"
        )

        port_row = QHBoxLayout()
        port_row.setSpacing(6)
        port_row.addWidget(self.port_edit)
        port_row.addWidget(self.preset_combo, 1)
        ids_row = QHBoxLayout()
        ids_row.setSpacing(6)
        ids_row.addWidget(self.client_id_edit)
        ids_row.addWidget(QLabel("Account:", self))
        ids_row.addWidget(self.account_edit, 1)
        gateway_row = QHBoxLayout()
        gateway_row.setSpacing(6)
        gateway_row.addWidget(self.gateway_label, 1)
        gateway_row.addWidget(self.gateway_login_button)
        self._gateway_caption = QLabel("Gateway:", self)

        # A grid, not a QFormLayout: a form keeps a hidden message's row spacing and sizes
        # word-wrapped messages for a narrower width than they get, leaving gaps around them.
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        rows: list[tuple[QLabel | str, QWidget | QHBoxLayout]] = [
            ("Profile:", self.profile_combo),
            ("Host:", self.host_edit),
            ("", self.host_error),
            ("", self.host_warning),
            ("Port:", port_row),
            ("", self.port_error),
            ("", self.port_warning),
            ("clientId:", ids_row),
            ("", self.client_id_error),
            ("", self.account_error),
            ("", self.read_only_check),
            (self._gateway_caption, gateway_row),
        ]
        for number, (caption, field) in enumerate(rows):
            if isinstance(caption, QLabel) or caption:
                label = caption if isinstance(caption, QLabel) else QLabel(caption, self)
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(label, number, 0)
            if isinstance(field, QHBoxLayout):
                grid.addLayout(field, number, 1)
            else:
                grid.addWidget(field, number, 1)

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.connect_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addWidget(self.test_result)
        layout.addWidget(self.status)
        layout.addWidget(self.mode_label)
        layout.addWidget(self.mode_mismatch)
        layout.addStretch(1)

        self.profile_combo.currentIndexChanged.connect(self._on_profile_changed)
        self.preset_combo.activated.connect(self._on_preset_activated)
        for edit in (self.host_edit, self.port_edit, self.client_id_edit, self.account_edit):
            edit.textChanged.connect(self._on_field_edited)
            edit.returnPressed.connect(self.request_connect)

        bridge = ctx.bridge
        bridge.sig_health_changed.connect(self._on_bridge_health_changed)
        bridge.sig_synced.connect(self._on_bridge_synced)
        gateways = ctx.gateways
        gateways.ready += self._on_gateways_ready
        gateways.exited += self._on_gateways_exited
        gateways.failed += self._on_gateways_failed

        index = self.profile_combo.findData(ctx.profile_name)
        self._filling = True
        self.profile_combo.setCurrentIndex(max(index, 0))
        self._filling = False
        # The session's endpoint already merges the profile with the command line.
        self._show_gateway(self.profile())
        self.show_endpoint(self._session.endpoint)
        self._on_bridge_health_changed(self._session.health)
        info = self._session.sync_info
        if info is not None:
            self._on_bridge_synced(info)

    # ------------------------------------------------------------------ public
    def profile(self) -> ConnectionProfile:
        return self._ctx.settings.profile(self.profile_combo.currentData())

    @Slot()
    def reload_profiles(self) -> None:
        """List the profiles of the settings as saved now; the fields keep what they show, and the
        chosen profile stays chosen while it exists (else the default one is chosen)."""
        chosen = self.profile_combo.currentData()
        profiles = self._ctx.settings.profiles
        self._filling = True
        self.profile_combo.clear()
        for name in profiles:
            self.profile_combo.addItem(name, name)
        keep = chosen if chosen in profiles else self._ctx.settings.default_profile
        self.profile_combo.setCurrentIndex(max(self.profile_combo.findData(keep), 0))
        self._filling = False
        self._show_gateway(self.profile())

    def field_errors(self) -> FieldErrors:
        _, port = parse_port(self.port_edit.text())
        _, client_id = parse_client_id(self.client_id_edit.text())
        return FieldErrors(
            host_error(self.host_edit.text()),
            port,
            client_id,
            account_error(self.account_edit.text()),
        )

    def endpoint(self) -> Endpoint | None:
        """The endpoint the fields describe, or None (with the reasons shown) when invalid."""
        errors = self._show_errors()
        port, _ = parse_port(self.port_edit.text())
        client_id, _ = parse_client_id(self.client_id_edit.text())
        if errors.any or port is None or client_id is None:
            return None
        return Endpoint(
            host=self.host_edit.text().strip(),
            port=port,
            client_id=client_id,
            account=self.account_edit.text().strip().upper(),
            read_only=self.read_only_check.isChecked(),
            preset=self._session.endpoint.preset,
        )

    def show_endpoint(self, endpoint: Endpoint) -> None:
        """Put an endpoint chosen elsewhere (the command line, the demo) into the fields."""
        self._filling = True
        try:
            self.host_edit.setText(endpoint.host)
            self.port_edit.setText(str(endpoint.port))
            self.client_id_edit.setText(str(endpoint.client_id))
            self.account_edit.setText(endpoint.account)
            self.read_only_check.setChecked(endpoint.read_only)
        finally:
            self._filling = False
        self._on_field_edited()

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
        errors = self._show_errors()
        host = self.host_edit.text().strip()
        port, _ = parse_port(self.port_edit.text())
        client_id, _ = parse_client_id(self.client_id_edit.text())
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

    # ---------------------------------------------------------------- building
    # ------------------------------------------------------------------ fields
    def _fill_from_profile(self, profile: ConnectionProfile) -> None:
        self.show_endpoint(
            Endpoint(
                profile.host,
                profile.port,
                profile.client_id,
                profile.account,
                profile.read_only,
            )
        )
        self._show_gateway(profile)

    def _show_gateway(self, profile: ConnectionProfile) -> None:
        if profile.gateway_command:
            entry = profile.keyring_entry or "none (the command logs in by itself)"
            self.gateway_label.setText(
                f"starts {profile.gateway_command[0]}; login from keyring entry {entry}"
            )
        self._gateway_caption.setVisible(bool(profile.gateway_command))
        self.gateway_label.setVisible(bool(profile.gateway_command))
        self.gateway_login_button.setVisible(bool(profile.gateway_command))
        self.gateway_login_button.setEnabled(bool(profile.keyring_entry))

    def _show_errors(self) -> FieldErrors:
        errors = self.field_errors()
        for label, text in (
            (self.host_error, errors.host),
            (self.port_error, errors.port),
            (self.client_id_error, errors.client_id),
            (self.account_error, errors.account),
        ):
            _show(label, text, Tone.BAD)
        return errors

    @Slot(int)
    def _on_profile_changed(self, index: int) -> None:
        if not self._filling and self._session.state is HealthState.DISCONNECTED:
            self._fill_from_profile(self.profile())

    @Slot(int)
    def _on_preset_activated(self, index: int) -> None:
        port = self.preset_combo.itemData(index)
        if port is not None:
            self.port_edit.setText(str(port))
        self.preset_combo.setCurrentIndex(0)

    @Slot()
    def _on_field_edited(self) -> None:
        if self._filling:
            return
        self._show_errors()
        host = self.host_edit.text().strip()
        if host and not host_error(host) and not is_loopback(host):
            _show(
                self.host_warning,
                f"{host} is not this machine: TWS accepts it only if listed under Trusted IPs, "
                "and API traffic crosses the network unencrypted.",
                Tone.WARN,
            )
        else:
            _show(self.host_warning, "", Tone.NEUTRAL)
        port, _ = parse_port(self.port_edit.text())
        if port is None:
            _show(self.port_warning, "", Tone.NEUTRAL)
        else:
            words, tone = port_words(port, self._session.endpoint.preset)
            _show(self.port_warning, words, tone)

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
        _show(self.test_result, text, tone)

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
        for widget in (
            self.profile_combo,
            self.host_edit,
            self.port_edit,
            self.preset_combo,
            self.client_id_edit,
            self.account_edit,
            self.read_only_check,
        ):
            widget.setEnabled(disconnected)
        if disconnected:
            self.mode_label.hide()
            self.mode_mismatch.hide()
            self._live.disconnected()

    @Slot(object)
    def _on_bridge_synced(self, info: SyncInfo) -> None:
        verdict = info.mode
        account = info.account or ", ".join(info.accounts)
        _show(self.mode_label, *mode_words(verdict.mode, account))
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
        _show(self.status, text, tone)


def _edit(parent: QWidget, name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    return edit


def _message(parent: QWidget, name: str) -> QLabel:
    """A status line under a field group: wraps, selectable, hidden while empty."""
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def _show(label: QLabel, text: str, tone: Tone) -> None:
    set_toned_text(label, text, tone)
    label.setVisible(bool(text))
