"""Putting saved settings to work at once and journalling the change.

The broker checks the very next order against the new limits and watches the connection by the
new health settings, and the next roll as two orders waits by the new fill timeout; every part of the window reads ``ctx.settings`` when it needs a setting, so
it sees the new ones from its next use. The journal keeps what changed, from what to what.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ibconsole.config import Settings
from ibconsole.config.writer import REMOVE, KeyPath, SettingsFile, dotted
from ibconsole.journal import JournalError, SettingChange, SettingsChanged
from ibconsole.ui.context import UiContext
from ibconsole.ui.settings.values import shown_text

__all__ = ["apply_settings", "describe_changes"]

_log = logging.getLogger(__name__)


def describe_changes(
    file: SettingsFile, changes: Mapping[KeyPath, object]
) -> tuple[SettingChange, ...]:
    """Each changed key with its text before and after ("" for not in the file)."""
    described = []
    for path, value in sorted(changes.items()):
        described.append(
            SettingChange(
                dotted(path),
                _text(file.value(path)),
                "" if value is REMOVE else _text(value),
            )
        )
    return tuple(described)


def _text(value: object) -> str:
    if isinstance(value, Mapping):  # a whole row, e.g. [risk.symbols.MES]
        return ", ".join(f"{key} = {_text(item)}" for key, item in value.items())
    return shown_text(value)


def apply_settings(
    ctx: UiContext, settings: Settings, file: Path, changes: tuple[SettingChange, ...]
) -> str:
    """Make ``settings`` the console's settings now; "" or why the change was not journalled."""
    ctx.settings = settings
    ctx.broker.apply_settings(
        settings.health, settings.risk, line_budget=settings.market_data.line_budget
    )
    ctx.broker.orders.rolls.fill_timeout = settings.rollover.fill_timeout.total_seconds()
    if not changes:
        return ""
    try:
        ctx.broker.journal.record_settings_change(SettingsChanged(str(file), changes))
    except JournalError as error:
        _log.error("a settings change was applied but not journalled: %s", error)
        return f"The change applies, but the journal could not record it: {error}"
    _log.info("settings changed: %s", ", ".join(change.key for change in changes))
    return ""
