"""A headless console for the crash tests: the broker and journal the app builds, driven by JSON
commands on stdin, reporting on stdout, one JSON object a line, so a test can kill it (SIGKILL)
at a known point and start another on the same journal.

    python tests/e2e/crash_driver.py CONFIG.toml --as-of ISO [--signals]

The broker is built as ``ibconsole.ui.context.open_context`` builds it for the window (settings
from CONFIG, the default profile's endpoint, the journal at ``journal_path``, ``health``,
``risk`` and both rolls' fill timeouts from the file), without Qt. With ``--signals`` the signal inbox and its endpoint are
built as ``ibconsole.app`` builds them (the inbox restored from the journal, the endpoint on a
free port, the secret from ``IBCONSOLE_SIGNAL_SECRET``). Once connected, synced and reconciled,
with a quote on the ES front and next months, it reports ``{"event": "ready", "reconciled":
{...}, "front": {...}, "next": {...}, "signals_url": URL|null, "inbox": [...]}``.

Commands:
    {"cmd": "order", "type": "MKT"|"LMT"|"STP", "side": "BUY"|"SELL", "quantity": N,
     "limit": "PRICE", "stop": "PRICE", "pause": "intent"|"submission"|null}
        submit (confirmed); with ``pause`` the process stops for good right after the journal
        wrote the intent with its decision and submission (one transaction: both points are
        that moment, before any byte is sent), reporting
        {"event": "paused", "at": ..., "key": K} first; else {"event": "submitted", "key": K}
    {"cmd": "roll", "type": "MKT"|"LMT", "limit": "PRICE",
     "pause": "intent"|"submission"|"settle"|"protected"|null, "as": "spread"|"orders",
     "reopen": true|false}
        roll the whole front-month position into the next month as one calendar-spread order
        (as two orders, close then open, with "as": "orders"; close only with "reopen": false);
        {"event": "rolling"} at once, {"event": "paused", ...} as for an order (the key is the
        spread order's, or the close leg's; with "settle", once the roll has placed what it places
        and is about to journal its exit move settled, the key the move's; with "protected",
        once a spread execution's exits are placed on the next month, before the journal says
        so, the key the move's), then
        {"event": "rolled", "key": K, "state": S, "filled": "N"} (the spread order, or the open
        leg) or {"event": "roll_refused", "reason": R} once the roll returns
    {"cmd": "leg_rest", "key": K}
        cancel the rest of the working spread order K and roll it as two orders; {"event":
        "legging"} at once, then "rolled" (the open leg) or "roll_refused" as for a roll
    {"cmd": "orders"}      {"event": "orders", "orders": [...]} from the journal
    {"cmd": "position", "month": "front"|"next"}
                           {"event": "position", "quantity": "N"|null} in that month (front)
    {"cmd": "inbox"}       {"event": "inbox", "entries": [{"key", "state"}...]} (--signals)
    {"cmd": "cancel_all"}  {"event": "cancelling", "sent": N}
    {"cmd": "quit"}        stop cleanly, {"event": "stopped"}

Unasked: {"event": "state", "key": K, "state": S} when a journalled order changes state,
{"event": "fill", "key": K, "exec_id": E} when an execution is journalled,
{"event": "alert", "text": T, "critical": B} when the orders raise an alert and
{"event": "arrived", "key": K} when a signal joins the inbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibconsole.broker import roll_exits
from ibconsole.broker.broker import Broker
from ibconsole.broker.order_values import OrderRefused, OrderRow, Reconciliation
from ibconsole.broker.session import Endpoint
from ibconsole.broker.signal_endpoint import SignalEndpoint
from ibconsole.broker.signal_inbox import InboxEntry, SignalInbox
from ibconsole.config import load_settings
from ibconsole.domain.clock import Clock, OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderIntent, OrderType, Purpose, build_intent
from ibconsole.domain.quotes import Quote
from ibconsole.domain.rollover import RolloverSettings, plan_roll
from ibconsole.domain.signals import Signal
from ibconsole.journal import Decision, Journal, JournalFill, JournalOrder
from ibconsole.journal.roll_exit_log import RollExitLog
from ibconsole.journal.signal_log import SignalLog

_READY_TIMEOUT = 20.0


def report(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


class PausingJournal(Journal):
    """The journal, able to stop the process for good right after one order's intent or
    submission was written (the test kills it there)."""

    # (point, what): ``what`` is an order's key, or a purpose (the next order of that purpose)
    pause_at: tuple[str, str] | None = None

    def record_entry(
        self,
        intent: OrderIntent,
        children: Sequence[OrderIntent] = (),
        decision: Decision | None = None,
        findings: Sequence[str] = (),
        order_ids: Sequence[int] = (),
        client_id: int = 0,
    ) -> JournalOrder:
        # An order sent is journalled with its decision and submission in one transaction:
        # "intent" and "submission" both stop the process once it is written, before any byte.
        written = super().record_entry(intent, children, decision, findings, order_ids, client_id)
        if decision is not None:
            self._maybe_pause("intent", written)
        if order_ids:
            self._maybe_pause("submission", written)
        return written

    def _maybe_pause(self, point: str, order: JournalOrder) -> None:
        if self.pause_at is None:
            return
        at, what = self.pause_at
        if at == point and what in (order.key, order.intent.purpose.value):
            stop_for_good(point, order.key)


class PausingSignalLog(SignalLog):
    """The signal log, able to stop the process for good right after it journalled a signal,
    before the endpoint answers 202 (the test kills it there)."""

    pause = False

    def record(self, signal: Signal) -> bool:
        new = super().record(signal)
        if self.pause:
            stop_for_good("signal", signal.key)
        return new


class PausingRollExitLog(RollExitLog):
    """The log of rolls' exit moves, able to stop the process for good right before a move is
    journalled settled (``settle``: its exits placed again, the entry not cleared yet) or an
    execution's exits journalled placed (``protected``: placed on the new month, not journalled)."""

    pause_at: str | None = None

    def record_protected(self, key: str, exec_id: str, time: datetime) -> None:
        if self.pause_at == "protected":
            stop_for_good("protected", key)
        super().record_protected(key, exec_id, time)

    def record_settled(self, key: str, time: datetime) -> None:
        if self.pause_at == "settle":
            stop_for_good("settle", key)
        super().record_settled(key, time)


def stop_for_good(point: str, key: str) -> None:
    report("paused", at=point, key=key)
    while True:  # nothing more happens in this process: the test kills it here
        signal.pause()


class Driver:
    def __init__(
        self,
        broker: Broker,
        journal: PausingJournal,
        clock: Clock,
        inbox: SignalInbox | None = None,
        endpoint: SignalEndpoint | None = None,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.clock = clock
        self.inbox = inbox
        self.endpoint = endpoint
        self.front: ListedContract | None = None
        self.next: ListedContract | None = None
        self.reconciled: list[Reconciliation] = []
        self._states: dict[str, str] = {}
        self._rolls: set[asyncio.Task[None]] = set()
        broker.orders.reconciled += self.reconciled.append
        broker.orders.order_changed += self._on_order
        broker.orders.fill_recorded += self._on_fill
        broker.orders.alert += self._on_alert
        if inbox is not None:
            inbox.arrived += self._on_signal

    async def start(self) -> None:
        broker = self.broker
        if self.inbox is not None and self.endpoint is not None:
            # As the app does: the journal's signals are back in the inbox before the endpoint
            # takes new ones.
            self.inbox.restore()
            await self.endpoint.start(0)
        await broker.start()
        months = (await broker.contracts.chain("ES")).contracts
        self.front, self.next = months[0], months[1]
        # Reconciliation is over when start() returns: it runs as the session reports synced.
        assert self.reconciled, "connected without a reconciliation"
        waiting = {self.front.con_id, self.next.con_id}
        quoted = asyncio.Event()

        def on_quotes(quotes: tuple[Quote, ...]) -> None:
            waiting.difference_update(q.con_id for q in quotes)
            if not waiting:
                quoted.set()

        broker.market.quotes_updated += on_quotes
        broker.market.subscribe(self.front)
        broker.market.subscribe(self.next)
        try:
            await asyncio.wait_for(quoted.wait(), _READY_TIMEOUT)
        finally:
            broker.market.quotes_updated -= on_quotes
        for order in self.journal.orders(limit=None):
            self._states[order.key] = order.state.value
        report(
            "ready",
            reconciled=asdict(self.reconciled[-1]),
            front={"con_id": self.front.con_id, "local_symbol": self.front.local_symbol},
            next={"con_id": self.next.con_id, "local_symbol": self.next.local_symbol},
            signals_url=self.endpoint.url if self.endpoint is not None else None,
            inbox=self._inbox(),
        )

    def handle(self, command: dict[str, Any]) -> bool:
        """Carry out one command; False once told to quit."""
        match command["cmd"]:
            case "order":
                intent = self._intent(command)
                pause = command.get("pause")
                self.journal.pause_at = (pause, intent.key) if pause else None
                self.broker.orders.submit(intent, confirmed=True)
                report("submitted", key=intent.key)
            case "roll":
                pause = command.get("pause")
                first = Purpose.ROLL_CLOSE if command.get("as") == "orders" else Purpose.ROLL_SPREAD
                self.journal.pause_at = (pause, first.value) if pause else None
                PausingRollExitLog.pause_at = pause
                self._spawn(self._roll(command))
                report("rolling")
            case "leg_rest":
                self._spawn(self._rolled(self.broker.orders.leg_rest(command["key"])))
                report("legging")
            case "orders":
                report("orders", orders=[_order(o) for o in self.journal.orders(limit=None)])
            case "position":
                month = self.next if command.get("month") == "next" else self.front
                assert month is not None
                held = self.broker.account.position(month.con_id)
                report("position", quantity=None if held is None else str(held.quantity))
            case "inbox":
                report("inbox", entries=self._inbox())
            case "cancel_all":
                report("cancelling", sent=self.broker.orders.cancel_all())
            case "quit":
                return False
            case other:
                raise ValueError(f"unknown command {other!r}")
        return True

    def _spawn(self, rolling: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(rolling)
        self._rolls.add(task)
        task.add_done_callback(self._rolls.discard)

    async def _roll(self, command: dict[str, Any]) -> None:
        assert self.front is not None
        assert self.next is not None
        orders = self.broker.orders
        held = self.broker.account.position(self.front.con_id)
        assert held is not None, "positions not synced"
        assert held.quantity, "nothing held to roll"
        plan = plan_roll(
            held.quantity,
            self.front,
            self.next,
            orders.working_orders(self.front.con_id),
            RolloverSettings(reopen_on_roll=command.get("reopen", True)),
        )
        limit = command.get("limit")
        if command.get("as") == "orders":
            await self._rolled(orders.roll(plan))
            return
        await self._rolled(
            orders.roll_spread(
                plan,
                OrderType(command["type"]),
                Decimal(limit) if limit is not None else None,
            )
        )

    async def _rolled(self, rolling: Awaitable[JournalOrder | None]) -> None:
        try:
            done = await rolling
        except OrderRefused as refused:
            report("roll_refused", reason=refused.reason)
            return
        if done is None:
            report("rolled", key=None, state=None, filled="0")
            return
        report(
            "rolled",
            key=done.key,
            state=done.state.value,
            filled=str(done.lifecycle.filled),
        )

    def _inbox(self) -> list[dict[str, str]]:
        if self.inbox is None:
            return []
        return [{"key": e.key, "state": e.state.value} for e in self.inbox.entries]

    def _intent(self, command: dict[str, Any]) -> OrderIntent:
        assert self.front is not None
        limit, stop = command.get("limit"), command.get("stop")
        return build_intent(
            contract=self.front,
            side=command["side"],
            quantity=command["quantity"],
            order_type=command["type"],
            limit_price=Decimal(limit) if limit is not None else None,
            stop_price=Decimal(stop) if stop is not None else None,
            clock=self.clock,
            account=self.broker.account.account,
        )

    def _on_order(self, row: OrderRow) -> None:
        order = self.journal.order(row.key) if row.key else None
        if order is not None and self._states.get(order.key) != order.state.value:
            self._states[order.key] = order.state.value
            report("state", key=order.key, state=order.state.value)

    def _on_fill(self, fill: JournalFill) -> None:
        report("fill", key=fill.key, exec_id=fill.exec_id)

    def _on_alert(self, text: str, critical: bool) -> None:
        report("alert", text=text, critical=critical)

    def _on_signal(self, entry: InboxEntry) -> None:
        report("arrived", key=entry.key)


def _order(order: JournalOrder) -> dict[str, Any]:
    life = order.lifecycle
    return {
        "key": order.key,
        "purpose": order.intent.purpose.value,
        "state": order.state.value,
        "quantity": str(life.quantity),
        "executed": str(life.executed),
        "filled": str(life.filled),
        "exec_ids": [part.exec_id for part in life.fills],
        "reconciliation": life.reconciliation.value if life.reconciliation else None,
    }


async def run(config: Path, as_of: datetime, signals: bool) -> None:
    # As ibconsole.ui.context.open_context builds it, from the same settings.
    settings = load_settings(config, environ={})
    profile = settings.profile()
    clock = OffsetClock(as_of)
    assert settings.journal_path is not None, "the crash tests keep the journal in their folder"
    journal = PausingJournal(settings.journal_path, clock)
    roll_exits.RollExitLog = PausingRollExitLog  # type: ignore[misc]  # the roll services' log
    broker = Broker(
        Endpoint(profile.host, profile.port, profile.client_id, profile.account, profile.read_only),
        journal,
        clock,
        health=settings.health,
        limits=settings.risk,
    )
    broker.orders.spread_rolls.fill_timeout = settings.spread_roll.fill_timeout.total_seconds()
    broker.orders.rolls.fill_timeout = settings.rollover.fill_timeout.total_seconds()
    inbox = endpoint = signal_log = None
    if signals:
        # As ibconsole.ui.context.signal_inbox and ibconsole.app build them.
        signal_log = PausingSignalLog(journal.path)
        inbox = SignalInbox(
            broker.entry,
            broker.contracts,
            broker.calendars,
            broker.market,
            journal,
            signal_log,
            clock,
            settings.signals,
            settings.rollover,
        )
        endpoint = SignalEndpoint(
            settings.signals, os.environ["IBCONSOLE_SIGNAL_SECRET"], signal_log, inbox.accept, clock
        )
    driver = Driver(broker, journal, clock, inbox, endpoint)
    await driver.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "pause_signals":
            assert signal_log is not None, "started without --signals"
            signal_log.pause = True
            report("pausing_signals")
        elif not driver.handle(command):
            break
    if endpoint is not None:
        await endpoint.stop()
    if inbox is not None:
        await inbox.close()
    await broker.stop()
    journal.close()
    report("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--as-of", type=datetime.fromisoformat, required=True)
    parser.add_argument("--signals", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.config, args.as_of, args.signals))


if __name__ == "__main__":
    main()
