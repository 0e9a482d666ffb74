"""A figure that changes every frame repaints itself, not the dock it is in: the dock's title
bar is drawn by a style that loads the float and close icons from their files on every paint.
Against a quiet simulator, so every repaint seen is one the test made."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel, QWidget

from ibconsole.ui.main_window import MainWindow
from ibconsole.ui.steady_label import SteadyLabel

QUIET = 0.01  # quote updates per second: the market stands still unless the test moves it


class Paints(QObject):
    """Counts the paint events each of some widgets receives."""

    def __init__(self, *widgets: QWidget) -> None:
        super().__init__()
        self.counts = dict.fromkeys(widgets, 0)
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and watched in self.counts:
            self.counts[watched] += 1  # type: ignore[index]
        return False


async def _quiet_window(
    make_gateway: Any, make_ui_context: Any, make_main_window: Any
) -> MainWindow:
    gateway = await make_gateway(tick_rate=QUIET, depth_rate=0.0)
    window: MainWindow = make_main_window(await make_ui_context(gateway))
    window.resize(1500, 900)
    return window


async def test_new_figures_repaint_themselves_not_their_dock(
    make_gateway: Any, make_ui_context: Any, make_main_window: Any, wait_for: Any
) -> None:
    window = await _quiet_window(make_gateway, make_ui_context, make_main_window)
    chart = window.chart
    for name in ("chart", "ticket"):
        window.docks[name].raise_()
    quote = chart.findChild(QLabel, "chartQuote")
    last = window.findChild(QLabel, "ticketLast")
    notional = window.findChild(QLabel, "ticketNotional").parent()
    assert isinstance(notional, SteadyLabel)
    figures = (
        (quote, quote.setText, window.docks["chart"]),
        (last, last.setText, window.docks["ticket"]),
        (notional, notional.setText, window.docks["ticket"]),
    )
    for figure, _, _ in figures:
        await wait_for(figure.isVisible, what=f"{figure.objectName()} shown")

    for figure, set_text, dock in figures:
        # The first price may need another size (a layout pass); the next one, of equal width
        # in the tabular font, is the change of every frame.
        settled = Paints(figure)
        set_text("Last 5,012.25")
        await wait_for(lambda s=settled, f=figure: s.counts[f] >= 1, what="the first price")
        paints = Paints(figure, dock)
        set_text("Last 5,012.50")
        await wait_for(lambda f=figure, p=paints: p.counts[f] >= 1, what="the figure repainted")
        assert paints.counts[dock] == 0, dock.objectName()
