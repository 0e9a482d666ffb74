"""The journal's read cache: bounded, and never an answer the file would not give.

Every check compares what the journal answers (from its cache once it has read or written the
order) with what a journal opened afresh on the same file reads: after each kind of write, after
a write that fails half-way, after another connection commits, and across a restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.orders import Bracket, OrderType, Side, TimeInForce
from ibconsole.journal import (
    BrokerStatus,
    Decision,
    ExecutionConflict,
    Journal,
    JournalError,
    OrderState,
    ReconciliationOutcome,
)
from ibconsole.journal.read_cache import MISSING, ReadCache, RecentlyRead

EXEC = "0000e0d5.65f9.01.01"
CORRECTION = "0000e0d5.65f9.01.02"


def _fresh(path: Path, clock: ManualClock) -> Journal:
    return Journal(path, clock)


def _as_the_file_says(
    journal: Journal, clock: ManualClock, keys: list[str], execs: list[str]
) -> None:
    """The journal answers each order and fill as a journal reading the file afresh does."""
    with _fresh(journal.path, clock) as reader:
        for key in keys:
            assert journal.order(key) == reader.order(key), key
        for exec_id in execs:
            assert journal.fill(exec_id) == reader.fill(exec_id), exec_id
            assert journal.has_execution(exec_id) == reader.has_execution(exec_id), exec_id


def _selects(journal: Journal, read: Callable[[], object]) -> int:
    """SELECT statements ``read()`` makes the journal run against its file."""
    seen: list[str] = []
    journal.trace(seen.append)
    try:
        read()
    finally:
        journal.trace(None)
    return sum(1 for sql in seen if sql.lstrip().upper().startswith("SELECT"))


def _fill(journal: Journal, exec_id: str, at: Any, key: str = "ibc-1") -> bool:
    return journal.record_fill(key, exec_id, 620731015, Side.BUY, D(1), D("5000.25"), at)


# -- the bounded map ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "steps", "kept"),
    [
        (2, "put a, put b, put c", "b c"),  # the oldest goes first
        (2, "put a, put b, get a, put c", "a c"),  # a read keeps it: "b" was the least recent
        (3, "put a, put b, put a, put c, put d", "a c d"),  # a put again refreshes it
        (2, "put a, put b, forget a, put c", "b c"),
        (1, "put a, put b", "b"),
    ],
)
def test_the_map_keeps_at_most_its_size_least_recently_used_first(
    size: int, steps: str, kept: str
) -> None:
    recent: RecentlyRead[str, int] = RecentlyRead(size)
    for number, step in enumerate(steps.split(", ")):
        action, key = step.split()
        if action == "put":
            recent.put(key, number)
        elif action == "get":
            recent.get(key)
        else:
            recent.forget(key)
    assert list(recent) == kept.split()  # least recently used first
    assert len(recent) <= size


def test_the_map_tells_a_missing_key_from_a_none_entry() -> None:
    recent: RecentlyRead[str, int | None] = RecentlyRead(4)
    recent.put("known absent", None)
    assert recent.get("known absent") is None
    assert recent.get("never seen") is MISSING
    recent.forget("known absent")
    assert recent.get("known absent") is MISSING
    with pytest.raises(ValueError, match="at least one entry"):
        RecentlyRead(0)


def test_a_long_session_holds_no_more_orders_than_the_bound(
    journal: Journal, make_intent: Any
) -> None:
    cache = ReadCache(orders=RecentlyRead(8), fills=RecentlyRead(8))
    for number in range(40):
        order = journal.record_intent(make_intent(f"ibc-{number}"))
        cache.stage_order(order.key, order)
        cache.commit()
    assert len(cache.orders) == 8
    assert sorted(cache.orders) == sorted(f"ibc-{number}" for number in range(32, 40))


def test_the_journal_reads_the_file_once_for_as_many_orders_as_the_bound(
    journal: Journal, make_intent: Any
) -> None:
    for number in range(300):
        journal.record_intent(make_intent(f"ibc-{number}"))
    keys = [f"ibc-{number}" for number in range(300)]
    assert _selects(journal, lambda: [journal.order(key) for key in keys]) == 300
    # The last 256 are still held, the first 44 were dropped for them and are read again.
    assert _selects(journal, lambda: [journal.order(key) for key in keys[44:]]) == 0
    assert _selects(journal, lambda: [journal.order(key) for key in keys[:44]]) == 44


# -- every write keeps it current --------------------------------------------------------------


def _bracket_children(make_intent: Any, parent: Any) -> list[Any]:
    return [
        make_intent(
            parent.take_profit_key, side=Side.SELL, limit_price=D("5010"), tif=TimeInForce.GTC
        ),
        make_intent(
            parent.stop_loss_key,
            side=Side.SELL,
            order_type=OrderType.STOP,
            limit_price=None,
            stop_price=D("4990"),
            tif=TimeInForce.GTC,
        ),
    ]


WRITES: list[tuple[str, Callable[[Journal, ManualClock], object]]] = [
    ("decision", lambda j, c: j.record_decision("ibc-1", Decision.CONFIRMED, ["fine"])),
    ("submission", lambda j, c: j.record_submission("ibc-1", 10, 3)),
    ("child submission", lambda j, c: j.record_submission("ibc-1.tp", 11, 3, "ibc-1")),
    (
        "status",
        lambda j, c: j.record_status("ibc-1", BrokerStatus.SUBMITTED, D(0), D(2), None, 77),
    ),
    ("fill", lambda j, c: _fill(j, EXEC, c.now())),
    ("repeated fill", lambda j, c: _fill(j, EXEC, c.now())),
    ("correction", lambda j, c: _fill(j, CORRECTION, c.now())),
    ("commission", lambda j, c: j.record_commission(CORRECTION, D("2.25"), "USD", D(0))),
    ("cancel request", lambda j, c: j.record_cancel_request("ibc-1", "cancelled by you")),
    ("modification", lambda j, c: j.record_modification("ibc-1", D(3), D("5001"), None)),
    ("rejection", lambda j, c: j.record_rejection("ibc-1.sl", 201, "no margin")),
    (
        "reconciliation",
        lambda j, c: j.record_reconciliation("ibc-1.tp", ReconciliationOutcome.UNKNOWN, "gone"),
    ),
    ("filled", lambda j, c: j.record_status("ibc-1", "Filled", D(2), D(0), D("5000.25"), 77)),
    ("rebuild", lambda j, c: j.rebuild_projection()),
]


def test_after_each_kind_of_write_the_journal_answers_as_the_file_does(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    parent = make_intent(bracket=Bracket(take_profit=D("5010"), stop_loss=D("4990")))
    keys = ["ibc-1", "ibc-1.tp", "ibc-1.sl", "ibc-2"]
    execs = [EXEC, CORRECTION, "never"]
    _as_the_file_says(journal, clock, keys, execs)  # every answer cached: none journalled yet
    journal.record_intent(parent, _bracket_children(make_intent, parent))
    _as_the_file_says(journal, clock, keys, execs)
    for what, write in WRITES:
        clock.advance(timedelta(seconds=1))
        write(journal, clock)
        _as_the_file_says(journal, clock, keys, execs)
        assert journal.order("ibc-1") is not None, what
    assert journal.fill(EXEC) is None  # replaced by its correction
    fill = journal.fill(CORRECTION)
    assert fill is not None
    assert fill.commission == D("2.25")


@pytest.mark.expect_log_warnings
def test_an_execution_reported_for_another_order_keeps_both_orders_current(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    for key in ("ibc-1", "ibc-2"):
        journal.record_intent(make_intent(key))
        journal.order(key)
    _fill(journal, EXEC, clock.now())
    with pytest.raises(ExecutionConflict):
        _fill(journal, EXEC, clock.now(), key="ibc-2")
    _as_the_file_says(journal, clock, ["ibc-1", "ibc-2"], [EXEC])


def test_answers_come_from_the_cache_once_read_or_written(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    journal.record_intent(make_intent())
    assert _selects(journal, lambda: journal.order("ibc-1")) == 1  # read once
    assert _selects(journal, lambda: [journal.order("ibc-1") for _ in range(10)]) == 0
    journal.record_decision("ibc-1", Decision.CONFIRMED, [])
    journal.record_submission("ibc-1", 10, 3)
    _fill(journal, EXEC, clock.now())
    journal.record_commission(EXEC, D("2.25"), "USD", None)
    reads = lambda: (journal.order("ibc-1"), journal.fill(EXEC), journal.has_execution(EXEC))  # noqa: E731
    assert _selects(journal, reads) == 0
    assert _selects(journal, lambda: journal.order("ibc-9")) == 1  # not journalled: asked once
    assert _selects(journal, lambda: journal.order("ibc-9")) == 0


# -- a failed write, another writer, a restart -------------------------------------------------


def test_a_write_that_fails_half_way_leaves_the_answers_as_the_file_has_them(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    parent = make_intent(bracket=Bracket(take_profit=D("5010"), stop_loss=D("4990")))
    journal.record_intent(parent, _bracket_children(make_intent, parent))
    # The decision is written for the parent, then for each child; the stop-loss child's update
    # fails (as a full disk or a damaged file would), after the parent's was done in the same
    # transaction: the whole decision is rolled back.
    with closing(sqlite3.connect(journal.path, isolation_level=None)) as other:
        other.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON orders WHEN NEW.key = 'ibc-1.sl'"
            " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        )
    assert journal.order("ibc-1") is not None  # cached as intended, after that commit
    with pytest.raises(JournalError, match="the disk is full"):
        journal.record_decision("ibc-1", Decision.CONFIRMED, [])
    order = journal.order("ibc-1")
    assert order is not None
    assert order.state is OrderState.INTENDED
    _as_the_file_says(journal, clock, ["ibc-1", "ibc-1.tp", "ibc-1.sl"], [])


def test_a_commit_by_another_connection_is_seen_at_the_next_read(
    journal: Journal, make_intent: Any, clock: ManualClock
) -> None:
    journal.record_intent(make_intent())
    journal.record_decision("ibc-1", Decision.CONFIRMED, [])
    assert journal.order("ibc-2") is None
    with _fresh(journal.path, clock) as second:  # a second console on the same journal
        second.record_submission("ibc-1", 10, 3)
        second.record_intent(make_intent("ibc-2"))
    order = journal.order("ibc-1")
    assert order is not None
    assert order.state is OrderState.SUBMITTED
    assert journal.order("ibc-2") is not None
    # ... and its own writes start from what the other wrote.
    journal.record_status("ibc-1", BrokerStatus.SUBMITTED, D(0), D(2), None, 77)
    _as_the_file_says(journal, clock, ["ibc-1", "ibc-2"], [])
    order = journal.order("ibc-1")
    assert order is not None
    assert (order.lifecycle.order_id, order.lifecycle.perm_id) == (10, 77)


def test_a_restart_reads_what_the_last_session_wrote(
    journal_path: Path, make_intent: Any, clock: ManualClock
) -> None:
    with _fresh(journal_path, clock) as first:
        first.record_intent(make_intent())
        first.record_decision("ibc-1", Decision.CONFIRMED, [])
        before = first.order("ibc-1")
    with _fresh(journal_path, clock) as again:
        assert again.order("ibc-1") == before
        again.record_submission("ibc-1", 10, 3)
        order = again.order("ibc-1")
        assert order is not None
        assert order.state is OrderState.SUBMITTED
        _as_the_file_says(again, clock, ["ibc-1"], [])
