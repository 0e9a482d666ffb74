"""A headless console for the crash tests: the broker and journal the app builds, driven by JSON
commands on stdin, reporting on stdout, one JSON object a line, so a test can kill it (SIGKILL)
at a known point and start another on the same journal.

    python tests/e2e/crash_driver.py CONFIG.toml --as-of ISO

The broker is built as ``ibconsole.ui.context.open_context`` builds it for the window (settings
from CONFIG, the default profile's endpoint, the journal at ``journal_path``, ``health`` and
``risk`` from the file), without Qt. Once connected, synced and reconciled, with a quote on the ES front month,
it reports ``{"event": "ready", "reconciled": {...}, "front": {...}}``.

Commands:
    {"cmd": "order", "type": "MKT"|"LMT", "side": "BUY"|"SELL", "quantity": N,
     "limit": "PRICE", "pause": "intent"|"submission"|null}
        submit (confirmed); with ``pause`` the process stops for good right after the journal
        wrote the intent (and its decision) or the submission, reporting
        {"event": "paused", "at": ..., "key": K} first; else {"event": "submitted", "key": K}
    {"cmd": "orders"}      {"event": "orders", "orders": [...]} from the journal
    {"cmd": "position"}    {"event": "position", "quantity": "N"|null} in the front month
    {"cmd": "cancel_all"}  {"event": "cancelling", "sent": N}
    {"cmd": "quit"}        stop cleanly, {"event": "stopped"}

Unasked: {"event": "state", "key": K, "state": S} when a journalled order changes state and
{"event": "fill", "key": K, "exec_id": E} when an execution is journalled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibconsole.broker.broker import Broker
from ibconsole.broker.order_values import OrderRow, Reconciliation
from ibconsole.broker.session import Endpoint
from ibconsole.config import load_settings
from ibconsole.domain.clock import Clock, OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderIntent, build_intent
from ibconsole.domain.quotes import Quote
from ibconsole.journal import Decision, Journal, JournalFill, JournalOrder

_READY_TIMEOUT = 20.0


def report(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


class PausingJournal(Journal):
    """The journal, able to stop the process for good right after one order's intent or
    submission was written (the test kills it there)."""

    pause_at: tuple[str, str] | None = None  # (point, key)

    def record_decision(
        self, key: str, decision: Decision | str, findings: Sequence[str]
    ) -> JournalOrder:
        written = super().record_decision(key, decision, findings)
        self._maybe_pause("intent", key)
        return written

    def record_submission(
        self, key: str, order_id: int, client_id: int, parent_key: str | None = None
    ) -> JournalOrder:
        written = super().record_submission(key, order_id, client_id, parent_key)
        self._maybe_pause("submission", key)
        return written

    def _maybe_pause(self, point: str, key: str) -> None:
        if self.pause_at == (point, key):
            report("paused", at=point, key=key)
            while True:  # nothing more happens in this process: the test kills it here
                signal.pause()


class Driver:
    def __init__(self, broker: Broker, journal: PausingJournal, clock: Clock) -> None:
        self.broker = broker
        self.journal = journal
        self.clock = clock
        self.front: ListedContract | None = None
        self.reconciled: list[Reconciliation] = []
        self._states: dict[str, str] = {}
        broker.orders.reconciled += self.reconciled.append
        broker.orders.order_changed += self._on_order
        broker.orders.fill_recorded += self._on_fill

    async def start(self) -> None:
        broker = self.broker
        await broker.start()
        front = self.front = (await broker.contracts.chain("ES")).contracts[0]
        # Reconciliation is over when start() returns: it runs as the session reports synced.
        assert self.reconciled, "connected without a reconciliation"
        quoted = asyncio.Event()

        def on_quotes(quotes: tuple[Quote, ...]) -> None:
            if any(q.con_id == front.con_id for q in quotes):
                quoted.set()

        broker.market.quotes_updated += on_quotes
        broker.market.subscribe(front)
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
            case "orders":
                report("orders", orders=[_order(o) for o in self.journal.orders(limit=None)])
            case "position":
                assert self.front is not None
                held = self.broker.account.position(self.front.con_id)
                report("position", quantity=None if held is None else str(held.quantity))
            case "cancel_all":
                report("cancelling", sent=self.broker.orders.cancel_all())
            case "quit":
                return False
            case other:
                raise ValueError(f"unknown command {other!r}")
        return True

    def _intent(self, command: dict[str, Any]) -> OrderIntent:
        assert self.front is not None
        limit = command.get("limit")
        return build_intent(
            contract=self.front,
            side=command["side"],
            quantity=command["quantity"],
            order_type=command["type"],
            limit_price=Decimal(limit) if limit is not None else None,
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


def _order(order: JournalOrder) -> dict[str, Any]:
    life = order.lifecycle
    return {
        "key": order.key,
        "state": order.state.value,
        "quantity": str(life.quantity),
        "executed": str(life.executed),
        "exec_ids": [part.exec_id for part in life.fills],
        "reconciliation": life.reconciliation.value if life.reconciliation else None,
    }


async def run(config: Path, as_of: datetime) -> None:
    # As ibconsole.ui.context.open_context builds it, from the same settings.
    settings = load_settings(config, environ={})
    profile = settings.profile()
    clock = OffsetClock(as_of)
    assert settings.journal_path is not None, "the crash tests keep the journal in their folder"
    journal = PausingJournal(settings.journal_path, clock)
    broker = Broker(
        Endpoint(profile.host, profile.port, profile.client_id, profile.account, profile.read_only),
        journal,
        clock,
        health=settings.health,
        limits=settings.risk,
    )
    driver = Driver(broker, journal, clock)
    await driver.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if not driver.handle(json.loads(line)):
            break
    await broker.stop()
    journal.close()
    report("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--as-of", type=datetime.fromisoformat, required=True)
    args = parser.parse_args()
    asyncio.run(run(args.config, args.as_of))


if __name__ == "__main__":
    main()
