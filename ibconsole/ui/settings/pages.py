"""The pages of the Settings dialog and the keys each one edits (the names of config.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel

from ibconsole.config import Settings
from ibconsole.config.writer import SettingsFile
from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.health import Jitter
from ibconsole.domain.ladder import FarSideClick
from ibconsole.domain.products import RollRuleKind
from ibconsole.ui.settings.page import RowsTable, SettingsPage
from ibconsole.ui.settings.risk_page import RiskPage
from ibconsole.ui.settings.rows import Column, RowsModel
from ibconsole.ui.settings.secret import SignalSecretField
from ibconsole.ui.settings.values import Kind, Spec

__all__ = ["build_pages"]

_SECONDS = "s"


def build_pages(
    settings: Settings,
    file: SettingsFile,
    environ: Mapping[str, str],
    secret: SignalSecretField,
) -> list[SettingsPage]:
    return [
        _connection(settings, file, environ),
        RiskPage(file, environ),
        _rollover(file, environ),
        _health(file, environ),
        _market_data(file, environ),
        _ladder(file, environ),
        _option_chain(file, environ),
        _signals(file, environ, secret),
        _alerts(file, environ),
    ]


def _connection(settings: Settings, file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage(
        "Connection profiles",
        file,
        environ,
        "The profiles the Connection panel offers. Passwords never go in the file: a profile "
        "names its keyring entry. A profile's gateway command is edited in the file. The log "
        "level and the journal file take effect at the next start.",
    )
    in_file = isinstance(file.value(("profiles",)), dict) and bool(file.value(("profiles",)))
    shown = None if in_file else {name: asdict(p) for name, p in settings.profiles.items()}
    model = RowsModel(
        ("profiles",),
        "Profile",
        (
            Column("Host", "host", Kind.TEXT),
            Column("Port", "port", tip="TWS live 7496, paper 7497; Gateway live 4001, paper 4002"),
            Column("Client ID", "client_id"),
            Column("Read-only", "read_only", Kind.BOOL),
            Column("Account", "account", Kind.TEXT),
            Column("Keyring entry", "keyring_entry", Kind.TEXT),
        ),
        file,
        environ,
        shown=shown,
        whole_rows=not in_file,
    )
    table = RowsTable(
        model,
        table_name="profilesTable",
        prefix="profiles",
        name_hint="new profile name",
        noun="Profile",
        upper=False,
    )
    page.tables.append(table)
    profiles = QGroupBox("Profiles")
    QHBoxLayout(profiles).addWidget(table)
    page.body.addWidget(profiles, 1)
    general = page.group(
        "General",
        (
            Spec(
                ("default_profile",), "Default profile", Kind.CHOICE, choices=tuple(model.names())
            ),
            Spec(
                ("log_level",),
                "Log level",
                Kind.CHOICE,
                "from the next start (--log-level wins)",
                choices=_LOG_LEVELS,
            ),
            Spec(
                ("journal_path",),
                "Journal file",
                Kind.TEXT,
                "from the next start; relative to the settings file",
            ),
        ),
    )
    default = page.editors[0].widget
    assert isinstance(default, QComboBox)
    _ProfileChoices(default, model)
    page.body.addWidget(general)
    return page


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class _ProfileChoices(QObject):
    """The default-profile choice lists the table's profiles as they are added and removed."""

    def __init__(self, combo: QComboBox, model: RowsModel) -> None:
        super().__init__(combo)
        self._combo = combo
        self._model = model
        model.rowsInserted.connect(self._on_rows_changed)
        model.rowsRemoved.connect(self._on_rows_changed)

    @Slot()
    def _on_rows_changed(self) -> None:
        chosen = self._combo.currentText()
        self._combo.clear()
        self._combo.addItems(self._model.names())
        self._combo.setCurrentText(chosen)


def _rollover(file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage(
        "Rollover",
        file,
        environ,
        "When a month stops being the front month, when a held position must roll, and how a "
        "roll is sent. Days are business days of the product's exchange.",
    )
    page.body.addWidget(
        page.group(
            "Roll timing",
            (
                Spec(("rollover", "buffer_days"), "Buffer", unit="business days"),
                Spec(("rollover", "close_out_warning_days"), "Close-out warning", unit="days"),
                Spec(
                    ("rollover", "reopen_on_roll"),
                    "Reopen the position in the next month",
                    Kind.BOOL,
                ),
                Spec(("rollover", "fill_timeout_seconds"), "Two-order fill timeout", unit=_SECONDS),
            ),
        )
    )
    rules = QGroupBox("Roll rules per family (micros follow their family)")
    model = RowsModel(
        ("rollover", "rules"),
        "Family",
        (
            Column("Rule", "kind", Kind.CHOICE),
            Column("Days", "days", tip="days before the last trading day"),
        ),
        file,
        environ,
    )
    table = RowsTable(
        model,
        table_name="rollRulesTable",
        prefix="rollRules",
        name_hint="family, e.g. CL",
        choices={1: tuple(k.value for k in RollRuleKind)},
    )
    page.tables.append(table)
    QHBoxLayout(rules).addWidget(table)
    page.body.addWidget(rules, 1)
    page.body.addWidget(
        page.group(
            "Calendar-spread roll",
            (
                Spec(
                    ("rollover", "spread", "prefer_spread"),
                    "Offer the spread order first",
                    Kind.BOOL,
                ),
                Spec(
                    ("rollover", "spread", "ticks_through"),
                    "Limit through the touch",
                    unit="spread ticks",
                ),
                Spec(("rollover", "spread", "fill_timeout_seconds"), "Fill timeout", unit=_SECONDS),
            ),
        )
    )
    return page


def _health(file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage(
        "Connection health",
        file,
        environ,
        "How the console watches the connection and how it reconnects. Applied at once; a "
        "reconnect already scheduled keeps its time.",
    )
    page.body.addWidget(
        page.group(
            "Heartbeat",
            (
                Spec(("health", "heartbeat_interval_seconds"), "Interval", unit=_SECONDS),
                Spec(("health", "heartbeat_timeout_seconds"), "Timeout", unit=_SECONDS),
                Spec(
                    ("health", "heartbeat_failures_before_reconnect"), "Failures before reconnect"
                ),
                Spec(("health", "heartbeat_window"), "Round trips kept for statistics"),
            ),
        )
    )
    page.body.addWidget(
        page.group(
            "Reconnect backoff",
            (
                Spec(("health", "backoff", "min_delay_seconds"), "Shortest delay", unit=_SECONDS),
                Spec(("health", "backoff", "max_delay_seconds"), "Longest delay", unit=_SECONDS),
                Spec(("health", "backoff", "multiplier"), "Multiplier"),
                Spec(
                    ("health", "backoff", "jitter"),
                    "Jitter",
                    Kind.CHOICE,
                    choices=tuple(j.value for j in Jitter),
                ),
            ),
        )
    )
    page.body.addWidget(
        page.group(
            "Circuit breaker",
            (
                Spec(("health", "breaker", "failure_threshold"), "Failed connects that open it"),
                Spec(("health", "breaker", "window_seconds"), "Within", unit=_SECONDS),
                Spec(("health", "breaker", "cooldown_seconds"), "Cooldown", unit=_SECONDS),
            ),
        )
    )
    page.body.addStretch(1)
    return page


def _market_data(file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage(
        "Market data",
        file,
        environ,
        "IB accounts start with 100 market-data lines shared by TWS and every API client.",
    )
    page.body.addWidget(
        page.group(
            "Lines",
            (
                Spec(("market_data", "line_budget"), "Line budget", unit="lines"),
                Spec(("market_data", "depth_rows"), "Depth", unit="rows per side"),
            ),
        )
    )
    page.body.addStretch(1)
    return page


def _ladder(file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage("Price ladder", file, environ)
    page.body.addWidget(
        page.group(
            "Clicks",
            (
                Spec(
                    ("ladder", "far_side_click"),
                    "Click beyond the touch",
                    Kind.CHOICE,
                    "confirm: ask before a marketable limit; stop: place a stop at that price",
                    choices=tuple(c.value for c in FarSideClick),
                ),
                Spec(
                    ("ladder", "quantity_presets"),
                    "Quantity presets",
                    Kind.LIST,
                    "e.g. 1, 2, 5, 10",
                ),
            ),
        )
    )
    page.body.addStretch(1)
    return page


def _option_chain(file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage("Options chain", file, environ)
    page.body.addWidget(
        page.group(
            "Strikes",
            (Spec(("option_chain", "strikes_each_side"), "Strikes each side of the money"),),
        )
    )
    page.body.addStretch(1)
    return page


def _signals(
    file: SettingsFile, environ: Mapping[str, str], secret: SignalSecretField
) -> SettingsPage:
    page = SettingsPage(
        "Signal inbox",
        file,
        environ,
        "A loopback HTTP endpoint for TradingView alerts or scripts. A signal waits in the inbox "
        "until you click; nothing is sent on its own. Listening, the port, the rate and the body "
        "size take effect at the next start; expiry and the symbol map at once.",
    )
    page.body.addWidget(
        page.group(
            "Endpoint",
            (
                Spec(("signals", "enabled"), "Listen for signals", Kind.BOOL),
                Spec(("signals", "port"), "Port", hint="0 picks a free port"),
                Spec(("signals", "max_age_seconds"), "Expire after", unit=_SECONDS),
                Spec(("signals", "max_per_minute"), "At most", unit="signals a minute"),
                Spec(("signals", "max_body_bytes"), "Largest body", unit="bytes"),
            ),
        )
    )
    page.body.addWidget(secret)
    mapping = QGroupBox("Symbol map (a signal for the left trades the right)")
    model = RowsModel(
        ("signals", "symbols"),
        "Signal symbol",
        (Column("Trades", None, tip="the family ordered, e.g. ES signals trade MES"),),
        file,
        environ,
    )
    table = RowsTable(
        model, table_name="signalSymbolsTable", prefix="signalSymbols", name_hint="e.g. ES"
    )
    page.tables.append(table)
    QHBoxLayout(mapping).addWidget(table)
    page.body.addWidget(mapping, 1)
    return page


def _alerts(file: SettingsFile, environ: Mapping[str, str]) -> SettingsPage:
    page = SettingsPage(
        "Alerts and sounds",
        file,
        environ,
        "Which events raise a desktop notification and which also play a sound.",
    )
    page.body.addWidget(
        page.group("Sound", (Spec(("alerts", "sound_enabled"), "Play sounds", Kind.BOOL),))
    )
    box = QGroupBox("Per event")
    grid = QGridLayout(box)
    grid.setHorizontalSpacing(28)
    grid.addWidget(QLabel("<b>Event</b>"), 0, 0)
    grid.addWidget(QLabel("<b>Notify</b>"), 0, 1)
    grid.addWidget(QLabel("<b>Sound</b>"), 0, 2)
    for row, kind in enumerate(AlertKind, start=1):
        grid.addWidget(QLabel(kind.value.replace("_", " ").capitalize()), row, 0)
        for column, table in ((1, "notify"), (2, "sound")):
            editor = page.editor(Spec(("alerts", table, kind.value), "", Kind.BOOL))
            grid.addWidget(editor.widget, row, column)
    grid.setColumnStretch(3, 1)
    page.body.addWidget(box)
    page.body.addStretch(1)
    return page
