"""A trader's change of settings is journalled beside the orders and never mistaken for one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.journal import Journal, JournalError, OrderState, SettingChange, SettingsChanged

if TYPE_CHECKING:  # the factory type lives in conftest
    from conftest import IntentFactory


def test_a_change_is_kept_with_its_time_and_survives_a_reopen(
    journal: Journal, journal_path: Path, clock: ManualClock
) -> None:
    change = SettingsChanged(
        "/home/t/.config/ibconsole/config.toml",
        (
            SettingChange("risk.symbols.MES.max_quantity", "", "3"),
            SettingChange("rollover.buffer_days", "1", "2"),
        ),
    )
    journal.record_settings_change(change)
    clock.advance(timedelta(minutes=1))
    journal.record_settings_change(
        SettingsChanged(change.file, (SettingChange("risk.symbols.MES.max_quantity", "3", ""),))
    )
    journal.close()

    with Journal(journal_path, clock) as reopened:
        first, second = reopened.settings_changes()
    assert first.changes == change.changes
    assert first.file == change.file
    assert second.time is not None
    assert first.time is not None
    assert second.time - first.time == timedelta(minutes=1)
    assert second.changes[0].after == ""


def test_settings_events_belong_to_no_order_and_the_projection_rebuilds(
    journal: Journal, make_intent: IntentFactory
) -> None:
    journal.record_intent(make_intent("ibc-1"))
    journal.record_settings_change(
        SettingsChanged("config.toml", (SettingChange("risk.max_quantity", "10", "5"),))
    )
    journal.record_decision("ibc-1", "blocked", ["Quantity 2 is above your limit of 1."])

    journal.rebuild_projection()

    (order,) = journal.orders(limit=None)
    assert (order.intent.key, order.state) == ("ibc-1", OrderState.BLOCKED)
    assert len(journal.settings_changes()) == 1


def test_an_empty_change_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="at least one changed key"):
        journal.record_settings_change(SettingsChanged("config.toml", ()))
    assert journal.settings_changes() == []
