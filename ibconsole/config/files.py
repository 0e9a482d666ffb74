"""Where the settings file lives, reading it with the environment's overrides, and the example."""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from ibconsole.config.environment import apply_environment
from ibconsole.config.example import EXAMPLE_CONFIG
from ibconsole.config.names import CONFIG_PATH_VARIABLE
from ibconsole.config.profiles import with_default_profiles
from ibconsole.config.settings import SCHEMA_VERSION, Settings, parse_settings
from ibconsole.config.values import ConfigError

_log = logging.getLogger(__name__)

APP_NAME = "ibconsole"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


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
    data = with_default_profiles(data)
    origins = apply_environment(data, env)
    try:
        settings = parse_settings(data, source=source, origins=origins)
    except ConfigError as error:
        where = f"{source}: " if source is not None else ""
        raise ConfigError(f"{where}{error}") from None
    _log.info("settings loaded from %s", source or "built-in defaults")
    return settings


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
