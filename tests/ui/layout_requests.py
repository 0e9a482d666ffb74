"""Counting a window's layout passes: the layout requests it receives, read once every request
posted so far has been delivered."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QWidget


class LayoutRequests(QObject):
    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False

    async def settled(self, window: QWidget, wait_for: Any) -> int:
        """Let every posted layout request reach ``window``; how many did so far."""
        seen: list[bool] = []

        class Marker(QObject):
            def eventFilter(self, watched: QObject, event: QEvent) -> bool:
                if event.type() == QEvent.Type.User:
                    seen.append(True)
                return False

        probe = Marker()
        window.installEventFilter(probe)
        # Posted after any layout request: delivered after it.
        QCoreApplication.postEvent(window, QEvent(QEvent.Type.User))
        await wait_for(lambda: seen, what="the posted events delivered")
        window.removeEventFilter(probe)
        return self.count
