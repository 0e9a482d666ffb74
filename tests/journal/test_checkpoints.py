"""The journal's write-ahead log is copied back into the database file by the checkpointer's
thread, never by a write of the journal (the event loop's thread), and nothing waits in the log
for good: the checkpointer copies it a pause after the writes, and closing the journal copies
what is left."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibconsole.domain.clock import ManualClock
from ibconsole.journal import Decision, Journal

if TYPE_CHECKING:
    from conftest import IntentFactory

# Past SQLite's own checkpoint threshold (1,000 log pages): each order writes several pages.
ORDERS = 250
NEVER = 3600.0  # a checkpointer pause no test lasts


def orders_in_database_file(path: Path, scratch: Path) -> int:
    """Orders in the database file itself, without its log: what a checkpoint has copied."""
    copy = scratch / "copied.sqlite3"
    shutil.copyfile(path, copy)
    with closing(sqlite3.connect(copy)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
        if "orders" not in tables:
            return 0
        return int(conn.execute("SELECT count(*) FROM orders").fetchone()[0])


def journal_orders(journal: Journal, make_intent: IntentFactory, count: int) -> None:
    for n in range(count):
        intent = make_intent(f"ibc-{n}", quantity=Decimal(1))
        journal.record_intent(intent)
        journal.record_decision(intent.key, Decision.CONFIRMED, [])
        journal.record_submission(intent.key, n + 1, 7)


def test_writes_leave_the_log_to_the_checkpointer_and_closing_copies_it(
    journal_path: Path, clock: ManualClock, make_intent: IntentFactory, tmp_path: Path
) -> None:
    journal = Journal(journal_path, clock, checkpoint_pause=NEVER)
    journal_orders(journal, make_intent, ORDERS)

    wal_pages = journal_path.with_name(journal_path.name + "-wal").stat().st_size // 4096
    assert wal_pages > 1000, "the orders fill more log than SQLite's own checkpoint threshold"
    assert orders_in_database_file(journal_path, tmp_path) == 0
    assert len(journal.orders(limit=None)) == ORDERS, "read through the log, as always"

    journal.close()

    assert orders_in_database_file(journal_path, tmp_path) == ORDERS


async def test_the_checkpointer_copies_the_writes_after_a_pause(
    journal_path: Path,
    clock: ManualClock,
    make_intent: IntentFactory,
    tmp_path: Path,
    wait_for: Any,
) -> None:
    with Journal(journal_path, clock, checkpoint_pause=0.05) as journal:
        journal_orders(journal, make_intent, 20)
        await wait_for(
            lambda: orders_in_database_file(journal_path, tmp_path) == 20,
            what="the 20 orders copied into the database file",
        )
        intent = make_intent("ibc-late", quantity=Decimal(1))
        journal.record_intent(intent)

        await wait_for(
            lambda: orders_in_database_file(journal_path, tmp_path) == 21,
            what="a later write copied by a later checkpoint",
        )
