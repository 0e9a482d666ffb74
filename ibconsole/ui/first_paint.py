"""The first paint of a window, awaited: start-up work the first look does not need (the demo
simulator, the signal endpoint, modules only a later click needs) follows it instead of delaying
it (DESIGN.md section 6, cold start)."""

from __future__ import annotations

import asyncio
import contextlib

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

# A window that is shown paints within a few frames; one that cannot (minimised at once, say)
# must not hold the rest of start-up back for longer than this.
FIRST_PAINT_TIMEOUT_S = 2.0


class _PaintWatch(QObject):
    """Application-wide, while awaited: the first paint event of any widget of ``window``."""

    def __init__(self, window: QWidget, painted: asyncio.Future[None]) -> None:
        super().__init__()
        self._window = window
        self._painted = painted

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Paint
            and not self._painted.done()
            and isinstance(watched, QWidget)
            and watched.window() is self._window
        ):
            self._painted.set_result(None)
        return False


async def first_paint(window: QWidget) -> bool:
    """Return once a widget of the shown ``window`` has painted (True), or after
    ``FIRST_PAINT_TIMEOUT_S`` without a paint (False)."""
    app = QApplication.instance()
    if app is None or not window.isVisible():
        return False
    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watch = _PaintWatch(window, painted)
    app.installEventFilter(watch)
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_PAINT_TIMEOUT_S):
                await painted
    finally:
        app.removeEventFilter(watch)
    return painted.done() and not painted.cancelled()
