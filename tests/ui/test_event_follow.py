"""A widget hears a broker event while it lives; once Qt destroyed it, the event no longer calls
into it (which failed on the deleted widget, and was logged as a failing handler)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel

from ibconsole.broker.ib_client import Event
from ibconsole.ui.event_follow import follow


async def test_a_widget_hears_a_broker_event_until_qt_destroys_it(wait_for: Any) -> None:
    changed = Event("changed")
    label = QLabel()
    follow(label, (changed, label.setText))

    changed.emit("first")
    assert label.text() == "first"
    assert len(changed) == 1

    label.deleteLater()
    await wait_for(lambda: len(changed) == 0, what="the handler let go with the widget")
    changed.emit("after")  # would fail on the deleted label, and log that it did
