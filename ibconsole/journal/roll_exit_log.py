"""A roll's exit move in the journal: the exits (stops, take-profits) the roll cancels on the old
month to place on the new one (no new month: a roll that only closes), under the key of the
roll's first order (its spread order, or its close leg when it goes as two orders), written before
the first cancel goes, and its steps after — which of a combo's executions have their exits
placed, and when the move was settled.

A console that dies mid-roll finds here, after its restart, the moves it never settled: the
exits it cancelled and did not place again. It shares the journal's SQLite file and schema
(``schema.py``, version 3), on a connection of its own for each call (a roll writes a few rows).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibconsole.domain.orders import OrderType, Side, TimeInForce, WorkingOrder
from ibconsole.journal.codec import utc_text
from ibconsole.journal.errors import JournalError
from ibconsole.journal.schema import open_database
from ibconsole.journal.transactions import write_transaction

_INSERT_MOVE = (
    "INSERT INTO roll_exit_moves (key, recorded_at, old_month, new_month, exits)"
    " VALUES (?, ?, ?, ?, ?)"
)
_INSERT_STEP = "INSERT INTO roll_exit_steps (key, time, step, exec_id) VALUES (?, ?, ?, ?)"
_SELECT_UNSETTLED = (
    "SELECT m.key, m.old_month, m.new_month, m.exits FROM roll_exit_moves m"
    " WHERE NOT EXISTS (SELECT 1 FROM roll_exit_steps s WHERE s.key = m.key AND s.step = ?)"
    " ORDER BY m.recorded_at, m.key"
)
_SELECT_PROTECTED = "SELECT exec_id FROM roll_exit_steps WHERE key = ? AND step = ?"
_PROTECTED = "protected"
_SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class ExitMove:
    """An unsettled exit move: the key of the roll's first order, both months, the exits the roll
    cancelled on the old month, and the combo executions whose exits were placed on the new one
    (none for a roll as two orders: it places them all at once, then settles)."""

    key: str
    old_month: str
    new_month: str
    exits: tuple[WorkingOrder, ...]
    protected: frozenset[str]


class RollExitLog:
    """Append-only record of rolls' exit moves; use it from the event loop's thread."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    def record_move(
        self,
        key: str,
        old_month: str,
        new_month: str,
        exits: Sequence[WorkingOrder],
        time: datetime,
    ) -> None:
        """Journal that the roll whose first order is ``key`` moves ``exits`` from
        ``old_month``."""
        with self._write() as conn:
            conn.execute(
                _INSERT_MOVE,
                (
                    key,
                    utc_text(time),
                    old_month,
                    new_month,
                    json.dumps([_encode(e) for e in exits]),
                ),
            )

    def record_protected(self, key: str, exec_id: str, time: datetime) -> None:
        """Journal that the exits for the combo execution ``exec_id`` are placed."""
        with self._write() as conn:
            conn.execute(_INSERT_STEP, (key, utc_text(time), _PROTECTED, exec_id))

    def record_settled(self, key: str, time: datetime) -> None:
        """Journal that the move of ``key`` is over: its exits placed, or the trader told."""
        with self._write() as conn:
            conn.execute(_INSERT_STEP, (key, utc_text(time), _SETTLED, None))

    def unsettled(self) -> list[ExitMove]:
        """Every move not settled, oldest first."""
        try:
            with self._connection() as conn:
                moves = conn.execute(_SELECT_UNSETTLED, (_SETTLED,)).fetchall()
                return [
                    ExitMove(
                        key,
                        old,
                        new,
                        tuple(_decode(item) for item in json.loads(exits)),
                        frozenset(
                            exec_id
                            for (exec_id,) in conn.execute(_SELECT_PROTECTED, (key, _PROTECTED))
                        ),
                    )
                    for key, old, new, exits in moves
                ]
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self._path}: {exc}") from exc

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = open_database(self._path)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, write_transaction(conn, self._path):
            yield conn


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _encode(order: WorkingOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "key": order.key,
        "con_id": order.con_id,
        "side": order.side.value,
        "remaining": str(order.remaining),
        "order_type": order.order_type.value,
        "limit_price": _text(order.limit_price),
        "stop_price": _text(order.stop_price),
        "parent_id": order.parent_id,
        "oca_group": order.oca_group,
        "status": order.status,
        "tif": None if order.tif is None else order.tif.value,
    }


def _decode(data: dict[str, Any]) -> WorkingOrder:
    return WorkingOrder(
        order_id=int(data["order_id"]),
        key=str(data["key"]),
        con_id=int(data["con_id"]),
        side=Side(data["side"]),
        remaining=Decimal(data["remaining"]),
        order_type=OrderType(data["order_type"]),
        limit_price=None if data["limit_price"] is None else Decimal(data["limit_price"]),
        stop_price=None if data["stop_price"] is None else Decimal(data["stop_price"]),
        parent_id=int(data["parent_id"]),
        oca_group=str(data["oca_group"]),
        status=str(data["status"]),
        tif=None if data["tif"] is None else TimeInForce(data["tif"]),
    )
