"""Fuzzed settings: random TOML documents, wrong types, unknown keys, huge numbers, bytes that are
not UTF-8 and garbage ``IBCONSOLE_*`` overrides. ``load_settings`` returns usable ``Settings`` or
raises ``ConfigError`` naming the key; it never raises anything else and never falls back to a
default for a value it was given.

``IBCONSOLE_FUZZ_EXAMPLES=N`` runs N examples per test instead of the quick default.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ibconsole.config import EXAMPLE_CONFIG, ConfigError, Settings, load_settings
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import Backoff, HealthMachine
from ibconsole.domain.products import PRODUCTS
from ibconsole.domain.rollover import contract_schedule
from ibconsole.domain.sessions import BusinessCalendar, business_calendar


def _examples(default: int) -> int:
    return int(os.environ.get("IBCONSOLE_FUZZ_EXAMPLES") or default)


FUZZ = settings(
    max_examples=_examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NOW = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
EXAMPLE = tomllib.loads(EXAMPLE_CONFIG)


# --- writing TOML --------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _string(text: str) -> str:
    # JSON escapes quotes, backslashes and control characters the way TOML basic strings do;
    # TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML literal for {value!r}")


def to_toml(document: Mapping[str, object], prefix: tuple[str, ...] = ()) -> str:
    """A TOML text for a tree of dicts (tables) and values; ``tomllib`` reads it back equal."""
    lines = []
    tables = []
    for name, value in document.items():
        if isinstance(value, dict):
            tables.append((name, value))
        else:
            lines.append(f"{_key(name)} = {_literal(value)}")
    text = "\n".join(lines) + "\n" if lines else ""
    for name, table in tables:
        path = (*prefix, name)
        text += f"\n[{'.'.join(_key(p) for p in path)}]\n" + to_toml(table, path)
    return text


# --- what a key means -------------------------------------------------------------------------

_REFUSED = object()  # the oracle's verdict for a value that must be refused


def _number(value: object) -> Decimal | None:
    """The value as a finite number the way a settings file may spell one, else None."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = Decimal(str(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            return None
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _is_off(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "off"


def int_between(low: int, high: int | None = None) -> Callable[[object], object]:
    def meaning(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            return _REFUSED
        if value < low or (high is not None and value > high):
            return _REFUSED
        return value

    return meaning


def whole(low: int, *, off: bool) -> Callable[[object], object]:
    def meaning(value: object) -> object:
        if off and _is_off(value):
            return None
        number = _number(value)
        if number is None or number != number.to_integral_value() or number < low:
            return _REFUSED
        return number

    return meaning


def positive(*, off: bool) -> Callable[[object], object]:
    def meaning(value: object) -> object:
        if off and _is_off(value):
            return None
        number = _number(value)
        return _REFUSED if number is None or number <= 0 else number

    return meaning


def seconds(low: float = 0.0, high: float | None = None) -> Callable[[object], object]:
    def meaning(value: object) -> object:
        number = _number(value)
        if number is None or number <= 0:
            return _REFUSED
        try:
            span = timedelta(seconds=float(number))
        except OverflowError:
            return _REFUSED
        # A span that rounds to no time at all is no span: the value is as unusable as zero.
        if span <= timedelta(0) or span < timedelta(seconds=low):
            return _REFUSED
        if high is not None and span > timedelta(seconds=high):
            return _REFUSED
        return span

    return meaning


def boolean(value: object) -> object:
    return value if isinstance(value, bool) else _REFUSED


def choice(options: tuple[str, ...], *, upper: bool) -> Callable[[object], object]:
    def meaning(value: object) -> object:
        if not isinstance(value, str):
            return _REFUSED
        text = value.strip().upper() if upper else value.strip().lower()
        return text if text in options else _REFUSED

    return meaning


def text(value: object) -> object:
    return value if isinstance(value, str) else _REFUSED


def non_empty_text(value: object) -> object:
    return value.strip() if isinstance(value, str) and value.strip() else _REFUSED


def argv(value: object) -> object:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return _REFUSED


def multiplier(value: object) -> object:
    number = _number(value)
    return _REFUSED if number is None or number < 1 else float(number)


def journal(value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        return _REFUSED
    try:
        path = Path(value.strip()).expanduser()
    except RuntimeError:  # "~someone" with no such user
        return _REFUSED
    return path


@dataclass(frozen=True)
class Key:
    """One scalar setting: its dotted path, what a value given for it means, and where it lands."""

    path: str
    meaning: Callable[[object], object]
    read: Callable[[Settings], object]

    @property
    def variable(self) -> str:
        return "IBCONSOLE_" + "__".join(part.upper() for part in self.path.split("."))


def _journal_read(settings: Settings) -> object:
    """The journal path as given: a relative one is read relative to the config file."""
    path, source = settings.journal_path, settings.source
    if path is None or source is None or not path.is_relative_to(source.parent):
        return path
    return path.relative_to(source.parent)


_PAPER = "tws-paper"
KEYS = (
    Key(
        "log_level",
        choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True),
        lambda s: s.log_level,
    ),
    Key("journal_path", journal, _journal_read),
    Key(f"profiles.{_PAPER}.host", non_empty_text, lambda s: s.profiles[_PAPER].host),
    Key(f"profiles.{_PAPER}.port", int_between(1, 65535), lambda s: s.profiles[_PAPER].port),
    Key(
        f"profiles.{_PAPER}.client_id",
        int_between(0, 2**31 - 1),
        lambda s: s.profiles[_PAPER].client_id,
    ),
    Key(f"profiles.{_PAPER}.read_only", boolean, lambda s: s.profiles[_PAPER].read_only),
    Key(f"profiles.{_PAPER}.account", text, lambda s: s.profiles[_PAPER].account),
    Key(f"profiles.{_PAPER}.gateway_command", argv, lambda s: s.profiles[_PAPER].gateway_command),
    Key(f"profiles.{_PAPER}.keyring_entry", text, lambda s: s.profiles[_PAPER].keyring_entry),
    Key("risk.max_quantity", whole(1, off=True), lambda s: s.risk.defaults.max_quantity),
    Key("risk.max_position", whole(0, off=True), lambda s: s.risk.defaults.max_position),
    Key("risk.max_notional", positive(off=True), lambda s: s.risk.defaults.max_notional),
    Key(
        "risk.price_band_percent", positive(off=True), lambda s: s.risk.defaults.price_band_percent
    ),
    Key(
        "risk.price_band_ticks",
        lambda v: None if _is_off(v) else int_between(1)(v),
        lambda s: s.risk.defaults.price_band_ticks,
    ),
    Key("risk.max_quote_age_seconds", seconds(), lambda s: s.risk.max_quote_age),
    Key("risk.duplicate_window_seconds", seconds(), lambda s: s.risk.duplicate_window),
    Key("risk.max_daily_loss", positive(off=True), lambda s: s.risk.max_daily_loss),
    Key(
        "risk.block_market_orders_without_live_quote",
        boolean,
        lambda s: s.risk.block_market_orders_without_live_quote,
    ),
    Key(
        "risk.symbols.MES.max_quantity",
        whole(1, off=True),
        lambda s: s.risk.overrides["MES"].max_quantity,
    ),
    Key("rollover.buffer_days", int_between(0, 60), lambda s: s.rollover.buffer_days),
    Key(
        "rollover.close_out_warning_days",
        int_between(0, 60),
        lambda s: s.rollover.close_out_warning_days,
    ),
    Key("rollover.reopen_on_roll", boolean, lambda s: s.rollover.reopen_on_roll),
    Key("health.heartbeat_interval_seconds", seconds(), lambda s: s.health.heartbeat_interval),
    Key("health.heartbeat_timeout_seconds", seconds(), lambda s: s.health.heartbeat_timeout),
    Key(
        "health.heartbeat_failures_before_reconnect",
        int_between(1),
        lambda s: s.health.heartbeat_failures_before_reconnect,
    ),
    Key("health.heartbeat_window", int_between(1, 10_000), lambda s: s.health.heartbeat_window),
    # The example file sets max_delay to 60 s and min_delay to 5 s: each must respect the other.
    Key("health.backoff.min_delay_seconds", seconds(high=60), lambda s: s.health.backoff.min_delay),
    Key("health.backoff.max_delay_seconds", seconds(low=5), lambda s: s.health.backoff.max_delay),
    Key("health.backoff.multiplier", multiplier, lambda s: s.health.backoff.multiplier),
    Key(
        "health.backoff.jitter",
        choice(("full", "decorrelated"), upper=False),
        lambda s: s.health.backoff.jitter.value,
    ),
    Key(
        "health.breaker.failure_threshold",
        int_between(1),
        lambda s: s.health.breaker.failure_threshold,
    ),
    Key("health.breaker.window_seconds", seconds(), lambda s: s.health.breaker.window),
    Key("health.breaker.cooldown_seconds", seconds(), lambda s: s.health.breaker.cooldown),
)
KEY = {key.path: key for key in KEYS}


def env_meaning(raw: str) -> object:
    """What an environment value says: a TOML value when it is exactly one, else its text."""
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except ValueError:  # not TOML, or an integer longer than int() reads
        return raw
    return parsed["v"] if set(parsed) == {"v"} else raw


def names_the_key(message: str, key: Key, variable: str | None) -> bool:
    """A message names a key by its dotted path, by the variable that set it, or (for a rule
    between two keys of one table) by its table and its name without the unit."""
    table, _, name = key.path.rpartition(".")
    stem = name.removesuffix("_seconds")
    return (
        key.path in message
        or (variable is not None and variable in message)
        or (bool(table) and table in message and stem in message)
    )


# --- using what was loaded --------------------------------------------------------------------


@functools.cache
def _calendar() -> BusinessCalendar:
    return business_calendar("XNYS", date(2023, 1, 1), date(2028, 12, 31))


def _contract(symbol: str, month: str, last_trade: datetime) -> ListedContract:
    item = PRODUCTS[symbol]
    return ListedContract(
        symbol=symbol,
        local_symbol=f"{symbol}{month}",
        con_id=1,
        contract_month=month,
        last_trade=last_trade,
        exchange=item.exchange,
        currency=item.currency,
        multiplier=item.multiplier,
        min_tick=item.min_tick,
        trading_class=symbol,
    )


def assert_usable(loaded: Settings) -> None:
    """What the console does with settings at start-up and in its first minutes must work."""
    machine = HealthMachine(loaded.health, OffsetClock(NOW), random.Random(1))
    assert machine.snapshot().state.value == "disconnected"
    backoff = Backoff(loaded.health.backoff, random.Random(1))
    delays = [backoff.next_delay() for _ in range(5)]
    assert all(timedelta(0) < d <= loaded.health.backoff.max_delay for d in delays)
    for contract in (
        _contract("ES", "202506", datetime(2025, 6, 20, 13, 30, tzinfo=UTC)),
        _contract("CL", "202505", datetime(2025, 4, 22, 18, 30, tzinfo=UTC)),
    ):
        schedule = contract_schedule(contract, _calendar(), loaded.rollover)
        assert schedule.roll_at <= schedule.contract.last_trade
    for name in loaded.profiles:
        assert loaded.profile(name).name == name
    assert loaded.risk.for_symbol("ES") is not None


def load_or_refuse(path: Path | None, environ: Mapping[str, str]) -> Settings | ConfigError:
    """``load_settings``'s outcome; any exception other than ConfigError fails the test."""
    try:
        return load_settings(path, environ=environ)
    except ConfigError as error:
        return error


# --- strategies -------------------------------------------------------------------------------

_NASTY_TEXT = (
    "off",
    " OFF ",
    "Off",
    "",
    " ",
    "0",
    "-1",
    "1e999999",
    "1e-999999",
    "NaN",
    "-inf",
    "Infinity",
    "sNaN",
    "0x10",
    "1_000",
    "١٢",
    "１０",
    "5\nx = 1",
    "5 # note",
    "[1, 2]",
    "{a = 1}",
    "true",
    '"quoted"',
    "'single'",
    "\x00",
    "\ud7ff",
    "DEBUG\x00",
    "~nosuchuser-ibc/x",
    "1979-05-27",
    "9" * 5000,
    "1." + "0" * 400 + "1",
    "\u202e5",
    "５",
    "five",
)

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 65535, 65536, 2**63, 10**100]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-9, 5e-7, 1e-6, 0.5, 1e15, 1e300, -0.0, 2.5]),
)
texts = st.one_of(st.sampled_from(_NASTY_TEXT), st.text(max_size=12), numbers.map(str))
scalars = st.one_of(
    numbers,
    texts,
    st.booleans(),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.lists(texts, min_size=1, max_size=3),
    st.dictionaries(st.sampled_from(["a", "port", "x y"]), scalars, max_size=2),
)


def _set(document: dict[str, Any], path: str, value: object) -> None:
    *tables, leaf = path.split(".")
    node = document
    for name in tables:
        node = node.setdefault(name, {})
    node[leaf] = value


# --- tests ------------------------------------------------------------------------------------


@FUZZ
@given(key=st.sampled_from(KEYS), value=values, via_environment=st.booleans(), raw=texts)
# A span timedelta cannot hold, one that rounds to no time, a home folder of nobody, garbage
# after a newline in a variable, a heartbeat window no deque can have.
@example(key=KEY["risk.max_quote_age_seconds"], value=1e20, via_environment=False, raw="")
@example(key=KEY["health.heartbeat_interval_seconds"], value=1e-9, via_environment=False, raw="")
@example(key=KEY["journal_path"], value="~nosuchuser-ibc/j.sqlite", via_environment=False, raw="")
@example(key=KEY["risk.max_quantity"], value=0, via_environment=True, raw="5\nx = 1")
@example(key=KEY["health.heartbeat_window"], value=10**20, via_environment=False, raw="")
@example(key=KEY["rollover.buffer_days"], value=10**20, via_environment=False, raw="")
def test_one_value_is_used_as_given_or_refused_naming_its_key(
    tmp_path: Path,
    key: Key,
    value: object,
    via_environment: bool,
    raw: str,
) -> None:
    document = json.loads(json.dumps(EXAMPLE))
    document.setdefault("risk", {}).setdefault("symbols", {}).setdefault("MES", {})
    environ: dict[str, str] = {}
    if via_environment:
        environ[key.variable] = raw
        meaning = key.meaning(env_meaning(raw))
    else:
        _set(document, key.path, value)
        meaning = key.meaning(value)
    path = tmp_path / "config.toml"
    path.write_text(to_toml(document), encoding="utf-8")

    outcome = load_or_refuse(path, environ)

    given_as = f"{key.variable}={raw!r}" if via_environment else f"{key.path} = {value!r}"
    if meaning is _REFUSED:
        assert isinstance(outcome, ConfigError), f"{given_as} was accepted"
        assert names_the_key(str(outcome), key, key.variable if via_environment else None), (
            f"{given_as} was refused without naming the key: {outcome}"
        )
    else:
        assert isinstance(outcome, Settings), f"{given_as} was refused: {outcome}"
        assert key.read(outcome) == meaning, f"{given_as} was read as {key.read(outcome)!r}"
        assert_usable(outcome)


_KNOWN_NAMES = sorted(
    {part for key in KEYS for part in key.path.split(".")}
    | {"schema_version", "default_profile", "symbols", "rules", "kind", "days", "ES", "CL"}
)
names = st.one_of(
    st.sampled_from(_KNOWN_NAMES),
    st.sampled_from(["password", "api_key", "Port", "max-quantity", "", " ", "ES ", "é"]),
    st.text(min_size=1, max_size=8),
)
documents = st.recursive(
    st.dictionaries(names, values, max_size=4),
    lambda children: st.dictionaries(names, st.one_of(values, children), max_size=4),
    max_leaves=12,
)
variables = st.one_of(
    st.sampled_from([key.variable for key in KEYS]),
    st.sampled_from(
        [
            "IBCONSOLE_",
            "IBCONSOLE___",
            "IBCONSOLE_RISK__",
            "IBCONSOLE_RISK____MAX_QUANTITY",
            "IBCONSOLE_PROFILES__NOPE__PORT",
            "IBCONSOLE_RISK__SYMBOLS__ZZZ__MAX_QUANTITY",
            "IBCONSOLE_HEALTH",
            "IBCONSOLE_ROLLOVER__RULES__CL__KIND",
            "IBCONSOLE_PASSWORD",
            "IBCONSOLE_LOG_LEVEL__X",
            "IBCONSOLE_SCHEMA_VERSION",
        ]
    ),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_-0123456789ßéı", max_size=20).map(
        lambda tail: "IBCONSOLE_" + tail
    ),
)


def _names_in(document: Mapping[str, object]) -> set[str]:
    found = set()
    for name, value in document.items():
        found.add(name)
        if isinstance(value, dict):
            found |= _names_in(value)
    return found


@FUZZ
# a key with a trailing newline is no bare TOML key ("$" matched before the newline)
@example(document={"0\n": {}}, schema=1, environ={})
@given(
    document=documents,
    schema=st.sampled_from([1, 1, 1, 2, "1", None]),
    environ=st.dictionaries(variables, texts, max_size=3),
)
def test_any_document_loads_or_is_refused_naming_a_key_it_holds(
    tmp_path: Path,
    document: dict[str, Any],
    schema: object,
    environ: dict[str, str],
) -> None:
    if schema is not None:
        document = {**document, "schema_version": schema}
    path = tmp_path / "config.toml"
    path.write_text(to_toml(document), encoding="utf-8")
    assert set(tomllib.loads(path.read_text(encoding="utf-8"))) == set(document)

    outcome = load_or_refuse(path, environ)

    if isinstance(outcome, Settings):
        assert_usable(outcome)
        return
    message = str(outcome)
    # A key set from the environment may be named by its variable or by its dotted path.
    parts = [v.removeprefix("IBCONSOLE_").lower().split("__") for v in environ]
    paths = {".".join(p[:n]) for p in parts for n in range(2, len(p) + 1)}
    named = _names_in(document) | set(environ) | paths | {"schema_version"}
    assert any(name.strip() and name.strip().lower() in message.lower() for name in named) or (
        "profile" in message
    ), f"the refusal names nothing the input holds: {message}"


_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80")


@FUZZ
@given(
    position=st.integers(min_value=0, max_value=len(EXAMPLE_CONFIG.encode())),
    inserted=st.one_of(st.sampled_from(_INVALID_UTF8), st.binary(min_size=1, max_size=16)),
    whole_file=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_bytes_that_are_not_utf8_or_not_toml_are_refused_naming_the_file(
    tmp_path: Path, position: int, inserted: bytes, whole_file: bytes
) -> None:
    original = EXAMPLE_CONFIG.encode()
    content = (
        whole_file
        if whole_file is not None
        else original[:position] + inserted + original[position:]
    )
    path = tmp_path / "config.toml"
    path.write_bytes(content)

    outcome = load_or_refuse(path, {})

    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        assert isinstance(outcome, ConfigError), "a file that is not UTF-8 was accepted"
    if isinstance(outcome, ConfigError):
        assert str(path) in str(outcome), f"the refusal does not name the file: {outcome}"
    else:
        assert_usable(outcome)


def test_a_config_path_that_cannot_be_expanded_is_refused_naming_it(tmp_path: Path) -> None:
    missing_user = "~nosuchuser-ibc/config.toml"
    outcome = load_or_refuse(None, {"IBCONSOLE_CONFIG": missing_user})
    assert isinstance(outcome, ConfigError)
    assert missing_user in str(outcome)
