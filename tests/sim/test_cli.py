"""``ibconsole-sim`` as a separate process: first line, a real client, clean exit on signals,
clear errors for bad arguments."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ibconsole.broker.ib_client import IB

_SCRIPT = Path(sys.executable).with_name("ibconsole-sim")
_LINE = re.compile(r"^listening on 127\.0\.0\.1:(\d+)$")


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(_SCRIPT),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 20)).decode().rstrip("\n")


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    process = await _spawn(
        "--port", "0", "--seed", "3", "--as-of", "2025-03-04T09:00:00-06:00",
        "--account", "DU111", "--account", "DU222", "--faults-from-stdin",
    )  # fmt: skip
    try:
        first = await _line(process)
        match = _LINE.match(first)
        assert match, f"unexpected first line {first!r}"
        yield process, int(match.group(1))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serves_a_client_then_exits_cleanly_on_sigint(
    simulator: tuple[asyncio.subprocess.Process, int], wait_for: Any
) -> None:
    process, port = simulator
    ib = IB()
    disconnects: list[None] = []
    ib.disconnectedEvent += lambda: disconnects.append(None)
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=5)
    assert ib.managedAccounts() == ["DU111", "DU222"]
    moment = await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5)
    assert moment.year == 2025
    process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(process.wait(), 20) == 0
    assert process.stderr is not None
    assert b"Traceback" not in await process.stderr.read()
    await wait_for(lambda: disconnects, what="disconnectedEvent")
    assert disconnects == [None]
    assert not ib.isConnected()


async def test_fault_commands_on_stdin_and_sigterm(
    simulator: tuple[asyncio.subprocess.Process, int],
) -> None:
    process, _ = simulator
    assert process.stdin is not None
    process.stdin.write(b"reject margin\nfly away\ndelay 0.5\n")
    await process.stdin.drain()
    assert await _line(process) == "ok: next order will be rejected"
    assert (await _line(process)).startswith("error: unknown fault command 'fly'")
    assert await _line(process) == "ok: reply delay 0.5 s"
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 20) == 0


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--port", "http"], "port must be a number"),
        (["--port", "70000"], "port must be 0-65535"),
        (["--as-of", "yesterday"], "--as-of must be an ISO date"),
        (["--tick-rate", "0"], "tick rate must be above 0"),
        (["--account", "DU1,DU2"], "letters and digits"),
        (["--log-level", "LOUD"], "invalid choice"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
async def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], complaint: str) -> None:
    process = await _spawn(*args)
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 2
    assert complaint in stderr.decode()
