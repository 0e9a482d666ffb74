"""A status label re-styled every frame with the same tone is re-polished once: a style sheet set
again, even the same one, re-polishes the label and asks its window for a layout pass."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel

from ibconsole.ui.theme import Tone, set_toned_text, tone_style


class StyleChanges(QObject):
    def __init__(self, label: QLabel) -> None:
        super().__init__()
        self.count = 0
        label.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.StyleChange:
            self.count += 1
        return False


def test_the_style_is_set_when_the_tone_changes_and_not_again(qtbot: Any) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    label.show()  # a hidden label is re-polished when shown, not at once
    changes = StyleChanges(label)

    for step in range(3):
        set_toned_text(label, f"Open P&L {step}", Tone.GOOD)
    assert (label.text(), label.styleSheet()) == ("Open P&L 2", tone_style(Tone.GOOD))
    assert changes.count == 1

    set_toned_text(label, "Open P&L -1", Tone.BAD)
    set_toned_text(label, "Open P&L -2", Tone.BAD)
    assert label.styleSheet() == tone_style(Tone.BAD)
    assert changes.count == 2

    set_toned_text(label, "Open P&L 0", Tone.NEUTRAL)
    set_toned_text(label, "Open P&L 0", Tone.NEUTRAL)
    assert (label.text(), label.styleSheet()) == ("Open P&L 0", "")
    assert changes.count == 3
