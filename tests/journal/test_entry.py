"""A new order journalled in one transaction (``Journal.record_entry``): the same events and the
same projection rows as ``record_intent``, ``record_decision`` and ``record_submission`` one after
the other, all written or none, in a single BEGIN/COMMIT with each order's row written once."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.orders import Bracket, OrderIntent
from ibconsole.journal import Decision, IntentRecorded, Journal, JournalError, OrderState
from ibconsole.journal.codec import encode_intent, encode_new_order, encode_payload

ROWS = (
    "SELECT key, created_at, parent_key, state, final, lifecycle, intent FROM orders ORDER BY key"
)
EVENTS = "SELECT time, key, kind, exec_id, payload FROM events ORDER BY id"


def _bracket(make_intent: Any) -> tuple[OrderIntent, OrderIntent, OrderIntent]:
    parent = make_intent(bracket=Bracket(take_profit=Decimal("5010"), stop_loss=Decimal("4990")))
    take_profit = make_intent("ibc-1.tp", limit_price=Decimal("5010"))
    stop_loss = make_intent("ibc-1.sl", limit_price=Decimal("4990"))
    return parent, take_profit, stop_loss


def _file(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each order's events in the order they were journalled, by key, and the orders' rows."""
    with closing(sqlite3.connect(path)) as conn:
        events = sorted(conn.execute(EVENTS).fetchall(), key=lambda event: str(event[1]))
        return events, conn.execute(ROWS).fetchall()


def _one_by_one(journal: Journal, orders: tuple[OrderIntent, ...], decision: Decision) -> None:
    parent, *children = orders
    journal.record_intent(parent, children)
    journal.record_decision(parent.key, decision, ["Within limits"])
    if decision is Decision.CONFIRMED:
        for number, order in enumerate(orders):
            parent_key = None if order is parent else parent.key
            journal.record_submission(order.key, 10 + number, 3, parent_key)


@pytest.mark.parametrize("decision", [Decision.CONFIRMED, Decision.DECLINED, Decision.BLOCKED])
@pytest.mark.parametrize("bracket", [False, True], ids=["single", "bracket"])
def test_an_entry_writes_what_the_three_records_write(
    tmp_path: Path, make_intent: Any, decision: Decision, bracket: bool
) -> None:
    orders = _bracket(make_intent) if bracket else (make_intent(),)
    ids = [10 + n for n in range(len(orders))] if decision is Decision.CONFIRMED else []
    written = {}
    for way in ("one by one", "entry"):
        path = tmp_path / way / "journal.sqlite3"
        with Journal(path, ManualClock(make_intent().created_at)) as journal:
            if way == "entry":
                journal.record_entry(orders[0], orders[1:], decision, ["Within limits"], ids, 3)
            else:
                _one_by_one(journal, orders, decision)
        written[way] = _file(path)
    assert written["entry"] == written["one by one"]


def test_an_entry_is_one_transaction_that_writes_each_row_once(
    journal: Journal, make_intent: Any
) -> None:
    statements: Counter[str] = Counter()
    journal.trace(lambda sql: statements.update([" ".join(sql.split()[:3]).upper()]))
    parent, take_profit, stop_loss = _bracket(make_intent)

    entered = journal.record_entry(
        parent, [take_profit, stop_loss], Decision.CONFIRMED, [], [10, 11, 12], 3
    )
    journal.trace(None)

    assert statements["BEGIN IMMEDIATE"] == statements["COMMIT"] == 1
    assert statements["INSERT INTO EVENTS"] == 9  # intent, decision, submission of each
    assert statements["INSERT INTO ORDERS"] == 3
    assert statements["UPDATE ORDERS SET"] == 0
    # Reads: only whether each key is new (none is cached as known here).
    assert {sql: n for sql, n in statements.items() if sql.startswith("SELECT")} == {
        "SELECT INTENT, LIFECYCLE": 3
    }
    assert (entered.state, entered.lifecycle.order_id) == (OrderState.SUBMITTED, 10)
    child = journal.order("ibc-1.sl")
    assert child is not None
    assert (child.lifecycle.order_id, child.lifecycle.parent_key) == (12, "ibc-1")
    assert child.intent == stop_loss


def test_a_failing_entry_writes_nothing(
    journal: Journal, make_intent: Any, journal_path: Path
) -> None:
    journal.record_intent(make_intent("ibc-1.sl"))  # the stop-loss key is taken
    before = _file(journal_path)
    parent, take_profit, stop_loss = _bracket(make_intent)

    with pytest.raises(JournalError, match=re.escape("ibc-1.sl is already journalled")):
        journal.record_entry(
            parent, [take_profit, stop_loss], Decision.CONFIRMED, [], [10, 11, 12], 3
        )

    assert _file(journal_path) == before
    assert journal.order("ibc-1") is None


@pytest.mark.parametrize(
    ("decision", "ids", "message"),
    [
        (None, [10], "a submission needs a decision"),
        (Decision.CONFIRMED, [10, 11], "an IB order id for the order and each of its 0 children"),
        (Decision.CONFIRMED, [0], "the IB order id must be positive"),
        (Decision.DECLINED, [10], "was declined and must not be sent"),
    ],
)
def test_an_entry_that_cannot_be_sent_as_given_is_refused(
    journal: Journal,
    make_intent: Any,
    journal_path: Path,
    decision: Decision | None,
    ids: list[int],
    message: str,
) -> None:
    before = _file(journal_path)
    with pytest.raises(JournalError, match=re.escape(message)):
        journal.record_entry(make_intent(), (), decision, [], ids, 3)
    assert _file(journal_path) == before


@pytest.mark.parametrize("parent_key", [None, "ibc-1", 'ibc-é\\"1'])
def test_a_new_orders_intent_is_encoded_once_as_the_event_and_the_row_hold_it(
    make_intent: Any, parent_key: str | None
) -> None:
    payload = IntentRecorded(make_intent(bracket=None), parent_key)
    assert encode_new_order(payload) == (encode_payload(payload), encode_intent(payload.intent))
