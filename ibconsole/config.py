"""Typed settings: one versioned TOML file plus ``IBCONSOLE_*`` environment overrides.

The file lives in the platform config folder (``default_config_path()``) unless ``--config PATH``
or ``IBCONSOLE_CONFIG`` names another. Every bad, unknown or misplaced value raises
``ConfigError`` naming the key, the value and what is allowed; nothing falls back silently.

Environment overrides replace one scalar key each. The variable name is ``IBCONSOLE_`` followed
by the key's dotted path in upper case with ``__`` for each dot::

    IBCONSOLE_LOG_LEVEL=DEBUG                         log_level
    IBCONSOLE_RISK__MAX_QUANTITY=5                    risk.max_quantity
    IBCONSOLE_RISK__SYMBOLS__ES__MAX_POSITION=4       risk.symbols.ES.max_position
    IBCONSOLE_HEALTH__BACKOFF__MIN_DELAY_SECONDS=8    health.backoff.min_delay_seconds
    IBCONSOLE_PROFILES__PAPER__PORT=4002              profiles.paper.port (profile must exist)

A value is read as TOML when it parses as a TOML value (``5``, ``2.5``, ``true``, ``"x"``),
otherwise as text (``127.0.0.1``, ``off``). Secrets never live here: a profile names a keyring
entry (see ``ibconsole.credentials``).
"""

from __future__ import annotations

import copy
import difflib
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import platformdirs

from ibconsole.domain.alert_kinds import AlertKind, AlertSettings
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings, Jitter
from ibconsole.domain.ladder import FarSideClick, LadderSettings
from ibconsole.domain.market_lines import MarketDataSettings
from ibconsole.domain.option_chain import OptionChainSettings
from ibconsole.domain.products import PRODUCTS, RollRule, RollRuleKind
from ibconsole.domain.risk import UNSET, LimitOverride, RiskLimits, SymbolLimits
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.signals import SignalSettings
from ibconsole.domain.spread_roll import SpreadRollSettings

__all__ = [
    "ENV_PREFIX",
    "EXAMPLE_CONFIG",
    "SCHEMA_VERSION",
    "SIGNAL_SECRET_VARIABLE",
    "ConfigError",
    "ConnectionProfile",
    "Settings",
    "default_config_path",
    "load_settings",
    "parse_settings",
    "write_example_config",
]

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
APP_NAME = "ibconsole"
ENV_PREFIX = "IBCONSOLE_"
CONFIG_PATH_VARIABLE = "IBCONSOLE_CONFIG"
# The signal inbox's shared secret for headless use: read by the inbox, never a setting.
SIGNAL_SECRET_VARIABLE = "IBCONSOLE_SIGNAL_SECRET"
_NOT_SETTINGS = (CONFIG_PATH_VARIABLE, SIGNAL_SECRET_VARIABLE)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_OFF = "off"
# Keys that would hold a secret: refused with advice, and their values never echoed.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "credential")


class ConfigError(ValueError):
    """The settings cannot be used; the message names the key, the value and what is allowed."""


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


@dataclass(frozen=True, slots=True)
class ConnectionProfile:
    """Where and how to connect; ``keyring_entry`` names the stored login, never holds it."""

    name: str
    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    read_only: bool = False
    account: str = ""
    gateway_command: tuple[str, ...] = ()  # argv that starts IB Gateway/TWS, e.g. an IBC script
    keyring_entry: str = ""


# The profiles used when the file defines none: the paper ports of TWS and IB Gateway.
_DEFAULT_PROFILES: Mapping[str, Mapping[str, object]] = MappingProxyType(
    {"tws-paper": {"port": 7497}, "gateway-paper": {"port": 4002}}
)


def _default_profiles() -> Mapping[str, ConnectionProfile]:
    return MappingProxyType(
        {
            name: ConnectionProfile(name, port=_int(1, 65535)(spec["port"]))
            for name, spec in _DEFAULT_PROFILES.items()
        }
    )


@dataclass(frozen=True, slots=True)
class Settings:
    source: Path | None = None  # the file read, None when built from defaults alone
    log_level: str = "INFO"
    journal_path: Path | None = None  # None: the journal's default location
    default_profile: str = "tws-paper"
    profiles: Mapping[str, ConnectionProfile] = field(default_factory=_default_profiles)
    risk: RiskLimits = field(default_factory=RiskLimits)
    rollover: RolloverSettings = field(default_factory=RolloverSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    spread_roll: SpreadRollSettings = field(default_factory=SpreadRollSettings)
    market_data: MarketDataSettings = field(default_factory=MarketDataSettings)
    ladder: LadderSettings = field(default_factory=LadderSettings)
    option_chain: OptionChainSettings = field(default_factory=OptionChainSettings)
    signals: SignalSettings = field(default_factory=SignalSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)

    def profile(self, name: str | None = None) -> ConnectionProfile:
        """The named profile, or the default one; ``ConfigError`` lists the known names."""
        wanted = name if name is not None else self.default_profile
        try:
            return self.profiles[wanted]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"There is no connection profile {wanted!r}; known: {known}"
            ) from None


# --- reading typed values --------------------------------------------------------------------

_T = TypeVar("_T")
_D = TypeVar("_D")


def _looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class _Table:
    """One TOML table being read: typed getters that name the key, and a check for leftovers."""

    def __init__(self, data: Mapping[str, object], path: str, origins: Mapping[str, str]) -> None:
        self._data = data
        self._path = path
        self._origins = origins
        self._used: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def names(self) -> list[str]:
        return list(self._data)

    def where(self, key: str) -> str:
        full = self._key(key)
        origin = self._origins.get(full)
        shown = full if full.isprintable() else repr(full)  # a newline must not break the line
        return f"{shown} (from {origin})" if origin else shown

    def fail(self, key: str, value: object, allowed: str) -> ConfigError:
        shown = "<hidden>" if _looks_secret(key) else repr(value)
        return ConfigError(f"{self.where(key)} = {shown}: {allowed}")

    def get(self, key: str, default: _D, convert: Callable[[object], _T], allowed: str) -> _T | _D:
        self._used.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        try:
            return convert(value)
        except (TypeError, ValueError, ArithmeticError):
            # ArithmeticError: decimal's InvalidOperation, and OverflowError from a number too
            # large for a timedelta or a float.
            raise self.fail(key, value, allowed) from None

    def table(self, key: str) -> _Table:
        self._used.add(key)
        value = self._data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, value, f"must be a table ([{self._key(key)}])")
        return _Table(value, self._key(key), self._origins)

    def subtables(self, key: str) -> dict[str, _Table]:
        parent = self.table(key)
        result = {}
        for name in list(parent._data):
            result[name] = parent.table(name)
        return result

    def finish(self) -> None:
        """Refuse keys nobody asked for: a typo must not silently mean the default."""
        for key in self._data:
            if key in self._used:
                continue
            if _looks_secret(key):
                advice = (
                    "Set the signal secret from the signal inbox (it keeps it in the OS "
                    f"keyring) or, for headless use, in the environment as {SIGNAL_SECRET_VARIABLE}."
                    if self._path.startswith("signals")
                    else "Store the login in the OS keyring and name its entry with keyring_entry."
                )
                raise ConfigError(
                    f"{self.where(key)}: secrets do not belong in the config file. {advice}"
                )
            known = sorted(self._used)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            where = f"[{self._path}]" if self._path else "the top level"
            raise ConfigError(
                f"Unknown key {self.where(key)}.{hint} Keys allowed in {where}: "
                f"{', '.join(known) or 'none'}."
            )


def _int(low: int | None = None, high: int | None = None) -> Callable[[object], int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError
        return value

    return convert


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _non_empty_str(value: object) -> str:
    text = _str(value).strip()
    if not text:
        raise ValueError
    return text


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | float):
        number = Decimal(str(value))
    elif isinstance(value, str):
        number = Decimal(value.strip())
    else:
        raise TypeError
    if not number.is_finite():
        raise ValueError
    return number


def _positive_decimal(value: object) -> Decimal:
    number = _decimal(value)
    if number <= 0:
        raise ValueError
    return number


def _optional(convert: Callable[[object], _T]) -> Callable[[object], _T | None]:
    def read(value: object) -> _T | None:
        if isinstance(value, str) and value.strip().lower() == _OFF:
            return None
        return convert(value)

    return read


def _seconds(value: object) -> timedelta:
    span = timedelta(seconds=float(_positive_decimal(value)))
    if not span:
        raise ValueError  # below half a microsecond: rounds to no time at all
    return span


def _positive_int(value: object) -> int:
    return _int(low=1)(value)


def _multiplier(value: object) -> float:
    number = _decimal(value)
    if number < 1:
        raise ValueError
    return float(number)


def _path(value: object) -> Path:
    try:
        return Path(_non_empty_str(value)).expanduser()
    except RuntimeError:  # "~name/..." where no user "name" exists
        raise ValueError from None


def _argv(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TypeError
    return tuple(value)


def _choice(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = _str(value).strip()
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise ValueError
        return text

    return convert


# --- sections --------------------------------------------------------------------------------

_POSITIVE_OR_OFF = 'must be a number above zero, or "off" for no limit'
_WHOLE_OR_OFF = 'must be a whole number above zero, or "off" for no limit'
_SECONDS = "must be a number of seconds above zero"
_TRUE_OR_FALSE = "must be true or false"
# Rolling or warning more than a quarter ahead means nothing for quarterly contracts, and the
# business calendars the console builds for rollover reach only that far around today.
_MAX_ROLL_DAYS = 60
# Heartbeat round trips kept for the health statistics; the console keeps them in memory.
_MAX_HEARTBEAT_WINDOW = 10_000
# A spread limit further through the touch than this is a market order by another name.
_MAX_TICKS_THROUGH = 20
# IB's own ceilings: market-data lines are bought in hundreds (10,000 is far above any account),
# and CME depth through IB is at most a few dozen levels per side.
_MAX_LINES = 10_000
_MAX_DEPTH_ROWS = 50
_MAX_PRESETS = 8
_MAX_PRESET_QUANTITY = 10_000
_MAX_STRIKES_EACH_SIDE = 50
# A signal is a few hundred bytes of JSON; the ceiling keeps a flood from costing memory.
_MIN_BODY_BYTES = 256
_MAX_BODY_BYTES = 1_048_576


def _whole(value: object) -> Decimal:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ValueError
    return number


def _whole_positive(value: object) -> Decimal:
    number = _whole(value)
    if number <= 0:
        raise ValueError
    return number


def _whole_or_zero(value: object) -> Decimal:
    number = _whole(value)
    if number < 0:
        raise ValueError
    return number


def _limits(table: _Table) -> LimitOverride:
    """The limit keys present in ``table``; absent ones stay UNSET."""
    return LimitOverride(
        max_quantity=table.get("max_quantity", UNSET, _optional(_whole_positive), _WHOLE_OR_OFF),
        max_position=table.get(
            "max_position",
            UNSET,
            _optional(_whole_or_zero),
            'must be a whole number, zero or more, or "off" for no limit',
        ),
        max_notional=table.get(
            "max_notional", UNSET, _optional(_positive_decimal), _POSITIVE_OR_OFF
        ),
        price_band_percent=table.get(
            "price_band_percent", UNSET, _optional(_positive_decimal), _POSITIVE_OR_OFF
        ),
        price_band_ticks=table.get(
            "price_band_ticks", UNSET, _optional(_positive_int), _WHOLE_OR_OFF
        ),
    )


def _known_symbol(table: _Table, key: str, name: str) -> None:
    if name not in PRODUCTS:
        raise ConfigError(
            f"{table._key(key)}.{name}: unknown futures symbol {name!r}; known: "
            f"{', '.join(PRODUCTS)}"
        )


def _risk(table: _Table) -> RiskLimits:
    defaults = _limits(table).apply(SymbolLimits())
    overrides = {}
    for symbol, sub in table.subtables("symbols").items():
        _known_symbol(table, "symbols", symbol)
        overrides[symbol] = _limits(sub)
        sub.finish()
    limits = RiskLimits(
        defaults=defaults,
        overrides=overrides,
        max_quote_age=table.get("max_quote_age_seconds", timedelta(seconds=30), _seconds, _SECONDS),
        duplicate_window=table.get(
            "duplicate_window_seconds", timedelta(seconds=10), _seconds, _SECONDS
        ),
        max_daily_loss=table.get(
            "max_daily_loss", None, _optional(_positive_decimal), _POSITIVE_OR_OFF
        ),
        block_market_orders_without_live_quote=table.get(
            "block_market_orders_without_live_quote", True, _bool, "must be true or false"
        ),
    )
    table.finish()
    return limits


def _rollover(table: _Table) -> RolloverSettings:
    base = RolloverSettings()
    days = f"must be a whole number of business days, zero or more and at most {_MAX_ROLL_DAYS}"
    day_count = _int(0, _MAX_ROLL_DAYS)
    buffer_days = table.get("buffer_days", base.buffer_days, day_count, days)
    warning_days = table.get("close_out_warning_days", base.close_out_warning_days, day_count, days)
    reopen = table.get("reopen_on_roll", base.reopen_on_roll, _bool, "must be true or false")
    rules = {}
    kinds = tuple(k.value for k in RollRuleKind)
    for symbol, sub in table.subtables("rules").items():
        _known_symbol(table, "rules", symbol)
        kind = sub.get("kind", None, _choice(kinds), f"must be one of {', '.join(kinds)}")
        count = sub.get(
            "days",
            None,
            day_count,
            f"must be a whole number of days, zero or more and at most {_MAX_ROLL_DAYS}",
        )
        sub.finish()
        if kind is None or count is None:
            raise ConfigError(
                f"rollover.rules.{symbol}: a roll rule needs both kind ({', '.join(kinds)}) "
                "and days"
            )
        rules[symbol] = RollRule(RollRuleKind(kind), count)
    table.finish()
    try:
        return RolloverSettings(buffer_days, warning_days, reopen, rules)
    except ValueError as error:
        raise ConfigError(f"rollover.rules: {error}") from None


def _health(table: _Table) -> HealthSettings:
    base = HealthSettings()
    backoff_table = table.table("backoff")
    jitters = tuple(j.value for j in Jitter)
    backoff_values = (
        backoff_table.get("min_delay_seconds", base.backoff.min_delay, _seconds, _SECONDS),
        backoff_table.get("max_delay_seconds", base.backoff.max_delay, _seconds, _SECONDS),
        backoff_table.get(
            "multiplier", base.backoff.multiplier, _multiplier, "must be a number, 1 or more"
        ),
        backoff_table.get(
            "jitter",
            base.backoff.jitter.value,
            _choice(jitters),
            f"must be one of {', '.join(jitters)}",
        ),
    )
    backoff_table.finish()
    breaker_table = table.table("breaker")
    breaker_values = (
        breaker_table.get(
            "failure_threshold",
            base.breaker.failure_threshold,
            _positive_int,
            "must be a whole number, 1 or more",
        ),
        breaker_table.get("window_seconds", base.breaker.window, _seconds, _SECONDS),
        breaker_table.get("cooldown_seconds", base.breaker.cooldown, _seconds, _SECONDS),
    )
    breaker_table.finish()
    interval = table.get("heartbeat_interval_seconds", base.heartbeat_interval, _seconds, _SECONDS)
    timeout = table.get("heartbeat_timeout_seconds", base.heartbeat_timeout, _seconds, _SECONDS)
    failures = table.get(
        "heartbeat_failures_before_reconnect",
        base.heartbeat_failures_before_reconnect,
        _positive_int,
        "must be a whole number, 1 or more",
    )
    window = table.get(
        "heartbeat_window",
        base.heartbeat_window,
        _int(1, _MAX_HEARTBEAT_WINDOW),
        f"must be a whole number, 1 or more and at most {_MAX_HEARTBEAT_WINDOW}",
    )
    table.finish()
    min_delay, max_delay, multiplier, jitter = backoff_values
    try:
        backoff = BackoffPolicy(min_delay, max_delay, multiplier, Jitter(jitter))
    except ValueError as error:
        raise ConfigError(f"health.backoff: {error}") from None
    threshold, window_length, cooldown = breaker_values
    return HealthSettings(
        heartbeat_interval=interval,
        heartbeat_timeout=timeout,
        heartbeat_failures_before_reconnect=failures,
        heartbeat_window=window,
        backoff=backoff,
        breaker=BreakerPolicy(threshold, window_length, cooldown),
    )


def _spread_roll(table: _Table) -> SpreadRollSettings:
    base = SpreadRollSettings()
    settings = SpreadRollSettings(
        prefer_spread=table.get("prefer_spread", base.prefer_spread, _bool, _TRUE_OR_FALSE),
        ticks_through=table.get(
            "ticks_through",
            base.ticks_through,
            _int(0, _MAX_TICKS_THROUGH),
            f"must be a whole number of spread ticks, zero or more and at most "
            f"{_MAX_TICKS_THROUGH}",
        ),
        fill_timeout=table.get("fill_timeout_seconds", base.fill_timeout, _seconds, _SECONDS),
    )
    table.finish()
    return settings


def _market_data(table: _Table) -> MarketDataSettings:
    base = MarketDataSettings()
    settings = MarketDataSettings(
        line_budget=table.get(
            "line_budget",
            base.line_budget,
            _int(1, _MAX_LINES),
            f"must be a whole number of market-data lines, 1 or more and at most {_MAX_LINES}",
        ),
        depth_rows=table.get(
            "depth_rows",
            base.depth_rows,
            _int(1, _MAX_DEPTH_ROWS),
            f"must be a whole number of rows per side, 1 or more and at most {_MAX_DEPTH_ROWS}",
        ),
    )
    table.finish()
    return settings


def _presets(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= _MAX_PRESETS:
        raise TypeError
    return tuple(_int(1, _MAX_PRESET_QUANTITY)(v) for v in value)


def _ladder(table: _Table) -> LadderSettings:
    base = LadderSettings()
    choices = tuple(c.value for c in FarSideClick)
    settings = LadderSettings(
        far_side_click=FarSideClick(
            table.get(
                "far_side_click",
                base.far_side_click.value,
                _choice(choices),
                f"must be one of {', '.join(choices)}",
            )
        ),
        quantity_presets=table.get(
            "quantity_presets",
            base.quantity_presets,
            _presets,
            f"must be a list of 1 to {_MAX_PRESETS} whole numbers of contracts, each 1 or more "
            f"and at most {_MAX_PRESET_QUANTITY}, e.g. [1, 2, 5, 10]",
        ),
    )
    table.finish()
    return settings


def _option_chain(table: _Table) -> OptionChainSettings:
    base = OptionChainSettings()
    settings = OptionChainSettings(
        strikes_each_side=table.get(
            "strikes_each_side",
            base.strikes_each_side,
            _int(1, _MAX_STRIKES_EACH_SIDE),
            f"must be a whole number of strikes, 1 or more and at most {_MAX_STRIKES_EACH_SIDE}",
        )
    )
    table.finish()
    return settings


def _signal_symbols(table: _Table) -> dict[str, str]:
    symbols = {}
    known = ", ".join(PRODUCTS)
    for name in table.names():
        if name not in PRODUCTS:
            raise ConfigError(
                f"{table.where(name)}: unknown futures symbol {name!r}; known: {known}"
            )
        symbols[name] = table.get(
            name, name, _choice(tuple(PRODUCTS), upper=True), f"must be a futures symbol: {known}"
        )
    table.finish()
    return symbols


def _signals(table: _Table) -> SignalSettings:
    base = SignalSettings()
    settings = SignalSettings(
        enabled=table.get("enabled", base.enabled, _bool, _TRUE_OR_FALSE),
        port=table.get(
            "port",
            base.port,
            _int(0, 65535),
            "must be a port number, 1 to 65535, or 0 for any free port",
        ),
        max_age=table.get("max_age_seconds", base.max_age, _seconds, _SECONDS),
        max_per_minute=table.get(
            "max_per_minute",
            base.max_per_minute,
            _positive_int,
            "must be a whole number, 1 or more",
        ),
        max_body_bytes=table.get(
            "max_body_bytes",
            base.max_body_bytes,
            _int(_MIN_BODY_BYTES, _MAX_BODY_BYTES),
            f"must be a whole number of bytes, {_MIN_BODY_BYTES} to {_MAX_BODY_BYTES}",
        ),
        symbols=_signal_symbols(table.table("symbols")),
    )
    table.finish()
    return settings


def _alert_choices(table: _Table, defaults: Mapping[AlertKind, bool]) -> dict[AlertKind, bool]:
    chosen = {
        kind: table.get(kind.value, defaults[kind], _bool, _TRUE_OR_FALSE) for kind in AlertKind
    }
    table.finish()
    return chosen


def _alerts(table: _Table) -> AlertSettings:
    base = AlertSettings()
    settings = AlertSettings(
        notify=_alert_choices(table.table("notify"), base.notify),
        sound=_alert_choices(table.table("sound"), base.sound),
        sound_enabled=table.get("sound_enabled", base.sound_enabled, _bool, _TRUE_OR_FALSE),
    )
    table.finish()
    return settings


def _profiles(table: _Table) -> dict[str, ConnectionProfile]:
    profiles = {}
    for name, sub in table.subtables("profiles").items():
        if not name.strip():
            raise ConfigError("profiles: a profile needs a non-empty name")
        base = ConnectionProfile(name)
        profiles[name] = ConnectionProfile(
            name=name,
            host=sub.get("host", base.host, _non_empty_str, "must be a host name or IP address"),
            port=sub.get("port", base.port, _int(1, 65535), "must be a port number, 1 to 65535"),
            client_id=sub.get(
                "client_id", base.client_id, _int(0, 2**31 - 1), "must be a whole number, 0 or more"
            ),
            read_only=sub.get("read_only", base.read_only, _bool, "must be true or false"),
            account=sub.get("account", base.account, _str, "must be text (an account code)"),
            gateway_command=sub.get(
                "gateway_command",
                base.gateway_command,
                _argv,
                'must be a list of command-line words, e.g. ["/opt/ibc/gatewaystart.sh", "-inline"]',
            ),
            keyring_entry=sub.get(
                "keyring_entry", base.keyring_entry, _str, "must be text (a keyring entry name)"
            ),
        )
        sub.finish()
    return profiles


def _with_default_profiles(data: Mapping[str, object]) -> dict[str, object]:
    if data.get("profiles"):
        return dict(data)
    return {**data, "profiles": copy.deepcopy(dict(_DEFAULT_PROFILES))}


def parse_settings(
    data: Mapping[str, object],
    *,
    source: Path | None = None,
    origins: Mapping[str, str] | None = None,
) -> Settings:
    """Build settings from parsed TOML; ``origins`` maps dotted keys to the variable that set them."""
    root = _Table(_with_default_profiles(data), "", origins or {})
    version = root.get("schema_version", None, _int(), f"must be {SCHEMA_VERSION}")
    if version is None:
        raise ConfigError(
            f"schema_version is missing; this version of ibconsole reads schema_version = "
            f"{SCHEMA_VERSION}"
        )
    if version != SCHEMA_VERSION:
        raise root.fail(
            "schema_version",
            version,
            f"this version of ibconsole reads schema_version = {SCHEMA_VERSION}",
        )
    base = Settings()
    log_level = root.get(
        "log_level",
        base.log_level,
        _choice(_LOG_LEVELS, upper=True),
        f"must be one of {', '.join(_LOG_LEVELS)}",
    )
    journal_path = root.get("journal_path", None, _path, "must be a file path")
    if journal_path is not None and not journal_path.is_absolute() and source is not None:
        journal_path = source.parent / journal_path
    profiles = _profiles(root)
    default_profile = root.get(
        "default_profile", next(iter(profiles)), _non_empty_str, "must name a profile"
    )
    if default_profile not in profiles:
        raise root.fail(
            "default_profile", default_profile, f"must name a profile: {', '.join(profiles)}"
        )
    rollover = root.table("rollover")
    settings = Settings(
        source=source,
        log_level=log_level,
        journal_path=journal_path,
        default_profile=default_profile,
        profiles=MappingProxyType(profiles),
        risk=_risk(root.table("risk")),
        spread_roll=_spread_roll(rollover.table("spread")),
        rollover=_rollover(rollover),
        health=_health(root.table("health")),
        market_data=_market_data(root.table("market_data")),
        ladder=_ladder(root.table("ladder")),
        option_chain=_option_chain(root.table("option_chain")),
        signals=_signals(root.table("signals")),
        alerts=_alerts(root.table("alerts")),
    )
    root.finish()
    return settings


# --- environment -----------------------------------------------------------------------------

# Tables whose keys are names chosen by the user rather than fixed by the schema.
_SYMBOL_TABLES = ("risk.symbols", "rollover.rules")
# Tables whose keys, rather than sub-tables, are futures symbols.
_SYMBOL_KEYS = ("signals.symbols",)
_NAMED_TABLES = ("profiles", *_SYMBOL_TABLES)
_FIXED_TABLES = (
    "risk",
    "rollover",
    "rollover.spread",
    "health",
    "health.backoff",
    "health.breaker",
    "market_data",
    "ladder",
    "option_chain",
    "signals",
    *_SYMBOL_KEYS,
    "alerts",
    "alerts.notify",
    "alerts.sound",
    *_NAMED_TABLES,
)


def _is_table(path: str) -> bool:
    parent, _, _ = path.rpartition(".")
    return path in _FIXED_TABLES or parent in _NAMED_TABLES


def _env_value(raw: str) -> object:
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except ValueError:  # TOMLDecodeError, or an integer too long for int() (4300 digits)
        return raw
    # "5\nx = 1" parses as two keys: that is text with a line break, not the number 5.
    return parsed["v"] if len(parsed) == 1 else raw


def _apply_environment(data: dict[str, object], environ: Mapping[str, str]) -> dict[str, str]:
    """Write ``IBCONSOLE_*`` overrides into ``data``; return which variable set which key."""
    origins: dict[str, str] = {}
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX) or variable in _NOT_SETTINGS:
            continue
        parts = variable[len(ENV_PREFIX) :].split("__")
        if not all(parts):
            raise ConfigError(
                f"{variable}: cannot name a setting; use IBCONSOLE_ plus the key path with __ "
                "between levels, e.g. IBCONSOLE_RISK__MAX_QUANTITY"
            )
        table: dict[str, object] = data
        path: list[str] = []
        for part in parts[:-1]:
            parent = ".".join(path)
            if parent in _SYMBOL_TABLES:
                name = part.upper()
            else:
                # Shells cannot put "-" in a variable name: TWS_PAPER finds "tws-paper".
                wanted = part.lower().replace("-", "_")
                matches = [k for k in table if k.lower().replace("-", "_") == wanted]
                name = matches[0] if matches else part.lower()
                if parent == "profiles" and not matches:
                    raise ConfigError(
                        f"{variable}: the config file defines no profile {part.lower()!r} "
                        f"(profiles: {', '.join(table) or 'none'})"
                    )
            child = table.setdefault(name, {})
            if not isinstance(child, dict) or not _is_table(".".join([*path, name])):
                raise ConfigError(
                    f"{variable}: {'.'.join([*path, name])} is not a table of settings"
                )
            table, path = child, [*path, name]
        key = parts[-1].upper() if ".".join(path) in _SYMBOL_KEYS else parts[-1].lower()
        if _is_table(".".join([*path, key])):
            raise ConfigError(
                f"{variable}: {'.'.join([*path, key])} is a table; only single values can be "
                "set from the environment"
            )
        table[key] = _env_value(environ[variable])
        origins[".".join([*path, key])] = variable
    return origins


# --- files -----------------------------------------------------------------------------------


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (``path``, else ``IBCONSOLE_CONFIG``, else the platform default).

    A missing default file means built-in defaults; a file named explicitly must exist.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or CONFIG_PATH_VARIABLE in env
    chosen = (
        path if path is not None else Path(env.get(CONFIG_PATH_VARIABLE) or default_config_path())
    )
    try:
        chosen = chosen.expanduser()
    except RuntimeError:
        raise ConfigError(
            f"The config file {chosen} names the home folder of a user that does not exist"
        ) from None
    data: dict[str, object]
    if chosen.is_file():
        try:
            text = chosen.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"Cannot read the config file {chosen}: {error}") from None
        try:
            data = tomllib.loads(text)
        except ValueError as error:  # TOMLDecodeError, or an integer of over 4300 digits
            raise ConfigError(f"The config file {chosen} is not valid TOML: {error}") from None
        source: Path | None = chosen
    elif explicit:
        raise ConfigError(f"The config file {chosen} does not exist")
    else:
        data, source = {"schema_version": SCHEMA_VERSION}, None
    data = _with_default_profiles(data)
    origins = _apply_environment(data, env)
    try:
        settings = parse_settings(data, source=source, origins=origins)
    except ConfigError as error:
        where = f"{source}: " if source is not None else ""
        raise ConfigError(f"{where}{error}") from None
    _log.info("settings loaded from %s", source or "built-in defaults")
    return settings


EXAMPLE_CONFIG = f"""\
# ibconsole settings. Every key is optional except schema_version; the values shown are the
# defaults. Any scalar key can also be set from the environment: IBCONSOLE_ plus its path in
# upper case with __ between levels, e.g. IBCONSOLE_RISK__MAX_QUANTITY=5.
schema_version = {SCHEMA_VERSION}
log_level = "INFO"                 # DEBUG, INFO, WARNING, ERROR, CRITICAL
# journal_path = "journal.sqlite"  # relative to this file; default: the platform data folder
default_profile = "tws-paper"

# Connection profiles. Passwords never go here: keyring_entry names the OS keyring entry that
# holds the login handed to gateway_command.
[profiles.tws-paper]
host = "127.0.0.1"
port = 7497                        # TWS live 7496, TWS paper 7497, Gateway live 4001, paper 4002
client_id = 1
read_only = false
account = ""
# gateway_command = ["/opt/ibc/gatewaystart.sh", "-inline"]
# keyring_entry = "ib-paper-login"

[profiles.gateway-paper]
host = "127.0.0.1"
port = 4002
client_id = 1

# Pre-trade checks. "off" switches a limit off.
[risk]
max_quantity = 10                  # contracts per order
max_position = 20                  # contracts, counting working orders as filled
max_notional = "off"               # price x multiplier x quantity, in the contract's currency
price_band_percent = 2             # from the last good price
price_band_ticks = "off"
max_quote_age_seconds = 30
duplicate_window_seconds = 10      # same contract, side and size within this many seconds
max_daily_loss = "off"             # in account currency; orders that reduce a position pass
block_market_orders_without_live_quote = true

# [risk.symbols.MES]               # per-symbol changes to the limits above
# max_quantity = 50

[rollover]
buffer_days = 1                    # business days before the deadline a month stops being front
close_out_warning_days = 2         # business days before the deadline a position must roll
reopen_on_roll = true

# [rollover.rules.CL]              # override a family's roll rule (micros follow their family)
# kind = "business_days"           # or "calendar_days"
# days = 3

[rollover.spread]                  # rolling as one calendar-spread order
prefer_spread = true               # offered first where the exchange lists the spread
ticks_through = 1                  # default limit: spread ticks through the touch
fill_timeout_seconds = 30          # then the dialog offers to leg the remainder

[health]
heartbeat_interval_seconds = 5
heartbeat_timeout_seconds = 5
heartbeat_failures_before_reconnect = 3
heartbeat_window = 100

[health.backoff]
min_delay_seconds = 5              # above the time IB needs to release a clientId
max_delay_seconds = 60
multiplier = 2.0
jitter = "full"                    # or "decorrelated"

[health.breaker]
failure_threshold = 5              # failed connects within window_seconds open the breaker
window_seconds = 300
cooldown_seconds = 120

[market_data]
line_budget = 100                  # market-data lines the console may hold (IB starts at 100)
depth_rows = 10                    # price levels per side in the ladder's depth

[ladder]
far_side_click = "confirm"         # a click beyond the touch: "confirm" a marketable limit, or "stop"
quantity_presets = [1, 2, 5, 10]

[option_chain]
strikes_each_side = 10             # strikes shown above and below the money

# The signal inbox: a loopback HTTP endpoint for TradingView or scripts. Its secret is set from
# the inbox (kept in the OS keyring) or in IBCONSOLE_SIGNAL_SECRET, never here.
[signals]
enabled = false
port = 8787                        # 0 picks a free port
max_age_seconds = 60               # older signals are shown expired and cannot be sent
max_per_minute = 60
max_body_bytes = 8192

# [signals.symbols]                # trade another family than the signal names
# ES = "MES"

[alerts]
sound_enabled = true

[alerts.notify]                    # a desktop notification for each kind
fill = true
reject = true
connection_lost = true
connection_restored = true
breaker_open = true
roll_window = true
must_roll = true
close_out = true
price = true
signal = true

[alerts.sound]
fill = true
reject = true
connection_lost = true
connection_restored = false
breaker_open = true
roll_window = false
must_roll = true
close_out = true
price = true
signal = false
"""


def write_example_config(path: Path) -> Path:
    """Write the commented example (all defaults) to ``path``; never overwrites a file."""
    target = path.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(EXAMPLE_CONFIG)
    except FileExistsError:
        raise ConfigError(f"{target} already exists; it was left as it is") from None
    return target
