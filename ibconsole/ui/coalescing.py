"""Coalesced repaints: however many events arrive in a burst, a view repaints once after it.

Broker events only record what changed and ask for a repaint; the repaint itself runs from a
short single-shot timer, so the cost of drawing follows the timer's rate, not the event rate.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class CoalescingTimer(QTimer):
    """Runs ``slot`` once, ``interval_ms`` after the first ``request()`` of a burst.

    A request while one is pending joins it rather than postponing it (as a restarted timer
    would), so a steady stream of events still repaints at this timer's rate.
    """

    def __init__(self, parent: QObject, interval_ms: int, slot: Callable[[], object]) -> None:
        super().__init__(parent)
        self.setSingleShot(True)
        self.setInterval(interval_ms)
        self.timeout.connect(slot)

    def request(self) -> None:
        """Run the slot at the end of the current burst (starting one if none is pending)."""
        if not self.isActive():
            self.start()
