"""One write to the journal file: a single SQLite transaction, whole or not at all."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ibconsole.journal.errors import JournalError


@contextmanager
def write_transaction(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` on ``conn`` (the write lock at once, so two writers queue instead of
    failing half-way), ``COMMIT`` when the block ends, ``ROLLBACK`` on any error; a SQLite error
    becomes a ``JournalError`` naming the file."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise JournalError(f"cannot write to the journal {path}: {exc}") from exc
