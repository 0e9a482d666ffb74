"""The connection manager's fields: profile, host, port (with IB's presets), clientId, account,
read-only and the profile's gateway command, each with its error or warning line under it.

A view: the field rules and words are in ``connection_fields``; what the fields are used for
(connect, test, the gateway login) is in ``connection_panel``.
"""

from __future__ import annotations

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
    QWidget,
)

from ibconsole.broker.session import Endpoint
from ibconsole.config import ConnectionProfile
from ibconsole.domain.trading_mode import PORT_PRESETS, is_loopback
from ibconsole.ui.connection_fields import (
    FieldErrors,
    account_error,
    host_error,
    parse_client_id,
    parse_port,
    port_words,
)
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, set_toned_text


class ConnectionForm(QWidget):
    """The fields of one endpoint, checked as they are typed.

    Signals:
        sig_profile_chosen()   the trader chose another profile in the combo
        sig_submitted()        Return pressed in a field
    """

    sig_profile_chosen = Signal()
    sig_submitted = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._session = ctx.broker.session
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

        self.host_error = message_line(self, "hostError")
        self.host_warning = message_line(self, "hostWarning")
        self.port_error = message_line(self, "portError")
        self.port_warning = message_line(self, "portWarning")
        self.client_id_error = message_line(self, "clientIdError")
        self.account_error = message_line(self, "accountError")

        self.gateway_label = message_line(self, "gatewayCommand")
        self.gateway_login_button = QPushButton("Gateway login…", self)
        self.gateway_login_button.setObjectName("gatewayLoginButton")
        self.gateway_login_button.setToolTip(
            "Store the IB login the gateway command needs in the OS keyring"
        )
        self._gateway_caption = QLabel("Gateway:", self)

        self._lay_out()

        self.profile_combo.currentIndexChanged.connect(self._on_profile_changed)
        self.preset_combo.activated.connect(self._on_preset_activated)
        for edit in (self.host_edit, self.port_edit, self.client_id_edit, self.account_edit):
            edit.textChanged.connect(self._on_field_edited)
            edit.returnPressed.connect(self.sig_submitted)

        index = self.profile_combo.findData(ctx.profile_name)
        self._filling = True
        self.profile_combo.setCurrentIndex(max(index, 0))
        self._filling = False

    def _lay_out(self) -> None:
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

        # A grid, not a QFormLayout: a form keeps a hidden message's row spacing and sizes
        # word-wrapped messages for a narrower width than they get, leaving gaps around them.
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
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

    # ------------------------------------------------------------------ public
    def profile(self) -> ConnectionProfile:
        return self._ctx.settings.profile(self.profile_combo.currentData())

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
        self.show_gateway(self.profile())

    def field_errors(self) -> FieldErrors:
        _, port = parse_port(self.port_edit.text())
        _, client_id = parse_client_id(self.client_id_edit.text())
        return FieldErrors(
            host_error(self.host_edit.text()),
            port,
            client_id,
            account_error(self.account_edit.text()),
        )

    def show_errors(self) -> FieldErrors:
        """Check the fields, show each one's error under it, and return them."""
        errors = self.field_errors()
        for label, text in (
            (self.host_error, errors.host),
            (self.port_error, errors.port),
            (self.client_id_error, errors.client_id),
            (self.account_error, errors.account),
        ):
            show_message(label, text, Tone.BAD)
        return errors

    def host(self) -> str:
        return self.host_edit.text().strip()

    def port(self) -> int | None:
        return parse_port(self.port_edit.text())[0]

    def client_id(self) -> int | None:
        return parse_client_id(self.client_id_edit.text())[0]

    def endpoint(self) -> Endpoint | None:
        """The endpoint the fields describe, or None (with the reasons shown) when invalid."""
        errors = self.show_errors()
        port, client_id = self.port(), self.client_id()
        if errors.any or port is None or client_id is None:
            return None
        return Endpoint(
            host=self.host(),
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

    def fill_from_profile(self, profile: ConnectionProfile) -> None:
        self.show_endpoint(
            Endpoint(
                profile.host,
                profile.port,
                profile.client_id,
                profile.account,
                profile.read_only,
            )
        )
        self.show_gateway(profile)

    def show_gateway(self, profile: ConnectionProfile) -> None:
        if profile.gateway_command:
            entry = profile.keyring_entry or "none (the command logs in by itself)"
            self.gateway_label.setText(
                f"starts {profile.gateway_command[0]}; login from keyring entry {entry}"
            )
        self._gateway_caption.setVisible(bool(profile.gateway_command))
        self.gateway_label.setVisible(bool(profile.gateway_command))
        self.gateway_login_button.setVisible(bool(profile.gateway_command))
        self.gateway_login_button.setEnabled(bool(profile.keyring_entry))

    def set_editable(self, editable: bool) -> None:
        """The endpoint's fields take input only while disconnected."""
        for widget in (
            self.profile_combo,
            self.host_edit,
            self.port_edit,
            self.preset_combo,
            self.client_id_edit,
            self.account_edit,
            self.read_only_check,
        ):
            widget.setEnabled(editable)

    # ------------------------------------------------------------------ events
    @Slot(int)
    def _on_profile_changed(self, index: int) -> None:
        if not self._filling:
            self.sig_profile_chosen.emit()

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
        self.show_errors()
        host = self.host()
        if host and not host_error(host) and not is_loopback(host):
            show_message(
                self.host_warning,
                f"{host} is not this machine: TWS accepts it only if listed under Trusted IPs, "
                "and API traffic crosses the network unencrypted.",
                Tone.WARN,
            )
        else:
            show_message(self.host_warning, "", Tone.NEUTRAL)
        port = self.port()
        if port is None:
            show_message(self.port_warning, "", Tone.NEUTRAL)
        else:
            words, tone = port_words(port, self._session.endpoint.preset)
            show_message(self.port_warning, words, tone)


def _edit(parent: QWidget, name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    return edit


def message_line(parent: QWidget, name: str) -> QLabel:
    """A status line under a field group: wraps, selectable, hidden while empty."""
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_message(label: QLabel, text: str, tone: Tone) -> None:
    """Show ``text`` in a message line in ``tone``; an empty text hides the line."""
    set_toned_text(label, text, tone)
    label.setVisible(bool(text))
