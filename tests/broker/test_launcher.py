"""The gateway launcher against a stand-in command that starts ``ibconsole-sim``.

The stand-in writes what it received (environment and argv) to a file, then replaces itself
with the simulator, so the process the launcher watches is the one serving the port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ibconsole.broker.launcher import (
    PASSWORD_VARIABLE,
    USERNAME_VARIABLE,
    GatewayLauncher,
    LauncherError,
    port_accepts,
)
from ibconsole.credentials import Login
from ibconsole.domain.health import BackoffPolicy

SIM = Path(sys.executable).with_name("ibconsole-sim")
LOGIN = Login("trader7", "s3cret-Pa55")
FAST = BackoffPolicy(min_delay=timedelta(seconds=0.1), max_delay=timedelta(seconds=0.5))

STAND_IN = """\
import json, os, sys
record, sim, port = sys.argv[1], sys.argv[2], sys.argv[3]
with open(record, "a", encoding="utf-8") as out:
    out.write(json.dumps({
        "pid": os.getpid(),
        "user": os.environ.get("TWS_USERID"),
        "password": os.environ.get("TWS_PASSWORD"),
        "argv": sys.argv,
    }) + "\\n")
os.execv(sim, [sim, "--port", port, "--log-level", "WARNING"])
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "start-gateway.py"
    script.write_text(STAND_IN, encoding="utf-8")
    return script, tmp_path / "record.jsonl"


@pytest.fixture
async def launcher(stand_in: tuple[Path, Path]) -> AsyncIterator[GatewayLauncher]:
    script, record = stand_in
    port = free_port()
    command = [sys.executable, str(script), str(record), str(SIM), str(port)]
    gateway = GatewayLauncher(
        command, "127.0.0.1", port, LOGIN, port_timeout=15, restart_backoff=FAST
    )
    yield gateway
    await gateway.stop(grace=5)


def test_the_stand_in_uses_the_installed_simulator() -> None:
    assert SIM.is_file(), f"ibconsole-sim is not installed next to {sys.executable}"


async def test_start_waits_until_the_port_answers_and_passes_the_login_only_in_the_environment(
    launcher: GatewayLauncher, stand_in: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="ibconsole")
    ready: list[bool] = []
    launcher.ready += lambda: ready.append(True)
    await launcher.start()
    assert launcher.is_ready
    assert ready == [True]
    assert await port_accepts("127.0.0.1", launcher.port)
    (seen,) = records(stand_in[1])
    assert seen["user"] == LOGIN.username
    assert seen["password"] == LOGIN.password
    assert LOGIN.password not in " ".join(seen["argv"])
    assert LOGIN.password not in " ".join(launcher.command)
    assert launcher.pid == seen["pid"]
    assert LOGIN.password not in cmdline(seen["pid"])
    assert "ibconsole-sim" in cmdline(seen["pid"])
    assert LOGIN.password not in caplog.text
    assert USERNAME_VARIABLE == "TWS_USERID"
    assert PASSWORD_VARIABLE == "TWS_PASSWORD"
    assert LOGIN.password not in repr(launcher)
    assert PASSWORD_VARIABLE not in os.environ


@pytest.mark.expect_log_warnings
async def test_a_killed_gateway_is_started_again(
    launcher: GatewayLauncher, stand_in: tuple[Path, Path], wait_for: Any
) -> None:
    exits: list[int] = []
    launcher.exited += exits.append
    await launcher.start()
    first = launcher.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await wait_for(lambda: launcher.restarts == 1, timeout=15, what="the gateway restart")
    assert exits == [-signal.SIGKILL]
    assert launcher.is_ready
    assert launcher.pid not in (None, first)
    assert await port_accepts("127.0.0.1", launcher.port)
    assert [r["user"] for r in records(stand_in[1])] == [LOGIN.username, LOGIN.username]


async def test_stop_ends_the_gateway_and_does_not_restart_it(launcher: GatewayLauncher) -> None:
    await launcher.start()
    pid = launcher.pid
    await launcher.stop(grace=5)
    assert not launcher.running
    assert launcher.restarts == 0
    assert not await port_accepts("127.0.0.1", launcher.port)
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_port_that_never_opens_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    # A gateway that starts and then waits for a signal without ever opening its port.
    silent = [sys.executable, "-c", "import signal; signal.pause()"]
    gateway = GatewayLauncher(silent, "127.0.0.1", port, None, port_timeout=0.6)
    with pytest.raises(LauncherError, match=rf"127.0.0.1:{port} did not accept connections"):
        await gateway.start()
    assert not gateway.running


async def test_a_command_that_exits_before_the_port_opens_is_a_clear_error() -> None:
    gateway = GatewayLauncher(
        [sys.executable, "-c", "raise SystemExit(3)"], "127.0.0.1", free_port(), None
    )
    with pytest.raises(LauncherError, match="exited with code 3 before port"):
        await gateway.start()


async def test_a_missing_command_is_a_clear_error(tmp_path: Path) -> None:
    gateway = GatewayLauncher([str(tmp_path / "no-such-gateway")], "127.0.0.1", free_port())
    with pytest.raises(LauncherError, match="could not be started"):
        await gateway.start()


async def test_a_port_already_in_use_is_refused(gateway: Any) -> None:
    launcher = GatewayLauncher([sys.executable, "-c", "pass"], "127.0.0.1", gateway.port)
    with pytest.raises(LauncherError, match="already in use"):
        await launcher.start()
    assert not launcher.running


def test_an_empty_command_is_refused() -> None:
    with pytest.raises(LauncherError, match="non-empty list"):
        GatewayLauncher([], "127.0.0.1", 4002)


async def test_terminate_signals_at_once_and_nothing_restarts(launcher: GatewayLauncher) -> None:
    exits: list[int] = []
    launcher.exited += exits.append
    await launcher.start()
    pid = launcher.pid
    assert pid is not None
    launcher.terminate()
    await launcher.stop(grace=5)
    assert exits == []
    assert launcher.restarts == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
