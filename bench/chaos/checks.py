"""The end of a scenario: the gateway heals, the console recovers and reconciles, whatever still
works is cancelled through the console, and then the journal is compared with the simulator:

- lost: a journalled order without a final state, an execution or an order at the simulator that
  the journal does not hold; a signal acknowledged (202) that the journal or the inbox lacks;
- duplicated: an orderRef the simulator received more than once; a signal acknowledged twice,
  journalled twice, or sent as two orders;
- mismatches: a final state, filled quantity or position that differs from the simulator's, a
  refused signal that was journalled or became an order, and quote, bar or depth streams, tasks
  or subscriptions the console holds that it should not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from bench.chaos.scene import RECOVERY, SETTLE, Scene
from bench.chaos.signals import SignalSteps
from bench.stress_rig import CLIENT_ID, sim_bar_streams, until
from ibconsole.broker.order_values import OrderRefused
from ibconsole.domain.signals import SignalState
from ibconsole.journal import JournalOrder, OrderState


async def recover(scene: Scene) -> bool:
    """Wait for the healed console to sync, then end every order; False if it never synced."""
    rig, orders = scene.rig, scene.orders
    if not await until(lambda: rig.synced, RECOVERY):
        health = scene.broker.session.health
        scene.outcome.crashes.append(
            f"the console did not recover: {health.state.value} ({health.reason}); "
            f"orders: {orders.entry_block()}"
        )
        await scene.background_done(0)
        return False
    # A roll waits for its legs as long as they work: what still works is cancelled, as a
    # trader would, until the background work has ended.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECOVERY
    while loop.time() < deadline:
        await _end_orders(scene)
        running = [t for t in scene.background if not t.done()]
        if not running:
            break
        await asyncio.wait(running, timeout=0.2)
    await scene.background_done(0)
    await _end_orders(scene)
    return True


async def _end_orders(scene: Scene) -> None:
    """Cancel through the console whatever still works, until every order is final."""
    journal, orders = scene.rig.journal, scene.orders
    for _ in range(5):
        if not journal.open_orders() and not any(r.ours and r.working for r in orders.rows()):
            return
        if scene.rig.synced:
            with contextlib.suppress(OrderRefused):
                orders.cancel_all()
        if await until(lambda: not journal.open_orders(), SETTLE):
            return
        await until(lambda: scene.rig.synced, RECOVERY)


def check_orders(scene: Scene) -> None:
    journal, outcome, desk = scene.rig.journal, scene.outcome, scene.gw.desk
    ours = [o for o in scene.gw.orders if o.client_id == CLIENT_ID]
    received = Counter(o.request.order_ref for o in ours if not o.is_modify)
    outcome.duplicated += [
        f"{ref} reached the simulator {n} times" for ref, n in received.items() if n > 1
    ]
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
        placed = at_sim.get(execution.order_ref)
        # a combo's legs execute beside it: the combo's own execution is the order's
        if placed is None or execution.con_id == placed.con_id:
            executed[execution.order_ref] += execution.shares
        if execution.exec_id not in known:
            outcome.lost.append(
                f"execution {execution.exec_id} of {execution.order_ref} is not journalled"
            )
    journalled = journal.orders(limit=None)
    outcome.orders = len(journalled)
    keys = {o.key for o in journalled}
    outcome.lost += [
        f"{ref} reached the simulator but is not journalled" for ref in received if ref not in keys
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


async def check_positions(scene: Scene) -> None:
    account = scene.broker.account

    def differences() -> list[str]:
        sim = {p.instrument.con_id: p.quantity for p in scene.gw.desk.positions(account.account)}
        found = []
        for con_id in sorted(set(scene.traded) | {c for c, q in sim.items() if q}):
            contract = scene.traded.get(con_id)
            name = contract.local_symbol if contract is not None else f"conId {con_id}"
            mine = account.position(con_id)
            theirs = sim.get(con_id, Decimal(0))
            held = Decimal(0) if mine is None and con_id not in scene.traded else None
            quantity = mine.quantity if mine is not None else held
            if quantity != theirs:
                shown = "unknown" if quantity is None else f"{quantity}"
                found.append(f"position in {name}: console {shown}, simulator {theirs}")
        return found

    if not await until(lambda: not differences(), SETTLE):
        scene.outcome.mismatches += differences()


async def check_streams(scene: Scene) -> None:
    market, gw = scene.broker.market, scene.gw

    def differences() -> list[str]:
        found = []
        quotes = len(market.subscriptions())
        if quotes != gw.market_data.subscription_count():
            found.append(
                f"{quotes} quote subscriptions in the console, "
                f"{gw.market_data.subscription_count()} at the simulator"
            )
        bars = len(market.bar_subscriptions())
        if bars != sim_bar_streams(gw):
            found.append(
                f"{bars} bar streams in the console, {sim_bar_streams(gw)} at the simulator"
            )
        depth = len(scene.broker.depth.subscriptions())
        if depth != gw.depth.subscription_count():
            found.append(
                f"{depth} depth subscriptions in the console, "
                f"{gw.depth.subscription_count()} at the simulator"
            )
        return found

    if not await until(lambda: not differences(), SETTLE):
        scene.outcome.mismatches += differences()


async def check_unsubscribed(scene: Scene, quotes: dict[int, int]) -> None:
    """Back to the subscriptions the scenario started with, here and at the simulator."""
    market, gw = scene.broker.market, scene.gw

    def differences() -> list[str]:
        found = []
        held = (
            market.subscriptions(),
            market.bar_subscriptions(),
            scene.broker.depth.subscriptions(),
        )
        if held[0] != quotes or held[1] or held[2]:
            found.append(
                f"the console still subscribes quotes {held[0]}, bars {held[1]} and depth "
                f"{held[2]}, after starting with quotes {quotes}"
            )
        at_sim = (
            gw.market_data.subscription_count(),
            sim_bar_streams(gw),
            gw.depth.subscription_count(),
        )
        if scene.rig.synced and at_sim != (len(quotes), 0, 0):
            found.append(
                f"the simulator still streams {at_sim[0]} quotes, {at_sim[1]} bars, "
                f"{at_sim[2]} depth books"
            )
        return found

    if not await until(lambda: not differences(), SETTLE):
        scene.outcome.mismatches += differences()


def check_signals(scene: Scene, signals: SignalSteps) -> None:
    """Every signal accounted for exactly once: acknowledged ones journalled once and shown, at
    most one order each, refused ones neither journalled nor shown nor sent."""
    outcome, journal = scene.outcome, scene.rig.journal
    acknowledged = {k for k, answers in signals.answers.items() if 202 in answers}
    outcome.signals = len(acknowledged)
    outcome.duplicated += [
        f"signal {k} was acknowledged {a.count(202)} times"
        for k, a in signals.answers.items()
        if a.count(202) > 1
    ]
    outcome.mismatches += [
        f"signal {k}, acknowledged before, was answered {a[a.index(202) + 1 :]} when repeated"
        for k, a in signals.answers.items()
        if 202 in a and any(status != 409 for status in a[a.index(202) + 1 :])
    ]
    logged = Counter(signals.journalled())
    outcome.duplicated += [f"signal {k} journalled {n} times" for k, n in logged.items() if n > 1]
    outcome.lost += [
        f"signal {k} acknowledged but not journalled" for k in acknowledged - set(logged)
    ]
    refused = set(signals.answers) - acknowledged
    outcome.mismatches += [f"refused signal {k} was journalled" for k in refused & set(logged)]
    states = signals.states()
    outcome.lost += [
        f"signal {k} acknowledged but not in the inbox" for k in acknowledged - set(states)
    ]
    outcome.mismatches += [f"refused signal {k} is in the inbox" for k in refused & set(states)]
    outcome.duplicated += signals.unsendable_orders
    order_keys = Counter(signals.sent.values())
    outcome.duplicated += [
        f"order {k} stands for {n} signals" for k, n in order_keys.items() if n > 1
    ]
    for key, order_key in signals.sent.items():
        if journal.order(order_key) is None:
            outcome.lost.append(f"the order {order_key} of signal {key} is not journalled")
        if states.get(key) not in (SignalState.SENT, SignalState.FILLED):
            outcome.mismatches.append(f"signal {key} was sent but is {states.get(key)}")
        if key in signals.expired:
            outcome.mismatches.append(f"expired signal {key} was sent")
        order = journal.order(order_key)
        filled = order is not None and order.state is OrderState.FILLED
        if filled and states.get(key) is not SignalState.FILLED:
            outcome.mismatches.append(
                f"the order of signal {key} filled, but the inbox shows it {states.get(key)}"
            )
    outcome.mismatches += [
        f"signal {k} is {s.value} but no send of it was answered Sent"
        for k, s in states.items()
        if s in (SignalState.SENT, SignalState.FILLED) and k not in signals.sent
    ]


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
