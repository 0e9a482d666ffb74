"""A word-wrapped value whose text changes within the size it needs repaints alone: its window
is asked for no layout pass; a text that needs another size is laid out again."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from ibconsole.ui.blotter_models import tabular_font
from ibconsole.ui.steady_label import SteadyLabel
from tests.ui.layout_requests import LayoutRequests


def _notional(price: str) -> str:
    return f"≈ 301,{price} USD  (1 × 50 × 6,{price})"


async def test_a_value_changing_within_its_size_asks_for_no_layout_pass(
    qtbot: Any, wait_for: Any
) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    form = QFormLayout(window)
    value = SteadyLabel("notional")
    value.label.setFont(tabular_font())
    value.label.setWordWrap(True)
    form.addRow("Notional", value)
    window.resize(260, 80)
    window.show()
    requests = LayoutRequests(window)

    value.setText(_notional("012.25"))
    first = await requests.settled(window, wait_for)
    assert first >= 1  # a new text of another size: the window lays out again
    assert value.label.geometry() == value.rect()

    for price in ("012.50", "012.75", "013.00", "012.75"):
        value.setText(_notional(price))
    assert value.text() == _notional("012.75")
    assert window.findChild(QLabel, "notional") is value.label
    assert await requests.settled(window, wait_for) == first  # repaints only

    value.setText("No price yet")
    assert await requests.settled(window, wait_for) > first  # another size: laid out again
