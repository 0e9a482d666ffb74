"""The main window's default layout: where each dock goes on a first run or a layout reset."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget

__all__ = ["WIDE", "apply_default_layout", "first_run_size"]

WIDE = 1800  # from this width on, three columns; below, two
_SMALLEST = QSize(1366, 768)


def first_run_size(window: QWidget) -> QSize:
    """The screen's available size, at least 1366×768 (below it the parts do not fit side by
    side; such a screen scrolls instead)."""
    screen = window.screen() or QApplication.primaryScreen()
    available = screen.availableGeometry().size() if screen is not None else _SMALLEST
    return available.expandedTo(_SMALLEST)


def apply_default_layout(
    window: QMainWindow, docks: Mapping[str, QDockWidget], size: QSize
) -> None:
    """Place every dock where a first run puts it, for a window of ``size``."""
    for dock in docks.values():
        window.removeDockWidget(dock)
        # Removing hides a dock, and a hidden dock is not placed by the splits below.
        dock.setFloating(False)
        dock.show()
    area = Qt.DockWidgetArea.LeftDockWidgetArea
    horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
    width, height = size.width(), size.height()
    # Splits first: splitting a dock that is already tabbed adds a tab instead.
    window.addDockWidget(area, docks["ticket"])
    window.splitDockWidget(docks["ticket"], docks["chart"], horizontal)
    if width >= WIDE:
        # Three columns: entry | chart over orders and positions | rollover over account.
        window.splitDockWidget(docks["chart"], docks["rollover"], horizontal)
        window.splitDockWidget(docks["chart"], docks["orders"], vertical)
        window.splitDockWidget(docks["rollover"], docks["account"], vertical)
        window.splitDockWidget(docks["ticket"], docks["connection"], vertical)
        window.splitDockWidget(docks["orders"], docks["positions"], horizontal)
        window.tabifyDockWidget(docks["orders"], docks["fills"])
        window.tabifyDockWidget(docks["account"], docks["health"])
        # The ladder shares the right column's top with rollover, in front.
        window.tabifyDockWidget(docks["rollover"], docks["priceLadder"])
        window.tabifyDockWidget(docks["health"], docks["signalInbox"])
        left, right = 400, 580
        centre = width - left - right
        window.resizeDocks(
            [docks["ticket"], docks["chart"], docks["rollover"]],
            [left, centre, right],
            horizontal,
        )
        window.resizeDocks(
            [docks["orders"], docks["positions"]],
            [centre * 52 // 100, centre * 48 // 100],
            horizontal,
        )
        window.resizeDocks(
            [docks["ticket"], docks["connection"]],
            [height * 55 // 100, height * 45 // 100],
            vertical,
        )
        window.resizeDocks(
            [docks["rollover"], docks["account"]],
            [height * 55 // 100, height * 45 // 100],
            vertical,
        )
    else:
        # Two columns: the ticket and the ladder | the chart over two tab groups (blotter;
        # the rest).
        window.splitDockWidget(docks["ticket"], docks["priceLadder"], horizontal)
        window.splitDockWidget(docks["chart"], docks["orders"], vertical)
        window.splitDockWidget(docks["orders"], docks["rollover"], horizontal)
        window.tabifyDockWidget(docks["orders"], docks["positions"])
        window.tabifyDockWidget(docks["positions"], docks["fills"])
        window.tabifyDockWidget(docks["rollover"], docks["account"])
        window.tabifyDockWidget(docks["account"], docks["connection"])
        window.tabifyDockWidget(docks["connection"], docks["health"])
        left, ladder = 350, 360  # the ladder's six columns at tabular widths
        centre = width - left - ladder
        window.resizeDocks(
            [docks["ticket"], docks["priceLadder"], docks["chart"]],
            [left, ladder, centre],
            horizontal,
        )
        window.tabifyDockWidget(docks["health"], docks["signalInbox"])
        window.resizeDocks(
            [docks["orders"], docks["rollover"]],
            [centre * 50 // 100, centre * 50 // 100],
            horizontal,
        )
    window.tabifyDockWidget(docks["health"], docks["alerts"])
    window.resizeDocks(
        [docks["chart"], docks["orders"]],
        [height * 56 // 100, height * 44 // 100],
        vertical,
    )
    # The chain shares the chart's place: a tab beside it.
    window.tabifyDockWidget(docks["chart"], docks["optionChain"])
    docks["chart"].raise_()
    docks["orders"].raise_()
    docks["priceLadder"].raise_()
    # On the first run the connection settings come first; once connected the trader picks.
    (docks["account"] if width >= WIDE else docks["connection"]).raise_()
