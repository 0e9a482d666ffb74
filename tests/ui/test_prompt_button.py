"""The prompt button acts on a click before the window paints what waits to be painted, and
otherwise clicks as Qt's buttons do: once, on a release over the button, never when dragged off,
right-clicked or disabled."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from ibconsole.ui.prompt_button import PromptButton


class CountingLabel(QLabel):
    """A label that counts its paints: the stand-in for a chart waiting to be repainted."""

    def __init__(self) -> None:
        super().__init__("market")
        self.paints = 0

    def paintEvent(self, event: QPaintEvent) -> None:
        self.paints += 1
        super().paintEvent(event)


class Window(QWidget):
    def __init__(self, button: QPushButton) -> None:
        super().__init__()
        self.label = CountingLabel()
        self.button = button
        self.clicks: list[int] = []  # the label's paints so far, at each click
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(button)
        button.clicked.connect(lambda: self.clicks.append(self.label.paints))


@pytest.fixture
async def make_window(qtbot: Any, wait_for: Any) -> Any:
    async def make(button: QPushButton) -> Window:
        window = Window(button)
        qtbot.addWidget(window)
        window.show()
        await wait_for(lambda: window.label.paints > 0, what="the first paint")
        return window

    return make


@pytest.mark.parametrize(
    ("kind", "paints_before_click"),
    [
        # Qt's own button repaints the window (and so the waiting label) before ``clicked``:
        # this row shows the test sees a synchronous repaint when there is one.
        (QPushButton, 1),
        (PromptButton, 0),
    ],
)
async def test_the_click_comes_before_the_windows_pending_paints(
    make_window: Any, wait_for: Any, kind: type[QPushButton], paints_before_click: int
) -> None:
    window = await make_window(kind("Buy"))
    first = window.label.paints
    window.label.update()  # the market moved: the label waits for the next paint

    QTest.mouseClick(window.button, Qt.MouseButton.LeftButton)

    assert [paints - first for paints in window.clicks] == [paints_before_click]
    await wait_for(lambda: window.label.paints > first, what="the label painted after the click")
    assert not window.button.isDown()


async def test_pressing_shows_the_button_down_without_painting_the_window(
    make_window: Any, wait_for: Any
) -> None:
    window = await make_window(PromptButton("Buy"))
    first = window.label.paints
    window.label.update()

    QTest.mousePress(window.button, Qt.MouseButton.LeftButton)

    assert window.button.isDown()
    assert window.label.paints == first
    assert window.clicks == []
    QTest.mouseRelease(window.button, Qt.MouseButton.LeftButton)
    assert len(window.clicks) == 1
    await wait_for(lambda: window.label.paints > first, what="the label painted after the click")


async def test_dragging_off_before_the_release_clicks_nothing(make_window: Any) -> None:
    window = await make_window(PromptButton("Buy"))
    button = window.button
    outside = QPoint(button.width() // 2, button.height() + 40)

    QTest.mousePress(button, Qt.MouseButton.LeftButton)
    QTest.mouseMove(button, outside)
    shown_down_outside = button.isDown()
    QTest.mouseRelease(button, Qt.MouseButton.LeftButton, pos=outside)

    assert window.clicks == []
    assert not shown_down_outside
    assert not button.isDown()
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert len(window.clicks) == 1


async def test_a_right_click_or_a_disabled_button_clicks_nothing(make_window: Any) -> None:
    window = await make_window(PromptButton("Buy"))

    QTest.mouseClick(window.button, Qt.MouseButton.RightButton)
    window.button.setEnabled(False)
    QTest.mouseClick(window.button, Qt.MouseButton.LeftButton)

    assert window.clicks == []
    window.button.setEnabled(True)
    QTest.mouseClick(window.button, Qt.MouseButton.LeftButton)
    assert len(window.clicks) == 1
