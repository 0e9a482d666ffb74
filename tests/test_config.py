"""Settings from TOML and the environment, and logins in a real (in-memory) keyring backend."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import keyring
import keyring.backend
import keyring.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.config import (
    ConfigError,
    ConnectionProfile,
    Settings,
    default_config_path,
    load_settings,
    parse_settings,
    write_example_config,
)
from ibconsole.credentials import (
    SIGNAL_SECRET_ENTRY,
    CredentialError,
    CredentialStore,
    Login,
    SignalSecretStore,
)
from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.domain.health import Jitter
from ibconsole.domain.ladder import FarSideClick
from ibconsole.domain.market_lines import MarketDataSettings
from ibconsole.domain.products import RollRule, RollRuleKind
from ibconsole.domain.risk import LimitOverride, SymbolLimits
from ibconsole.domain.signals import SignalSettings
from ibconsole.domain.spread_roll import SpreadRollSettings

if TYPE_CHECKING:
    # the fixture's type, from tests/conftest.py
    from conftest import MemoryKeyring

D = Decimal


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **environ: str) -> Settings:
    return load_settings(write(tmp_path, "schema_version = 1\n" + text), environ=environ)


def error_of(tmp_path: Path, text: str, **environ: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, **environ)
    return str(caught.value)


# --- files and defaults ----------------------------------------------------------------------


def test_the_example_file_spells_out_exactly_the_defaults(tmp_path: Path) -> None:
    path = write_example_config(tmp_path / "sub" / "config.toml")
    settings = load_settings(path, environ={})
    defaults = Settings()
    assert settings.source == path
    assert settings.log_level == defaults.log_level
    assert settings.journal_path is None
    assert settings.default_profile == "tws-paper"
    assert dict(settings.profiles) == dict(defaults.profiles)
    assert settings.risk.defaults == defaults.risk.defaults
    assert settings.risk.max_quote_age == defaults.risk.max_quote_age
    assert settings.risk.duplicate_window == defaults.risk.duplicate_window
    assert settings.risk.max_daily_loss is None
    assert settings.rollover == defaults.rollover
    assert settings.health == defaults.health


def test_example_is_never_written_over_an_existing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "mine")
    with pytest.raises(ConfigError, match="already exists"):
        write_example_config(path)
    assert path.read_text(encoding="utf-8") == "mine"


def test_missing_default_file_means_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing-here"))
    assert default_config_path() == tmp_path / "nothing-here" / "ibconsole" / "config.toml"
    settings = load_settings(environ={})
    assert settings.source is None
    assert settings.profile().port == 7497
    assert settings.profile("gateway-paper").port == 4002


def test_an_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_settings(tmp_path / "absent.toml", environ={})
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_settings(environ={"IBCONSOLE_CONFIG": str(tmp_path / "absent.toml")})


def test_ibconsole_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'schema_version = 1\nlog_level = "debug"\n')
    settings = load_settings(environ={"IBCONSOLE_CONFIG": str(path)})
    assert settings.log_level == "DEBUG"


def test_a_full_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
log_level = "warning"
journal_path = "data/journal.sqlite"
default_profile = "live"

[profiles.live]
host = "10.0.0.5"
port = 7496
client_id = 7
read_only = true
account = "U1234567"
gateway_command = ["/opt/ibc/gatewaystart.sh", "-inline"]
keyring_entry = "ib-live"

[profiles.paper]
port = 7497

[risk]
max_quantity = 4
max_notional = 2500000.5
price_band_percent = 1.5
price_band_ticks = 40
max_daily_loss = 3000
max_quote_age_seconds = 12.5
duplicate_window_seconds = 20
block_market_orders_without_live_quote = false

[risk.symbols.MES]
max_quantity = 40
max_notional = "off"

[rollover]
buffer_days = 2
close_out_warning_days = 3
reopen_on_roll = false

[rollover.rules.CL]
kind = "business_days"
days = 4

[health]
heartbeat_interval_seconds = 2
heartbeat_failures_before_reconnect = 5

[health.backoff]
min_delay_seconds = 8
max_delay_seconds = 120
multiplier = 3
jitter = "decorrelated"

[health.breaker]
failure_threshold = 4
window_seconds = 600
cooldown_seconds = 300
""",
    )
    assert settings.log_level == "WARNING"
    assert settings.journal_path == tmp_path / "data" / "journal.sqlite"
    assert settings.profile() == ConnectionProfile(
        name="live",
        host="10.0.0.5",
        port=7496,
        client_id=7,
        read_only=True,
        account="U1234567",
        gateway_command=("/opt/ibc/gatewaystart.sh", "-inline"),
        keyring_entry="ib-live",
    )
    assert settings.profile("paper") == ConnectionProfile("paper", port=7497)
    assert set(settings.profiles) == {"live", "paper"}
    risk = settings.risk
    assert risk.defaults == SymbolLimits(
        max_quantity=D(4),
        max_position=D(20),
        max_notional=D("2500000.5"),
        price_band_percent=D("1.5"),
        price_band_ticks=40,
    )
    assert risk.overrides["MES"] == LimitOverride(max_quantity=D(40), max_notional=None)
    assert risk.for_symbol("MES").max_notional is None
    assert risk.for_symbol("MES").price_band_ticks == 40
    assert risk.max_daily_loss == D(3000)
    assert risk.max_quote_age == timedelta(seconds=12.5)
    assert risk.duplicate_window == timedelta(seconds=20)
    assert risk.block_market_orders_without_live_quote is False
    assert (settings.rollover.buffer_days, settings.rollover.close_out_warning_days) == (2, 3)
    assert settings.rollover.reopen_on_roll is False
    assert settings.rollover.overrides == {"CL": RollRule(RollRuleKind.BUSINESS_DAYS, 4)}
    health = settings.health
    assert health.heartbeat_interval == timedelta(seconds=2)
    assert health.heartbeat_timeout == timedelta(seconds=5)
    assert health.heartbeat_failures_before_reconnect == 5
    assert health.backoff.min_delay == timedelta(seconds=8)
    assert health.backoff.max_delay == timedelta(seconds=120)
    assert health.backoff.multiplier == 3.0
    assert health.backoff.jitter is Jitter.DECORRELATED
    assert health.breaker.failure_threshold == 4
    assert health.breaker.window == timedelta(minutes=10)
    assert health.breaker.cooldown == timedelta(minutes=5)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path, "")
    with pytest.raises(AttributeError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.profiles["x"] = ConnectionProfile("x")  # type: ignore[index]


def test_unknown_profile_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="no connection profile 'nope'; known: gateway-paper, tws-paper"
    ):
        load(tmp_path, "").profile("nope")


# --- bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('log_level = "LOUD"', ["log_level = 'LOUD'", "DEBUG, INFO, WARNING, ERROR, CRITICAL"]),
        ("[risk]\nmax_quantity = -3", ["risk.max_quantity = -3", "whole number above zero"]),
        ("[risk]\nmax_quantity = 2.5", ["risk.max_quantity = 2.5", "whole number"]),
        ("[risk]\nmax_quantity = true", ["risk.max_quantity = True"]),
        ('[risk]\nmax_quantity = "lots"', ["risk.max_quantity = 'lots'", '"off"']),
        ("[risk]\nmax_position = -1", ["risk.max_position = -1", "zero or more"]),
        ("[risk]\nprice_band_percent = 0", ["risk.price_band_percent = 0", "above zero"]),
        ("[risk]\nprice_band_ticks = 1.5", ["risk.price_band_ticks = 1.5"]),
        ("[risk]\nmax_quote_age_seconds = 0", ["risk.max_quote_age_seconds = 0", "seconds above zero"]),
        ('[risk]\nmax_daily_loss = "nan"', ["risk.max_daily_loss = 'nan'"]),
        ("[risk]\nblock_market_orders_without_live_quote = 1", ["true or false"]),
        ("[risk.symbols.ZZ]\nmax_quantity = 1", ["risk.symbols.ZZ", "unknown futures symbol 'ZZ'", "ES"]),
        ("[risk.symbols.ES]\nmax_quantiy = 1", ["Unknown key risk.symbols.ES.max_quantiy", "Did you mean 'max_quantity'?"]),
        ("[risk]\nsymbols = 3", ["risk.symbols = 3", "must be a table"]),
        ("[rollover]\nbuffer_days = -1", ["rollover.buffer_days = -1", "zero or more"]),
        ('[rollover]\nreopen_on_roll = "yes"', ["rollover.reopen_on_roll = 'yes'", "true or false"]),
        ('[rollover.rules.CL]\nkind = "weeks"\ndays = 3', ["rollover.rules.CL.kind = 'weeks'", "calendar_days, business_days"]),
        ("[rollover.rules.CL]\ndays = 3", ["rollover.rules.CL", "needs both kind"]),
        ('[rollover.rules.MES]\nkind = "calendar_days"\ndays = 3', ["MES rolls on the ES roll date"]),
        ("[health]\nheartbeat_failures_before_reconnect = 0", ["health.heartbeat_failures_before_reconnect = 0", "1 or more"]),
        ("[health.backoff]\nmultiplier = 0.5", ["health.backoff.multiplier = 0.5", "1 or more"]),
        ('[health.backoff]\njitter = "none"', ["health.backoff.jitter = 'none'", "full, decorrelated"]),
        ("[health.backoff]\nmin_delay_seconds = 30\nmax_delay_seconds = 10", ["health.backoff", "must not be below min_delay"]),
        ("[health.breaker]\nfailure_threshold = 0", ["health.breaker.failure_threshold = 0"]),
        ("[health]\nheartbeat_intervall_seconds = 3", ["Unknown key health.heartbeat_intervall_seconds", "Did you mean 'heartbeat_interval_seconds'?"]),
        ("[profiles.p]\nport = 70000", ["profiles.p.port = 70000", "1 to 65535"]),
        ('[profiles.p]\nport = "7497"', ["profiles.p.port = '7497'"]),
        ("[profiles.p]\nclient_id = -1", ["profiles.p.client_id = -1"]),
        ('[profiles.p]\nhost = "  "', ["profiles.p.host = '  '", "host name"]),
        ('[profiles.p]\ngateway_command = "start.sh"', ["profiles.p.gateway_command = 'start.sh'", "list of command-line words"]),
        ('default_profile = "ghost"\n[profiles.p]\nport = 1', ["default_profile = 'ghost'", "must name a profile: p"]),
        ("[rollover.spread]\nticks_through = 21", ["rollover.spread.ticks_through = 21", "at most 20"]),
        ("[rollover.spread]\nfill_timeout_seconds = 0", ["rollover.spread.fill_timeout_seconds = 0", "seconds above zero"]),
        ("[rollover]\nfill_timeout_seconds = -5", ["rollover.fill_timeout_seconds = -5", "seconds above zero"]),
        ('[rollover]\nfill_timeout_seconds = "30s"', ["rollover.fill_timeout_seconds = '30s'", "seconds above zero"]),
        ('[rollover.spread]\nprefer_spread = "yes"', ["rollover.spread.prefer_spread = 'yes'", "true or false"]),
        ("[market_data]\nline_budget = 0", ["market_data.line_budget = 0", "1 or more"]),
        ("[market_data]\ndepth_rows = 51", ["market_data.depth_rows = 51", "at most 50"]),
        ('[ladder]\nfar_side_click = "market"', ["ladder.far_side_click = 'market'", "confirm, stop"]),
        ("[ladder]\nquantity_presets = [1, 0]", ["ladder.quantity_presets = [1, 0]", "each 1 or more"]),
        ("[ladder]\nquantity_presets = []", ["ladder.quantity_presets = []", "1 to 8"]),
        ("[option_chain]\nstrikes_each_side = 0", ["option_chain.strikes_each_side = 0", "1 or more"]),
        ("[signals]\nport = 70000", ["signals.port = 70000", "0 for any free port"]),
        ("[signals]\nmax_body_bytes = 10", ["signals.max_body_bytes = 10", "256 to 1048576"]),
        ("[signals]\nmax_per_minute = 0", ["signals.max_per_minute = 0", "1 or more"]),
        ('[signals]\nhost = "0.0.0.0"', ["Unknown key signals.host"]),
        ('[signals.symbols]\nZZ = "ES"', ["signals.symbols.ZZ", "unknown futures symbol 'ZZ'"]),
        ('[signals.symbols]\nES = "SPX"', ["signals.symbols.ES = 'SPX'", "must be a futures symbol"]),
        ('[alerts.notify]\nfil = true', ["Unknown key alerts.notify.fil", "Did you mean 'fill'?"]),
        ('[alerts.sound]\nfill = "loud"', ["alerts.sound.fill = 'loud'", "true or false"]),
        ("colour = 1", ["Unknown key colour", "the top level"]),
        ("[chart]\nx = 1", ["Unknown key chart"]),
        ('["0\\n"]\nx = 1', ["Unknown key '0\\n'"]),
    ],
)  # fmt: skip
def test_bad_values_name_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "config.toml"))
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "schema_version is missing"),
        ("schema_version = 2", "schema_version = 2: this version of ibconsole reads schema_version = 1"),
        ('schema_version = "1"', "schema_version = '1'"),
        ("schema_version = 1\n[risk\n", "is not valid TOML"),
    ],
)  # fmt: skip
def test_schema_version_is_required_and_checked(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert fragment in str(caught.value)


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="Cannot read the config file"):
        load_settings(path, environ={})


@pytest.mark.parametrize("key", ["password", "ib_password", "api_token", "secret"])
def test_secrets_in_the_file_are_refused_without_echoing_them(tmp_path: Path, key: str) -> None:
    message = error_of(tmp_path, f'[profiles.p]\n{key} = "hunter2"')
    assert "secrets do not belong in the config file" in message
    assert "keyring" in message
    assert "hunter2" not in message


def test_a_signal_secret_in_the_file_is_refused_with_where_it_belongs(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[signals]\nsecret = "hunter2"')
    assert "signals.secret: secrets do not belong in the config file" in message
    assert "IBCONSOLE_SIGNAL_SECRET" in message
    assert "hunter2" not in message


def test_the_signal_secret_variable_is_not_read_as_a_setting(tmp_path: Path) -> None:
    settings = load(tmp_path, "", IBCONSOLE_SIGNAL_SECRET="hunter2")
    assert settings.signals == SignalSettings()


def test_a_badly_typed_secret_key_is_not_echoed_either(tmp_path: Path) -> None:
    message = error_of(tmp_path, "", IBCONSOLE_PROFILES__TWS_PAPER__PASSWORD="hunter2")
    assert "hunter2" not in message


# --- environment overrides -------------------------------------------------------------------


def test_environment_overrides_scalar_keys(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "[profiles.tws-paper]\nport = 7497\n[risk.symbols.ES]\nmax_quantity = 3\n",
        IBCONSOLE_LOG_LEVEL="DEBUG",
        IBCONSOLE_RISK__MAX_QUANTITY="5",
        IBCONSOLE_RISK__MAX_NOTIONAL="off",
        IBCONSOLE_RISK__SYMBOLS__ES__MAX_POSITION="4",
        IBCONSOLE_RISK__SYMBOLS__mnq__MAX_QUANTITY="9",
        IBCONSOLE_HEALTH__BACKOFF__MIN_DELAY_SECONDS="2.5",
        IBCONSOLE_PROFILES__TWS_PAPER__HOST="127.0.0.2",
        IBCONSOLE_PROFILES__TWS_PAPER__READ_ONLY="true",
        IBCONSOLE_ROLLOVER__RULES__CL__KIND="calendar_days",
        IBCONSOLE_ROLLOVER__RULES__CL__DAYS="6",
        OTHER_VARIABLE="ignored",
    )
    assert settings.log_level == "DEBUG"
    assert settings.risk.defaults.max_quantity == D(5)
    assert settings.risk.defaults.max_notional is None
    assert settings.risk.overrides["ES"] == LimitOverride(max_quantity=D(3), max_position=D(4))
    assert settings.risk.for_symbol("MNQ").max_quantity == D(9)
    assert settings.health.backoff.min_delay == timedelta(seconds=2.5)
    assert settings.profile("tws-paper").host == "127.0.0.2"
    assert settings.profile("tws-paper").read_only is True
    assert settings.rollover.overrides["CL"] == RollRule(RollRuleKind.CALENDAR_DAYS, 6)


def test_environment_overrides_reach_the_new_sections(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "",
        IBCONSOLE_MARKET_DATA__LINE_BUDGET="40",
        IBCONSOLE_LADDER__FAR_SIDE_CLICK="stop",
        IBCONSOLE_ROLLOVER__SPREAD__TICKS_THROUGH="2",
        IBCONSOLE_SIGNALS__PORT="0",
        IBCONSOLE_SIGNALS__SYMBOLS__es="MES",
        IBCONSOLE_ALERTS__SOUND__FILL="false",
    )
    assert settings.market_data == MarketDataSettings(line_budget=40)
    assert settings.ladder.far_side_click is FarSideClick.STOP
    assert settings.spread_roll.ticks_through == 2
    assert settings.signals.port == 0
    assert dict(settings.signals.symbols) == {"ES": "MES"}
    assert not settings.alerts.wants_sound(AlertKind.FILL)
    assert settings.alerts.wants_notification(AlertKind.FILL)


def test_the_new_sections_read_from_a_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "[rollover]\nfill_timeout_seconds = 45\n"
        "[rollover.spread]\nprefer_spread = false\nfill_timeout_seconds = 12.5\n"
        "[ladder]\nquantity_presets = [1, 3]\n[option_chain]\nstrikes_each_side = 5\n"
        '[signals]\nenabled = true\nmax_age_seconds = 90\n[signals.symbols]\nMES = "ES"\n'
        "[alerts]\nsound_enabled = false\n[alerts.notify]\nprice = false\n",
    )
    assert settings.spread_roll == SpreadRollSettings(
        prefer_spread=False, fill_timeout=timedelta(seconds=12.5)
    )
    assert settings.rollover.fill_timeout == timedelta(seconds=45)
    assert settings.ladder.quantity_presets == (1, 3)
    assert settings.option_chain.strikes_each_side == 5
    assert settings.signals.enabled
    assert settings.signals.max_age == timedelta(seconds=90)
    assert dict(settings.signals.symbols) == {"MES": "ES"}
    assert not settings.alerts.wants_notification(AlertKind.PRICE)
    assert not settings.alerts.wants_sound(AlertKind.REJECT)  # the master switch is off


def test_environment_overrides_apply_to_the_default_profiles(tmp_path: Path) -> None:
    settings = load(tmp_path, "", IBCONSOLE_PROFILES__GATEWAY_PAPER__CLIENT_ID="12")
    assert settings.profile("gateway-paper").client_id == 12


@pytest.mark.parametrize(
    ("environ", "fragments"),
    [
        ({"IBCONSOLE_RISK__MAX_QUANTITY": "-2"}, ["risk.max_quantity (from IBCONSOLE_RISK__MAX_QUANTITY) = -2"]),
        ({"IBCONSOLE_RISK__MAX_QUANTITIES": "2"}, ["Unknown key risk.max_quantities (from IBCONSOLE_RISK__MAX_QUANTITIES)"]),
        ({"IBCONSOLE_COLOUR": "blue"}, ["Unknown key colour (from IBCONSOLE_COLOUR)"]),
        ({"IBCONSOLE_PROFILES__LIVE__PORT": "7496"}, ["IBCONSOLE_PROFILES__LIVE__PORT", "no profile 'live'", "tws-paper"]),
        ({"IBCONSOLE_RISK": "5"}, ["IBCONSOLE_RISK", "risk is a table", "only single values"]),
        ({"IBCONSOLE_PROFILES__TWS_PAPER": "5"}, ["IBCONSOLE_PROFILES__TWS_PAPER", "only single values"]),
        ({"IBCONSOLE_CHART__X": "5"}, ["IBCONSOLE_CHART__X", "chart is not a table of settings"]),
        ({"IBCONSOLE_RISK__SYMBOLS": "5"}, ["IBCONSOLE_RISK__SYMBOLS", "only single values"]),
        ({"IBCONSOLE_RISK____X": "5"}, ["IBCONSOLE_RISK____X", "cannot name a setting"]),
        ({"IBCONSOLE_LOG_LEVEL__X": "5"}, ["IBCONSOLE_LOG_LEVEL__X", "log_level is not a table of settings"]),
    ],
)  # fmt: skip
def test_bad_environment_overrides_name_the_variable(
    tmp_path: Path, environ: dict[str, str], fragments: list[str]
) -> None:
    message = error_of(tmp_path, "", **environ)
    for fragment in fragments:
        assert fragment in message


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=10_000))
def test_any_positive_whole_quantity_survives_the_environment(quantity: int) -> None:
    settings = parse_settings({"schema_version": 1, "risk": {"max_quantity": quantity}})
    assert settings.risk.defaults.max_quantity == D(quantity)


def top_level_keys() -> set[str]:
    """The keys the settings take at the top level, as their refusal of an unknown one lists
    them (a list kept by hand here missed each new section)."""
    with pytest.raises(ConfigError) as refused:
        parse_settings({"schema_version": 1, "0": 1})
    allowed = str(refused.value).split("Keys allowed in the top level: ", 1)[1]
    return set(allowed.rstrip(".").split(", "))


def test_the_top_level_keys_are_the_known_sections() -> None:
    assert {"schema_version", "profiles", "risk", "rollover", "alerts"} <= top_level_keys()


@settings(deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20))
def test_no_unknown_top_level_key_is_ever_ignored(key: str) -> None:
    if key in top_level_keys():
        return
    with pytest.raises(ConfigError, match=r"Unknown key|secrets do not belong"):
        parse_settings({"schema_version": 1, key: 1})


def test_loading_logs_where_settings_came_from(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ibconsole.config"):
        load(tmp_path, "")
    assert any(str(tmp_path / "config.toml") in r.getMessage() for r in caplog.records)


# --- credentials in a real in-memory keyring --------------------------------------------------


class LockedKeyring(keyring.backend.KeyringBackend):
    """A keyring that is there but refuses every read and write, as a locked one does."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("refused")


PROFILE = ConnectionProfile("live", keyring_entry="ib-live")


def test_login_round_trip_through_the_keyring(memory_keyring: MemoryKeyring) -> None:
    store = CredentialStore()
    assert store.get(PROFILE) is None
    store.set(PROFILE, Login("trader1", "s3cret-pw"))
    assert store.get(PROFILE) == Login("trader1", "s3cret-pw")
    assert memory_keyring.items[("ibconsole", "ib-live:password")] == "s3cret-pw"
    assert store.delete(PROFILE) is True
    assert store.get(PROFILE) is None
    assert store.delete(PROFILE) is False
    assert memory_keyring.items == {}


def test_the_signal_secret_lives_in_its_own_keyring_entry(memory_keyring: MemoryKeyring) -> None:
    store = SignalSecretStore(environ={})
    assert store.get() is None
    with pytest.raises(CredentialError, match="at least 16 printable characters"):
        store.set("  short  ")
    store.set("hook-4f9a-2c71-88d0")
    assert store.get() == "hook-4f9a-2c71-88d0"
    assert memory_keyring.items == {("ibconsole", SIGNAL_SECRET_ENTRY): "hook-4f9a-2c71-88d0"}


def test_the_signal_secret_variable_wins_over_the_keyring(memory_keyring: MemoryKeyring) -> None:
    SignalSecretStore(environ={}).set("hook-4f9a-2c71-88d0")
    store = SignalSecretStore(environ={"IBCONSOLE_SIGNAL_SECRET": "from-the-environment"})
    assert store.from_environment
    assert store.get() == "from-the-environment"


def test_the_password_never_shows_in_reprs_or_logs(
    memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    login = Login("trader1", "s3cret-pw")
    assert "s3cret-pw" not in repr(login)
    assert "s3cret-pw" not in str(login)
    assert "<hidden>" in repr(login)
    with caplog.at_level(logging.DEBUG):
        CredentialStore().set(PROFILE, login)
    assert caplog.records
    assert all("s3cret-pw" not in r.getMessage() for r in caplog.records)


def test_a_profile_without_keyring_entry_has_no_login(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(CredentialError, match="names no keyring_entry"):
        CredentialStore().get(ConnectionProfile("paper"))


def test_incomplete_logins_are_refused(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(CredentialError, match="needs a username and a password"):
        CredentialStore().set(PROFILE, Login("trader1", ""))
    assert memory_keyring.items == {}


def test_a_locked_keyring_is_reported_without_the_secret() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        with pytest.raises(CredentialError, match="could not be read for entry 'ib-live'"):
            CredentialStore().get(PROFILE)
        with pytest.raises(CredentialError, match="refused to store entry 'ib-live'") as caught:
            CredentialStore().set(PROFILE, Login("trader1", "s3cret-pw"))
        assert "s3cret-pw" not in str(caught.value)
    finally:
        keyring.set_keyring(previous)
