"""A console started in a fresh interpreter as ``ibconsole`` starts it, reporting which of the
modules its first paint does without were loaded: once ``ibconsole.app`` is imported, at the
main window's first paint, and once started with the chart built and the click-path modules
imported after the paint.

    python tests/ui/cold_start_probe.py [ibconsole arguments...]

Prints one JSON object: ``{"imported": [...], "painted": [...], "started": [...]}``, each the
sorted names of ``DEFERRED`` loaded at that moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMainWindow, QWidget

DEFERRED = (
    "aiohttp",
    "numpy",
    "pyqtgraph",
    "tomlkit",
    "keyring",
    "ibconsole.sim",
    "ibconsole.broker.signal_endpoint",
    "ibconsole.broker.signal_process",
    "ibconsole.ui.charts",
    "ibconsole.ui.settings",
)
_STARTED_TIMEOUT_S = 30.0


def loaded() -> list[str]:
    return sorted(name for name in DEFERRED if name in sys.modules)


class FirstPaint(QObject):
    """Application-wide: what was loaded when a widget of the main window first painted."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            self.loaded is None
            and event.type() == QEvent.Type.Paint
            and isinstance(watched, QWidget)
            and isinstance(watched.window(), QMainWindow)
        ):
            self.loaded = loaded()
        return False


async def run(argv: list[str], painted: FirstPaint) -> dict[str, list[str] | None]:
    from ibconsole.app import build_console

    console = build_console(argv)
    try:
        await console.start()
        deadline = time.monotonic() + _STARTED_TIMEOUT_S
        # The chart is built once its dock has painted; the settings dialog's modules and the
        # keyring are imported just after start: all follow the first paint.
        while console.window.findChild(QWidget, "chartPanel") is None or not all(
            name in sys.modules for name in ("ibconsole.ui.settings", "keyring")
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("the chart or the settings modules never loaded")
            await asyncio.sleep(0.01)
        return {"painted": painted.loaded, "started": loaded()}
    finally:
        await console.stop()


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_API", "pyside6")
    import ibconsole.app  # noqa: F401 - what importing the console loads is the first figure

    imported = loaded()
    import qasync

    from ibconsole.ui.application import create_application

    app = create_application()
    painted = FirstPaint()
    app.installEventFilter(painted)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        report = loop.run_until_complete(run(argv, painted))
    print(json.dumps({"imported": imported, **report}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
