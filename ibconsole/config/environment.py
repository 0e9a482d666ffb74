"""``IBCONSOLE_*`` overrides: one scalar key each, written into the parsed file before it is read."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

from ibconsole.config.names import CONFIG_PATH_VARIABLE, ENV_PREFIX, SIGNAL_SECRET_VARIABLE
from ibconsole.config.values import ConfigError

_NOT_SETTINGS = (CONFIG_PATH_VARIABLE, SIGNAL_SECRET_VARIABLE)
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


def environment_value(raw: str) -> object:
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except ValueError:  # TOMLDecodeError, or an integer too long for int() (4300 digits)
        return raw
    # "5\nx = 1" parses as two keys: that is text with a line break, not the number 5.
    return parsed["v"] if len(parsed) == 1 else raw


def apply_environment(data: dict[str, object], environ: Mapping[str, str]) -> dict[str, str]:
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
        table[key] = environment_value(environ[variable])
        origins[".".join([*path, key])] = variable
    return origins
