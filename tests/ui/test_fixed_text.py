"""Text that moves with the market repaints its widget without a layout pass of the window:
the widget is sized to its text and asks its window to lay out again only when the text needs
another size."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ibconsole.ui.fixed_text import set_fixed_text
from tests.ui.layout_requests import LayoutRequests


async def test_a_price_changing_within_its_width_asks_for_no_layout_pass(
    qtbot: Any, wait_for: Any
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    row = QHBoxLayout(window)
    label, button = QLabel("—"), QPushButton("Bid —")
    row.addWidget(label)
    row.addWidget(button)
    window.show()
    requests = LayoutRequests(window)

    set_fixed_text(label, "ESH5  6,012.25")
    set_fixed_text(button, "Bid 6,012.25")
    assert label.size() == label.sizeHint()
    first = await requests.settled(window, wait_for)
    assert first >= 1  # new texts of another width: the window lays out again

    for price in ("6,012.50", "6,012.75", "6,013.00", "6,012.75"):
        set_fixed_text(label, f"ESH5  {price}")
        set_fixed_text(button, f"Bid {price}")
    assert (label.text(), button.text()) == ("ESH5  6,012.75", "Bid 6,012.75")
    assert await requests.settled(window, wait_for) == first  # repaints only

    set_fixed_text(label, "ESH5  no price yet")
    assert await requests.settled(window, wait_for) > first  # wider: laid out again
    assert label.size() == label.sizeHint()
