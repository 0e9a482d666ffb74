"""A trader's change of settings, journalled beside the orders it affects.

Limits, rollover and connection-health settings decide which orders may go; when the trader
changes them in the window, the journal keeps what changed, from what to what, and when, so an
order's check can be read against the limits in force at its time. These events have the key
``SETTINGS_KEY`` and belong to no order: the order projection skips them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

__all__ = ["KIND", "SETTINGS_KEY", "SettingChange", "SettingsChanged", "decode", "encode"]

SETTINGS_KEY = "settings"
KIND = "settings_change"  # the events table's kind; not an EventKind: no order's event


@dataclass(frozen=True, slots=True)
class SettingChange:
    key: str  # dotted, as in the file: risk.symbols.MES.max_quantity
    before: str  # the TOML text before, "" when the file did not set it
    after: str  # the TOML text after, "" when removed (the default applies again)


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """One save of the Settings dialog: the file written and every key it changed."""

    file: str
    changes: tuple[SettingChange, ...]
    time: datetime | None = None  # when journalled; set when read back


def encode(event: SettingsChanged) -> str:
    return json.dumps(
        {
            "file": event.file,
            "changes": [[c.key, c.before, c.after] for c in event.changes],
        },
        separators=(",", ":"),
    )


def decode(text: str, time: datetime) -> SettingsChanged:
    data = json.loads(text)
    changes = tuple(SettingChange(key, before, after) for key, before, after in data["changes"])
    return SettingsChanged(data["file"], changes, time)
