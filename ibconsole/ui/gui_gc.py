"""Python's cyclic garbage collector runs on the GUI thread only.

CPython collects on whichever thread's allocation fills a generation. The console has threads of
its own (the journal's checkpoints, the trading calendars' loading, the signal endpoint, the stall
watchdog) beside the GUI thread; a reference cycle holding a Qt object (a window closed earlier,
a timer, a widget) collected on one of them destroys that object off the GUI thread, which Qt
does not allow: it warns "Timers cannot be stopped from another thread" and may crash the
process. So automatic collection is off, and a timer on the GUI thread collects the oldest
generation whose threshold is passed (``gc.get_threshold()``), as CPython itself would have.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot

CHECK_MS = 100  # allocations between checks are a few thousand at most under a busy market


class GuiThreadCollector(QObject):
    """Collects Python's cyclic garbage on the thread it lives on, the GUI thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    def start(self) -> None:
        """Turn automatic collection off; collect on this thread from now on."""
        gc.disable()
        self._timer.start()

    @Slot()
    def collect_due(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold, if any; return the
        generation collected (None when none was due)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None


def collect_on_gui_thread(app: QObject) -> GuiThreadCollector:
    """Start collecting on ``app``'s (the GUI) thread only, for as long as ``app`` lives (once,
    however often it is asked)."""
    collector = app.findChild(GuiThreadCollector)
    if collector is None:
        collector = GuiThreadCollector(app)
        collector.start()
    return collector
