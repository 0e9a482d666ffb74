"""A panel's status line says its words again after every burst of broker events: the same tone
costs no new style sheet (setting one re-polishes the label and lays its window out again)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject

from ibconsole.ui.blotter.table import show_status, status_label
from ibconsole.ui.theme import Tone


class _StyleChanges(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.StyleChange:
            self.count += 1
        return False


def test_the_same_tone_again_sets_no_style_sheet_and_another_tone_does(qtbot: Any) -> None:
    label = status_label("panelStatus")
    qtbot.addWidget(label)
    changes = _StyleChanges()
    label.installEventFilter(changes)

    show_status(label, "Positions unknown: not synced with the broker yet.", Tone.WARN)
    restyled = changes.count
    for text in ("No open positions.", "Cancel sent for order 7.", ""):
        show_status(label, text, Tone.WARN)

    assert restyled > 0
    assert changes.count == restyled
    assert label.isHidden()
    show_status(label, "Export failed: disk full", Tone.BAD)
    assert changes.count > restyled
    assert label.text() == "Export failed: disk full"
    assert not label.isHidden()
