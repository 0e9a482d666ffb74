"""Connect → synced: the connection panel's Connect button clicked on the shown window, until the
bridge reports the session synced (orders, positions, executions and account loaded), against
a simulator in its own process. The console's own ``SyncInfo.sync_ms`` (from the socket being
up to synced) is kept beside it, and bare ib_insync's ``connectAsync`` is in sim_throughput.

Each round disconnects with the same button and waits until the simulator has closed the
connection (its clientId is free again) before clicking Connect.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from bench import cli
from bench.console_rig import close_console, open_console, run_qasync, wait_until
from bench.peer import Peer, wait_for_peer
from bench.summary import summarize
from ibconsole.broker.session import SyncInfo
from ibconsole.domain.health import HealthState


@dataclass(frozen=True, slots=True)
class Size:
    rounds: int


SIZES = {"full": Size(rounds=20), "smoke": Size(rounds=2)}


async def _rounds(size: Size) -> dict[str, Any]:
    with Peer.start() as peer:
        console = await open_console(peer.port)
        try:
            button = console.window.findChild(QPushButton, "connectButton")
            if button is None:
                raise LookupError("the window has no connectButton")
            session = console.broker.session
            synced: list[tuple[float, SyncInfo]] = []
            console.bridge.sig_synced.connect(
                lambda info: synced.append((time.perf_counter(), info))
            )
            wall: list[float] = []
            inside: list[float] = []
            for _ in range(size.rounds):
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)
                await wait_until(lambda: session.state is HealthState.DISCONNECTED, "disconnect")
                await wait_for_peer(lambda: peer.connections() == 0, "the simulator's close")
                synced.clear()
                clicked = time.perf_counter()
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)
                await wait_until(lambda: bool(synced), "sync", within=10)
                at, info = synced[0]
                wall.append(at - clicked)
                inside.append(info.sync_ms / 1000)
        finally:
            await close_console(console)
    return {
        "rounds": size.rounds,
        "click_to_synced_ms": summarize(wall, 1000),
        "socket_to_synced_ms": summarize(inside, 1000),
    }


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    return run_qasync(lambda: _rounds(size))


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
