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

from ibconsole.config.environment import environment_value
from ibconsole.config.example import EXAMPLE_CONFIG
from ibconsole.config.files import default_config_path, load_settings, write_example_config
from ibconsole.config.names import CONFIG_PATH_VARIABLE, ENV_PREFIX, SIGNAL_SECRET_VARIABLE
from ibconsole.config.profiles import ConnectionProfile
from ibconsole.config.settings import SCHEMA_VERSION, Settings, parse_settings
from ibconsole.config.values import ConfigError

__all__ = [
    "CONFIG_PATH_VARIABLE",
    "ENV_PREFIX",
    "EXAMPLE_CONFIG",
    "SCHEMA_VERSION",
    "SIGNAL_SECRET_VARIABLE",
    "ConfigError",
    "ConnectionProfile",
    "Settings",
    "default_config_path",
    "environment_value",
    "load_settings",
    "parse_settings",
    "write_example_config",
]
