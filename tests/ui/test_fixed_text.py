"""Text that moves with the market repaints its widget without a layout pass of the window:
the widget is sized to its text and asks its window to lay out again only when the text needs
another size."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ibconsole.ui.fixed_text import set_fixed_text


class LayoutRequests(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


async def _settled(window: QWidget, requests: LayoutRequests, wait_for: Any) -> int:
    """Let every posted layout request reach the window; how many did."""
    marker = QEvent(QEvent.Type.User)
    seen: list[bool] = []

    class Marker(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.User:
                seen.append(True)
            return False

    probe = Marker()
    window.installEventFilter(probe)
    QCoreApplication.postEvent(window, marker)  # posted after any layout request: delivered after
    await wait_for(lambda: seen, what="the posted events delivered")
    window.removeEventFilter(probe)
    return requests.count


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
    first = await _settled(window, requests, wait_for)
    assert first >= 1  # new texts of another width: the window lays out again

    for price in ("6,012.50", "6,012.75", "6,013.00", "6,012.75"):
        set_fixed_text(label, f"ESH5  {price}")
        set_fixed_text(button, f"Bid {price}")
    assert (label.text(), button.text()) == ("ESH5  6,012.75", "Bid 6,012.75")
    assert await _settled(window, requests, wait_for) == first  # repaints only

    set_fixed_text(label, "ESH5  no price yet")
    assert await _settled(window, requests, wait_for) > first  # wider: laid out again
    assert label.size() == label.sizeHint()
