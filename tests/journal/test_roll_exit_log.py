"""The roll exit log: a spread roll's exits to move, its protected executions and its settling
read back by the next process; append-only; a version-2 journal gains its tables."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibconsole.domain.orders import OrderType, Side, TimeInForce, WorkingOrder
from ibconsole.journal import SCHEMA_VERSION
from ibconsole.journal.roll_exit_log import ExitMove, RollExitLog
from ibconsole.journal.schema import MIGRATIONS, open_database

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
STOP = WorkingOrder(
    order_id=12,
    key="ibc-stop",
    con_id=495512563,
    side=Side.SELL,
    remaining=Decimal(2),
    order_type=OrderType.STOP,
    limit_price=None,
    stop_price=Decimal("5943.75"),
    parent_id=0,
    oca_group="oca-1",
    status="Submitted",
    tif=TimeInForce.GTC,
)
TARGET = WorkingOrder(
    order_id=13,
    key="",
    con_id=495512563,
    side=Side.SELL,
    remaining=Decimal(2),
    order_type=OrderType.LIMIT,
    limit_price=Decimal("6020.5"),
    stop_price=None,
    parent_id=0,
    oca_group="oca-1",
    status="PreSubmitted",
    tif=None,
)


def test_a_move_and_its_protected_executions_are_read_back_until_settled(
    journal_path: Path,
) -> None:
    RollExitLog(journal_path).record_move("ibc-bag", "ESH5", "ESM5", (STOP, TARGET), NOW)
    RollExitLog(journal_path).record_protected("ibc-bag", "0001.01", NOW)

    after_restart = RollExitLog(journal_path)
    assert after_restart.unsettled() == [
        ExitMove("ibc-bag", "ESH5", "ESM5", (STOP, TARGET), frozenset({"0001.01"}))
    ]
    after_restart.record_settled("ibc-bag", NOW)
    assert RollExitLog(journal_path).unsettled() == []


def test_the_log_is_append_only(journal_path: Path) -> None:
    log = RollExitLog(journal_path)
    log.record_move("ibc-bag", "ESH5", "ESM5", (STOP,), NOW)
    log.record_settled("ibc-bag", NOW)
    with closing(sqlite3.connect(journal_path)) as conn:
        for statement in (
            "DELETE FROM roll_exit_steps",
            "UPDATE roll_exit_moves SET new_month = 'ESU5'",
            "DELETE FROM roll_exit_moves",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)


def test_a_version_2_journal_gains_the_roll_exit_tables(journal_path: Path) -> None:
    open_database(journal_path, version=2, migrations={1: MIGRATIONS[1]}).close()
    assert RollExitLog(journal_path).unsettled() == []
    with closing(sqlite3.connect(journal_path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
    assert {"roll_exit_moves", "roll_exit_steps", "signals"} <= tables
