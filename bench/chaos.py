"""The fault campaign: seeded trading sessions against the paper gateway, interleaved with faults,
each checked for what DESIGN.md section 7 promises.

    python -m bench.chaos                      # make chaos: 1,000 scenarios
    python -m bench.chaos --scenarios 20       # a short campaign (the test suite runs one)
    python -m bench.chaos --seed 1234 -v       # replay one scenario, printing its steps and log

A scenario is a plan drawn from its seed: orders of every type, brackets, modifies, cancels, cancel
all, rolls (as two orders, or as one calendar-spread order left working, cancelled or legged),
quote and bar subscriptions, interleaved with faults (dropped and reset connections, a
silent or slow gateway, 1100/1101/1102, farm flaps, a second client holding the clientId, rejects,
pacing, partial fills); a silent gateway stays silent until the console has noticed. Scenarios
run back to back in one process, each on a fresh gateway, journal and broker; the market does
not tick on its own, steps of the plan move it.

After each scenario the gateway heals, the console reconnects and reconciles, and whatever still
works is cancelled through the console. Then:
- lost: a journalled order without a final state, an execution or an order at the simulator that
  the journal does not hold;
- duplicated: an orderRef the simulator received more than once;
- mismatches: a final state, filled quantity or position that differs from the simulator's, and
  quote or bar streams, tasks or subscriptions the console holds that it should not;
- crashes: an exception nobody handled (eventkit handler, task, callback, a traceback in the log)
  or anything that hung (the session never recovered, a step never returned).

A failing scenario prints its seed, what went wrong and a command that replays it; the last line
of every run is ``scenarios N faults N orders N lost N duplicated N mismatches N crashes N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.stress_rig import (
    CLIENT_ID,
    HOST,
    CrashWatch,
    StressRig,
    close_rig,
    log_to_stderr,
    open_rig,
    sim_bar_streams,
    until,
)
from ibconsole.broker.ib_client import IB
from ibconsole.broker.order_values import ConfirmationNeeded, OrderRefused, OrderRow
from ibconsole.domain.calendar_spread import SpreadQuote, spread_for_roll
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderIntent, OrderType, OrderValidationError, build_intent
from ibconsole.domain.rollover import RolloverSettings, RollPlan, plan_roll
from ibconsole.journal import JournalOrder, OrderState

log = logging.getLogger("bench.chaos")

FIRST_SEED = 1
QUIET = 0.01  # quote updates per second of the simulated market: in effect none but the steps
# How long the end of a scenario waits for the console to recover, for orders to end, for
# positions and streams to agree, and for background work (rolls, bar loads) to finish.
RECOVERY = 10.0
SETTLE = 3.0
STEP_TIMEOUT = 10.0

FAULTS = frozenset(
    {"drop", "reset", "stall", "delay", "lose", "flap", "steal_id", "reject", "pace", "partial"}
    | {"delayed"}
)
# verb -> weight when a plan draws its next step
_WEIGHTS: dict[str, int] = {
    "order": 22,
    "bracket": 6,
    "bad": 3,
    "burst": 2,
    "modify": 6,
    "cancel": 5,
    "cancel_all": 2,
    "roll": 4,
    "spread": 4,
    "sub": 3,
    "unsub": 2,
    "bars": 3,
    "unbars": 2,
    "step": 12,
    "pause": 8,
    "settle": 6,
    "drop": 3,
    "reset": 3,
    "stall": 3,
    "delay": 3,
    "lose": 3,
    "flap": 3,
    "steal_id": 2,
    "reject": 3,
    "pace": 2,
    "partial": 3,
    "delayed": 1,
}
# a fault that lasts until a later step ends it: verb -> the step that ends it
_UNDO = {"stall": "resume", "delay": "undelay", "steal_id": "release_id", "delayed": "live"}
_ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT")
_EXPECTED = (OrderRefused, OrderValidationError)


@dataclass(frozen=True, slots=True)
class Step:
    verb: str
    args: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return " ".join([self.verb, *(str(a) for a in self.args)])


def plan(seed: int) -> list[Step]:
    """The steps of scenario ``seed``: the same seed always gives the same plan."""
    rng = random.Random(seed)
    verbs, weights = list(_WEIGHTS), list(_WEIGHTS.values())
    steps: list[Step] = []
    endings: list[tuple[int, Step]] = []  # (index after which it is due, step)
    for index in range(rng.randint(8, 18)):
        for due, ending in [e for e in endings if e[0] <= index]:
            endings.remove((due, ending))
            steps.append(ending)
        verb = rng.choices(verbs, weights)[0]
        if verb in _UNDO and any(e.verb == _UNDO[verb] for _, e in endings):
            verb = "step"  # that fault is on already
        steps.append(_draw(verb, rng))
        if verb in _UNDO:
            endings.append((index + rng.randint(1, 4), Step(_UNDO[verb])))
        elif verb == "lose" and steps[-1].args[1] < 0:
            endings.append((index + rng.randint(1, 4), Step("restore", (steps[-1].args[0],))))
    steps.extend(ending for _, ending in endings)
    return steps


def _draw(verb: str, rng: random.Random) -> Step:
    side = rng.choice(("BUY", "SELL"))
    how = rng.choice(("confirm", "confirm", "ask", "decline"))
    match verb:
        case "order":
            kind = rng.choice(_ORDER_TYPES)
            return Step(verb, (kind, side, rng.randint(1, 3), rng.randint(-6, 3), how))
        case "bracket":
            entry = rng.choice(("MKT", "LMT"))
            ticks = (rng.randint(-4, 2), rng.randint(2, 12), rng.randint(2, 12))
            return Step(verb, (entry, side, rng.randint(1, 3), *ticks, how))
        case "bad":
            return Step(verb, (rng.choice(("tick", "zero", "fraction", "text", "huge")),))
        case "burst":
            return Step(verb, (rng.randint(20, 60),))
        case "modify":
            return Step(verb, (rng.random(), rng.randint(-1, 2), rng.randint(-3, 3), how))
        case "cancel" | "unsub" | "unbars":
            return Step(verb, (rng.random(),))
        case "roll":
            return Step(verb, (rng.choice((True, False)),))
        case "spread":
            then = rng.choice(("leave", "cancel", "leg"))
            kind = rng.choice(("MKT", "LMT"))
            return Step(verb, (kind, rng.randint(-3, 2), then, side, rng.randint(1, 3)))
        case "sub" | "bars":
            return Step(verb, (rng.randint(0, 1),))
        case "step":
            return Step(verb, (rng.randint(0, 1), rng.randint(1, 40)))
        case "pause":
            return Step(verb, (rng.randint(1, 60),))
        case "delay":
            return Step(verb, (round(rng.uniform(0.01, 0.4), 3),))
        case "lose":
            restore = rng.choice((-1.0, round(rng.uniform(0.0, 0.3), 3)))
            return Step(verb, (rng.choice((True, False)), restore))
        case "flap":
            farm = rng.choice(("market", "hmds", "secdef"))
            return Step(verb, (farm, round(rng.uniform(0.0, 0.3), 3)))
        case "partial":
            return Step(verb, (rng.randint(2, 4), rng.choice((True, False))))
        case _:
            return Step(verb)


# ------------------------------------------------------------------------------- outcome


@dataclass
class Outcome:
    seed: int
    faults: int = 0
    orders: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.mismatches or self.crashes)

    def describe(self) -> list[str]:
        lines = []
        for name in ("lost", "duplicated", "mismatches", "crashes"):
            lines += [f"  {name}: {item}" for item in getattr(self, name)]
        return lines


@dataclass
class Tally:
    scenarios: int = 0
    faults: int = 0
    orders: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatches: int = 0
    crashes: int = 0
    failed_seeds: list[int] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.scenarios += 1
        self.faults += outcome.faults
        self.orders += outcome.orders
        self.lost += len(outcome.lost)
        self.duplicated += len(outcome.duplicated)
        self.mismatches += len(outcome.mismatches)
        self.crashes += len(outcome.crashes)
        if outcome.failed:
            self.failed_seeds.append(outcome.seed)

    def line(self) -> str:
        return (
            f"scenarios {self.scenarios} faults {self.faults} orders {self.orders} "
            f"lost {self.lost} duplicated {self.duplicated} mismatches {self.mismatches} "
            f"crashes {self.crashes}"
        )


# ------------------------------------------------------------------------------ scenario


class Scenario:
    """One plan carried out against a fresh rig, then healed and checked."""

    def __init__(self, rig: StressRig, outcome: Outcome) -> None:
        self.rig = rig
        self.outcome = outcome
        self.gw = rig.gw
        self.broker = rig.broker
        self.orders = rig.broker.orders
        self.months = (rig.front, rig.next_month)
        self._background: list[asyncio.Task[Any]] = []
        self._extra_quotes: list[ListedContract] = []
        self._bar_keys: list[Any] = []
        self._holder: IB | None = None
        self._failed_rolls: list[RollPlan] = []
        self._closed = False
        self.orders.roll_failed += self._on_roll_failed
        # a spread that has not filled by then stays working for the plan to decide
        self.orders.spread_rolls.fill_timeout = 2.0

    # ---------------------------------------------------------------- running
    async def run(self, steps: Sequence[Step]) -> None:
        for step in steps:
            log.info("step: %s", step)
            if step.verb in FAULTS:
                self.outcome.faults += 1
            try:
                await asyncio.wait_for(self._do(step), STEP_TIMEOUT)
            except _EXPECTED as refused:
                log.info("refused: %s", refused)
            except TimeoutError:
                self.outcome.crashes.append(f"step {step} did not return in {STEP_TIMEOUT:g} s")

    async def _do(self, step: Step) -> None:
        action: Callable[..., Awaitable[None]] = getattr(self, f"_{step.verb}")
        await action(*step.args)

    # ----------------------------------------------------------------- orders
    def _quote(self, month: ListedContract) -> tuple[Decimal, Decimal]:
        quote = self.gw.market.quote(month.con_id)
        return quote.bid, quote.ask

    def _intent(self, **fields: Any) -> OrderIntent:
        return build_intent(
            contract=self.rig.front,
            clock=self.broker.clock,
            account=self.broker.account.account,
            **fields,
        )

    def _send(self, intent: OrderIntent, how: str) -> None:
        if how == "confirm":
            self.orders.submit(intent, confirmed=True)
            return
        try:
            self.orders.submit(intent)
        except ConfirmationNeeded as asked:
            if how == "decline":
                self.orders.decline(intent, asked.report)
            else:
                self.orders.submit(intent, confirmed=True)

    async def _order(self, kind: str, side: str, quantity: int, ticks: int, how: str) -> None:
        bid, ask = self._quote(self.rig.front)
        tick = self.rig.front.min_tick
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
        intent = self._intent(side=side, quantity=quantity, order_type=kind, **prices)
        self._send(intent, how)

    async def _bracket(
        self, entry: str, side: str, quantity: int, ticks: int, tp: int, sl: int, how: str
    ) -> None:
        bid, ask = self._quote(self.rig.front)
        tick = self.rig.front.min_tick
        buy = side == "BUY"
        reference = ask if buy else bid
        price = (bid + ticks * tick) if buy else (ask - ticks * tick)
        base = price if entry == "LMT" else reference
        direction = 1 if buy else -1
        intent = self._intent(
            side=side,
            quantity=quantity,
            order_type=entry,
            limit_price=price if entry == "LMT" else None,
            take_profit=base + direction * tp * tick,
            stop_loss=base - direction * sl * tick,
            reference_price=reference,
        )
        self._send(intent, how)

    async def _bad(self, what: str) -> None:
        bid, _ = self._quote(self.rig.front)
        values: dict[str, dict[str, Any]] = {
            "tick": {"order_type": "LMT", "quantity": 1, "limit_price": bid + Decimal("0.01")},
            "zero": {"order_type": "MKT", "quantity": 0},
            "fraction": {"order_type": "MKT", "quantity": Decimal("1.5")},
            "text": {"order_type": "LMT", "quantity": 1, "limit_price": "abc"},
            "huge": {"order_type": "LMT", "quantity": 500, "limit_price": bid},
        }
        before = len(self.gw.orders)
        try:
            self._send(self._intent(side="BUY", **values[what]), "confirm")
        except _EXPECTED:
            pass
        else:
            self.outcome.mismatches.append(f"bad input ({what}) was accepted")
        if len(self.gw.orders) != before:
            self.outcome.mismatches.append(f"bad input ({what}) reached the simulator")

    async def _burst(self, count: int) -> None:
        bid, ask = self._quote(self.rig.front)
        tick = self.rig.front.min_tick
        for number in range(count):
            buy = number % 2 == 0
            price = bid - 30 * tick if buy else ask + 30 * tick
            intent = self._intent(
                side="BUY" if buy else "SELL", quantity=1, order_type="LMT", limit_price=price
            )
            with contextlib.suppress(*_EXPECTED):
                self.orders.submit(intent, confirmed=True)

    def _pick(self, fraction: float) -> OrderRow | None:
        working = sorted(
            (r for r in self.orders.rows() if r.ours and r.working), key=lambda r: r.order_id
        )
        return working[int(fraction * len(working))] if working else None

    async def _modify(self, pick: float, quantity: int, ticks: int, how: str) -> None:
        row = self._pick(pick)
        if row is None:
            return
        tick = self.rig.front.min_tick
        changes: dict[str, Decimal] = {"quantity": max(Decimal(1), row.quantity + quantity)}
        if row.limit_price is not None:
            changes["limit_price"] = row.limit_price + ticks * tick
        elif row.stop_price is not None:
            changes["stop_price"] = row.stop_price + ticks * tick
        try:
            self.orders.modify(row.order_id, confirmed=how == "confirm", **changes)
        except ConfirmationNeeded:
            if how != "decline":
                self.orders.modify(row.order_id, confirmed=True, **changes)

    async def _cancel(self, pick: float) -> None:
        row = self._pick(pick)
        if row is not None:
            self.orders.cancel(row.order_id)

    async def _cancel_all(self) -> None:
        self.orders.cancel_all()

    async def _roll(self, retry: bool) -> None:
        front, target = self.months
        held = self.broker.account.position(front.con_id)
        if held is None or not held.quantity:
            return
        roll_plan = plan_roll(
            held.quantity,
            front,
            target,
            self.orders.working_orders(front.con_id),
            RolloverSettings(),
        )
        self._spawn(self._rolling(roll_plan, retry), "roll")

    async def _rolling(self, roll_plan: RollPlan, retry: bool) -> None:
        try:
            await self.orders.roll(roll_plan)
        except OrderRefused as refused:
            log.info("roll: %s", refused)
            if retry and roll_plan in self._failed_rolls:
                with contextlib.suppress(OrderRefused):
                    await self.orders.retry_open(roll_plan)

    async def _spread(self, kind: str, ticks: int, then: str, side: str, quantity: int) -> None:
        """Roll the front month as one spread order; a flat console first takes a position (at
        market, ``side`` and ``quantity``) so there is something to roll."""
        front, target = self.months
        held = self.broker.account.position(front.con_id)
        if held is not None and not held.quantity:
            self._send(self._intent(side=side, quantity=quantity, order_type="MKT"), "confirm")
            await until(
                lambda: bool(getattr(self.broker.account.position(front.con_id), "quantity", 0)),
                SETTLE,
            )
            held = self.broker.account.position(front.con_id)
        if held is None or not held.quantity:
            return
        roll_plan = plan_roll(
            held.quantity,
            front,
            target,
            self.orders.working_orders(front.con_id),
            RolloverSettings(),
        )
        self._spawn(self._spreading(roll_plan, kind, ticks, then), "spread roll")

    async def _spreading(self, roll_plan: RollPlan, kind: str, ticks: int, then: str) -> None:
        """Roll as one spread order: at market, or a limit ``ticks`` spread ticks through the
        spread the legs imply (negative: resting, ten times as far); a spread still working
        after the fill timeout is left working, cancelled, or its rest legged as two orders."""
        spread = spread_for_roll(roll_plan)
        limit = None
        if kind == "LMT":
            (near_bid, near_ask), (far_bid, far_ask) = map(self._quote, self.months)
            implied = SpreadQuote(far_bid - near_ask, far_ask - near_bid)
            touch = spread.limit_through(implied, 0)
            if touch is None:
                return
            # resting limits sit well inside the legs' market: the spread's own book is tighter
            through = ticks if ticks >= 0 else ticks * 10
            limit = touch + spread.side.sign * through * spread.tick
        try:
            order = await self.orders.roll_spread(roll_plan, OrderType(kind), limit)
            log.info("spread roll %s: %s", order.key, order.state.value)
            if order.is_final or order.lifecycle.order_id is None:
                return
            if then == "cancel":
                self.orders.cancel(order.lifecycle.order_id)
            elif then == "leg":
                await self.orders.leg_rest(order.key)
        except OrderRefused as refused:
            log.info("spread roll: %s", refused)

    def _on_roll_failed(self, failure: Any) -> None:
        self._failed_rolls.append(failure.plan)

    # ---------------------------------------------------------- subscriptions
    async def _sub(self, which: int) -> None:
        month = self.months[which]
        self.broker.market.subscribe(month)
        self._extra_quotes.append(month)

    async def _unsub(self, pick: float) -> None:
        if self._extra_quotes:
            month = self._extra_quotes.pop(int(pick * len(self._extra_quotes)))
            self.broker.market.unsubscribe(month.con_id)

    async def _bars(self, which: int) -> None:
        month = self.months[which]
        self._spawn(self._load_bars(month), "bars")

    async def _load_bars(self, month: ListedContract) -> None:
        self._bar_keys.append(await self.broker.market.subscribe_bars(month, "1 min"))

    async def _unbars(self, pick: float) -> None:
        if self._bar_keys:
            self.broker.market.unsubscribe_bars(self._bar_keys.pop(int(pick * len(self._bar_keys))))

    # ------------------------------------------------------------------ market
    async def _step(self, which: int, count: int) -> None:
        con_id = self.months[which].con_id
        for _ in range(count):
            self.gw.market.step(con_id)
            await asyncio.sleep(0)

    async def _pause(self, turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)

    async def _settle(self) -> None:
        await until(lambda: self.rig.synced, SETTLE)

    # ------------------------------------------------------------------ faults
    async def _drop(self) -> None:
        self.gw.faults.drop(CLIENT_ID)

    async def _reset(self) -> None:
        self.gw.faults.reset(CLIENT_ID)

    async def _stall(self) -> None:
        self.gw.faults.stop_answering()

    async def _resume(self) -> None:
        """Answer again once the console has noticed the silence and dropped the socket: a
        gateway that swallows messages on a live socket and then carries on is broken beyond
        what a console can see (bar that a lost order's cancel finds nothing, 10147)."""
        await until(lambda: not self._connected(), SETTLE)
        self.gw.faults.resume_answering()

    def _connected(self) -> bool:
        return any(c.client_id == CLIENT_ID and c.started for c in self.gw.connections)

    async def _delay(self, seconds: float) -> None:
        self.gw.faults.delay_replies(seconds)

    async def _undelay(self) -> None:
        self.gw.faults.delay_replies(0)

    async def _lose(self, kept: bool, restore_after: float) -> None:
        if self.gw.faults.connectivity:
            after = restore_after if restore_after >= 0 else None
            self.gw.faults.lose_connectivity(after, data_maintained=kept)

    async def _restore(self, kept: bool) -> None:
        if not self.gw.faults.connectivity:
            self.gw.faults.restore_connectivity(kept)

    async def _flap(self, farm: str, seconds: float) -> None:
        self.gw.faults.farm_flap(farm, seconds)

    async def _steal_id(self) -> None:
        """Drop the console and connect another client with its clientId before it is back:
        the console's reconnects get 326 until ``release_id``."""
        self.gw.faults.drop(CLIENT_ID)
        holder = IB()
        try:
            await holder.connectAsync(HOST, self.gw.port, clientId=CLIENT_ID, timeout=2)
        except (ConnectionError, TimeoutError, OSError):
            holder.disconnect()  # the console was back first: this client got the 326
            return
        self._holder = holder

    async def _release_id(self) -> None:
        if self._holder is not None:
            self._holder.disconnect()
            self._holder = None

    async def _reject(self) -> None:
        self.gw.faults.reject_next_order("Simulated reject")

    async def _pace(self) -> None:
        self.gw.faults.pace_next_historical(162)

    async def _partial(self, parts: int, stall: bool) -> None:
        self.gw.desk.set_partial_fills(parts, stall=stall)

    async def _delayed(self) -> None:
        self.gw.faults.delayed_data_only(True)

    async def _live(self) -> None:
        self.gw.faults.delayed_data_only(False)

    # ------------------------------------------------------------ background
    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"chaos {name}")
        self._background.append(task)

    async def _background_done(self, seconds: float) -> None:
        pending = [t for t in self._background if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=seconds)
            for task in late:
                self.outcome.crashes.append(f"{task.get_name()} still running after the heal")
                task.cancel()
            if late:
                await asyncio.wait(late)
        for task in self._background:
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None and not isinstance(error, _EXPECTED):
                self.outcome.crashes.append(
                    f"{task.get_name()} raised {type(error).__name__}: {error}"
                )

    # ------------------------------------------------------------- the end
    async def finish(self) -> None:
        """Heal the gateway, let the console recover, end every order, then compare."""
        faults = self.gw.faults
        faults.cancel_pending()
        faults.resume_answering()
        faults.delay_replies(0)
        faults.delayed_data_only(False)
        if not faults.connectivity:
            faults.restore_connectivity(True)
        await self._release_id()
        if not await until(lambda: self.rig.synced, RECOVERY):
            health = self.broker.session.health
            self.outcome.crashes.append(
                f"the console did not recover: {health.state.value} ({health.reason}); "
                f"orders: {self.orders.entry_block()}"
            )
            await self._background_done(0)
            return
        # A roll waits for its legs as long as they work: what still works is cancelled, as a
        # trader would, until the background work has ended.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECOVERY
        while loop.time() < deadline:
            await self._end_orders()
            running = [t for t in self._background if not t.done()]
            if not running:
                break
            await asyncio.wait(running, timeout=0.2)
        await self._background_done(0)
        await self._end_orders()
        self._check_orders()
        await self._check_positions()
        await self._check_streams()

    def _open(self) -> list[JournalOrder]:
        return self.rig.journal.open_orders()

    async def _end_orders(self) -> None:
        """Cancel through the console whatever still works, until every order is final."""
        for _ in range(5):
            if not self._open() and not any(r.ours and r.working for r in self.orders.rows()):
                return
            if self.rig.synced:
                with contextlib.suppress(OrderRefused):
                    self.orders.cancel_all()
            if await until(lambda: not self._open(), SETTLE):
                return
            await until(lambda: self.rig.synced, RECOVERY)

    def _check_orders(self) -> None:
        journal, outcome = self.rig.journal, self.outcome
        ours = [o for o in self.gw.orders if o.client_id == CLIENT_ID]
        received = Counter(o.request.order_ref for o in ours if not o.is_modify)
        outcome.duplicated += [
            f"{ref} reached the simulator {n} times" for ref, n in received.items() if n > 1
        ]
        desk = self.gw.desk
        at_sim = {
            s.request.order_ref: s
            for s in (*desk.open_orders(), *desk.completed_orders())
            if s.client_id == CLIENT_ID
        }
        executed: defaultdict[str, Decimal] = defaultdict(Decimal)
        known = journal.known_exec_ids()
        for execution in desk.executions():
            if execution.client_id != CLIENT_ID:
                continue
            order = at_sim.get(execution.order_ref)
            # a combo's legs execute beside it: the combo's own execution is the order's
            if order is None or execution.con_id == order.con_id:
                executed[execution.order_ref] += execution.shares
            if execution.exec_id not in known:
                outcome.lost.append(
                    f"execution {execution.exec_id} of {execution.order_ref} is not journalled"
                )
        journalled = journal.orders(limit=None)
        outcome.orders = len(journalled)
        keys = {o.key for o in journalled}
        outcome.lost += [
            f"{ref} reached the simulator but is not journalled"
            for ref in received
            if ref not in keys
        ]
        for order in journalled:
            problem = _disagreement(
                order, at_sim.get(order.key), received[order.key], executed[order.key]
            )
            if problem is None:
                continue
            if not order.is_final:
                outcome.lost.append(problem)
            else:
                outcome.mismatches.append(problem)

    async def _check_positions(self) -> None:
        account = self.broker.account

        def differences() -> list[str]:
            sim = {p.instrument.con_id: p.quantity for p in self.gw.desk.positions(account.account)}
            found = []
            for month in self.months:
                mine = account.position(month.con_id)
                theirs = sim.get(month.con_id, Decimal(0))
                if mine is None or mine.quantity != theirs:
                    shown = "unknown" if mine is None else f"{mine.quantity}"
                    found.append(
                        f"position in {month.local_symbol}: console {shown}, simulator {theirs}"
                    )
            return found

        if not await until(lambda: not differences(), SETTLE):
            self.outcome.mismatches += differences()

    async def _check_streams(self) -> None:
        market = self.broker.market

        def differences() -> list[str]:
            found = []
            quotes = len(market.subscriptions())
            if quotes != self.gw.market_data.subscription_count():
                found.append(
                    f"{quotes} quote subscriptions in the console, "
                    f"{self.gw.market_data.subscription_count()} at the simulator"
                )
            bars = len(market.bar_subscriptions())
            if bars != sim_bar_streams(self.gw):
                found.append(
                    f"{bars} bar streams in the console, {sim_bar_streams(self.gw)} at the simulator"
                )
            return found

        if not await until(lambda: not differences(), SETTLE):
            self.outcome.mismatches += differences()

    async def close(self) -> None:
        """Unsubscribe what the plan subscribed, let the clientId go (once; again is a no-op)."""
        if self._closed:
            return
        self._closed = True
        self.orders.roll_failed -= self._on_roll_failed
        for month in self._extra_quotes:
            self.broker.market.unsubscribe(month.con_id)
        for key in self._bar_keys:
            self.broker.market.unsubscribe_bars(key)
        self._extra_quotes.clear()
        self._bar_keys.clear()
        await self._release_id()

    async def check_unsubscribed(self, quotes: dict[int, int]) -> None:
        """Back to the subscriptions the scenario started with, here and at the simulator."""
        market = self.broker.market

        def differences() -> list[str]:
            found = []
            if market.subscriptions() != quotes or market.bar_subscriptions():
                found.append(
                    f"the console still subscribes {market.subscriptions()} and "
                    f"{market.bar_subscriptions()}, after starting with {quotes}"
                )
            at_sim = (self.gw.market_data.subscription_count(), sim_bar_streams(self.gw))
            if self.rig.synced and at_sim != (len(quotes), 0):
                found.append(f"the simulator still streams {at_sim[0]} quotes, {at_sim[1]} bars")
            return found

        if not await until(lambda: not differences(), SETTLE):
            self.outcome.mismatches += differences()


# Journal state -> the simulator statuses it may stand for (None: the simulator never took it).
_SIM_STATUS: dict[OrderState, frozenset[str | None]] = {
    OrderState.FILLED: frozenset({"Filled"}),
    OrderState.CANCELLED: frozenset({"Cancelled"}),
    OrderState.REJECTED: frozenset({None}),
    OrderState.UNKNOWN: frozenset({None}),
    OrderState.BLOCKED: frozenset({None}),
    OrderState.DECLINED: frozenset({None}),
}


def _disagreement(order: JournalOrder, sim: Any, received: int, executed: Decimal) -> str | None:
    """How the journal's account of ``order`` differs from the simulator's, or None."""
    state = order.state
    status = sim.status if sim is not None else None
    life = order.lifecycle
    where = f"{order.key} ({order.intent.order_type.value} {order.intent.side.value})"
    if not state.is_final:
        return f"{where} is still {state.value} in the journal; the simulator has it {status}"
    if state not in _SIM_STATUS or status not in _SIM_STATUS[state]:
        return f"{where} is {state.value} in the journal but {status} at the simulator"
    if state in (OrderState.BLOCKED, OrderState.DECLINED) and received:
        return f"{where} is {state.value} in the journal but reached the simulator"
    if life.executed != executed:
        return f"{where}: the journal has {life.executed} executed, the simulator {executed}"
    if sim is not None and life.parent_key is None and life.quantity != sim.request.quantity:
        return (
            f"{where}: the journal says quantity {life.quantity}, "
            f"the simulator {sim.request.quantity}"
        )
    return None


# ------------------------------------------------------------------------------ campaign


async def run_scenario(seed: int, folder: Path, watch: CrashWatch) -> Outcome:
    outcome = Outcome(seed)
    steps = plan(seed)
    before = asyncio.all_tasks()
    watch.take()
    try:
        rig = await open_rig(seed, folder / f"journal-{seed}.sqlite3", tick_rate=QUIET)
    except Exception as error:
        outcome.crashes.append(f"the console did not start: {type(error).__name__}: {error}")
        return outcome
    scenario = Scenario(rig, outcome)
    quotes = rig.broker.market.subscriptions()
    try:
        await scenario.run(steps)
        await scenario.finish()
        await scenario.close()
        await scenario.check_unsubscribed(quotes)
    except Exception as error:
        log.exception("scenario %d", seed)
        outcome.crashes.append(f"{type(error).__name__}: {error}")
    finally:
        await scenario.close()
        await close_rig(rig)
    gc.collect()
    await asyncio.sleep(0)
    leaked = asyncio.all_tasks() - before
    outcome.mismatches += [f"task left running: {task.get_name()}" for task in leaked]
    for task in leaked:
        task.cancel()
    outcome.crashes += watch.take()
    return outcome


async def campaign(seeds: Sequence[int], verbose: bool) -> Tally:
    tally = Tally()
    watch = CrashWatch()
    watch.install(asyncio.get_running_loop())
    try:
        with tempfile.TemporaryDirectory(prefix="ibconsole-chaos-") as folder:
            for seed in seeds:
                if verbose:
                    print(f"seed {seed}: " + "; ".join(str(s) for s in plan(seed)), file=sys.stderr)
                outcome = await run_scenario(seed, Path(folder), watch)
                tally.add(outcome)
                if outcome.failed:
                    print(f"seed {seed} FAILED", flush=True)
                    print("\n".join(outcome.describe()), flush=True)
                    print(f"  replay: {_replay(seed)}", flush=True)
    finally:
        watch.uninstall()
    return tally


def _replay(seed: int) -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return f"{python} -m bench.chaos --seed {seed} --verbose"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scenarios", type=int, default=1000, help="how many (default 1000)")
    parser.add_argument("--first", type=int, default=FIRST_SEED, help="seed of the first scenario")
    parser.add_argument("--seed", type=int, help="run this one scenario only")
    parser.add_argument("--verbose", "-v", action="store_true", help="print plans and the log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.scenarios)
    log_to_stderr(args.verbose)
    started = time.perf_counter()
    tally = asyncio.run(campaign(list(seeds), args.verbose))
    print(f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(tally.line(), flush=True)
    return 1 if tally.failed_seeds else 0


if __name__ == "__main__":
    sys.exit(main())
