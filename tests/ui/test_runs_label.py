"""The chart's quote readout paints its bold, coloured runs itself: its text is the HTML a
rich-text label would hold, its accessible name the words, and the runs show in their colours
at the edge it is aligned to."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from ibconsole.ui.runs_label import Run, RunsLabel, runs_html

BLUE = "#42a5f5"


@pytest.mark.parametrize(
    ("runs", "html"),
    [
        ((), ""),
        (
            (Run("Bid "), Run("5,012.25", bold=True, color=BLUE)),
            f"Bid <b style='color:{BLUE}'>5,012.25</b>",
        ),
        ((Run(" · Last "), Run("—", bold=True)), " · Last <b>—</b>"),
        ((Run("a < b", color="#ffffff"),), "<span style='color:#ffffff'>a &lt; b</span>"),
    ],
)
def test_the_runs_as_html(runs: tuple[Run, ...], html: str) -> None:
    assert runs_html(runs) == html


def test_the_label_shows_its_runs_in_colour_at_its_edge(qtbot: Any) -> None:
    label = RunsLabel()
    qtbot.addWidget(label)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    label.resize(400, 24)
    label.show()
    runs = (Run("Bid "), Run("5,012.25", bold=True, color=BLUE), Run(" · Last "), Run("5,012.50"))
    label.set_runs(runs)
    assert label.text() == f"Bid <b style='color:{BLUE}'>5,012.25</b> · Last 5,012.50"
    assert label.accessibleName() == "Bid 5,012.25 · Last 5,012.50"

    image = label.grab().toImage()
    background = image.pixel(0, 0)
    blue = [
        x
        for x in range(image.width())
        for y in range(image.height())
        if QColor(image.pixel(x, y)).name() == BLUE
    ]
    inked = [
        x
        for x in range(image.width())
        for y in range(image.height())
        if image.pixel(x, y) != background
    ]
    assert blue  # the coloured run, in its colour
    assert max(inked) >= image.width() - 3  # right-aligned: the text ends at the right edge
    assert min(inked) > image.width() // 2
