"""Crash durability: the console process is killed (SIGKILL) between an order's intent and its
fill, a new one starts on the same journal, and reconciliation accounts for every order, none
lost, none sent again.

The console is ``crash_driver.py`` in a child process (the broker and journal the app builds);
the paper gateway runs here, so the test can kill the child at the exact moment the gateway
takes an order or fills it, before any answer leaves. Kill points: right after the intent was
journalled, right after the submission was journalled (before placeOrder), as the order reaches
the exchange, once it works, as it fills, and once the fill is journalled. Each is synchronised
on the child's own reports or on the gateway, never on time.

The newer order paths die the same way: a spread roll's combo killed between its journalled
submission and placeOrder, as it reaches the exchange and fills in part (the simulator's own
partial fills), and after its first part is journalled; a webhook signal killed once its sender
read the 202, and between its journal entry and the 202.

A roll that cancelled the old month's stop dies before placing it again — a spread roll as its
combo fills, a two-order roll before its close leg went out (reopening or closing only) or as
its close leg or its open leg fills, the legged rest of a spread as its close leg fills: the
restart sends nothing and names the stop in a critical alert, once. A roll as two orders killed after it
placed the stop again (on the front month, nothing rolled; or on the next, all rolled) but before
it journalled that: the restart names the stop as working, calmly, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ibconsole.config import SCHEMA_VERSION
from ibconsole.journal import OrderState
from ibconsole.sim import PaperGateway
from ibconsole.sim.orders import ReceivedOrder

DRIVER = Path(__file__).with_name("crash_driver.py")
CLIENT_ID = 7
ACCOUNT = "DU1234567"
QUIET = 0.01  # quote updates per second: the market moves only when this test steps it
REPLY = 30.0  # the longest a child may take to answer (it starts Python and connects first)
SEEDS = (11,)
SIGNAL_SECRET = "crash-test-secret-not-a-real-one"
_HTTP = aiohttp.ClientTimeout(total=REPLY)

WaitFor = Callable[..., Awaitable[None]]


@dataclass
class Child:
    """One console process, reporting JSON lines."""

    process: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)

    async def next(self, event: str, **match: Any) -> dict[str, Any]:
        """The next report of ``event`` (with ``match``'s values), earlier ones included."""
        for seen in self.events:
            if seen["event"] == event and all(seen.get(k) == v for k, v in match.items()):
                self.events.remove(seen)
                return seen
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), REPLY)
            assert line, f"the console exited while a {event} report was awaited"
            report: dict[str, Any] = json.loads(line)
            if report["event"] == event and all(report.get(k) == v for k, v in match.items()):
                return report
            self.events.append(report)

    async def ask(self, command: dict[str, Any], answer: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.next(answer)

    async def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL


@dataclass
class Console:
    """Starts children on one journal and checks what each left behind."""

    gw: PaperGateway
    folder: Path
    wait_for: WaitFor
    children: list[Child] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.folder / "config.toml"

    async def start(self, *, signals: bool = False) -> tuple[Child, dict[str, Any]]:
        # The gateway frees the clientId once it has seen the killed process's socket close.
        await self.wait_for(
            lambda: not any(c.client_id == CLIENT_ID for c in self.gw.connections),
            timeout=REPLY,
            what="the gateway to free the clientId",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(DRIVER),
            str(self.config),
            "--as-of",
            self.gw.clock.now().isoformat(),
            *(["--signals"] if signals else []),
            env={**os.environ, "IBCONSOLE_SIGNAL_SECRET": SIGNAL_SECRET} if signals else None,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = Child(process)
        self.children.append(child)
        return child, await child.next("ready")

    async def killed(self, child: Child) -> None:
        child.kill()
        await child.process.wait()

    async def stderr_of_all(self) -> str:
        texts = []
        for child in self.children:
            assert child.process.stderr is not None
            texts.append((await child.process.stderr.read()).decode())
        return "\n".join(texts)


@pytest.fixture
async def console(
    make_gateway: Callable[..., Awaitable[PaperGateway]], tmp_path: Path, wait_for: WaitFor
) -> AsyncIterator[Console]:
    gw = await make_gateway(tick_rate=QUIET, accounts=[ACCOUNT])
    (tmp_path / "config.toml").write_text(
        f"schema_version = {SCHEMA_VERSION}\n"
        'journal_path = "journal.sqlite"\n'
        'default_profile = "sim"\n'
        "[profiles.sim]\n"
        f'host = "127.0.0.1"\nport = {gw.port}\nclient_id = {CLIENT_ID}\n'
    )
    console = Console(gw, tmp_path, wait_for)
    yield console
    for child in console.children:
        if child.process.returncode is None:
            child.kill()
            await child.process.wait()


class _KillOnReceipt(list[ReceivedOrder]):
    """The gateway's order log, made to kill the console the moment its next order arrives
    (after ``skip`` more): the exchange takes the order, no answer ever leaves."""

    def __init__(self, gw: PaperGateway) -> None:
        super().__init__(gw.desk.received)
        self.child: Child | None = None
        self.skip = 0

    def append(self, item: ReceivedOrder) -> None:
        super().append(item)
        if self.child is not None and self.skip:
            self.skip -= 1
        elif self.child is not None:
            self.child.kill()
            self.child = None


def sim_status(gw: PaperGateway, key: str) -> str | None:
    for snapshot in (*gw.desk.open_orders(), *gw.desk.completed_orders()):
        if snapshot.request.order_ref == key:
            return snapshot.status
    return None


def fill_now(gw: PaperGateway, con_id: int, key: str) -> None:
    """Step the market until ``key`` fills, all in one go (no answer leaves meanwhile)."""
    for _ in range(100_000):
        if sim_status(gw, key) == "Filled":
            return
        gw.market.step(con_id)
    raise AssertionError(f"{key} never filled")


# kill point -> the order it is tried on
_KINDS = {
    "intent": ("MKT", "LMT-rest"),
    "submission": ("MKT", "LMT-rest"),
    "wire": ("MKT", "LMT-rest", "LMT-cross"),
    "working": ("LMT-rest",),
    "fill": ("LMT-rest",),
    "filled": ("MKT", "LMT-cross"),
}


@pytest.mark.parametrize("seed", SEEDS)
async def test_killed_between_intent_and_fill_every_order_is_reconciled_once(
    console: Console, seed: int
) -> None:
    rng = random.Random(seed)
    gw = console.gw
    rounds = [(point, rng.choice(kinds)) for point, kinds in _KINDS.items()]
    rng.shuffle(rounds)
    expected: dict[str, tuple[OrderState, bool]] = {}  # key -> (state, reached the gateway)
    receipts = _KillOnReceipt(gw)
    gw.desk.received = receipts
    child, ready = await console.start()
    con_id = ready["front"]["con_id"]
    tick = Decimal("0.25")

    for point, kind in rounds:
        where = f"seed {seed}, killed at {point!r} on a {kind} order"
        quote = gw.market.quote(con_id)
        side = rng.choice(("BUY", "SELL"))
        buy = side == "BUY"
        order: dict[str, Any] = {"cmd": "order", "type": kind[:3], "side": side, "quantity": 1}
        if kind == "LMT-rest":
            order["limit"] = str(quote.bid - 8 * tick if buy else quote.ask + 8 * tick)
        elif kind == "LMT-cross":
            order["limit"] = str(quote.ask + 2 * tick if buy else quote.bid - 2 * tick)
        fills_at_once = kind != "LMT-rest"
        filled_while_down = False

        if point in ("intent", "submission"):
            paused = await child.ask({**order, "pause": point}, "paused")
            key = paused["key"]
            await console.killed(child)
            outcome = (OrderState.UNKNOWN, False)
        elif point == "wire":
            receipts.child = child
            await child.send(order)
            await child.process.wait()
            key = receipts[-1].request.order_ref
            outcome = (OrderState.FILLED if fills_at_once else OrderState.WORKING, True)
        elif point == "working":
            key = (await child.ask(order, "submitted"))["key"]
            await child.next("state", key=key, state=OrderState.WORKING.value)
            await console.killed(child)
            filled_while_down = rng.random() < 0.5
            if filled_while_down:
                fill_now(gw, con_id, key)
            outcome = (OrderState.FILLED if filled_while_down else OrderState.WORKING, True)
        elif point == "fill":
            key = (await child.ask(order, "submitted"))["key"]
            await child.next("state", key=key, state=OrderState.WORKING.value)
            fill_now(gw, con_id, key)
            child.kill()  # before the fill's reports leave the gateway
            await child.process.wait()
            filled_while_down = True
            outcome = (OrderState.FILLED, True)
        else:  # filled: the fill is journalled, then the process dies
            key = (await child.ask(order, "submitted"))["key"]
            await child.next("fill", key=key)
            await console.killed(child)
            outcome = (OrderState.FILLED, True)
        expected[key] = outcome

        child, ready = await console.start()
        reconciled = ready["reconciled"]
        state = outcome[0]
        if state is OrderState.UNKNOWN:
            assert reconciled["unknown"] == [key], where
        elif point == "filled":
            assert key not in {*reconciled["matched"], *reconciled["unknown"]}, where
        elif state is OrderState.FILLED:
            assert reconciled["filled_while_disconnected"] == [key], where
            if point == "fill" or filled_while_down:
                assert reconciled["fills_recovered"] == 1, where
        else:
            assert reconciled["matched"] == [key], where
        await _assert_agree(child, gw, con_id, expected, where)

    cancelling = await child.ask({"cmd": "cancel_all"}, "cancelling")
    working = [k for k, (s, _) in expected.items() if s is OrderState.WORKING]
    assert cancelling["sent"] == len(working)
    for key in working:
        await child.next("state", key=key, state=OrderState.CANCELLED.value)
        expected[key] = (OrderState.CANCELLED, True)
    await _assert_agree(child, gw, con_id, expected, f"seed {seed}, after cancelling")
    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    errors = await console.stderr_of_all()
    for sign in ("Traceback", "never retrieved", "Task was destroyed", "caused exception"):
        assert sign not in errors, f"seed {seed}: a console crashed:\n{errors}"


async def _assert_agree(
    child: Child,
    gw: PaperGateway,
    con_id: int,
    expected: dict[str, tuple[OrderState, bool]],
    where: str,
) -> None:
    """Journal and gateway tell the same story of every order; nothing reached it twice."""
    orders = {o["key"]: o for o in (await child.ask({"cmd": "orders"}, "orders"))["orders"]}
    assert set(orders) == set(expected), where
    received = [o.request.order_ref for o in gw.orders if not o.is_modify]
    assert len(received) == len(set(received)), f"{where}: an order reached the gateway twice"
    executions = {e.exec_id: e for e in gw.desk.executions()}
    for key, (state, reached) in expected.items():
        journalled = orders[key]
        assert journalled["state"] == state.value, (where, key, journalled)
        assert (key in received) is reached, (where, key)
        mine = {i for i, e in executions.items() if e.order_ref == key}
        assert set(journalled["exec_ids"]) == mine, (where, key)
        at_gateway = sim_status(gw, key)
        assert (
            at_gateway
            == {
                OrderState.UNKNOWN: None,
                OrderState.FILLED: "Filled",
                OrderState.WORKING: "Submitted",
                OrderState.CANCELLED: "Cancelled",
            }[state]
        ), (where, key, at_gateway)
    held = sum(
        (p.quantity for p in gw.desk.positions(ACCOUNT) if p.instrument.con_id == con_id),
        Decimal(0),
    )
    position = (await child.ask({"cmd": "position"}, "position"))["quantity"]
    assert position is not None, where
    assert Decimal(position) == held, where


# --- the new order paths: a spread roll's combo, and signals -------------------------------------


def bag_refs(gw: PaperGateway) -> list[str]:
    """The order refs of the combos that reached the gateway, once per placement."""
    return [
        o.request.order_ref
        for o in gw.orders
        if o.request.contract.sec_type == "BAG" and not o.is_modify
    ]


def held_at_gateway(gw: PaperGateway, con_id: int) -> Decimal:
    return sum(
        (p.quantity for p in gw.desk.positions(ACCOUNT) if p.instrument.con_id == con_id),
        Decimal(0),
    )


async def journalled(child: Child) -> dict[str, dict[str, Any]]:
    return {o["key"]: o for o in (await child.ask({"cmd": "orders"}, "orders"))["orders"]}


async def buy_front(child: Child, quantity: int) -> None:
    key = (
        await child.ask(
            {"cmd": "order", "type": "MKT", "side": "BUY", "quantity": quantity}, "submitted"
        )
    )["key"]
    await child.next("state", key=key, state=OrderState.FILLED.value)


async def assert_positions(
    child: Child, gw: PaperGateway, ready: dict[str, Any], front: int, far: int, where: str
) -> None:
    """The console and the gateway hold ``front`` in the front month and ``far`` in the next."""
    for month, expected in (("front", front), ("next", far)):
        assert held_at_gateway(gw, ready[month]["con_id"]) == expected, (where, month)
        held = (await child.ask({"cmd": "position", "month": month}, "position"))["quantity"]
        assert Decimal(held or 0) == expected, (where, month, held)


async def assert_combo_agrees(
    child: Child, gw: PaperGateway, key: str, state: OrderState, filled: int, where: str
) -> None:
    """The journal tells the combo's story as the gateway does: its state, what it rolled, and
    each of its executions (the combo's and its legs') once; it reached the gateway once."""
    order = (await journalled(child))[key]
    assert order["purpose"] == "roll_spread", (where, order)
    assert order["state"] == state.value, (where, order)
    assert Decimal(order["filled"]) == filled, (where, order)
    mine = {e.exec_id for e in gw.desk.executions() if e.order_ref == key}
    assert sorted(order["exec_ids"]) == sorted(mine), (where, order["exec_ids"], mine)
    assert bag_refs(gw).count(key) == (0 if state is OrderState.UNKNOWN else 1), where


async def assert_no_crash(console: Console, child: Child) -> None:
    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    errors = await console.stderr_of_all()
    for sign in ("Traceback", "never retrieved", "Task was destroyed", "caused exception"):
        assert sign not in errors, f"a console crashed:\n{errors}"


async def test_a_spread_roll_killed_anywhere_is_accounted_for_once_with_what_it_rolled(
    console: Console,
) -> None:
    """Killed after the combo's submission was journalled (before placeOrder), as it reaches the
    exchange and fills in part, and after its first part is journalled with the rest filling
    while the console is down."""
    gw = console.gw
    receipts = _KillOnReceipt(gw)
    gw.desk.received = receipts
    child, ready = await console.start()
    front = ready["front"]["con_id"]
    await buy_front(child, 2)

    # 1: the combo journalled with its order id, killed before placeOrder; the restart finds it
    # unknown to IB and sends nothing
    where = "killed between the combo's submission and placeOrder"
    paused = await child.ask({"cmd": "roll", "type": "MKT", "pause": "submission"}, "paused")
    key = paused["key"]
    await console.killed(child)
    child, ready = await console.start()
    assert ready["reconciled"]["unknown"] == [key], where
    await assert_combo_agrees(child, gw, key, OrderState.UNKNOWN, 0, where)
    await assert_positions(child, gw, ready, 2, 0, where)

    # 2: the exchange takes the combo and fills 1 of 2; no answer leaves before the kill
    where = "killed as the combo reached the exchange and filled in part"
    gw.desk.set_partial_fills(2)
    receipts.child = child
    await child.send({"cmd": "roll", "type": "MKT"})
    await child.process.wait()
    key = bag_refs(gw)[-1]
    assert sim_status(gw, key) == "Submitted", where
    child, ready = await console.start()
    assert ready["reconciled"]["matched"] == [key], where
    # the combo's execution and one per leg
    assert ready["reconciled"]["fills_recovered"] == 3, where
    await assert_combo_agrees(child, gw, key, OrderState.PARTIALLY_FILLED, 1, where)
    await assert_positions(child, gw, ready, 1, 1, where)
    fill_now(gw, front, key)  # the rest, while this console watches
    await child.next("state", key=key, state=OrderState.FILLED.value)
    await assert_combo_agrees(child, gw, key, OrderState.FILLED, 2, f"{where}, then filled")
    await assert_positions(child, gw, ready, 0, 2, f"{where}, then filled")

    # 3: the first part journalled, then killed; the rest fills while the console is down
    where = "killed after the combo's first part was journalled"
    await buy_front(child, 2)
    gw.desk.set_partial_fills(2)
    await child.send({"cmd": "roll", "type": "MKT"})
    await console.wait_for(lambda: len(bag_refs(gw)) == 2, timeout=REPLY, what="the second combo")
    key = bag_refs(gw)[-1]
    for _ in range(3):  # the combo's execution and one per leg
        await child.next("fill", key=key)
    await console.killed(child)
    fill_now(gw, front, key)
    child, ready = await console.start()
    assert ready["reconciled"]["filled_while_disconnected"] == [key], where
    assert ready["reconciled"]["fills_recovered"] == 3, where  # the second part's
    await assert_combo_agrees(child, gw, key, OrderState.FILLED, 2, where)
    await assert_positions(child, gw, ready, 0, 4, where)
    assert len(bag_refs(gw)) == len(set(bag_refs(gw))) == 2, "a combo was sent twice"
    await assert_no_crash(console, child)


async def test_a_spread_roll_killed_after_cancelling_its_exits_tells_the_trader_once(
    console: Console,
) -> None:
    """The roll cancels the front month's stop (IB confirms), then the console is killed as its
    combo reaches the exchange and fills, before any answer leaves. The restart places no exits
    by itself (nobody clicked anything in it) and does not stay silent: a critical alert names
    the stop that is gone and what the combo rolled, once, not again at the next start."""
    gw = console.gw
    receipts = _KillOnReceipt(gw)
    gw.desk.received = receipts
    child, ready = await console.start()
    front, far = ready["front"]["con_id"], ready["next"]["con_id"]
    await buy_front(child, 2)
    stop_price = (gw.market.quote(front).bid - 40 * Decimal("0.25")).normalize()
    order = {"cmd": "order", "type": "STP", "side": "SELL", "quantity": 2, "stop": str(stop_price)}
    stop = (await child.ask(order, "submitted"))["key"]
    await child.next("state", key=stop, state=OrderState.WORKING.value)

    receipts.child = child
    await child.send({"cmd": "roll", "type": "MKT"})
    await child.process.wait()
    combo = bag_refs(gw)[-1]
    assert sim_status(gw, stop) == "Cancelled"
    assert sim_status(gw, combo) == "Filled"
    placed = len(gw.orders)

    child, ready = await console.start()
    assert ready["reconciled"]["filled_while_disconnected"] == [combo]
    alert = await child.next("alert", critical=True)
    text = alert["text"]
    assert combo in text, text
    assert ready["front"]["local_symbol"] in text, text
    assert ready["next"]["local_symbol"] in text, text
    assert f"SELL 2 STP stop {stop_price:f}" in text, text
    assert "NOT placed" in text, text
    assert "with 2 rolled" in text, text
    await assert_positions(child, gw, ready, 0, 2, "restarted after the combo filled")
    assert len(gw.orders) == placed, "the restart sent an order nobody clicked"
    assert not [o for o in gw.desk.open_orders() if o.request.contract.con_id == far]

    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    child, ready = await console.start()  # the next start knows the trader was told
    assert not [e for e in child.events if e["event"] == "alert" and combo in e["text"]]
    await assert_no_crash(console, child)


async def a_stop_under_two_long(child: Child, gw: PaperGateway, front: int) -> tuple[str, Decimal]:
    """Buy 2 of the front month and protect them with a working stop; its key and price."""
    await buy_front(child, 2)
    stop_price = (gw.market.quote(front).bid - 40 * Decimal("0.25")).normalize()
    order = {"cmd": "order", "type": "STP", "side": "SELL", "quantity": 2, "stop": str(stop_price)}
    stop = (await child.ask(order, "submitted"))["key"]
    await child.next("state", key=stop, state=OrderState.WORKING.value)
    return stop, stop_price


def new_refs(gw: PaperGateway) -> list[str]:
    """The order refs of the new orders (not changes) the gateway received, in order."""
    return [o.request.order_ref for o in gw.orders if not o.is_modify]


async def assert_told_once(
    console: Console, child: Child, close: str, stop_price: Decimal, ready: dict[str, Any]
) -> None:
    """The restarted console raised one critical alert naming the stop the roll cancelled and
    its close leg, and the start after it raises none."""
    alert = await child.next("alert", critical=True)
    text = alert["text"]
    front, far = ready["front"]["local_symbol"], ready["next"]["local_symbol"]
    assert close in text, text
    assert front in text, text
    assert far in text, text
    assert f"SELL 2 STP stop {stop_price:f}" in text, text
    assert "NOT placed again" in text, text
    assert f"Its close leg in {front} ended filled with 2 closed." in text, text
    assert not [e for e in child.events if e["event"] == "alert" and e["critical"]]
    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    child, ready = await console.start()  # the next start knows the trader was told
    assert not [e for e in child.events if e["event"] == "alert" and e["critical"]]
    await assert_no_crash(console, child)


@pytest.mark.parametrize("leg", ["close", "open"])
async def test_a_two_order_roll_killed_after_cancelling_its_stop_tells_the_trader_once(
    console: Console, leg: str
) -> None:
    """The roll as two orders cancels the front month's stop (IB confirms), closes the front
    month and opens the next; the console is killed as its close leg, or its open leg, reaches
    the exchange and fills, before any answer leaves and before the stop is placed on the next
    month. The restart places nothing and names the stop, once; every order is accounted for
    once."""
    gw = console.gw
    receipts = _KillOnReceipt(gw)
    gw.desk.received = receipts
    child, ready = await console.start()
    front, far = ready["front"]["con_id"], ready["next"]["con_id"]
    stop, stop_price = await a_stop_under_two_long(child, gw, front)
    (entry,) = [k for k in new_refs(gw) if k != stop]

    receipts.child = child
    receipts.skip = 0 if leg == "close" else 1
    await child.send({"cmd": "roll", "as": "orders"})
    await child.process.wait()
    legs = new_refs(gw)[2:]
    assert len(legs) == (1 if leg == "close" else 2), legs
    close = legs[0]
    assert sim_status(gw, stop) == "Cancelled"
    assert {sim_status(gw, k) for k in legs} == {"Filled"}
    placed = len(gw.orders)

    child, ready = await console.start()
    assert ready["reconciled"]["filled_while_disconnected"] == [legs[-1]]
    expected = dict.fromkeys((entry, *legs), (OrderState.FILLED, True))
    expected[stop] = (OrderState.CANCELLED, True)
    await _assert_agree(child, gw, front, expected, f"killed as the {leg} leg filled")
    await assert_positions(child, gw, ready, 0, 0 if leg == "close" else 2, f"{leg} leg")
    assert len(gw.orders) == placed, "the restart sent an order nobody clicked"
    assert not [o for o in gw.desk.open_orders() if o.request.contract.con_id == far]
    await assert_told_once(console, child, close, stop_price, ready)


@pytest.mark.parametrize("reopen", [True, False])
async def test_a_two_order_roll_killed_before_its_close_leg_went_out_tells_the_trader_once(
    console: Console, reopen: bool
) -> None:
    """The roll cancels the front month's stop (IB confirms) and journals its close leg; the
    console is killed before placeOrder. Nothing was closed: the position is there, its stop is
    not. The restart sends nothing and says so, once, whether the roll meant to reopen or only
    to close (a close-only roll cancels the stop for good only once the position is closed)."""
    gw = console.gw
    child, ready = await console.start()
    front = ready["front"]["con_id"]
    stop, stop_price = await a_stop_under_two_long(child, gw, front)
    (entry,) = [k for k in new_refs(gw) if k != stop]

    roll = {"cmd": "roll", "as": "orders", "reopen": reopen, "pause": "intent"}
    close = (await child.ask(roll, "paused"))["key"]
    await console.killed(child)
    assert sim_status(gw, stop) == "Cancelled"
    placed = len(gw.orders)

    child, ready = await console.start()
    assert ready["reconciled"]["unknown"] == [close]
    text = ""
    while not text.startswith("ROLL:"):  # the reconciliation's own alert names the unknown order
        text = (await child.next("alert", critical=True))["text"]
    old = ready["front"]["local_symbol"]
    assert close in text, text
    assert f"SELL 2 STP stop {stop_price:f}" in text, text
    assert "NOT placed again" in text, text
    assert f"Its close leg in {old} ended unknown with 0 closed." in text, text
    assert ("during the roll of" in text) is reopen, text
    expected = {entry: (OrderState.FILLED, True), stop: (OrderState.CANCELLED, True)}
    expected[close] = (OrderState.UNKNOWN, False)
    await _assert_agree(child, gw, front, expected, f"close leg journalled, reopen {reopen}")
    await assert_positions(child, gw, ready, 2, 0, "nothing closed")
    assert len(gw.orders) == placed, "the restart sent an order nobody clicked"
    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    child, ready = await console.start()
    assert not [e for e in child.events if e["event"] == "alert" and "ROLL" in e["text"]]
    await assert_no_crash(console, child)


async def test_a_legged_spread_rest_killed_after_cancelling_its_stop_tells_the_trader_once(
    console: Console,
) -> None:
    """The spread roll cancels the front month's stop and its limit does not fill within the
    fill timeout; legging the rest cancels the combo and sends the close leg, and the console
    is killed as that reaches the exchange and fills. The restart places nothing and names the
    stop, once (the spread's move was handed to the legged roll: no second alert)."""
    with console.config.open("a") as config:
        config.write("[rollover.spread]\nfill_timeout_seconds = 1\n")
    gw = console.gw
    receipts = _KillOnReceipt(gw)
    gw.desk.received = receipts
    child, ready = await console.start()
    front, far = ready["front"]["con_id"], ready["next"]["con_id"]
    stop, stop_price = await a_stop_under_two_long(child, gw, front)
    (entry,) = [k for k in new_refs(gw) if k != stop]
    implied_bid = gw.market.quote(far).bid - gw.market.quote(front).ask
    roll = {"cmd": "roll", "type": "LMT", "limit": str(implied_bid - 2)}  # never fills

    rolled = await child.ask(roll, "rolled")
    spread = rolled["key"]
    assert (rolled["state"], rolled["filled"]) == (OrderState.WORKING.value, "0"), rolled
    assert sim_status(gw, stop) == "Cancelled"
    receipts.child = child
    await child.send({"cmd": "leg_rest", "key": spread})
    await child.process.wait()
    close = new_refs(gw)[-1]
    assert close not in (entry, stop, spread)
    assert (sim_status(gw, spread), sim_status(gw, close)) == ("Cancelled", "Filled")
    placed = len(gw.orders)

    child, ready = await console.start()
    assert ready["reconciled"]["filled_while_disconnected"] == [close]
    expected = dict.fromkeys((entry, close), (OrderState.FILLED, True))
    expected.update(dict.fromkeys((stop, spread), (OrderState.CANCELLED, True)))
    await _assert_agree(child, gw, front, expected, "killed as the legged close leg filled")
    await assert_positions(child, gw, ready, 0, 0, "legged rest")
    assert bag_refs(gw) == [spread]
    assert len(gw.orders) == placed, "the restart sent an order nobody clicked"
    await assert_told_once(console, child, close, stop_price, ready)


@pytest.mark.parametrize("rolled", [False, True])
async def test_a_roll_killed_after_placing_its_stop_again_names_it_as_working_not_missing(
    console: Console, rolled: bool
) -> None:
    """The roll as two orders cancels the front month's stop. Either IB rejects its close leg
    (nothing rolled: the stop is placed again on the front month), or both legs fill (the stop is
    moved to the next month). The console is killed once that stop is placed, before it journals
    the move settled. The restart finds the stop working (journal and IB agree) and names it so,
    in a calm alert, once: no critical alert says it is missing, and nothing is sent."""
    gw = console.gw
    child, ready = await console.start()
    front = ready["front"]["con_id"]
    stop, stop_price = await a_stop_under_two_long(child, gw, front)
    (entry,) = [k for k in new_refs(gw) if k != stop]
    if not rolled:
        gw.faults.reject_next_order("No trading permission for this contract")
    legs = 2 if rolled else 1

    close = (await child.ask({"cmd": "roll", "as": "orders", "pause": "settle"}, "paused"))["key"]
    await console.wait_for(
        lambda: len(new_refs(gw)) == 3 + legs and sim_status(gw, new_refs(gw)[-1]) == "Submitted",
        timeout=REPLY,
        what="the stop placed again",
    )
    placed_again = new_refs(gw)[-1]
    assert new_refs(gw)[:3] == [entry, stop, close]
    await console.killed(child)
    placed = len(gw.orders)

    child, ready = await console.start()
    assert ready["reconciled"]["matched"] == [placed_again]
    alerts = [e for e in child.events if e["event"] == "alert" and "ROLL" in e["text"]]
    assert [a["critical"] for a in alerts] == [False], alerts
    text = alerts[0]["text"]
    month = ready["next" if rolled else "front"]["local_symbol"]
    assert close in text, text
    assert "Placed before it stopped: SELL 2 STP stop " in text, text
    assert f" on {month} ({placed_again}, working)" in text, text
    if not rolled:
        assert f"SELL 2 STP stop {stop_price:f} on {month}" in text, text
    assert "NOT placed" not in text, text
    orders = await journalled(child)
    assert orders[placed_again]["purpose"] == ("roll_move" if rolled else "roll_restore")
    assert orders[placed_again]["state"] == OrderState.WORKING.value
    closed = OrderState.FILLED if rolled else OrderState.REJECTED
    assert orders[close]["state"] == closed.value
    assert sim_status(gw, placed_again) == "Submitted"
    await assert_positions(child, gw, ready, 0 if rolled else 2, 2 if rolled else 0, "killed")
    assert len(gw.orders) == placed, "the restart sent an order nobody clicked"
    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    child, ready = await console.start()  # the move was settled: the next start says nothing
    assert not [e for e in child.events if e["event"] == "alert" and "ROLL" in e["text"]]
    await assert_no_crash(console, child)


async def test_a_spread_roll_killed_before_journalling_its_exits_placed_names_them_working(
    console: Console,
) -> None:
    """The spread order rolls the two contracts a stop protected, and the console places that stop
    on the next month for them; it is killed before it journals the execution protected. The
    restart finds the stop by its key (derived from the execution), working at IB and in the
    journal, and names it so, in a calm alert, once: no critical alert says it is missing, and
    nothing is sent."""
    gw = console.gw
    child, ready = await console.start()
    front = ready["front"]["con_id"]
    stop, _ = await a_stop_under_two_long(child, gw, front)

    move = (await child.ask({"cmd": "roll", "type": "MKT", "pause": "protected"}, "paused"))["key"]
    combo = bag_refs(gw)[-1]
    assert combo == move
    await console.wait_for(
        lambda: sim_status(gw, new_refs(gw)[-1]) == "Submitted",
        timeout=REPLY,
        what="the stop placed on the next month",
    )
    moved = new_refs(gw)[-1]
    assert moved.startswith(f"{move}.x"), moved
    await console.killed(child)
    placed = len(gw.orders)

    child, ready = await console.start()
    alerts = [e for e in child.events if e["event"] == "alert" and "ROLL" in e["text"]]
    assert [a["critical"] for a in alerts] == [False], alerts
    text = alerts[0]["text"]
    assert move in text, text
    assert "Placed before it stopped: SELL 2 STP stop " in text, text
    assert f" on {ready['next']['local_symbol']} ({moved}, working)" in text, text
    assert "NOT placed" not in text, text
    assert "The spread order ended filled with 2 rolled." in text, text
    orders = await journalled(child)
    assert orders[moved]["purpose"] == "roll_move"
    assert orders[moved]["state"] == OrderState.WORKING.value
    assert sim_status(gw, stop) == "Cancelled"
    assert sim_status(gw, moved) == "Submitted"
    await assert_positions(child, gw, ready, 0, 2, "killed")
    assert len(gw.orders) == placed, "the restart sent an order nobody clicked"
    await child.ask({"cmd": "quit"}, "stopped")
    await child.process.wait()
    child, ready = await console.start()  # the move was settled: the next start says nothing
    assert not [e for e in child.events if e["event"] == "alert" and "ROLL" in e["text"]]
    await assert_no_crash(console, child)


def signal_body(key: str) -> dict[str, Any]:
    return {"secret": SIGNAL_SECRET, "id": key, "symbol": "MES1!", "action": "buy", "quantity": 1}


def signals_journalled(folder: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(folder / "journal.sqlite")) as db:
        return [key for (key,) in db.execute("SELECT key FROM signals ORDER BY key")]


async def test_a_signal_acknowledged_or_journalled_then_killed_is_in_the_inbox_once(
    console: Console,
) -> None:
    """Killed the moment the sender has read its 202 (before the console did anything more), and
    killed after the signal was journalled but before the 202 left: after each restart it waits
    in the inbox once, the sender's retry is told it is known (409), and nothing was sent."""
    gw = console.gw
    child, ready = await console.start(signals=True)
    assert ready["inbox"] == []
    async with aiohttp.ClientSession() as http:

        async def post(key: str) -> int:
            url = ready["signals_url"]
            async with http.post(url, json=signal_body(key), timeout=_HTTP) as answer:
                return answer.status

        # 1: 202 read by the sender, then killed before the inbox showed the signal
        where = "killed once the sender had its 202"
        async with http.post(
            ready["signals_url"], json=signal_body("s-acked"), timeout=_HTTP
        ) as answer:
            assert answer.status == 202, where
            await console.killed(child)
            acked = (await answer.json())["key"]
        child, ready = await console.start(signals=True)
        assert ready["inbox"] == [{"key": acked, "state": "new"}], where
        assert await post("s-acked") == 409, where  # the retry is not acknowledged as new
        assert signals_journalled(console.folder) == [acked], where

        # 2: journalled, killed before the 202 left; the sender saw the connection die
        where = "killed between the signal's journal entry and its 202"
        await child.ask({"cmd": "pause_signals"}, "pausing_signals")
        sending = asyncio.ensure_future(post("s-journalled"))
        journalled = (await child.next("paused", at="signal"))["key"]
        await console.killed(child)
        with pytest.raises(aiohttp.ClientError):
            await sending
        child, ready = await console.start(signals=True)
        assert ready["inbox"] == [
            {"key": acked, "state": "new"},
            {"key": journalled, "state": "new"},
        ], where
        assert await post("s-journalled") == 409, where
        assert await post("s-new") == 202, where
        new = (await child.next("arrived"))["key"]
        inbox = (await child.ask({"cmd": "inbox"}, "inbox"))["entries"]
        assert [e["key"] for e in inbox] == [acked, journalled, new], where
    assert signals_journalled(console.folder) == sorted([acked, journalled, new])
    assert gw.orders == [], "a signal was sent without a click"
    await assert_no_crash(console, child)
