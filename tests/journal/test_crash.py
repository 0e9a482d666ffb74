"""A writer killed with SIGKILL at a random point loses nothing it acknowledged, half-writes nothing."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.journal import Decision, Journal, OrderState, derive

# Journals brackets (three intents in one transaction), then decides and submits each, and
# prints one line per call only after the call has returned.
WRITER = """
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from ibconsole.domain.clock import SystemClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import Bracket, OrderIntent, OrderType, Side, TimeInForce
from ibconsole.journal import Journal

contract = ListedContract("ES", "ESH5", 620731015, "202503", datetime(2025, 3, 21, tzinfo=UTC),
                          "CME", "USD", Decimal(50), Decimal("0.25"), "ES")

def intent(key, side, order_type, limit, stop, bracket=None):
    return OrderIntent(key, contract, side, Decimal(1), order_type, limit, stop,
                       TimeInForce.DAY, bracket, datetime.now(UTC))

journal = Journal(Path(sys.argv[1]), SystemClock())
print("ready", flush=True)
n = 0
while True:
    key = f"ibc-{n}"
    parent = intent(key, Side.BUY, OrderType.LIMIT, Decimal(5000),  None,
                    Bracket(Decimal(5010), Decimal(4990)))
    journal.record_intent(parent, [
        intent(parent.take_profit_key, Side.SELL, OrderType.LIMIT, Decimal(5010), None),
        intent(parent.stop_loss_key, Side.SELL, OrderType.STOP, None, Decimal(4990)),
    ])
    print("intent", key, flush=True)
    journal.record_decision(key, "confirmed", ["crash test"])
    print("decision", key, flush=True)
    journal.record_submission(key, n + 1, 7)
    print("submission", key, flush=True)
    n += 1
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_loses_nothing_acknowledged(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "journal.sqlite3"
    kill_after = random.Random(seed).randint(10, 300)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n", child.stderr
        lines = [child.stdout.readline() for _ in range(kill_after)]
        child.send_signal(signal.SIGKILL)
        # Lines the child printed before it died were acknowledged too.
        lines += child.stdout.readlines()
    finally:
        child.kill()
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr
    acked = [line.split() for line in lines if line.endswith("\n")]
    assert len(acked) >= kill_after

    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Journal(path, ManualClock(datetime(2025, 1, 2, tzinfo=UTC))) as journal:
        for step, key in acked:
            order = journal.order(key)
            assert order is not None, (step, key)
            if step in ("decision", "submission"):
                assert order.lifecycle.decision is Decision.CONFIRMED
            if step == "submission":
                assert order.state is OrderState.SUBMITTED
        orders = journal.orders(limit=None)
        parents = [o for o in orders if o.lifecycle.parent_key is None]
        assert len(parents) >= len({key for _, key in acked})
        for parent in parents:
            # A bracket is all there or not there at all, and so is its decision.
            children = [o for o in orders if o.lifecycle.parent_key == parent.key]
            assert sorted(c.key for c in children) == [f"{parent.key}.sl", f"{parent.key}.tp"]
            assert {c.lifecycle.decision for c in children} == {parent.lifecycle.decision}
        for order in orders:
            assert derive(journal.events(order.key)) == order.lifecycle
        journal.rebuild_projection()
        assert journal.orders(limit=None) == orders
