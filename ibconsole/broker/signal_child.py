"""The signal endpoint's own process: ``python -m ibconsole.broker.signal_child``, started by the
console (``signal_process.SignalProcess``), never by hand.

Everything it needs comes over its stdin as the first frame (``signal_pipe``): the settings, the
secret, the journal's path, the console's clock, the port and the log level; nothing of it is in
argv or the environment. It serves ``SignalEndpoint`` (its own connection to the journal, its own
thread) and sends back, over its stdout, that it listens (or why it cannot), each accepted
``Signal`` once journalled, its log records and its refusal counts when asked. It takes a new
secret or settings, and stops on ``stop``; its stdin closing means the console is gone (also when
it was killed), and it stops then too: it never outlives the console.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path

from ibconsole.broker.signal_endpoint import IDLE_TIMEOUT, SignalEndpoint
from ibconsole.broker.signal_pipe import ChildStart, PipeBroken, frame, read_frame
from ibconsole.domain.signals import Signal, SignalSettings
from ibconsole.journal.signal_log import SignalLog

log = logging.getLogger(__name__)


class _Sender:
    """Frames to the console, from the process's loop and the endpoint's thread alike. A console
    that is gone is not an error here: the closing stdin ends the process."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, *message: object) -> None:
        data = memoryview(frame(*message))
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError:  # the console closed its end: it is gone, the stdin says so too
                return


class _PipeLogHandler(logging.Handler):
    """The process's log records, as text, to the console's log (its handlers, its masking)."""

    def __init__(self, sender: _Sender) -> None:
        super().__init__()
        self._sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text = f"{text}\n{logging.Formatter().formatException(record.exc_info)}"
            self._sender.send("log", record.levelno, record.name, text)
        except Exception:  # a record that cannot be sent must not stop the endpoint
            self.handleError(record)


async def serve(reader: asyncio.StreamReader, sender: _Sender) -> int:
    """Serve as the first frame says until ``stop`` or the end of ``reader``; the exit code."""
    first = await read_frame(reader)
    if first is None or first[0] != "start" or not isinstance(first[1], ChildStart):
        return 2
    start: ChildStart = first[1]
    root = logging.getLogger()
    root.addHandler(_PipeLogHandler(sender))
    root.setLevel(start.log_level)
    signal_log = SignalLog(Path(start.journal))

    def accept(signal: Signal) -> None:
        sender.send("signal", signal)

    endpoint = SignalEndpoint(
        start.settings,
        start.secret,
        signal_log,
        accept,
        start.clock,
        idle_timeout=IDLE_TIMEOUT if start.idle_timeout is None else start.idle_timeout,
    )
    try:
        await endpoint.start(start.port)
    except OSError as error:
        sender.send("failed", error.errno, error.strerror or str(error))
        signal_log.close()
        return 1
    sender.send("listening", endpoint.port, endpoint.url)
    try:
        while (message := await read_frame(reader)) is not None and message[0] != "stop":
            _obey(endpoint, sender, message)
    except PipeBroken as broken:
        log.error("the console's pipe to the signal endpoint broke: %s", broken)
    finally:
        await endpoint.stop()  # what was accepted is handed over (sent) before it returns
        signal_log.close()
        sender.send("stopped")
    return 0


def _obey(endpoint: SignalEndpoint, sender: _Sender, message: tuple[object, ...]) -> None:
    kind, *values = message
    if kind == "secret" and values and (values[0] is None or isinstance(values[0], str)):
        endpoint.set_secret(values[0])
    elif kind == "settings" and values and isinstance(values[0], SignalSettings):
        endpoint.apply(values[0])
        sender.send("applied")
    elif kind == "refusals":
        sender.send("refusals", dict(endpoint.refusals))
    else:
        log.error("the signal endpoint got a message it does not know: %r", kind)


async def _main() -> int:
    # Frames go on a private copy of stdout; fd 1 becomes stderr, so a stray print cannot
    # corrupt them.
    sender = _Sender(os.dup(1))
    os.dup2(2, 1)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return await serve(reader, sender)


def main() -> int:
    """The process's entry point (also the bundle's ``ibconsole-signal-endpoint``)."""
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
