"""The signal inbox's part of the journal: every accepted signal under its idempotency key, written
before the sender hears 202, and each state it reaches after. A key is journalled once: a repeat
(TradingView retrying, a script resending) is known as one across restarts.

It shares the journal's SQLite file and schema (``schema.py``, version 2) on its own connection,
one per thread that uses it (the signal endpoint journals on a thread of its own; WAL lets the
threads read beside each other and queues their writes); the secret of a signal is never
written.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Self

from ibconsole.domain.signals import Signal, SignalAction, SignalOrderType, SignalState
from ibconsole.journal.codec import parse_utc, utc_text
from ibconsole.journal.errors import JournalError
from ibconsole.journal.schema import open_database
from ibconsole.journal.transactions import write_transaction

logger = logging.getLogger(__name__)

_INSERT_SIGNAL = "INSERT OR IGNORE INTO signals (key, received_at, payload) VALUES (?, ?, ?)"
_INSERT_STATE = "INSERT INTO signal_states (key, time, state, note) VALUES (?, ?, ?, ?)"
_SELECT_KNOWN = "SELECT 1 FROM signals WHERE key = ?"
_SELECT_SINCE = (
    "SELECT s.key, s.received_at, s.payload,"
    " (SELECT state FROM signal_states t WHERE t.key = s.key ORDER BY t.id DESC LIMIT 1),"
    " (SELECT note FROM signal_states t WHERE t.key = s.key ORDER BY t.id DESC LIMIT 1)"
    " FROM signals s WHERE s.received_at >= ? ORDER BY s.received_at, s.key"
)


@dataclass(frozen=True, slots=True)
class JournalSignal:
    """A journalled signal and the last state it reached (``NEW`` until one was recorded)."""

    signal: Signal
    state: SignalState
    note: str


class SignalLog:
    """Append-only record of signals and their states.

    The thread that opens it uses it at once and closes it with ``close``. Any other thread
    calls ``attach_thread`` first, which gives it a connection of its own, and
    ``detach_thread`` before it ends (and before the opener closes the log)."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._opener = threading.get_ident()
        self._conn: sqlite3.Connection | None = open_database(self._path)
        self._threads = threading.local()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def attach_thread(self) -> None:
        """Open the calling thread's own connection to the journal (not the opener's thread)."""
        if threading.get_ident() == self._opener:
            raise JournalError("the thread that opened the signal log uses it as it is")
        if self._conn is None:
            raise JournalError(f"the journal {self._path} is closed")
        if getattr(self._threads, "conn", None) is None:
            self._threads.conn = open_database(self._path)

    def detach_thread(self) -> None:
        """Close the calling thread's own connection, if it has one."""
        conn: sqlite3.Connection | None = getattr(self._threads, "conn", None)
        if conn is not None:
            self._threads.conn = None
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def record(self, signal: Signal) -> bool:
        """Journal ``signal`` under its key; False (and nothing written) if the key is known."""
        with self._write() as conn:
            cursor = conn.execute(
                _INSERT_SIGNAL, (signal.key, utc_text(signal.received_at), _encode(signal))
            )
            return cursor.rowcount == 1

    def known(self, key: str) -> bool:
        """Was a signal journalled under ``key`` (in this session or before)?"""
        try:
            row = self._connection().execute(_SELECT_KNOWN, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self._path}: {exc}") from exc
        return row is not None

    def record_state(self, key: str, state: SignalState, note: str, time: datetime) -> None:
        """Journal that the signal ``key`` reached ``state`` (``note``: why, or the order's ref)."""
        with self._write() as conn:
            conn.execute(_INSERT_STATE, (key, utc_text(time), state.value, note))

    def since(self, instant: datetime) -> list[JournalSignal]:
        """The signals received at or after ``instant``, oldest first, each in its last state."""
        try:
            rows = self._connection().execute(_SELECT_SINCE, (utc_text(instant),)).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self._path}: {exc}") from exc
        return [
            JournalSignal(
                _decode(key, parse_utc(received), payload),
                SignalState(state) if state is not None else SignalState.NEW,
                note or "",
            )
            for key, received, payload, state, note in rows
        ]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"the journal {self._path} is closed")
        if threading.get_ident() == self._opener:
            return self._conn
        conn: sqlite3.Connection | None = getattr(self._threads, "conn", None)
        if conn is None:
            raise JournalError("the signal log is used from a thread it was not attached to")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._connection(), self._path) as conn:
            yield conn


def _encode(signal: Signal) -> str:
    return json.dumps(
        {
            "symbol": signal.symbol,
            "action": signal.action.value,
            "quantity": None if signal.quantity is None else str(signal.quantity),
            "order_type": signal.order_type.value,
            "price": None if signal.price is None else str(signal.price),
            "sent_at": None if signal.sent_at is None else utc_text(signal.sent_at),
            "source": signal.source,
        },
        sort_keys=True,
    )


def _decode(key: str, received_at: datetime, payload: str) -> Signal:
    data = json.loads(payload)
    return Signal(
        key=key,
        symbol=data["symbol"],
        action=SignalAction(data["action"]),
        quantity=None if data["quantity"] is None else Decimal(data["quantity"]),
        order_type=SignalOrderType(data["order_type"]),
        price=None if data["price"] is None else Decimal(data["price"]),
        sent_at=None if data["sent_at"] is None else parse_utc(data["sent_at"]),
        received_at=received_at,
        source=data["source"],
    )
