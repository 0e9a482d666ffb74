"""Reading one TOML table: typed values that name their key, and a refusal of unknown keys.

Every converter raises TypeError or ValueError for a value it cannot take; ``Table.get`` turns
that into a ``ConfigError`` sentence naming the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from ibconsole.config.names import SIGNAL_SECRET_VARIABLE


class ConfigError(ValueError):
    """The settings cannot be used; the message names the key, the value and what is allowed."""


# "off" switches a limit off.
OFF = "off"
# Keys that would hold a secret: refused with advice, and their values never echoed.
SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "credential")

_T = TypeVar("_T")
_D = TypeVar("_D")


def looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


class Table:
    """One TOML table being read: typed getters that name the key, and a check for leftovers."""

    def __init__(self, data: Mapping[str, object], path: str, origins: Mapping[str, str]) -> None:
        self._data = data
        self._path = path
        self._origins = origins
        self._used: set[str] = set()

    def path_of(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def names(self) -> list[str]:
        return list(self._data)

    def where(self, key: str) -> str:
        full = self.path_of(key)
        origin = self._origins.get(full)
        shown = full if full.isprintable() else repr(full)  # a newline must not break the line
        return f"{shown} (from {origin})" if origin else shown

    def fail(self, key: str, value: object, allowed: str) -> ConfigError:
        shown = "<hidden>" if looks_secret(key) else repr(value)
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

    def table(self, key: str) -> Table:
        self._used.add(key)
        value = self._data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, value, f"must be a table ([{self.path_of(key)}])")
        return Table(value, self.path_of(key), self._origins)

    def subtables(self, key: str) -> dict[str, Table]:
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
            if looks_secret(key):
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


def whole_in(low: int | None = None, high: int | None = None) -> Callable[[object], int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError
        return value

    return convert


def true_or_false(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def text_value(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def non_empty_text(value: object) -> str:
    text = text_value(value).strip()
    if not text:
        raise ValueError
    return text


def decimal_value(value: object) -> Decimal:
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


def positive_decimal(value: object) -> Decimal:
    number = decimal_value(value)
    if number <= 0:
        raise ValueError
    return number


def or_off(convert: Callable[[object], _T]) -> Callable[[object], _T | None]:
    def read(value: object) -> _T | None:
        if isinstance(value, str) and value.strip().lower() == OFF:
            return None
        return convert(value)

    return read


def seconds_above_zero(value: object) -> timedelta:
    span = timedelta(seconds=float(positive_decimal(value)))
    if not span:
        raise ValueError  # below half a microsecond: rounds to no time at all
    return span


def positive_int(value: object) -> int:
    return whole_in(low=1)(value)


def multiplier_value(value: object) -> float:
    number = decimal_value(value)
    if number < 1:
        raise ValueError
    return float(number)


def file_path(value: object) -> Path:
    try:
        return Path(non_empty_text(value)).expanduser()
    except RuntimeError:  # "~name/..." where no user "name" exists
        raise ValueError from None


def argv_words(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TypeError
    return tuple(value)


def one_of(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = text_value(value).strip()
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise ValueError
        return text

    return convert


def whole_decimal(value: object) -> Decimal:
    number = decimal_value(value)
    if number != number.to_integral_value():
        raise ValueError
    return number


def whole_positive(value: object) -> Decimal:
    number = whole_decimal(value)
    if number <= 0:
        raise ValueError
    return number


def whole_or_zero(value: object) -> Decimal:
    number = whole_decimal(value)
    if number < 0:
        raise ValueError
    return number
