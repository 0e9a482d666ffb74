"""The settings file's sections, each read into the domain's settings object it configures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from ibconsole.config.values import (
    ConfigError,
    Table,
    multiplier_value,
    one_of,
    or_off,
    positive_decimal,
    positive_int,
    seconds_above_zero,
    true_or_false,
    whole_in,
    whole_or_zero,
    whole_positive,
)
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


def _limits(table: Table) -> LimitOverride:
    """The limit keys present in ``table``; absent ones stay UNSET."""
    return LimitOverride(
        max_quantity=table.get("max_quantity", UNSET, or_off(whole_positive), _WHOLE_OR_OFF),
        max_position=table.get(
            "max_position",
            UNSET,
            or_off(whole_or_zero),
            'must be a whole number, zero or more, or "off" for no limit',
        ),
        max_notional=table.get("max_notional", UNSET, or_off(positive_decimal), _POSITIVE_OR_OFF),
        price_band_percent=table.get(
            "price_band_percent", UNSET, or_off(positive_decimal), _POSITIVE_OR_OFF
        ),
        price_band_ticks=table.get("price_band_ticks", UNSET, or_off(positive_int), _WHOLE_OR_OFF),
    )


def _known_symbol(table: Table, key: str, name: str) -> None:
    if name not in PRODUCTS:
        raise ConfigError(
            f"{table.path_of(key)}.{name}: unknown futures symbol {name!r}; known: "
            f"{', '.join(PRODUCTS)}"
        )


def read_risk(table: Table) -> RiskLimits:
    defaults = _limits(table).apply(SymbolLimits())
    overrides = {}
    for symbol, sub in table.subtables("symbols").items():
        _known_symbol(table, "symbols", symbol)
        overrides[symbol] = _limits(sub)
        sub.finish()
    limits = RiskLimits(
        defaults=defaults,
        overrides=overrides,
        max_quote_age=table.get(
            "max_quote_age_seconds", timedelta(seconds=30), seconds_above_zero, _SECONDS
        ),
        duplicate_window=table.get(
            "duplicate_window_seconds", timedelta(seconds=10), seconds_above_zero, _SECONDS
        ),
        max_daily_loss=table.get(
            "max_daily_loss", None, or_off(positive_decimal), _POSITIVE_OR_OFF
        ),
        block_market_orders_without_live_quote=table.get(
            "block_market_orders_without_live_quote", True, true_or_false, "must be true or false"
        ),
    )
    table.finish()
    return limits


def read_rollover(table: Table) -> RolloverSettings:
    base = RolloverSettings()
    days = f"must be a whole number of business days, zero or more and at most {_MAX_ROLL_DAYS}"
    day_count = whole_in(0, _MAX_ROLL_DAYS)
    buffer_days = table.get("buffer_days", base.buffer_days, day_count, days)
    warning_days = table.get("close_out_warning_days", base.close_out_warning_days, day_count, days)
    reopen = table.get(
        "reopen_on_roll", base.reopen_on_roll, true_or_false, "must be true or false"
    )
    fill_timeout = table.get(
        "fill_timeout_seconds", base.fill_timeout, seconds_above_zero, _SECONDS
    )
    rules = {}
    kinds = tuple(k.value for k in RollRuleKind)
    for symbol, sub in table.subtables("rules").items():
        _known_symbol(table, "rules", symbol)
        kind = sub.get("kind", None, one_of(kinds), f"must be one of {', '.join(kinds)}")
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
        return RolloverSettings(buffer_days, warning_days, reopen, rules, fill_timeout)
    except ValueError as error:
        raise ConfigError(f"rollover.rules: {error}") from None


def read_health(table: Table) -> HealthSettings:
    base = HealthSettings()
    backoff_table = table.table("backoff")
    jitters = tuple(j.value for j in Jitter)
    backoff_values = (
        backoff_table.get(
            "min_delay_seconds", base.backoff.min_delay, seconds_above_zero, _SECONDS
        ),
        backoff_table.get(
            "max_delay_seconds", base.backoff.max_delay, seconds_above_zero, _SECONDS
        ),
        backoff_table.get(
            "multiplier", base.backoff.multiplier, multiplier_value, "must be a number, 1 or more"
        ),
        backoff_table.get(
            "jitter",
            base.backoff.jitter.value,
            one_of(jitters),
            f"must be one of {', '.join(jitters)}",
        ),
    )
    backoff_table.finish()
    breaker_table = table.table("breaker")
    breaker_values = (
        breaker_table.get(
            "failure_threshold",
            base.breaker.failure_threshold,
            positive_int,
            "must be a whole number, 1 or more",
        ),
        breaker_table.get("window_seconds", base.breaker.window, seconds_above_zero, _SECONDS),
        breaker_table.get("cooldown_seconds", base.breaker.cooldown, seconds_above_zero, _SECONDS),
    )
    breaker_table.finish()
    interval = table.get(
        "heartbeat_interval_seconds", base.heartbeat_interval, seconds_above_zero, _SECONDS
    )
    timeout = table.get(
        "heartbeat_timeout_seconds", base.heartbeat_timeout, seconds_above_zero, _SECONDS
    )
    failures = table.get(
        "heartbeat_failures_before_reconnect",
        base.heartbeat_failures_before_reconnect,
        positive_int,
        "must be a whole number, 1 or more",
    )
    window = table.get(
        "heartbeat_window",
        base.heartbeat_window,
        whole_in(1, _MAX_HEARTBEAT_WINDOW),
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


def read_spread_roll(table: Table) -> SpreadRollSettings:
    base = SpreadRollSettings()
    settings = SpreadRollSettings(
        prefer_spread=table.get("prefer_spread", base.prefer_spread, true_or_false, _TRUE_OR_FALSE),
        ticks_through=table.get(
            "ticks_through",
            base.ticks_through,
            whole_in(0, _MAX_TICKS_THROUGH),
            f"must be a whole number of spread ticks, zero or more and at most "
            f"{_MAX_TICKS_THROUGH}",
        ),
        fill_timeout=table.get(
            "fill_timeout_seconds", base.fill_timeout, seconds_above_zero, _SECONDS
        ),
    )
    table.finish()
    return settings


def read_market_data(table: Table) -> MarketDataSettings:
    base = MarketDataSettings()
    settings = MarketDataSettings(
        line_budget=table.get(
            "line_budget",
            base.line_budget,
            whole_in(1, _MAX_LINES),
            f"must be a whole number of market-data lines, 1 or more and at most {_MAX_LINES}",
        ),
        depth_rows=table.get(
            "depth_rows",
            base.depth_rows,
            whole_in(1, _MAX_DEPTH_ROWS),
            f"must be a whole number of rows per side, 1 or more and at most {_MAX_DEPTH_ROWS}",
        ),
    )
    table.finish()
    return settings


def _presets(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= _MAX_PRESETS:
        raise TypeError
    return tuple(whole_in(1, _MAX_PRESET_QUANTITY)(v) for v in value)


def read_ladder(table: Table) -> LadderSettings:
    base = LadderSettings()
    choices = tuple(c.value for c in FarSideClick)
    settings = LadderSettings(
        far_side_click=FarSideClick(
            table.get(
                "far_side_click",
                base.far_side_click.value,
                one_of(choices),
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


def read_option_chain(table: Table) -> OptionChainSettings:
    base = OptionChainSettings()
    settings = OptionChainSettings(
        strikes_each_side=table.get(
            "strikes_each_side",
            base.strikes_each_side,
            whole_in(1, _MAX_STRIKES_EACH_SIDE),
            f"must be a whole number of strikes, 1 or more and at most {_MAX_STRIKES_EACH_SIDE}",
        )
    )
    table.finish()
    return settings


def _signal_symbols(table: Table) -> dict[str, str]:
    symbols = {}
    known = ", ".join(PRODUCTS)
    for name in table.names():
        if name not in PRODUCTS:
            raise ConfigError(
                f"{table.where(name)}: unknown futures symbol {name!r}; known: {known}"
            )
        symbols[name] = table.get(
            name, name, one_of(tuple(PRODUCTS), upper=True), f"must be a futures symbol: {known}"
        )
    table.finish()
    return symbols


def read_signals(table: Table) -> SignalSettings:
    base = SignalSettings()
    settings = SignalSettings(
        enabled=table.get("enabled", base.enabled, true_or_false, _TRUE_OR_FALSE),
        port=table.get(
            "port",
            base.port,
            whole_in(0, 65535),
            "must be a port number, 1 to 65535, or 0 for any free port",
        ),
        max_age=table.get("max_age_seconds", base.max_age, seconds_above_zero, _SECONDS),
        max_per_minute=table.get(
            "max_per_minute",
            base.max_per_minute,
            positive_int,
            "must be a whole number, 1 or more",
        ),
        max_body_bytes=table.get(
            "max_body_bytes",
            base.max_body_bytes,
            whole_in(_MIN_BODY_BYTES, _MAX_BODY_BYTES),
            f"must be a whole number of bytes, {_MIN_BODY_BYTES} to {_MAX_BODY_BYTES}",
        ),
        symbols=_signal_symbols(table.table("symbols")),
    )
    table.finish()
    return settings


def _alert_choices(table: Table, defaults: Mapping[AlertKind, bool]) -> dict[AlertKind, bool]:
    chosen = {
        kind: table.get(kind.value, defaults[kind], true_or_false, _TRUE_OR_FALSE)
        for kind in AlertKind
    }
    table.finish()
    return chosen


def read_alerts(table: Table) -> AlertSettings:
    base = AlertSettings()
    settings = AlertSettings(
        notify=_alert_choices(table.table("notify"), base.notify),
        sound=_alert_choices(table.table("sound"), base.sound),
        sound_enabled=table.get("sound_enabled", base.sound_enabled, true_or_false, _TRUE_OR_FALSE),
    )
    table.finish()
    return settings
