"""The journal on real SQLite files: every record method, every query, atomicity and replay."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import OptionRight, OptionTerms, PriceIncrement
from ibconsole.domain.orders import Bracket, OrderType, Side, TimeInForce
from ibconsole.journal import (
    BrokerStatus,
    CommissionRecorded,
    Decision,
    DecisionRecorded,
    EventKind,
    ExecutionConflict,
    FillRecorded,
    IntentRecorded,
    Journal,
    JournalError,
    OrderState,
    ReconciliationOutcome,
    StatusRecorded,
    SubmissionRecorded,
    derive,
)
from ibconsole.journal.journal import WRITE_PATH_STATEMENTS

D = Decimal


def _event_count(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn, conn:
        count: int = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    return count


def _fill(journal: Journal, key: str, exec_id: str, qty: str, price: str, at: datetime) -> bool:
    return journal.record_fill(key, exec_id, 620731015, Side.BUY, D(qty), D(price), at)


def _sent(journal: Journal, intent: Any, order_id: int = 10) -> None:
    journal.record_intent(intent)
    journal.record_decision(intent.key, Decision.CONFIRMED, [])
    journal.record_submission(intent.key, order_id, 3)


# -- record methods --------------------------------------------------------------------------


def test_intent_is_journalled_with_every_field(journal: Journal, make_intent: Any) -> None:
    intent = make_intent(
        order_type=OrderType.STOP_LIMIT,
        limit_price=D("4990.50"),
        stop_price=D("4991"),
        tif=TimeInForce.GTC,
        bracket=Bracket(take_profit=None, stop_loss=D("4980")),
    )
    returned = journal.record_intent(intent)
    stored = journal.order(intent.key)
    assert stored == returned
    assert stored is not None
    assert stored.intent == intent
    assert stored.intent.contract.last_trade.tzinfo == intent.contract.last_trade.tzinfo
    assert stored.state is OrderState.INTENDED
    assert [e.payload for e in journal.events(intent.key)] == [IntentRecorded(intent)]


def test_an_order_key_is_never_reused(journal: Journal, make_intent: Any) -> None:
    journal.record_intent(make_intent())
    with pytest.raises(JournalError, match="already journalled"):
        journal.record_intent(make_intent(quantity=D(5)))
    order = journal.order("ibc-1")
    assert order is not None
    assert order.intent.quantity == 2


def test_a_key_that_cannot_travel_as_order_ref_is_refused(
    journal: Journal, make_intent: Any
) -> None:
    with pytest.raises(JournalError, match="contains"):
        journal.record_intent(make_intent("bad key!"))
    assert journal.orders() == []


def test_decision_is_journalled_with_its_findings(journal: Journal, make_intent: Any) -> None:
    journal.record_intent(make_intent())
    order = journal.record_decision("ibc-1", "declined", ["price far from the last quote"])
    assert order.state is OrderState.DECLINED
    assert order.lifecycle.findings == ("price far from the last quote",)
    assert journal.events("ibc-1")[-1].payload == DecisionRecorded(
        Decision.DECLINED, ("price far from the last quote",)
    )


def test_unknown_decision_is_refused(journal: Journal, make_intent: Any) -> None:
    journal.record_intent(make_intent())
    with pytest.raises(JournalError, match="'maybe' is not one of confirmed, declined, blocked"):
        journal.record_decision("ibc-1", "maybe", [])


def test_findings_must_be_a_list(journal: Journal, make_intent: Any) -> None:
    journal.record_intent(make_intent())
    with pytest.raises(JournalError, match="findings must be a list of messages"):
        journal.record_decision("ibc-1", "confirmed", "size above limit")


def test_submission_is_journalled(journal: Journal, make_intent: Any) -> None:
    _sent(journal, make_intent(), order_id=42)
    order = journal.order("ibc-1")
    assert order is not None
    assert order.state is OrderState.SUBMITTED
    assert (order.lifecycle.order_id, order.lifecycle.client_id) == (42, 3)
    assert journal.events("ibc-1")[-1].payload == SubmissionRecorded(42, 3, None)


def test_nothing_is_sent_twice(journal: Journal, make_intent: Any, journal_path: Path) -> None:
    _sent(journal, make_intent())
    before = _event_count(journal_path)
    with pytest.raises(JournalError, match="never sent twice"):
        journal.record_submission("ibc-1", 11, 3)
    assert _event_count(journal_path) == before


@pytest.mark.parametrize("decision", [Decision.DECLINED, Decision.BLOCKED])
def test_a_declined_or_blocked_order_is_not_sent(
    journal: Journal, make_intent: Any, decision: Decision
) -> None:
    journal.record_intent(make_intent())
    journal.record_decision("ibc-1", decision, ["daily loss limit reached"])
    with pytest.raises(JournalError, match="must not be sent"):
        journal.record_submission("ibc-1", 10, 3)


def test_submission_checks_order_id_and_parent(journal: Journal, make_intent: Any) -> None:
    journal.record_intent(make_intent())
    with pytest.raises(JournalError, match="order id must be positive"):
        journal.record_submission("ibc-1", 0, 3)
    with pytest.raises(JournalError, match="parent 'ibc-nope' is not journalled"):
        journal.record_submission("ibc-1", 10, 3, parent_key="ibc-nope")
    with pytest.raises(JournalError, match="its own parent"):
        journal.record_submission("ibc-1", 10, 3, parent_key="ibc-1")


def test_status_is_journalled(journal: Journal, make_intent: Any) -> None:
    _sent(journal, make_intent())
    order = journal.record_status("ibc-1", "Submitted", D(1), D(1), D("5000.25"), 987654)
    assert order.state is OrderState.PARTIALLY_FILLED
    assert order.lifecycle.broker_status is BrokerStatus.SUBMITTED
    assert order.lifecycle.perm_id == 987654
    assert order.lifecycle.avg_fill_price == D("5000.25")
    assert journal.events("ibc-1")[-1].payload == StatusRecorded(
        BrokerStatus.SUBMITTED, D(1), D(1), D("5000.25"), 987654
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Working", D(0), D(2), None, 1), "'Working' is not one of PendingSubmit"),
        (("Submitted", D(-1), D(2), None, 1), "filled quantity must be zero or more"),
        (("Submitted", D(0), D(-2), None, 1), "remaining quantity must be zero or more"),
        (("Submitted", D(0), D(2), D("NaN"), 1), "average fill price must be a finite"),
        (("Submitted", D(0), D(2), None, -1), "permId must not be negative"),
    ],
)
def test_bad_status_is_refused(
    journal: Journal, make_intent: Any, journal_path: Path, args: tuple[Any, ...], message: str
) -> None:
    _sent(journal, make_intent())
    before = _event_count(journal_path)
    with pytest.raises(JournalError, match=message):
        journal.record_status("ibc-1", *args)
    assert _event_count(journal_path) == before


def test_reports_for_an_unknown_key_are_refused(journal: Journal, clock: ManualClock) -> None:
    with pytest.raises(JournalError, match="no journalled order has the key 'ibc-9'"):
        journal.record_status("ibc-9", "Submitted", D(0), D(1), None, 1)
    with pytest.raises(JournalError, match="no journalled order has the key 'ibc-9'"):
        _fill(journal, "ibc-9", "e.1.01", "1", "1", clock.now())
    with pytest.raises(JournalError, match="no journalled order"):
        journal.record_cancel_request("ibc-9", "user")
    with pytest.raises(JournalError, match="no journalled order"):
        journal.record_reconciliation("ibc-9", "matched", "")
    assert journal.known_exec_ids() == frozenset()


def test_fill_is_journalled(journal: Journal, make_intent: Any, clock: ManualClock) -> None:
    _sent(journal, make_intent())
    executed_at = clock.now() + timedelta(seconds=3)
    assert _fill(journal, "ibc-1", "0000e0d5.1.01.01", "1", "5000.25", executed_at)
    order = journal.order("ibc-1")
    assert order is not None
    assert order.state is OrderState.PARTIALLY_FILLED
    (fill,) = journal.fills()
    assert (fill.exec_id, fill.key, fill.side, fill.quantity, fill.price, fill.time) == (
        "0000e0d5.1.01.01",
        "ibc-1",
        Side.BUY,
        D(1),
        D("5000.25"),
        executed_at,
    )
    assert fill.commission is None
    assert journal.events("ibc-1")[-1].payload == FillRecorded(
        "0000e0d5.1.01.01", 620731015, Side.BUY, D(1), D("5000.25"), executed_at
    )


def test_the_same_execution_reported_twice_is_journalled_once(
    journal: Journal, make_intent: Any, clock: ManualClock, journal_path: Path
) -> None:
    _sent(journal, make_intent())
    assert _fill(journal, "ibc-1", "e.1.01", "1", "5000", clock.now())
    before = _event_count(journal_path)
    # Again, as reqExecutions returns it after a reconnect.
    assert not _fill(journal, "ibc-1", "e.1.01", "1", "5000", clock.now())
    assert _event_count(journal_path) == before
    assert len(journal.fills()) == 1
    order = journal.order("ibc-1")
    assert order is not None
    assert order.lifecycle.filled == 1


@pytest.mark.expect_log_warnings
def test_an_execution_id_reported_for_another_order_is_kept_and_named(
    journal: Journal, make_intent: Any, clock: ManualClock, journal_path: Path
) -> None:
    _sent(journal, make_intent())
    assert _fill(journal, "ibc-1", "e.1.01", "1", "5000", clock.now())
    _sent(journal, make_intent("ibc-2"), order_id=11)

    with pytest.raises(ExecutionConflict) as raised:
        _fill(journal, "ibc-2", "e.1.01", "1", "5001", clock.now())

    assert "e.1.01" in str(raised.value)
    assert "order ibc-2" in str(raised.value)
    assert "order ibc-1" in str(raised.value)
    assert (raised.value.journalled_for, raised.value.reported_for) == ("ibc-1", "ibc-2")
    (kept,) = journal.execution_conflicts("ibc-2")
    assert kept.journalled_for == "ibc-1"
    assert (kept.fill.exec_id, kept.fill.price, kept.fill.quantity) == ("e.1.01", D(5001), D(1))
    # Reported again (after a reconnect): kept once, told once.
    count = _event_count(journal_path)
    assert not _fill(journal, "ibc-2", "e.1.01", "1", "5001", clock.now())
    assert _event_count(journal_path) == count
    # Neither order's fills change until the trader finds out whose execution it is; the
    # conflict survives a reopen and a rebuild of the projection.
    first, second = journal.order("ibc-1"), journal.order("ibc-2")
    assert first is not None
    assert second is not None
    assert (first.lifecycle.filled, second.lifecycle.filled) == (1, 0)
    journal.close()
    reopened = Journal(journal_path, clock)
    try:
        reopened.rebuild_projection()
        assert reopened.execution_conflicts("ibc-2") == [kept]
        assert [f.key for f in reopened.fills()] == ["ibc-1"]
    finally:
        reopened.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": D(0)}, "quantity must be a positive number"),
        ({"quantity": D(-1)}, "quantity must be a positive number"),
        ({"price": D("Infinity")}, "price must be a finite number"),
        ({"exec_id": " "}, "execution id is empty"),
        ({"side": "HOLD"}, "side 'HOLD' is not one of BUY, SELL"),
        ({"time": datetime(2025, 1, 2, 14, 30)}, "has no time zone"),
        ({"con_id": 1}, "is for contract 1"),
        ({"side": Side.SELL}, "is a SELL, but order ibc-1 is a BUY"),
    ],
)
def test_bad_fill_is_refused(
    journal: Journal,
    make_intent: Any,
    clock: ManualClock,
    journal_path: Path,
    change: dict[str, Any],
    message: str,
) -> None:
    _sent(journal, make_intent())
    before = _event_count(journal_path)
    fill: dict[str, Any] = {
        "key": "ibc-1",
        "exec_id": "e.1.01",
        "con_id": 620731015,
        "side": Side.BUY,
        "quantity": D(1),
        "price": D(5000),
        "time": clock.now(),
    }
    with pytest.raises(JournalError, match=message):
        journal.record_fill(**(fill | change))
    assert _event_count(journal_path) == before
    assert journal.known_exec_ids() == frozenset()


@pytest.mark.expect_log_warnings
def test_an_overfill_is_journalled_and_logged(
    journal: Journal, make_intent: Any, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    _sent(journal, make_intent())
    assert _fill(journal, "ibc-1", "e.1.01", "2", "5000", clock.now())
    assert _fill(journal, "ibc-1", "e.2.01", "1", "5000", clock.now())
    order = journal.order("ibc-1")
    assert order is not None
    assert order.lifecycle.filled == 3
    assert "executions total 3, more than the 2 ordered" in caplog.text


def test_a_corrected_execution_replaces_the_original(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    _sent(journal, make_intent())
    _fill(journal, "ibc-1", "0000e0d5.65f9.01.01", "1", "5000", clock.now())
    _fill(journal, "ibc-1", "0000e0d5.65f9.01.02", "1", "5000.25", clock.now())
    assert [f.exec_id for f in journal.fills()] == ["0000e0d5.65f9.01.02"]
    assert journal.known_exec_ids() == {"0000e0d5.65f9.01.01", "0000e0d5.65f9.01.02"}
    order = journal.order("ibc-1")
    assert order is not None
    assert (order.lifecycle.filled, order.lifecycle.avg_fill_price) == (D(1), D("5000.25"))


def test_commission_is_journalled_once(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    _sent(journal, make_intent())
    _fill(journal, "ibc-1", "e.1.01", "2", "5000", clock.now())
    assert journal.record_commission("e.1.01", D("4.50"), "USD", D("-12.5"))
    assert not journal.record_commission("e.1.01", D("4.50"), "USD", D("-12.5"))
    (fill,) = journal.fills()
    assert (fill.commission, fill.commission_currency, fill.realized_pnl) == (
        D("4.50"),
        "USD",
        D("-12.5"),
    )
    order = journal.order("ibc-1")
    assert order is not None
    assert (order.lifecycle.commission, order.lifecycle.realized_pnl) == (D("4.50"), D("-12.5"))
    assert journal.events("ibc-1")[-1].payload == CommissionRecorded(
        "e.1.01", D("4.50"), "USD", D("-12.5")
    )


def test_commission_needs_its_execution_and_finite_numbers(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    with pytest.raises(
        JournalError, match=re.escape("no journalled execution has the id 'e.9.01'")
    ):
        journal.record_commission("e.9.01", D(1), "USD", None)
    _sent(journal, make_intent())
    _fill(journal, "ibc-1", "e.1.01", "2", "5000", clock.now())
    with pytest.raises(JournalError, match="realized P&L must be a finite number"):
        journal.record_commission("e.1.01", D(1), "USD", D("sNaN"))


def test_cancel_request_is_journalled_without_ending_the_order(
    journal: Journal, make_intent: Any
) -> None:
    _sent(journal, make_intent())
    order = journal.record_cancel_request("ibc-1", "cancel all (F12)")
    assert order.state is OrderState.SUBMITTED
    assert order.lifecycle.cancel_requested
    assert order.lifecycle.cancel_reason == "cancel all (F12)"
    order = journal.record_status("ibc-1", "Cancelled", D(0), D(2), None, 5)
    assert order.state is OrderState.CANCELLED


def test_one_fill_and_an_execution_are_found_by_id(
    journal: Journal, make_intent: Any, clock: Any
) -> None:
    _sent(journal, make_intent())
    _fill(journal, "ibc-1", "e.1.01", "1", "5000", clock.now())
    fill = journal.fill("e.1.01")
    assert fill is not None
    assert (fill.key, fill.quantity) == ("ibc-1", D(1))
    assert journal.has_execution("e.1.01")
    assert journal.fill("e.9.01") is None
    assert not journal.has_execution("e.9.01")


def test_modification_changes_quantity_and_survives_replay(
    journal: Journal, make_intent: Any, clock: Any
) -> None:
    _sent(journal, make_intent())
    order = journal.record_modification("ibc-1", D(3), D("4999.75"), None)
    assert order.lifecycle.quantity == D(3)
    assert journal.events("ibc-1")[-1].kind is EventKind.MODIFICATION
    journal.rebuild_projection()
    assert journal.order("ibc-1") == order


def test_modification_below_filled_or_of_a_final_order_is_refused(
    journal: Journal, make_intent: Any, clock: Any
) -> None:
    _sent(journal, make_intent())
    _fill(journal, "ibc-1", "e.1.01", "1", "5000", clock.now())
    with pytest.raises(JournalError, match="below the 1 already filled"):
        journal.record_modification("ibc-1", D("0.5"), None, None)
    journal.record_status("ibc-1", "Cancelled", D(1), D(1), D(5000), 5)
    with pytest.raises(JournalError, match="only a working order can be modified"):
        journal.record_modification("ibc-1", D(2), None, None)


def test_rejection_ends_the_order(journal: Journal, make_intent: Any) -> None:
    _sent(journal, make_intent())
    order = journal.record_rejection("ibc-1", 201, "Order rejected - reason: margin")
    assert order.state is OrderState.REJECTED
    assert order.lifecycle.rejection == "201: Order rejected - reason: margin"
    assert journal.open_orders() == []


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        ("matched", OrderState.SUBMITTED),
        ("unknown", OrderState.UNKNOWN),
        ("filled_while_disconnected", OrderState.FILLED),
        (ReconciliationOutcome.ADOPTED, OrderState.SUBMITTED),
    ],
)
def test_reconciliation_is_journalled(
    journal: Journal, make_intent: Any, outcome: str, state: OrderState
) -> None:
    _sent(journal, make_intent())
    order = journal.record_reconciliation("ibc-1", outcome, "after reconnect")
    assert order.state is state
    assert order.lifecycle.reconciliation is ReconciliationOutcome(outcome)


def test_unknown_reconciliation_outcome_is_refused(journal: Journal, make_intent: Any) -> None:
    journal.record_intent(make_intent())
    with pytest.raises(JournalError, match="'lost' is not one of matched, unknown"):
        journal.record_reconciliation("ibc-1", "lost", "")


def test_naive_times_are_refused(make_intent: Any, journal_path: Path) -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2025, 1, 2, 14, 30)

    with Journal(journal_path, NaiveClock()) as journal:
        with pytest.raises(JournalError, match="has no time zone"):
            journal.record_intent(make_intent())
        assert journal.orders() == []


def test_intent_with_a_naive_time_or_no_quantity_is_refused(
    journal: Journal, make_intent: Any
) -> None:
    with pytest.raises(JournalError, match="has no time zone"):
        journal.record_intent(make_intent(created_at=datetime(2025, 1, 2)))
    with pytest.raises(JournalError, match="quantity must be a positive number, got -1"):
        journal.record_intent(make_intent(quantity=D(-1)))
    assert journal.orders() == []


# -- brackets --------------------------------------------------------------------------------


def _bracket(make_intent: Any) -> tuple[Any, Any, Any]:
    parent = make_intent(bracket=Bracket(take_profit=D("5010"), stop_loss=D("4990")))
    take_profit = make_intent(
        parent.take_profit_key, side=Side.SELL, limit_price=D("5010"), tif=TimeInForce.GTC
    )
    stop_loss = make_intent(
        parent.stop_loss_key,
        side=Side.SELL,
        order_type=OrderType.STOP,
        limit_price=None,
        stop_price=D("4990"),
        tif=TimeInForce.GTC,
    )
    return parent, take_profit, stop_loss


def test_a_bracket_is_journalled_and_decided_as_one(journal: Journal, make_intent: Any) -> None:
    parent, take_profit, stop_loss = _bracket(make_intent)
    journal.record_intent(parent, [take_profit, stop_loss])
    child = journal.order("ibc-1.tp")
    assert child is not None
    assert child.intent == take_profit
    assert child.lifecycle.parent_key == "ibc-1"
    journal.record_decision("ibc-1", "blocked", ["market closed"])
    assert [o.state for o in journal.orders()] == [OrderState.BLOCKED] * 3
    assert journal.open_orders() == []


def test_bracket_children_name_their_parent_at_submission(
    journal: Journal, make_intent: Any
) -> None:
    parent, take_profit, stop_loss = _bracket(make_intent)
    journal.record_intent(parent, [take_profit, stop_loss])
    journal.record_decision("ibc-1", "confirmed", [])
    journal.record_submission("ibc-1", 10, 3)
    journal.record_submission("ibc-1.tp", 11, 3, parent_key="ibc-1")
    with pytest.raises(JournalError, match=re.escape("belongs to parent ibc-1, not ibc-1.tp")):
        journal.record_submission("ibc-1.sl", 12, 3, parent_key="ibc-1.tp")
    order = journal.order("ibc-1.tp")
    assert order is not None
    assert (order.state, order.lifecycle.order_id) == (OrderState.SUBMITTED, 11)


def test_a_badly_keyed_child_writes_nothing(journal: Journal, make_intent: Any) -> None:
    parent, take_profit, _ = _bracket(make_intent)
    with pytest.raises(
        JournalError, match=re.escape("must be keyed 'ibc-1.tp' or 'ibc-1.sl', once each")
    ):
        journal.record_intent(parent, [take_profit, take_profit])
    with pytest.raises(JournalError, match="must be keyed"):
        journal.record_intent(parent, [make_intent("ibc-2")])
    assert journal.orders() == []


def test_a_failed_decision_on_a_bracket_writes_nothing(
    journal: Journal, make_intent: Any, journal_path: Path
) -> None:
    parent, take_profit, stop_loss = _bracket(make_intent)
    journal.record_intent(parent, [take_profit, stop_loss])
    journal.record_decision("ibc-1.sl", "confirmed", [])
    before = _event_count(journal_path)
    with pytest.raises(JournalError, match=re.escape("ibc-1.sl was already confirmed")):
        journal.record_decision("ibc-1", "declined", [])
    assert _event_count(journal_path) == before
    assert [o.state for o in journal.open_orders()] == [
        OrderState.INTENDED,
        OrderState.CONFIRMED,
        OrderState.INTENDED,
    ]


# -- queries ---------------------------------------------------------------------------------


def test_orders_newest_first_with_since_and_limit(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    start = clock.now()
    for n in range(5):
        journal.record_intent(make_intent(f"ibc-{n}", created_at=start + timedelta(minutes=n)))
    assert [o.key for o in journal.orders()] == ["ibc-4", "ibc-3", "ibc-2", "ibc-1", "ibc-0"]
    assert [o.key for o in journal.orders(limit=2)] == ["ibc-4", "ibc-3"]
    since = start + timedelta(minutes=3)
    assert [o.key for o in journal.orders(since=since)] == ["ibc-4", "ibc-3"]
    with pytest.raises(JournalError, match="limit must be at least 1"):
        journal.orders(limit=0)


def test_open_orders_and_unsubmitted_intents(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    start = clock.now()
    keys = ["intended", "confirmed", "sent", "working", "filled", "declined"]
    for n, key in enumerate(keys):
        journal.record_intent(make_intent(key, created_at=start + timedelta(seconds=n)))
    journal.record_decision("confirmed", "confirmed", [])
    for order_id, key in enumerate(["sent", "working", "filled"], start=1):
        journal.record_submission(key, order_id, 3)
    journal.record_status("working", "PreSubmitted", D(0), D(2), None, 1)
    journal.record_status("filled", "Filled", D(2), D(0), D(5000), 2)
    journal.record_decision("declined", "declined", [])
    assert [o.key for o in journal.open_orders()] == ["intended", "confirmed", "sent", "working"]
    assert [o.key for o in journal.unsubmitted_intents()] == ["intended", "confirmed"]


def test_fills_oldest_first_since(journal: Journal, make_intent: Any, clock: ManualClock) -> None:
    _sent(journal, make_intent(quantity=D(3)))
    start = clock.now()
    for n in range(3):
        _fill(journal, "ibc-1", f"e.{n}.01", "1", "5000", start + timedelta(seconds=10 - n))
    assert [f.exec_id for f in journal.fills()] == ["e.2.01", "e.1.01", "e.0.01"]
    assert [f.exec_id for f in journal.fills(since=start + timedelta(seconds=9))] == [
        "e.1.01",
        "e.0.01",
    ]


def test_events_are_in_order_and_stamped_by_the_clock(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    journal.record_intent(make_intent())
    clock.advance(timedelta(seconds=2))
    journal.record_decision("ibc-1", "confirmed", [])
    events = journal.events("ibc-1")
    assert [e.kind.value for e in events] == ["intent", "decision"]
    assert events[1].time - events[0].time == timedelta(seconds=2)
    assert events[0].id < events[1].id
    assert journal.events("ibc-unknown") == []
    assert journal.order("ibc-unknown") is None


# -- persistence, replay, integrity ----------------------------------------------------------


def _busy_day(journal: Journal, make_intent: Any, clock: ManualClock) -> None:
    parent, take_profit, stop_loss = _bracket(make_intent)
    journal.record_intent(parent, [take_profit, stop_loss])
    journal.record_decision("ibc-1", "confirmed", ["live account"])
    journal.record_submission("ibc-1", 10, 3)
    journal.record_submission("ibc-1.tp", 11, 3, "ibc-1")
    journal.record_submission("ibc-1.sl", 12, 3, "ibc-1")
    journal.record_status("ibc-1", "Submitted", D(0), D(2), None, 100)
    clock.advance(timedelta(seconds=1))
    _fill(journal, "ibc-1", "e.1.01", "1", "5000", clock.now())
    _fill(journal, "ibc-1", "e.1.02", "1", "5000.25", clock.now())
    _fill(journal, "ibc-1", "e.2.01", "1", "5000.5", clock.now())
    journal.record_commission("e.1.02", D("2.25"), "USD", None)
    journal.record_status("ibc-1", "Filled", D(2), D(0), D("5000.375"), 100)
    journal.record_cancel_request("ibc-1.tp", "flatten")
    journal.record_status("ibc-1.tp", "Cancelled", D(0), D(2), None, 101)
    journal.record_intent(make_intent("ibc-2", created_at=clock.now()))
    journal.record_reconciliation("ibc-2", "unknown", "not at IB after reconnect")
    journal.record_intent(make_intent("ibc-3", created_at=clock.now()))
    journal.record_decision("ibc-3", "confirmed", [])
    journal.record_submission("ibc-3", 13, 3)
    journal.record_rejection("ibc-3", 201, "Order rejected")


def test_projection_equals_replay_of_the_events(
    journal: Journal, make_intent: Any, clock: ManualClock, journal_path: Path
) -> None:
    _busy_day(journal, make_intent, clock)
    orders = journal.orders()
    fills = journal.fills()
    for order in orders:
        assert derive(journal.events(order.key)) == order.lifecycle
    # Corrupt the projection behind the journal's back; the events are the truth.
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        conn.execute("UPDATE orders SET state = 'working', final = 0")
        conn.execute("UPDATE fills SET superseded = 0, commission = NULL")
    assert journal.fills() != fills
    journal.rebuild_projection()
    assert journal.orders() == orders
    assert journal.fills() == fills
    assert journal.open_orders() == [journal.order("ibc-1.sl")]


def test_reopening_keeps_everything(
    journal_path: Path, make_intent: Any, clock: ManualClock
) -> None:
    with Journal(journal_path, clock) as journal:
        _busy_day(journal, make_intent, clock)
        snapshot = (journal.orders(), journal.fills(), journal.known_exec_ids())
        events = {o.key: journal.events(o.key) for o in snapshot[0]}
    with Journal(journal_path, clock) as reopened:
        assert (reopened.orders(), reopened.fills(), reopened.known_exec_ids()) == snapshot
        assert {o.key: reopened.events(o.key) for o in snapshot[0]} == events
        assert reopened.known_exec_ids() == {"e.1.01", "e.1.02", "e.2.01"}


def test_events_are_append_only(journal: Journal, make_intent: Any, journal_path: Path) -> None:
    journal.record_intent(make_intent())
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET kind = 'fill'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
    assert [e.kind.value for e in journal.events("ibc-1")] == ["intent"]


def test_an_unreadable_projection_row_names_the_cure(
    journal: Journal, make_intent: Any, journal_path: Path
) -> None:
    journal.record_intent(make_intent())
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        conn.execute("UPDATE orders SET lifecycle = '{}'")
    with pytest.raises(JournalError, match=r"rebuild_projection\(\) recomputes it"):
        journal.orders()
    journal.rebuild_projection()
    assert [o.state for o in journal.orders()] == [OrderState.INTENDED]


def test_write_path_uses_indexes_only(journal: Journal, journal_path: Path) -> None:
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        for statement in WRITE_PATH_STATEMENTS:
            params = (None,) * statement.count("?")
            plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
            scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN")]
            assert scans == [], statement


def test_a_closed_journal_says_so(journal_path: Path, clock: ManualClock) -> None:
    journal = Journal(journal_path, clock)
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="is closed"):
        journal.orders()
    with pytest.raises(JournalError, match="is closed"):
        journal.record_cancel_request("ibc-1", "user")


def test_an_oca_group_is_kept_and_older_intents_read_as_having_none(
    journal_path: Path, make_intent: Any, clock: ManualClock
) -> None:
    linked = replace(make_intent("ibc-1"), oca_group="ibc-0-exits-1")
    alone = make_intent("ibc-2")
    with Journal(journal_path, clock) as journal:
        journal.record_intent(linked)
        journal.record_intent(alone)
    # ibc-2 as a journal written before intents carried an OCA group holds it
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        conn.execute(
            "UPDATE orders SET intent = json_remove(intent, '$.oca_group') WHERE key = 'ibc-2'"
        )
        (stored,) = conn.execute("SELECT intent FROM orders WHERE key = 'ibc-2'").fetchone()
    assert "oca_group" not in stored
    with Journal(journal_path, clock) as reopened:
        assert [o.intent for o in reopened.orders()] == [alone, linked]


def test_an_option_order_is_journalled_with_its_terms_and_ticks(
    journal: Journal, make_intent: Any, contract: Any
) -> None:
    option = replace(
        contract,
        local_symbol="ESZ6 C5800",
        con_id=1103232320,
        multiplier=D(50),
        min_tick=D("0.05"),
        option=OptionTerms(OptionRight.CALL, D(5800), contract.con_id),
        price_increments=(PriceIncrement(D(0), D("0.05")), PriceIncrement(D(5), D("0.25"))),
    )
    intent = replace(
        make_intent(order_type=OrderType.LIMIT, limit_price=D("61.25")), contract=option
    )

    journal.record_intent(intent)
    stored = journal.order(intent.key)

    assert stored is not None
    assert stored.intent == intent
    assert stored.intent.contract.option == option.option
    assert stored.intent.contract.tick_at(D("61.25")) == D("0.25")
