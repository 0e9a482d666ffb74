"""Rolls: as two orders (close, then open), and as one calendar-spread order left working,
cancelled or legged; ``spread_roll`` rolls under a fault of its own: the spread fills in parts
(one part, then a stall), IB rejects it, or the connection is cut between submit and fill."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from bench.chaos.scene import SETTLE, Scene
from bench.stress_rig import CLIENT_ID, until
from ibconsole.broker.order_values import OrderRefused
from ibconsole.domain.calendar_spread import SpreadQuote, spread_for_roll
from ibconsole.domain.orders import OrderType
from ibconsole.domain.rollover import RolloverSettings, RollPlan, plan_roll

log = logging.getLogger("bench.chaos")


class RollSteps:
    VERBS = ("roll", "spread", "spread_roll")

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self._failed_rolls: list[RollPlan] = []
        scene.orders.roll_failed += self._on_roll_failed
        # a spread that has not filled by then stays working for the plan to decide
        scene.orders.spread_rolls.fill_timeout = 2.0

    async def close(self) -> None:
        self.scene.orders.roll_failed -= self._on_roll_failed

    def _on_roll_failed(self, failure: Any) -> None:
        self._failed_rolls.append(failure.plan)

    def _plan(self) -> RollPlan | None:
        front, target = self.scene.months
        held = self.scene.broker.account.position(front.con_id)
        if held is None or not held.quantity:
            return None
        working = self.scene.orders.working_orders(front.con_id)
        return plan_roll(held.quantity, front, target, working, RolloverSettings())

    # ------------------------------------------------------------ two orders
    async def roll(self, retry: bool) -> None:
        roll_plan = self._plan()
        if roll_plan is not None:
            self.scene.spawn(self._rolling(roll_plan, retry), "roll")

    async def _rolling(self, roll_plan: RollPlan, retry: bool) -> None:
        orders = self.scene.orders
        try:
            await orders.roll(roll_plan)
        except OrderRefused as refused:
            log.info("roll: %s", refused)
            if retry and roll_plan in self._failed_rolls:
                with contextlib.suppress(OrderRefused):
                    await orders.retry_open(roll_plan)

    # ------------------------------------------------------------ one spread order
    async def spread(self, kind: str, ticks: int, then: str, side: str, quantity: int) -> None:
        """Roll the front month as one spread order; a flat console first takes a position (at
        market, ``side`` and ``quantity``) so there is something to roll."""
        if not await self._holding(side, quantity):
            return
        roll_plan = self._plan()
        if roll_plan is not None:
            self.scene.spawn(self._spreading(roll_plan, kind, ticks, then), "spread roll")

    async def spread_roll(
        self, kind: str, ticks: int, fault: str, then: str, side: str, quantity: int, cut: str
    ) -> None:
        """A spread roll under ``fault``: ``partial`` fills in parts as the market moves,
        ``stalled`` fills one part and then nothing until cancelled or legged, ``reject`` is
        IB's reject of the combo, ``cut`` drops (``drop``, ``reset``) or loses IB (``lose``)
        once the spread reached the simulator, before its fill is reported."""
        if not await self._holding(side, quantity):
            return
        roll_plan = self._plan()
        if roll_plan is None:
            return
        gw = self.scene.gw
        if fault in ("partial", "stalled"):
            gw.desk.set_partial_fills(quantity, stall=fault == "stalled")
        elif fault == "reject":
            gw.faults.reject_next_order("Simulated combo reject")
        elif fault == "cut":
            # the fill waits for the reply delay: the cut lands between submit and fill
            gw.faults.delay_replies(0.05)
            self.scene.spawn(self._cut_after_submit(len(gw.orders), cut), "spread cut")
        self.scene.spawn(self._spreading(roll_plan, kind, ticks, then), "spread roll")

    async def _cut_after_submit(self, before: int, how: str) -> None:
        gw = self.scene.gw
        reached = await until(
            lambda: any(
                o.request.order_ref for o in gw.orders[before:] if o.client_id == CLIENT_ID
            ),
            SETTLE,
        )
        if reached:
            if how == "drop":
                gw.faults.drop(CLIENT_ID)
            elif how == "reset":
                gw.faults.reset(CLIENT_ID)
            elif gw.faults.connectivity:
                gw.faults.lose_connectivity(0.1, data_maintained=False)
        gw.faults.delay_replies(0)

    async def _holding(self, side: str, quantity: int) -> bool:
        """A position in the front month to roll: taken at market first when flat."""
        scene = self.scene
        front = scene.rig.front
        held = scene.broker.account.position(front.con_id)
        if held is not None and not held.quantity:
            scene.send(scene.intent(side=side, quantity=quantity, order_type="MKT"), "confirm")
            await until(
                lambda: bool(getattr(scene.broker.account.position(front.con_id), "quantity", 0)),
                SETTLE,
            )
            held = scene.broker.account.position(front.con_id)
        return held is not None and bool(held.quantity)

    async def _spreading(self, roll_plan: RollPlan, kind: str, ticks: int, then: str) -> None:
        """Roll as one spread order: at market, or a limit ``ticks`` spread ticks through the
        spread the legs imply (negative: resting, ten times as far); a spread still working
        after the fill timeout is left working, cancelled, or its rest legged as two orders."""
        scene = self.scene
        spread = spread_for_roll(roll_plan)
        limit = None
        if kind == "LMT":
            (near_bid, near_ask), (far_bid, far_ask) = map(scene.quote, scene.months)
            implied = SpreadQuote(far_bid - near_ask, far_ask - near_bid)
            touch = spread.limit_through(implied, 0)
            if touch is None:
                return
            # resting limits sit well inside the legs' market: the spread's own book is tighter
            through = ticks if ticks >= 0 else ticks * 10
            limit = touch + spread.side.sign * through * spread.tick
        try:
            order = await scene.orders.roll_spread(roll_plan, OrderType(kind), limit)
            log.info("spread roll %s: %s", order.key, order.state.value)
            if order.is_final or order.lifecycle.order_id is None:
                return
            if then == "cancel":
                scene.orders.cancel(order.lifecycle.order_id)
            elif then == "leg":
                await scene.orders.leg_rest(order.key)
        except OrderRefused as refused:
            log.info("spread roll: %s", refused)
