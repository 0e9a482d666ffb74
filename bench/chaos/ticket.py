"""The ticket's steps: orders of every type, brackets, bad input, bursts, modifies and cancels,
sent through the order service as the ticket sends them."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from bench.chaos.scene import EXPECTED, Scene
from ibconsole.broker.order_values import ConfirmationNeeded


class TicketSteps:
    VERBS = ("order", "bracket", "bad", "burst", "modify", "cancel", "cancel_all")

    def __init__(self, scene: Scene) -> None:
        self.scene = scene

    async def close(self) -> None:
        """The ticket holds nothing: its orders are ended with the others."""

    async def order(self, kind: str, side: str, quantity: int, ticks: int, how: str) -> None:
        scene = self.scene
        bid, ask = scene.quote(scene.rig.front)
        tick = scene.rig.front.min_tick
        buy = side == "BUY"
        # a limit ``ticks`` through the touch (negative: resting); stops ``ticks`` away, off market
        touch = bid if buy else ask
        limit = touch + (ticks if buy else -ticks) * tick
        stop = (ask + (abs(ticks) + 1) * tick) if buy else (bid - (abs(ticks) + 1) * tick)
        prices: dict[str, Decimal] = {}
        if kind == "LMT":
            prices["limit_price"] = limit
        elif kind == "STP":
            prices["stop_price"] = stop
        elif kind == "STP LMT":
            prices["stop_price"] = stop
            prices["limit_price"] = stop + (2 if buy else -2) * tick
        intent = scene.intent(side=side, quantity=quantity, order_type=kind, **prices)
        scene.send(intent, how)

    async def bracket(
        self, entry: str, side: str, quantity: int, ticks: int, tp: int, sl: int, how: str
    ) -> None:
        scene = self.scene
        bid, ask = scene.quote(scene.rig.front)
        tick = scene.rig.front.min_tick
        buy = side == "BUY"
        reference = ask if buy else bid
        price = (bid + ticks * tick) if buy else (ask - ticks * tick)
        base = price if entry == "LMT" else reference
        direction = 1 if buy else -1
        intent = scene.intent(
            side=side,
            quantity=quantity,
            order_type=entry,
            limit_price=price if entry == "LMT" else None,
            take_profit=base + direction * tp * tick,
            stop_loss=base - direction * sl * tick,
            reference_price=reference,
        )
        scene.send(intent, how)

    async def bad(self, what: str) -> None:
        scene = self.scene
        bid, _ = scene.quote(scene.rig.front)
        values: dict[str, dict[str, Any]] = {
            "tick": {"order_type": "LMT", "quantity": 1, "limit_price": bid + Decimal("0.01")},
            "zero": {"order_type": "MKT", "quantity": 0},
            "fraction": {"order_type": "MKT", "quantity": Decimal("1.5")},
            "text": {"order_type": "LMT", "quantity": 1, "limit_price": "abc"},
            "huge": {"order_type": "LMT", "quantity": 500, "limit_price": bid},
        }
        before = len(scene.gw.orders)
        try:
            scene.send(scene.intent(side="BUY", **values[what]), "confirm")
        except EXPECTED:
            pass
        else:
            scene.outcome.mismatches.append(f"bad input ({what}) was accepted")
        if len(scene.gw.orders) != before:
            scene.outcome.mismatches.append(f"bad input ({what}) reached the simulator")

    async def burst(self, count: int) -> None:
        scene = self.scene
        bid, ask = scene.quote(scene.rig.front)
        tick = scene.rig.front.min_tick
        for number in range(count):
            buy = number % 2 == 0
            price = bid - 30 * tick if buy else ask + 30 * tick
            intent = scene.intent(
                side="BUY" if buy else "SELL", quantity=1, order_type="LMT", limit_price=price
            )
            with contextlib.suppress(*EXPECTED):
                scene.orders.submit(intent, confirmed=True)

    async def modify(self, pick: float, quantity: int, ticks: int, how: str) -> None:
        scene = self.scene
        row = scene.pick(pick, {m.con_id for m in scene.months})
        if row is None:
            return
        tick = scene.rig.front.min_tick
        changes: dict[str, Decimal] = {"quantity": max(Decimal(1), row.quantity + quantity)}
        if row.limit_price is not None:
            changes["limit_price"] = row.limit_price + ticks * tick
        elif row.stop_price is not None:
            changes["stop_price"] = row.stop_price + ticks * tick
        try:
            scene.orders.modify(row.order_id, confirmed=how == "confirm", **changes)
        except ConfirmationNeeded:
            if how != "decline":
                scene.orders.modify(row.order_id, confirmed=True, **changes)

    async def cancel(self, pick: float) -> None:
        row = self.scene.pick(pick)
        if row is not None:
            self.scene.orders.cancel(row.order_id)

    async def cancel_all(self) -> None:
        self.scene.orders.cancel_all()
