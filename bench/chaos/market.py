"""The market's steps: quote and bar subscriptions, and the simulated market moving (it does not
tick on its own in a campaign)."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.chaos.scene import SETTLE, Scene
from bench.stress_rig import until
from ibconsole.domain.contracts import ListedContract


class MarketSteps:
    VERBS = ("sub", "unsub", "bars", "unbars", "step", "pause", "settle")

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self._extra_quotes: list[ListedContract] = []
        self._bar_keys: list[Any] = []

    async def close(self) -> None:
        market = self.scene.broker.market
        for month in self._extra_quotes:
            market.unsubscribe(month.con_id)
        for key in self._bar_keys:
            market.unsubscribe_bars(key)
        self._extra_quotes.clear()
        self._bar_keys.clear()

    async def sub(self, which: int) -> None:
        month = self.scene.months[which]
        self.scene.broker.market.subscribe(month)
        self._extra_quotes.append(month)

    async def unsub(self, pick: float) -> None:
        if self._extra_quotes:
            month = self._extra_quotes.pop(int(pick * len(self._extra_quotes)))
            self.scene.broker.market.unsubscribe(month.con_id)

    async def bars(self, which: int) -> None:
        month = self.scene.months[which]
        self.scene.spawn(self._load_bars(month), "bars")

    async def _load_bars(self, month: ListedContract) -> None:
        self._bar_keys.append(await self.scene.broker.market.subscribe_bars(month, "1 min"))

    async def unbars(self, pick: float) -> None:
        if self._bar_keys:
            key = self._bar_keys.pop(int(pick * len(self._bar_keys)))
            self.scene.broker.market.unsubscribe_bars(key)

    async def step(self, which: int, count: int) -> None:
        con_id = self.scene.months[which].con_id
        for _ in range(count):
            self.scene.gw.market.step(con_id)
            await asyncio.sleep(0)

    async def pause(self, turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)

    async def settle(self) -> None:
        await until(lambda: self.scene.rig.synced, SETTLE)
