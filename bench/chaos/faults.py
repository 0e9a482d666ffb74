"""The gateway's faults: dropped and reset connections, a silent or slow gateway, 1100/1101/1102,
farm flaps, a second client holding the clientId, rejects, pacing, partial fills, delayed data."""

from __future__ import annotations

from bench.chaos.scene import SETTLE, Scene
from bench.stress_rig import CLIENT_ID, HOST, until
from ibconsole.broker.ib_client import IB


class FaultSteps:
    VERBS = (
        "drop",
        "reset",
        "stall",
        "resume",
        "delay",
        "undelay",
        "lose",
        "restore",
        "flap",
        "steal_id",
        "release_id",
        "reject",
        "pace",
        "partial",
        "delayed",
        "live",
    )

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.faults = scene.gw.faults
        self._holder: IB | None = None

    async def close(self) -> None:
        await self.release_id()

    def heal(self) -> None:
        """Everything back to normal, but for the clientId another client may hold."""
        faults = self.faults
        faults.cancel_pending()
        faults.resume_answering()
        faults.delay_replies(0)
        faults.delayed_data_only(False)
        if not faults.connectivity:
            faults.restore_connectivity(True)

    async def drop(self) -> None:
        self.faults.drop(CLIENT_ID)

    async def reset(self) -> None:
        self.faults.reset(CLIENT_ID)

    async def stall(self) -> None:
        self.faults.stop_answering()

    async def resume(self) -> None:
        """Answer again once the console has noticed the silence and dropped the socket, or
        after SETTLE on the live socket all the same (its heartbeat waits while ib_async paces
        a burst, and one heartbeat lost only degrades it): the console's reload on that socket
        must then find what the gateway swallowed, orders it never received (unknown, not
        resent) and cancels it never answered (a roll clearing the old month stops)."""
        await until(lambda: not self.scene.connected(), SETTLE)
        self.faults.resume_answering()

    async def delay(self, seconds: float) -> None:
        self.faults.delay_replies(seconds)

    async def undelay(self) -> None:
        self.faults.delay_replies(0)

    async def lose(self, kept: bool, restore_after: float) -> None:
        if self.faults.connectivity:
            after = restore_after if restore_after >= 0 else None
            self.faults.lose_connectivity(after, data_maintained=kept)

    async def restore(self, kept: bool) -> None:
        if not self.faults.connectivity:
            self.faults.restore_connectivity(kept)

    async def flap(self, farm: str, seconds: float) -> None:
        self.faults.farm_flap(farm, seconds)

    async def steal_id(self) -> None:
        """Drop the console and connect another client with its clientId before it is back:
        the console's reconnects get 326 until ``release_id``."""
        self.faults.drop(CLIENT_ID)
        holder = IB()
        try:
            await holder.connectAsync(HOST, self.scene.gw.port, clientId=CLIENT_ID, timeout=2)
        except (ConnectionError, TimeoutError, OSError):
            holder.disconnect()  # the console was back first: this client got the 326
            return
        self._holder = holder

    async def release_id(self) -> None:
        if self._holder is not None:
            self._holder.disconnect()
            self._holder = None

    async def reject(self) -> None:
        self.faults.reject_next_order("Simulated reject")

    async def pace(self) -> None:
        self.faults.pace_next_historical(162)

    async def partial(self, parts: int, stall: bool) -> None:
        self.scene.gw.desk.set_partial_fills(parts, stall=stall)

    async def delayed(self) -> None:
        self.faults.delayed_data_only(True)

    async def live(self) -> None:
        self.faults.delayed_data_only(False)
