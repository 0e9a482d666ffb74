"""The gateway launcher: start IB Gateway or TWS from a profile's command, wait until its API port
accepts connections, and start it again whenever it exits (the daily restart), until stopped.

The login from the OS keyring reaches the command only through its environment, as
``TWS_USERID`` and ``TWS_PASSWORD`` (the names the common IB Gateway containers and IBC wrapper
scripts read). It never appears in the command line, a file or a log record: the command's own
output is logged with the password blanked out, in case it echoes its environment.

Events (eventkit, emitted on the loop thread):
    started(int)     the command runs with this process id
    ready()          its API port accepts TCP connections
    exited(int)      the command exited with this return code (negative: killed by that signal)
    failed(str)      a start or restart did not bring the port up; the sentence says why
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from ibconsole.broker.ib_client import Event
from ibconsole.credentials import Login
from ibconsole.domain.health import Backoff, BackoffPolicy

log = logging.getLogger(__name__)

USERNAME_VARIABLE = "TWS_USERID"
PASSWORD_VARIABLE = "TWS_PASSWORD"

_POLL_SECONDS = 0.25
_CONNECT_TIMEOUT = 1.0
# IB Gateway needs a minute or more to log in; a start that outlasts this is reported.
DEFAULT_PORT_TIMEOUT = 180.0
DEFAULT_RESTART_BACKOFF = BackoffPolicy(
    min_delay=timedelta(seconds=2), max_delay=timedelta(seconds=60)
)


class LauncherError(RuntimeError):
    """The gateway command could not be started or its port never accepted connections."""


def gateway_environment(login: Login | None, base: Mapping[str, str]) -> dict[str, str]:
    """The command's environment: the console's own, plus the login when there is one."""
    env = dict(base)
    if login is not None:
        env[USERNAME_VARIABLE] = login.username
        env[PASSWORD_VARIABLE] = login.password
    return env


async def port_accepts(host: str, port: int) -> bool:
    """True when a TCP connection to host:port opens (it is closed again at once)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), _CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class GatewayLauncher:
    """Runs one gateway command for one API endpoint; ``start`` once, ``stop`` on shutdown."""

    def __init__(
        self,
        command: Sequence[str],
        host: str,
        port: int,
        login: Login | None = None,
        *,
        port_timeout: float = DEFAULT_PORT_TIMEOUT,
        restart_backoff: BackoffPolicy = DEFAULT_RESTART_BACKOFF,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not command or not all(isinstance(word, str) and word for word in command):
            raise LauncherError(
                f"A gateway command must be a non-empty list of words, got {list(command)!r}"
            )
        self.command = tuple(command)
        self.host = host
        self.port = port
        self._login = login
        self._port_timeout = port_timeout
        self._backoff = Backoff(restart_backoff, rng or random.Random())
        self._environ = os.environ if environ is None else environ
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._ready = False
        self.restarts = 0

        self.started = Event("started")
        self.ready = Event("ready")
        self.exited = Event("exited")
        self.failed = Event("failed")

    def __repr__(self) -> str:
        return f"GatewayLauncher({list(self.command)!r}, {self.host}:{self.port})"

    # ------------------------------------------------------------------ queries
    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def is_ready(self) -> bool:
        return self._ready

    # ----------------------------------------------------------------- commands
    async def start(self) -> None:
        """Start the command and return once its port accepts connections.

        Raises ``LauncherError`` when it cannot start, exits first, or the port stays closed
        for ``port_timeout`` seconds (the command is then stopped). Afterwards the launcher
        restarts the command whenever it exits, until ``stop``.
        """
        if self._supervisor is not None:
            if self._ready:
                return
            raise LauncherError(f"{self.command[0]} is already being started")
        self._stopping = False
        if await port_accepts(self.host, self.port):
            raise LauncherError(
                f"Port {self.host}:{self.port} is already in use by another program; stop it or "
                "choose another port before starting the gateway command"
            )
        try:
            await self._launch()
        except BaseException:
            await self._terminate()
            raise
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name=f"gateway launcher {self.host}:{self.port}"
        )

    def terminate(self) -> None:
        """Stop supervising and send SIGTERM now, without waiting: for shutdown paths that
        cannot await (a closing window). ``stop`` afterwards waits for the exit."""
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
        process = self._process
        if process is not None and process.returncode is None:
            self._signal(process, signal.SIGTERM)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop supervising, then end the command (SIGTERM, SIGKILL after ``grace`` seconds)."""
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        await self._terminate(grace)
        log.info("gateway command stopped")

    # ------------------------------------------------------------------ private
    async def _launch(self) -> None:
        self._ready = False
        env = gateway_environment(self._login, self._environ)
        log.info(
            "starting gateway command %s for %s:%s%s",
            self.command[0],
            self.host,
            self.port,
            " with the stored login in its environment" if self._login else "",
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                # Its own process group, so stop() also ends what a start script spawned.
                start_new_session=sys.platform != "win32",
            )
        except OSError as error:
            raise LauncherError(
                f"The gateway command {self.command[0]} could not be started: {error.strerror}"
            ) from None
        except ValueError as error:  # e.g. a NUL byte inside one of the command's words
            raise LauncherError(
                f"The gateway command {self.command[0]!r} cannot be run: {error}"
            ) from None
        self._process = process
        if process.stdout is not None:
            reader = asyncio.get_running_loop().create_task(self._relay(process.stdout))
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        self.started.emit(process.pid)
        await self._wait_for_port(process)
        self._ready = True
        log.info("gateway port %s:%s accepts connections", self.host, self.port)
        self.ready.emit()

    async def _wait_for_port(self, process: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + self._port_timeout
        while True:
            if process.returncode is not None:
                raise LauncherError(
                    f"The gateway command {self.command[0]} exited with code "
                    f"{process.returncode} before port {self.host}:{self.port} accepted "
                    "connections"
                )
            if await port_accepts(self.host, self.port):
                return
            if time.monotonic() > deadline:
                raise LauncherError(
                    f"Port {self.host}:{self.port} did not accept connections within "
                    f"{self._port_timeout:g} s of starting {self.command[0]}; check that the "
                    "command starts IB Gateway/TWS with its API on this port"
                )
            await asyncio.sleep(_POLL_SECONDS)

    async def _supervise(self) -> None:
        """Restart the command whenever it exits, backing off while restarts keep failing."""
        while not self._stopping:
            process = self._process
            if process is None:
                return
            code = await process.wait()
            self._ready = False
            if self._stopping:
                return
            log.warning("gateway command exited with code %s; starting it again", code)
            self.exited.emit(code)
            while not self._stopping:
                delay = self._backoff.next_delay().total_seconds()
                await asyncio.sleep(delay)
                try:
                    await self._launch()
                except LauncherError as error:
                    log.error("gateway restart failed: %s", error)
                    self.failed.emit(str(error))
                    await self._terminate()
                    continue
                self.restarts += 1
                self._backoff.reset()
                break

    async def _relay(self, stream: asyncio.StreamReader) -> None:
        # A start script may echo its environment: neither half of the login reaches the log.
        login = self._login
        secrets = [s for s in (login.password, login.username) if s] if login is not None else []
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            for secret in secrets:
                text = text.replace(secret, "********")
            log.debug("gateway: %s", text)

    async def _terminate(self, grace: float = 10.0) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        self._signal(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            log.warning("gateway command ignored SIGTERM for %g s; killing it", grace)
            self._signal(process, signal.SIGKILL if sys.platform != "win32" else signal.SIGTERM)
            await process.wait()
        # The output pipe closes when the last process holding it ends; do not wait forever
        # for a grandchild that escaped the process group.
        readers = list(self._readers)
        if readers:
            _, late = await asyncio.wait(readers, timeout=grace)
            for reader in late:
                reader.cancel()

    @staticmethod
    def _signal(process: asyncio.subprocess.Process, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if sys.platform == "win32":
                process.terminate()
            else:
                os.killpg(process.pid, number)
