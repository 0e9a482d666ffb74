"""At most one redraw a frame, as soon as the frame allows it, and one view's redraw a loop turn.

``CoalescingTimer`` (``ui.coalescing``) waits its whole interval after the first event of a burst,
so every event waits for it. A ``FrameTimer`` runs its slot on the next turn of the loop when
the last run is at least a frame old, and otherwise once that frame is over: a lone tick is
drawn at once, a flood of them once a frame.

Qt runs every timer that is due in one batch, and paints every dirty widget of a window in one
event: the chart's and the ladder's redraws falling due together made one long job (their
updates, then their paints), and a click waited for all of it. So the frame timers of all views
take turns: one runs its slot on a turn of the loop, any other due on that turn runs on
the next (its paint then lands in a turn of its own too).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal, Slot

FRAME_MS = 16  # one frame at 60 Hz


class _Turn:
    """Whether a frame timer ran its slot on this turn of the loop (shared by all of them)."""

    taken = False

    @staticmethod
    def take() -> bool:
        """Take this turn; False if another frame timer has it."""
        if _Turn.taken:
            return False
        _Turn.taken = True
        # A zero timer started now runs on the next turn, before the timers deferred after it.
        QTimer.singleShot(0, _Turn.give_back)
        return True

    @staticmethod
    def give_back() -> None:
        _Turn.taken = False


class FrameTimer(QTimer):
    """Runs ``slot`` after ``request()``, at most once every ``frame_ms`` milliseconds and on a
    loop turn no other frame timer ran on.

    Signals:
        sig_ran()   the slot ran (``timeout`` also fires when a run is put off to the next turn)
    """

    sig_ran = Signal()

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
        if not _Turn.take():
            self.start(0)  # another view redraws on this turn: the next one
            return
        self._since_run.start()
        self._slot()
        self.sig_ran.emit()
