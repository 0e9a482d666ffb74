"""At most one redraw a frame, as soon as the frame allows it.

``CoalescingTimer`` (``ui.coalescing``) waits its whole interval after the first event of a burst,
so every event waits for it. A ``FrameTimer`` runs its slot on the next turn of the loop when
the last run is at least a frame old, and otherwise once that frame is over: a lone tick is
drawn at once, a flood of them once a frame.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Slot

FRAME_MS = 16  # one frame at 60 Hz


class FrameTimer(QTimer):
    """Runs ``slot`` after ``request()``, at most once every ``frame_ms`` milliseconds."""

    def __init__(
        self, parent: QObject, slot: Callable[[], object], frame_ms: int = FRAME_MS
    ) -> None:
        super().__init__(parent)
        self.setSingleShot(True)
        self.setTimerType(Qt.TimerType.PreciseTimer)
        self._slot = slot
        self._frame_ms = frame_ms
        self._since_run = QElapsedTimer()  # invalid until the first run
        self.timeout.connect(self._on_timeout)

    def request(self) -> None:
        """Run the slot once the current frame allows (joining a run already pending)."""
        if self.isActive():
            return
        since = self._since_run.elapsed() if self._since_run.isValid() else self._frame_ms
        self.start(max(0, self._frame_ms - since))

    @Slot()
    def _on_timeout(self) -> None:
        self._since_run.start()
        self._slot()
