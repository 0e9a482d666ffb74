"""The signal inbox's endpoint in a process of its own (``signal_child``), so that what it serves,
a flood of bad requests among it, costs the console's loop nothing.

On a thread of the console's process a flood still did: 1,000 refusals a second took the
endpoint's thread about 0.4 ms of CPU each, and under the interpreter's lock the GUI thread's
jobs took about twice their CPU in wall time. The child answers, refuses, counts, rate-limits
and journals (its own connection to the same journal file) exactly as ``SignalEndpoint`` does;
the console hears only what it must: that the child listens, each accepted ``Signal`` (read from
a pipe by the loop, never waiting on it), the child's log records, and its refusal counts when
asked.

The child gets its settings and the secret over its stdin, never argv or the environment (its
environment is a short list of harmless variables). It runs in a session of its own (a Ctrl-C
in the terminal is the console's to handle) and ends when its stdin closes, so it never outlives
the console, also when the console is killed. A child that ends unasked is logged, reported
through ``on_down`` and started again on the same port, after a delay that doubles up to
``RESTART_DELAY_MAX``; ``on_listening`` reports it back. What it journalled (and answered 202)
but had not handed over when it ended is read back from the journal and handed over then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final

from ibconsole.broker.signal_pipe import ChildStart, PipeBroken, frame, read_frame
from ibconsole.domain.clock import Clock
from ibconsole.domain.signals import Signal, SignalSettings
from ibconsole.journal.errors import JournalError
from ibconsole.journal.signal_log import SignalLog

log = logging.getLogger(__name__)

CHILD_MODULE: Final = "ibconsole.broker.signal_child"
BUNDLED_CHILD: Final = "ibconsole-signal-endpoint"
START_TIMEOUT: Final = 30.0  # seconds for the child to listen (or say why not)
STOP_TIMEOUT: Final = 5.0  # seconds for the child to hand over what it holds and end
RESTART_DELAY: Final = 1.0
RESTART_DELAY_MAX: Final = 30.0
# All the child's environment: enough for the interpreter and its locale (and, on Windows, for
# it to start at all), nothing of the console's (a secret or a gateway login may be in there).
_PASSED_ENVIRONMENT: Final = (
    *("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"),
    *("SYSTEMROOT", "TEMP", "TMP"),
)


def _nothing(_: str) -> None:
    pass


class SignalProcess:
    """``POST /signals`` served by a child process; ``await start(port)``, ``await stop()``.

    ``accept`` runs on the loop that called ``start``, for each signal once the child has
    journalled it, in the order the child accepted them."""

    def __init__(
        self,
        settings: SignalSettings,
        secret: str | None,
        journal: Path,
        accept: Callable[[Signal], None],
        clock: Clock,
        *,
        on_listening: Callable[[str], None] = _nothing,
        on_down: Callable[[str], None] = _nothing,
        idle_timeout: float | None = None,
        restart_delay: float = RESTART_DELAY,
    ) -> None:
        self._settings = settings
        self._secret = secret
        self._journal = journal
        self._accept = accept
        self._clock = clock
        self._on_listening = on_listening
        self._on_down = on_down
        self._idle_timeout = idle_timeout
        self._restart_delay = restart_delay
        self._asked_port = 0  # the port asked for (0: any free one)
        self._port: int | None = None  # the port the child listens on, while it does
        self._restart_port = 0  # where a child that ended unasked starts again: its own port
        self._url: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._relay: asyncio.Task[None] | None = None
        self._restart: asyncio.Task[None] | None = None
        self._wanted = False  # between start and stop: a child that ends is started again
        # questions to the child not yet answered: it answers each in turn
        self._replies: deque[asyncio.Future[tuple[object, ...]]] = deque()

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:PORT/signals`` while the child listens, else None."""
        return self._url

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    async def start(self, port: int) -> None:
        """Start the child listening at ``port`` (0: a free one, see ``url``); returns once it
        listens, raises ``OSError`` when it cannot (the child has ended then)."""
        if self._process is not None:
            return
        self._asked_port = port
        await self._spawn(port)
        self._wanted = True
        log.info("signal endpoint listening on %s (process %s)", self.url, self.pid)

    async def stop(self) -> None:
        """Stop the child: it closes the port, hands over what it accepted and ends."""
        self._wanted = False
        restart, self._restart = self._restart, None
        if restart is not None:
            restart.cancel()
            await asyncio.wait([restart])  # a child it was starting is ended with it
        if self._process is None:
            return
        await self._end_child()
        log.info("signal endpoint stopped")

    def set_secret(self, secret: str | None) -> None:
        """Use ``secret`` from the next request the child reads after this message on (read once
        from the keyring, not per request)."""
        self._secret = secret
        self._send("secret", secret)

    async def apply(self, settings: SignalSettings, port: int) -> None:
        """Use ``settings`` and ``port`` from now on; returns once they are in use. The rate, the
        symbols and a smaller body limit reach the child as it runs; a new port or a larger body
        limit start a new child (the port is closed for that moment). Raises nothing: a new port
        that cannot be bound is reported through ``on_down``."""
        before, self._settings = self._settings, settings
        if self._process is None:  # stopped, or a restart is due: that uses them
            if port != self._asked_port:
                self._asked_port = self._restart_port = port
            return
        if port == self._asked_port and settings.max_body_bytes <= before.max_body_bytes:
            with contextlib.suppress(ConnectionError):  # it ended: it starts again with them
                await self._ask("settings", settings)
            return
        self._asked_port = port
        await self._end_child()
        if not self._wanted:  # stopped meanwhile
            return
        try:
            await self._spawn(port)
        except OSError as error:
            self._report_down(f"The signal endpoint cannot listen on port {port}: {error}")
            return
        log.info("signal endpoint listening on %s with the new settings", self.url)
        self._report_listening()

    async def refusals(self) -> Counter[int]:
        """Refused requests by answer code since the child started; raises ``ConnectionError``
        when no child runs (or it ends before it answers)."""
        _, counts = await self._ask("refusals")
        if not isinstance(counts, dict):
            raise PipeBroken(f"refusal counts that are not a dict: {type(counts).__name__}")
        return Counter(counts)

    async def _ask(self, *message: object) -> tuple[object, ...]:
        """Send ``message``; the child's answer to it."""
        if self._process is None:
            raise ConnectionError("the signal endpoint is not running")
        answer: asyncio.Future[tuple[object, ...]] = asyncio.get_running_loop().create_future()
        self._replies.append(answer)
        self._send(*message)
        return await answer

    # ------------------------------------------------------------------ the child
    async def _spawn(self, port: int) -> None:
        started = self._clock.now()  # what the child journals is stamped after this
        try:
            process = await asyncio.create_subprocess_exec(
                *child_command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=child_environment(os.environ),
                start_new_session=True,
            )
        except OSError as error:
            raise OSError(error.errno, f"the endpoint's process cannot start: {error}") from None
        assert process.stdin is not None
        assert process.stdout is not None
        start = ChildStart(
            self._settings,
            self._secret,
            str(self._journal),
            self._clock,
            port,
            self._idle_timeout,
            logging.getLogger("ibconsole").getEffectiveLevel(),
        )
        process.stdin.write(frame("start", start))
        try:
            async with asyncio.timeout(START_TIMEOUT):
                message = await self._first_answer(process)
        except TimeoutError:
            message = ("failed", None, f"it did not listen within {START_TIMEOUT:g} s")
        except BaseException:  # cancelled (the console stops meanwhile): no child is left behind
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        if message[0] != "listening" or not isinstance(message[1], int):
            await _kill(process)
            reason = str(message[-1])
            raise OSError(message[1], reason) if isinstance(message[1], int) else OSError(reason)
        self._process, self._port, self._url = process, message[1], str(message[2])
        self._relay = asyncio.get_running_loop().create_task(
            self._read_child(process, started), name="signal endpoint's pipe"
        )

    @staticmethod
    async def _first_answer(process: asyncio.subprocess.Process) -> tuple[object, ...]:
        """``("listening", port, url)`` or ``("failed", errno, reason)``; log records come
        first."""
        assert process.stdout is not None
        while True:
            try:
                message = await read_frame(process.stdout)
            except PipeBroken as broken:
                return ("failed", None, f"its pipe broke: {broken}")
            if message is None:
                code = await process.wait()
                return ("failed", None, f"its process ended (exit code {code}) before it listened")
            if message[0] == "log":
                _relog(message)
                continue
            return message

    async def _read_child(self, process: asyncio.subprocess.Process, started: datetime) -> None:
        """Take the child's messages until its pipe closes; a child that ends unasked is
        reported and started again."""
        assert process.stdout is not None
        handed: set[str] = set()  # the keys of the signals it handed over
        try:
            while (message := await read_frame(process.stdout)) is not None:
                self._take(message, handed)
        except PipeBroken as broken:
            log.error("the signal endpoint's pipe broke: %s", broken)
            await _kill(process)
        code = await process.wait()
        if code != 0:
            self._hand_over_lost(started, handed)
        if process is not self._process or not self._wanted:  # stopped or replaced on purpose
            return
        self._restart_port = self._port or self._asked_port
        self._forget_child()
        when = self._restart_delay
        self._report_down(
            f"The signal endpoint's process ended unexpectedly (exit code {code}); "
            f"starting it again in {when:g} s"
        )
        self._restart = asyncio.get_running_loop().create_task(
            self._start_again(when), name="restart the signal endpoint"
        )

    def _take(self, message: tuple[object, ...], handed: set[str]) -> None:
        kind = message[0]
        if kind == "signal" and isinstance(message[1], Signal):
            handed.add(message[1].key)
            self._hand_over(message[1])
        elif kind == "log":
            _relog(message)
        elif kind in ("refusals", "applied") and self._replies:
            answer = self._replies.popleft()
            if not answer.done():
                answer.set_result(message)
        elif kind != "stopped":
            log.error("the signal endpoint sent a message the console does not know: %r", kind)

    def _hand_over(self, signal: Signal) -> None:
        try:
            self._accept(signal)
        except Exception:
            log.exception("the inbox could not take signal %s", signal.key)

    def _hand_over_lost(self, started: datetime, handed: set[str]) -> None:
        """The signals a child that ended abruptly journalled (and answered 202) but did not
        hand over, read back from the journal: the inbox has them now, not at the next start."""
        try:
            with SignalLog(self._journal) as journal:
                lost = [item.signal for item in journal.since(started)]
        except JournalError as error:
            log.error("the signals of the ended endpoint cannot be read back: %s", error)
            return
        for signal in lost:
            if signal.key not in handed:
                log.warning("signal %s was journalled before the endpoint ended", signal.key)
                self._hand_over(signal)

    async def _start_again(self, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            port = self._restart_port
            try:
                await self._spawn(port)
            except OSError as error:
                delay = min(delay * 2, RESTART_DELAY_MAX)
                self._report_down(
                    f"The signal endpoint cannot start again on port {port}: {error}; "
                    f"trying again in {delay:g} s"
                )
                continue
            self._restart = None
            log.info("signal endpoint listening again on %s (process %s)", self.url, self.pid)
            self._report_listening()
            return

    async def _end_child(self) -> None:
        process, relay = self._process, self._relay
        self._forget_child()
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.write(frame("stop"))
                process.stdin.close()
            async with asyncio.timeout(STOP_TIMEOUT):
                if relay is not None:
                    await relay  # what the child accepted until now reaches ``accept``
                await process.wait()
        except (ConnectionError, TimeoutError):
            log.error("the signal endpoint's process did not end when asked; killed")
            await _kill(process)

    def _forget_child(self) -> None:
        self._process, self._port, self._url = None, None, None
        while self._replies:
            self._replies.popleft().set_exception(
                ConnectionError("the signal endpoint ended before it answered")
            )

    def _send(self, *message: object) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return  # a child started later gets the settings and the secret as it starts
        process.stdin.write(frame(*message))

    def _report_listening(self) -> None:
        if self.url is not None:
            self._on_listening(self.url)

    def _report_down(self, reason: str) -> None:
        log.error("%s", reason)
        self._on_down(reason)


def child_command() -> list[str]:
    """How the child is run: this interpreter on ``signal_child``, or in the desktop bundle the
    ``ibconsole-signal-endpoint`` executable beside the console's."""
    if getattr(sys, "frozen", False):
        suffix = ".exe" if sys.platform == "win32" else ""
        return [str(Path(sys.executable).with_name(f"{BUNDLED_CHILD}{suffix}"))]
    # -P: the console's working directory is not a place to import from
    return [sys.executable, "-P", "-m", CHILD_MODULE]


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The child's whole environment: the few variables the interpreter needs, nothing else."""
    passed = {name: environ[name] for name in _PASSED_ENVIRONMENT if name in environ}
    # Where this ibconsole is, so the child imports the same one however the console was run.
    passed["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return passed


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
        process.kill()
    await process.wait()


def _relog(message: tuple[object, ...]) -> None:
    """A record of the child's, to the console's log under its own logger's name."""
    _, level, name, text = message
    if isinstance(level, int) and isinstance(name, str):
        logging.getLogger(name).log(level, "%s", text)
