"""A widget listens to the broker's events (eventkit's, not Qt's) for as long as it lives.

Qt destroys a widget with its window, while the broker and its events outlive the window (the
console closes its window before it stops the broker, and the tests build many windows over one
broker). A handler left connected would then run on a deleted widget, and fail: the widget's
handlers are disconnected as Qt destroys it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject


def follow(owner: QObject, *handlers: tuple[Any, Callable[..., object]]) -> None:
    """Connect each ``(event, handler)`` pair for as long as ``owner`` lives."""
    for event, handler in handlers:
        event += handler

    def leave() -> None:
        for event, handler in handlers:
            event -= handler

    owner.destroyed.connect(leave)
