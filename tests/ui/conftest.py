"""Fixtures of the UI tests: offscreen Qt, one qasync loop shared by Qt and ib_insync, a context.

- Every ``async def`` test here runs on a ``qasync.QEventLoop`` over pytest-qt's QApplication
  (the ``pytest_asyncio_loop_factories`` hook), exactly as the console runs: ib_insync's sockets,
  asyncio tasks and Qt signals all go through one loop.
- In async tests wait with the suite's ``await wait_for(...)``, never ``qtbot.waitUntil`` or
  ``qtbot.wait``: those spin a nested Qt loop inside a running asyncio task. For the same reason
  widgets open dialogs with ``open()``/``show()``, never ``exec()``. Async work goes through
  ``ctx.runner.start``: ``qasync.asyncSlot`` refuses signals emitted without arguments (PySide6
  6.12 passes none to its ``*args`` wrapper), e.g. ``QPushButton.clicked``.
- ``ui_context``: a ``UiContext`` whose broker is connected and synced to the ``gateway``
  simulator; ``make_ui_context(gateway, connect=False, settings=..., port=...)`` for other
  gateways, a disconnected broker, other settings or another port.
- ``main_window``: the whole ``MainWindow`` on ``ui_context``, shown, with window geometry kept
  in a temporary QSettings folder; ``orders``: the orders panel alone on ``ui_context``.
- The OS keyring is replaced by the suite's in-memory backend for every test
  (``memory_keyring``, from tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import pytestqt.plugin
import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

from ibconsole.broker.session import Endpoint
from ibconsole.config import Settings
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.health import BackoffPolicy, BreakerPolicy, HealthSettings
from ibconsole.domain.trading_mode import PortPreset
from ibconsole.sim import PaperGateway
from ibconsole.ui.blotter.orders import OrdersPanel
from ibconsole.ui.context import UiContext, close_context, open_context
from ibconsole.ui.gui_gc import collect_on_gui_thread

if TYPE_CHECKING:
    from ibconsole.ui.main_window import MainWindow

# Quick heartbeats and reconnects, so drop-and-reconnect tests finish in a second or two (a drop
# is seen at once: the socket closes). The timeout is kept longer than a stall a loaded CI
# machine can put on a GUI test (a first paint, a first import): a missed heartbeat degrades the
# session, and a degraded session rightly refuses the order the test is about.
FAST_HEALTH = HealthSettings(
    heartbeat_interval=timedelta(seconds=0.2),
    heartbeat_timeout=timedelta(seconds=3),
    heartbeat_failures_before_reconnect=2,
    backoff=BackoffPolicy(min_delay=timedelta(seconds=0.2), max_delay=timedelta(seconds=1)),
    breaker=BreakerPolicy(failure_threshold=5, window=timedelta(minutes=1)),
)


# The offscreen platform plugin says this whenever a dialog is shown; it is not a fault of ours.
_OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.qt_log_ignore(_OFFSCREEN_NOISE))


def _process_events_on_the_loop_only() -> None:
    """pytest-qt's event processing between test phases is switched off for UI tests.

    It runs ``QApplication.processEvents()`` after setup, after the call and around teardown,
    outside any running asyncio loop; under qasync that fires Qt timers and socket notifiers
    whose slots start asyncio work (``runner.start``, ib_insync reads), which then fails with
    "no running event loop". Here every event is processed by the qasync loop while a test or
    an async fixture runs, as in the console.
    """


pytestqt.plugin._process_events = _process_events_on_the_loop_only


def _qapp() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["ibconsole-tests"])
    # As in the console: closing the last window must not stop the loop under a running test,
    # and Python's collector runs on this thread only.
    app.setQuitOnLastWindowClosed(False)
    collect_on_gui_thread(app)
    return app


class TestEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    """qasync's loop, minus one step that only matters when a loop is run many times.

    ``QEventLoop.run_until_complete`` processes Qt events "one last time" after the loop has
    stopped, with no running loop set: asyncio callbacks then run outside the loop and fail with
    "no running event loop". The console runs its loop once, so this never happens there; a
    test session runs it once per async fixture and test. Here the events simply wait for the
    next run.
    """

    def run_until_complete(self, future: Any) -> Any:
        if self.is_running():
            raise RuntimeError("Event loop already running")
        task = asyncio.ensure_future(future, loop=self)

        def stop(_: object) -> None:
            self.stop()

        task.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            task.remove_done_callback(stop)
        if not task.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return task.result()


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], qasync.QEventLoop]]:
    """Async UI tests run on a qasync loop over the test QApplication (DESIGN.md section 3)."""
    return {"qasync": lambda: TestEventLoop(_qapp())}


@pytest.fixture(autouse=True)
def _keyring_in_memory(memory_keyring: object) -> None:
    """No widget under test may reach the OS keyring: every UI test runs on the suite's
    in-memory backend (request ``memory_keyring`` to look at what was stored)."""


@pytest.fixture(autouse=True)
def qsettings_dir(tmp_path: Path) -> Iterator[Path]:
    """Window geometry and dock state go to a temporary INI folder, never the user's settings."""
    _qapp()
    folder = tmp_path / "qsettings"
    folder.mkdir()
    previous_format = QSettings.defaultFormat()
    QCoreApplication.setOrganizationName("ibconsole-tests")
    QCoreApplication.setApplicationName("ibconsole-tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder
    QSettings.setDefaultFormat(previous_format)


class UiContextFactory(Protocol):
    def __call__(
        self,
        gateway: PaperGateway,
        *,
        connect: bool = ...,
        settings: Settings = ...,
        account: str = ...,
        client_id: int = ...,
        port: int | None = ...,
        preset: PortPreset | None = ...,
    ) -> Awaitable[UiContext]: ...


@pytest.fixture
async def make_ui_context(
    tmp_path: Path, as_of: datetime, make_gateway: Any
) -> AsyncIterator[UiContextFactory]:
    """Build contexts on simulators; each is stopped after the test, before the simulators."""
    built: list[UiContext] = []

    async def make(
        gateway: PaperGateway,
        *,
        connect: bool = True,
        settings: Settings | None = None,
        account: str = "",
        client_id: int = 1,
        port: int | None = None,
        preset: PortPreset | None = None,
    ) -> UiContext:
        chosen = settings or Settings(health=FAST_HEALTH)
        context = open_context(
            chosen,
            Endpoint(
                "127.0.0.1",
                gateway.port if port is None else port,
                client_id,
                account,
                preset=preset,
            ),
            tmp_path / f"journal-{len(built)}.sqlite3",
            OffsetClock(as_of),
            chosen.default_profile,
        )
        built.append(context)
        if connect:
            await context.broker.start()
        return context

    yield make
    for context in reversed(built):
        await close_context(context)


@pytest.fixture
async def ui_context(make_ui_context: UiContextFactory, gateway: PaperGateway) -> UiContext:
    """A context whose broker is connected and synced to ``gateway`` (paper account DU1234567)."""
    return await make_ui_context(gateway)


@pytest.fixture
async def make_main_window(
    make_ui_context: UiContextFactory,
) -> AsyncIterator[Callable[[UiContext], MainWindow]]:
    """Build shown windows (call it on the loop: in an async test or fixture); each is closed
    and deleted after the test, on the loop, before its context stops, so no panel timer fires
    into a stopped loop or a stopped broker."""
    from ibconsole.ui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(context: UiContext) -> MainWindow:
        window = MainWindow(context)
        windows.append(window)
        window.show()
        return window

    yield make
    for window in windows:
        if shiboken6.isValid(window):
            window.close()
            shiboken6.delete(window)


@pytest.fixture
async def main_window(
    ui_context: UiContext, make_main_window: Callable[[UiContext], MainWindow]
) -> MainWindow:
    """The assembled window on ``ui_context``, shown offscreen."""
    return make_main_window(ui_context)


@pytest.fixture
def orders(ui_context: UiContext, qtbot: Any) -> OrdersPanel:
    """The orders panel on ``ui_context``, shown offscreen."""
    panel = OrdersPanel(ui_context)
    qtbot.addWidget(panel)
    panel.resize(1100, 320)
    panel.show()
    return panel
