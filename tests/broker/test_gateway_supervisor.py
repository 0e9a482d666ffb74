"""The gateway supervisor: a profile's command started with the login from the keyring (a real,
in-memory keyring backend), one launcher per profile, restarted on another endpoint, ended
on stop; a missing login refuses before anything starts."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from ibconsole.broker.gateway_supervisor import GatewaySupervisor
from ibconsole.broker.launcher import port_accepts
from ibconsole.config import ConnectionProfile
from ibconsole.credentials import CredentialError, CredentialStore, Login

SIM = Path(sys.executable).with_name("ibconsole-sim")

STAND_IN = """\
import json, os, sys
record, sim, port = sys.argv[1], sys.argv[2], sys.argv[3]
with open(record, "a", encoding="utf-8") as out:
    out.write(json.dumps({"port": port, "user": os.environ.get("TWS_USERID")}) + "\\n")
os.execv(sim, [sim, "--port", port, "--log-level", "WARNING"])
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def profile(tmp_path: Path, port: int, keyring_entry: str = "gw-login") -> ConnectionProfile:
    script = tmp_path / "start-gateway.py"
    script.write_text(STAND_IN, encoding="utf-8")
    record = tmp_path / "record.jsonl"
    command = (sys.executable, str(script), str(record), str(SIM), str(port))
    return ConnectionProfile(
        "gateway", port=port, gateway_command=command, keyring_entry=keyring_entry
    )


def launches(tmp_path: Path) -> list[dict[str, Any]]:
    record = tmp_path / "record.jsonl"
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


async def test_a_missing_login_is_refused_before_anything_starts(
    tmp_path: Path, memory_keyring: Any
) -> None:
    supervisor = GatewaySupervisor(CredentialStore())
    port = free_port()

    with pytest.raises(CredentialError, match="No login is stored under keyring entry 'gw-login'"):
        await supervisor.ensure_running(profile(tmp_path, port), "127.0.0.1", port)

    assert supervisor.launchers == {}
    assert launches(tmp_path) == []


async def test_the_command_starts_once_with_the_stored_login_and_stops(
    tmp_path: Path, memory_keyring: Any
) -> None:
    credentials = CredentialStore()
    port = free_port()
    chosen = profile(tmp_path, port)
    credentials.set(chosen, Login("trader7", "pw-in-keyring"))
    supervisor = GatewaySupervisor(credentials)
    ready: list[bool] = []
    supervisor.ready += lambda: ready.append(True)
    try:
        await supervisor.ensure_running(chosen, "127.0.0.1", port)
        await supervisor.ensure_running(chosen, "127.0.0.1", port)  # already up: nothing new

        assert await port_accepts("127.0.0.1", port)
        assert launches(tmp_path) == [{"port": str(port), "user": "trader7"}]
        assert ready == [True]
        assert list(supervisor.launchers) == ["gateway"]
    finally:
        await supervisor.stop()
    assert supervisor.launchers == {}
    assert not await port_accepts("127.0.0.1", port)


async def test_another_endpoint_for_the_profile_replaces_its_gateway(
    tmp_path: Path, memory_keyring: Any
) -> None:
    first_port, second_port = free_port(), free_port()
    supervisor = GatewaySupervisor(CredentialStore())
    try:
        await supervisor.ensure_running(
            profile(tmp_path, first_port, keyring_entry=""), "127.0.0.1", first_port
        )
        first = supervisor.launchers["gateway"]
        await supervisor.ensure_running(
            profile(tmp_path, second_port, keyring_entry=""), "127.0.0.1", second_port
        )

        assert supervisor.launchers["gateway"] is not first
        assert not first.running
        assert not await port_accepts("127.0.0.1", first_port)
        assert await port_accepts("127.0.0.1", second_port)
        assert [r["user"] for r in launches(tmp_path)] == [None, None]
    finally:
        await supervisor.stop()
