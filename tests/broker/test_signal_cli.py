"""``ibconsole-signal`` as a process against the real endpoint: the secret from the environment
only, the console's answer printed, the exit status 0 only for 202."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from ibconsole.broker.signal_endpoint import SignalEndpoint
from ibconsole.config import SIGNAL_SECRET_VARIABLE
from ibconsole.domain.clock import SystemClock
from ibconsole.domain.signals import Signal, SignalAction, SignalSettings
from ibconsole.journal.signal_log import SignalLog

CLI = Path(sys.executable).with_name("ibconsole-signal")
SECRET = "cli-test-secret-Vb7nQ2xw"


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[tuple[SignalEndpoint, list[Signal]]]:
    accepted: list[Signal] = []
    log = SignalLog(tmp_path / "journal.sqlite3")
    served = SignalEndpoint(SignalSettings(), SECRET, log, accepted.append, SystemClock())
    await served.start(0)
    yield served, accepted
    await served.stop()
    log.close()


async def run(port: int, *args: str, secret: str | None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != SIGNAL_SECRET_VARIABLE}
    if secret is not None:
        env[SIGNAL_SECRET_VARIABLE] = secret
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        "--port",
        str(port),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def port_of(endpoint: SignalEndpoint) -> int:
    url = endpoint.url
    assert url is not None
    return int(url.rsplit(":", 1)[1].split("/")[0])


async def test_a_test_signal_is_queued(endpoint: tuple[SignalEndpoint, list[Signal]]) -> None:
    served, accepted = endpoint
    code, out, _ = await run(
        port_of(served),
        "--symbol",
        "ES1!",
        "--action",
        "sell",
        "--quantity",
        "2",
        "--id",
        "cli-1",
        secret=SECRET,
    )
    assert (code, out.strip()) == (0, "202 waiting in the inbox for a trader")
    (signal,) = accepted
    assert (signal.key, signal.symbol, signal.action, signal.quantity) == (
        "id:cli-1",
        "ES1!",
        SignalAction.SELL,
        2,
    )
    assert signal.source == "ibconsole-signal"
    assert isinstance(signal.sent_at, datetime)
    again = await run(port_of(served), "--id", "cli-1", secret=SECRET)
    assert again[:2] == (1, "409 id:cli-1 was already received\n")


async def test_a_wrong_secret_prints_the_refusal(
    endpoint: tuple[SignalEndpoint, list[Signal]],
) -> None:
    served, accepted = endpoint
    code, out, _ = await run(port_of(served), secret=SECRET + "x")
    assert (code, out.strip()) == (1, "401 the secret is missing or wrong")
    assert accepted == []


async def test_without_the_environment_variable_nothing_is_posted(
    endpoint: tuple[SignalEndpoint, list[Signal]],
) -> None:
    served, accepted = endpoint
    code, out, err = await run(port_of(served), secret=None)
    assert code == 2
    assert out == ""
    assert SIGNAL_SECRET_VARIABLE in err
    assert accepted == []
    assert served.refusals == {}
