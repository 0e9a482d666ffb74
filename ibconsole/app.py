"""Composition root: command line, settings, logging, the qasync loop and the assembled console.

``build_console(argv)`` builds everything (settings, journal, broker, window) on an already
running qasync loop, for embedding and end-to-end tests; ``main()`` only parses arguments, sets
up the loop (created by hand, DESIGN.md section 3) and runs it.
"""

from __future__ import annotations

import gc

# The console's imports make some 85,000 objects that live as long as it does; the collector's
# passes over them while importing free next to nothing and cost ~35 ms of a cold start. Held
# while importing; what was imported is then kept out of later passes (frozen), as start-up's
# objects are once the window is populated (Console._settle_heap).
_COLLECTING = gc.isenabled()
gc.disable()

# ruff: noqa: E402 - the imports follow the hold on the collector
import argparse
import asyncio
import contextlib
import importlib
import logging
import logging.handlers
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from ibconsole import __version__
from ibconsole.broker.broker import Broker
from ibconsole.broker.calendars import EXCHANGE_CALENDARS
from ibconsole.broker.record_text import library_log_level
from ibconsole.broker.session import Endpoint
from ibconsole.config import (
    ConfigError,
    ConnectionProfile,
    Settings,
    default_config_path,
    load_settings,
    write_example_config,
)
from ibconsole.credentials import CredentialError, find_keyring
from ibconsole.domain.clock import Clock, OffsetClock, SystemClock
from ibconsole.domain.products import product
from ibconsole.domain.trading_mode import simulator_preset
from ibconsole.journal import default_journal_path
from ibconsole.log_masking import AccountMask
from ibconsole.platform_check import exit_if_qt_cannot_start
from ibconsole.stall_watchdog import StallWatchdog
from ibconsole.ui.application import create_application, install_excepthook
from ibconsole.ui.bridge import BrokerBridge
from ibconsole.ui.context import UiContext, close_context, open_context
from ibconsole.ui.first_paint import first_paint
from ibconsole.ui.main_window import MainWindow
from ibconsole.ui.months import WATCH_LIST

if TYPE_CHECKING:
    from ibconsole.broker.signal_process import SignalProcess
    from ibconsole.sim import PaperGateway

gc.freeze()
if _COLLECTING:
    gc.enable()

log = logging.getLogger(__name__)

APP_NAME = "ibconsole"
DEMO_ACCOUNT = "DU1234567"
# Modules a click needs that the first paint does not: imported just after it, not on the click
# (the keyring's backend is found then too).
WARM_AFTER_PAINT = ("ibconsole.ui.settings",)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ibconsole",
        description=(
            "Trading console for Interactive Brokers: manual order entry with pre-trade checks, "
            "positions, futures rollover and live charts, over the TWS API."
        ),
    )
    parser.add_argument("--host", help="TWS/Gateway host (overrides the profile)")
    parser.add_argument("--port", type=_port, help="TWS/Gateway API port (overrides the profile)")
    parser.add_argument("--client-id", type=_client_id, help="API clientId (overrides the profile)")
    parser.add_argument("--profile", help="connection profile from the config file")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in paper gateway simulator (no TWS needed)",
    )
    parser.add_argument(
        "--as-of",
        type=_instant,
        help="start the clock (and the demo simulator) at this ISO instant, e.g. 2026-12-10T15:00Z",
    )
    parser.add_argument(
        "--screenshot", type=Path, help="save a PNG of the window once connected and populated"
    )
    parser.add_argument(
        "--quit-after",
        type=float,
        metavar="SECONDS",
        help="exit after this many seconds (with --screenshot: non-zero if never populated)",
    )
    parser.add_argument(
        "--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log verbosity"
    )
    parser.add_argument("--config", type=Path, help="settings file (default: platform config dir)")
    parser.add_argument(
        "--signals-port",
        type=_listen_port,
        metavar="N",
        help="turn the signal inbox's endpoint on at http://127.0.0.1:N/signals (0: a free port); "
        "the secret comes from the keyring or IBCONSOLE_SIGNAL_SECRET, never the command line",
    )
    parser.add_argument(
        "--write-example-config",
        action="store_true",
        help="write a commented settings file with every default to the --config path (or the "
        "platform config dir) and exit; an existing file is left as it is",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(list(argv))


def _port(text: str) -> int:
    value = _int(text, "port")
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 1-65535")
    return value


def _listen_port(text: str) -> int:
    value = _int(text, "port")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0-65535")
    return value


def _client_id(text: str) -> int:
    value = _int(text, "clientId")
    if value < 0:
        raise argparse.ArgumentTypeError(f"clientId {value} must be 0 or more")
    return value


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO instant such as 2026-12-10T15:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def log_path() -> Path:
    return platformdirs.user_log_path(APP_NAME, appauthor=False) / "ibconsole.log"


def configure_logging(level: str, path: Path, mask: AccountMask | None = None) -> AccountMask:
    """One rotating log file plus stderr, both behind the account mask (returned, to learn the
    session's codes as they arrive): no record of any logger reaches them with an account id."""
    mask = AccountMask() if mask is None else mask
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level)
    library_log_level(level)  # its per-order INFO lines: the console logs its own, shorter
    formatter = logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(formatter)
    stream = logging.StreamHandler()
    stream.setFormatter(formatter)
    for handler in (file_handler, stream):
        handler.addFilter(mask)
    root.handlers[:] = [file_handler, stream]
    return mask


@dataclass
class Launch:
    """What the command line and the settings decided, before anything is built."""

    args: argparse.Namespace
    settings: Settings
    profile: ConnectionProfile
    clock: Clock
    journal_path: Path

    @property
    def log_level(self) -> str:
        return str(self.args.log_level or self.settings.log_level).upper()


def plan_launch(argv: Sequence[str]) -> Launch:
    args = parse_args(argv)
    settings = load_settings(args.config)
    profile = settings.profile(args.profile)
    clock: Clock = OffsetClock(args.as_of) if args.as_of else SystemClock()
    journal_path = settings.journal_path or default_journal_path()
    if args.demo:
        # Demo orders are not trading history: they get their own journal, started afresh each
        # run since each run's simulator starts afresh (its ids would collide with the last run).
        journal_path = journal_path.with_name("demo-journal.sqlite3")
    return Launch(args, settings, profile, clock, journal_path)


def endpoint_for(launch: Launch) -> Endpoint:
    args, profile = launch.args, launch.profile
    return Endpoint(
        host=args.host or profile.host,
        port=args.port or profile.port,
        client_id=args.client_id if args.client_id is not None else profile.client_id,
        account=profile.account,
        read_only=profile.read_only,
    )


@dataclass
class Console:
    """The assembled application; ``window`` is the QMainWindow."""

    launch: Launch
    context: UiContext
    window: MainWindow
    gateway: PaperGateway | None = None
    watchdog: StallWatchdog | None = None  # on at --log-level DEBUG: names any stalling job
    signals: SignalProcess | None = None  # the signal inbox's endpoint, while it runs
    _stopped: bool = field(default=False, repr=False)

    @property
    def signals_url(self) -> str | None:
        """``http://127.0.0.1:PORT/signals`` once the signal endpoint listens, else None."""
        return self.signals.url if self.signals is not None else None

    @property
    def broker(self) -> Broker:
        return self.context.broker

    @property
    def bridge(self) -> BrokerBridge:
        return self.context.bridge

    async def start(self) -> None:
        """Show the window and connect as the arguments say (always in demo mode)."""
        args = self.launch.args
        if self.launch.log_level == "DEBUG":
            self.watchdog = StallWatchdog(asyncio.get_running_loop())
            self.watchdog.start()
        # The window paints first; what the first look does not need follows (cold start).
        self.window.show()
        await first_paint(self.window)
        if args.demo:
            # Imported here: only --demo runs the simulator, and its import costs start-up time.
            from ibconsole.sim import PaperGateway

            self.gateway = PaperGateway(seed=7, as_of=args.as_of, accounts=(DEMO_ACCOUNT,))
            await self.gateway.start("127.0.0.1", 0)
            endpoint = endpoint_for(self.launch)
            self.broker.session.set_endpoint(
                Endpoint(
                    "127.0.0.1",
                    self.gateway.port,
                    endpoint.client_id,
                    DEMO_ACCOUNT,
                    preset=simulator_preset(self.gateway.port),
                )
            )
            self.window.show_endpoint(self.broker.session.endpoint)
        self.context.inbox.restore()
        if args.demo or args.host or args.port:
            self.window.request_connect()
        # After the connect is under way: the endpoint's process takes a moment to listen.
        await self._start_signals()
        loop = asyncio.get_running_loop()
        for module in WARM_AFTER_PAINT:
            loop.call_soon(importlib.import_module, module)
        loop.call_soon(find_keyring)
        self.context.runner.start(self._settle_heap(), name="settle the heap after start-up")

    async def _start_signals(self) -> None:
        """Open the signal endpoint when ``--signals-port``, the settings or ``--demo`` ask for
        it; a demo without a secret of its own makes one up for the run (shown in the dock)."""
        args, settings = self.launch.args, self.launch.settings.signals
        port = args.signals_port
        if port is None and (settings.enabled or args.demo):
            port = settings.port
        panel = self.window.signal_inbox
        if port is None:
            return
        # Imported here: the endpoint's process is for the inbox alone (aiohttp is its own).
        from ibconsole.broker.signal_process import SignalProcess

        store = self.context.signal_secret
        try:
            secret = store.get()
        except CredentialError as error:
            log.error("signal endpoint: %s", error)
            secret = None
        demo_secret = secrets.token_urlsafe(18) if args.demo and secret is None else None
        endpoint = SignalProcess(
            settings,
            secret or demo_secret,
            self.context.broker.journal.path,
            self.context.inbox.accept,
            self.launch.clock,
            on_listening=panel.show_endpoint,
            on_down=panel.show_endpoint_down,
        )
        try:
            await endpoint.start(port)
        except OSError as error:
            log.error("the signal endpoint cannot listen on port %d: %s", port, error)
            panel.show_endpoint(None)
            return
        self.signals = endpoint
        panel.secret.sig_saved.connect(lambda: self._use_saved_secret(endpoint))
        self.window.sig_settings_applied.connect(
            lambda applied: self._use_signal_settings(endpoint, applied)
        )
        panel.show_endpoint(endpoint.url, demo_secret)

    def _use_signal_settings(self, endpoint: SignalProcess, settings: Settings) -> None:
        """The trader saved the Settings dialog: the endpoint uses its [signals] from now (the
        port of ``--signals-port`` stays)."""
        port = self.launch.args.signals_port
        self.context.runner.start(
            endpoint.apply(settings.signals, settings.signals.port if port is None else port),
            name="apply the signal settings",
        )

    def _use_saved_secret(self, endpoint: SignalProcess) -> None:
        """The trader saved a new secret in the dock: the endpoint checks against it from now."""
        try:
            endpoint.set_secret(self.context.signal_secret.get())
        except CredentialError as error:
            log.error("signal endpoint: the new secret could not be read back: %s", error)

    async def _settle_heap(self) -> None:
        """Move what start-up built out of the collector's reach once the window is populated.

        A full collection walks every live object; with the window, Qt wrappers, calendars and
        chains alive that took 50-60 ms on the loop every few seconds, a visible stall in a
        fast market. Objects made later are collected as usual.
        """
        await self.window.wait_populated()
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # Closing saves the layout and ends any gateway the console started, whatever stopped us
        # (the window, --quit-after, a screenshot run).
        self.window.close()
        if self.signals is not None:
            await self.signals.stop()
        await close_context(self.context)
        if self.gateway is not None:
            await self.gateway.stop()
        if self.watchdog is not None:
            self.watchdog.stop()
        log.info("console stopped")

    async def run(self) -> int:
        """Start, then run until the window closes or ``--quit-after`` elapses."""
        args = self.launch.args
        closed = asyncio.Event()
        self.window.sig_closed.connect(closed.set)
        await self.start()
        exit_code = 0
        try:
            if args.screenshot is not None:
                exit_code = await self._screenshot(args.screenshot, args.quit_after or 30.0)
            elif args.quit_after is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), args.quit_after)
            else:
                await closed.wait()
        finally:
            await self.stop()
        return exit_code

    async def _screenshot(self, path: Path, deadline: float) -> int:
        try:
            await asyncio.wait_for(self.window.wait_populated(), deadline)
        except TimeoutError:
            log.error("the window was not connected and populated within %.0f s", deadline)
            return 1
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.window.grab().save(str(path), "PNG"):
            log.error("could not write the screenshot to %s", path)
            return 1
        log.info("screenshot saved to %s", path)
        return 0


def build_console(argv: Sequence[str], mask: AccountMask | None = None) -> Console:
    """Build the whole console on the running qasync loop; ``await console.start()`` connects.

    ``mask`` (from ``configure_logging``) learns the account codes of every session it syncs."""
    return assemble(plan_launch(argv), mask)


def assemble(launch: Launch, mask: AccountMask | None = None) -> Console:
    if launch.args.demo:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{launch.journal_path}{suffix}").unlink(missing_ok=True)
    context = open_context(
        launch.settings,
        endpoint_for(launch),
        launch.journal_path,
        launch.clock,
        launch.profile.name,
    )
    if mask is not None:
        mask.learn((launch.profile.account, DEMO_ACCOUNT if launch.args.demo else ""))
        context.broker.session.synced += lambda info: mask.learn(info.accounts)
    return Console(launch, context, MainWindow(context))


def read_calendars_early(clock: Clock) -> None:
    """Start the calendar process on the watch list's exchange calendars before the window is
    built: it takes a second or more to import what it reads with, and does so on the other
    core while this process builds the window."""
    products = [product(symbol) for symbol in WATCH_LIST]
    EXCHANGE_CALENDARS.read_ahead(
        sorted({item.calendar for item in products}),
        sorted({item.business_calendar for item in products}),
        clock.now().date(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.write_example_config:
        try:
            written = write_example_config(args.config or default_config_path())
        except ConfigError as error:
            print(f"ibconsole: {error}", file=sys.stderr)
            return 1
        print(f"wrote {written}")
        return 0
    try:
        launch = plan_launch(argv)
    except ConfigError as error:
        print(f"ibconsole: {error}", file=sys.stderr)
        return 2
    mask = configure_logging(launch.log_level, log_path())
    # qasync picks the first Qt binding it finds; the console is built on PySide6.
    os.environ.setdefault("QT_API", "pyside6")
    import qasync

    # Say which system library is missing in words, before Qt aborts with its own message.
    exit_if_qt_cannot_start()
    read_calendars_early(launch.clock)
    app = create_application()
    # The loop is created by hand and made current: qasync's own runner would leave ib_insync
    # on another loop on Python 3.12+ (DESIGN.md section 3).
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    install_excepthook()
    try:
        with loop:
            return loop.run_until_complete(assemble(launch, mask).run())
    finally:
        EXCHANGE_CALENDARS.close()  # exit now, not after a calendar reading still under way
