"""The journal's SQLite file: connection settings, tables, schema version and migrations.

A journal is recognised by SQLite's ``application_id`` header field; ``user_version`` holds the
schema version. Opening an older journal runs ``MIGRATIONS`` in one transaction; a newer one,
or any other file, is refused with a ``JournalError``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

from ibconsole.journal.errors import JournalError

logger = logging.getLogger(__name__)

APPLICATION_ID = 0x49424A4E  # "IBJN"
SCHEMA_VERSION = 3

Migration = Callable[[sqlite3.Connection], None]

# Version 2: the signal inbox's signals, keyed by their idempotency key, journalled before the
# sender is answered (so a repeat is known as one across restarts), and their states after.
_SIGNALS_V2 = """
CREATE TABLE signals (
    key          TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL,
    payload      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX signals_by_received ON signals (received_at, key);
CREATE TABLE signal_states (
    id     INTEGER PRIMARY KEY,
    key    TEXT NOT NULL REFERENCES signals (key),
    time   TEXT NOT NULL,
    state  TEXT NOT NULL,
    note   TEXT NOT NULL
);
CREATE INDEX signal_states_by_key ON signal_states (key, id);
CREATE TRIGGER signals_are_never_updated BEFORE UPDATE ON signals
BEGIN SELECT RAISE(ABORT, 'journalled signals are append-only'); END;
CREATE TRIGGER signals_are_never_deleted BEFORE DELETE ON signals
BEGIN SELECT RAISE(ABORT, 'journalled signals are append-only'); END;
CREATE TRIGGER signal_states_are_never_updated BEFORE UPDATE ON signal_states
BEGIN SELECT RAISE(ABORT, 'journalled signals are append-only'); END;
CREATE TRIGGER signal_states_are_never_deleted BEFORE DELETE ON signal_states
BEGIN SELECT RAISE(ABORT, 'journalled signals are append-only'); END;
"""


# Version 3: the exits a roll cancelled on the old month to place on the new one, written before
# the first cancel goes, and its steps after: which of a combo's executions have their exits
# placed, and when the move was settled (all placed, restored on the old month, or handed to the
# trader by an alert).
_ROLL_EXITS_V3 = """
CREATE TABLE roll_exit_moves (
    key          TEXT PRIMARY KEY,
    recorded_at  TEXT NOT NULL,
    old_month    TEXT NOT NULL,
    new_month    TEXT NOT NULL,
    exits        TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE roll_exit_steps (
    id       INTEGER PRIMARY KEY,
    key      TEXT NOT NULL REFERENCES roll_exit_moves (key),
    time     TEXT NOT NULL,
    step     TEXT NOT NULL,
    exec_id  TEXT
);
CREATE INDEX roll_exit_steps_by_key ON roll_exit_steps (key, id);
CREATE TRIGGER roll_exit_moves_are_never_updated BEFORE UPDATE ON roll_exit_moves
BEGIN SELECT RAISE(ABORT, 'journalled exit moves are append-only'); END;
CREATE TRIGGER roll_exit_moves_are_never_deleted BEFORE DELETE ON roll_exit_moves
BEGIN SELECT RAISE(ABORT, 'journalled exit moves are append-only'); END;
CREATE TRIGGER roll_exit_steps_are_never_updated BEFORE UPDATE ON roll_exit_steps
BEGIN SELECT RAISE(ABORT, 'journalled exit moves are append-only'); END;
CREATE TRIGGER roll_exit_steps_are_never_deleted BEFORE DELETE ON roll_exit_steps
BEGIN SELECT RAISE(ABORT, 'journalled exit moves are append-only'); END;
"""


def _run(script: str) -> Migration:
    """A migration that runs the statements of ``script``."""

    def migrate(conn: sqlite3.Connection) -> None:
        for statement in _statements(script):
            conn.execute(statement)

    return migrate


# MIGRATIONS[n] upgrades a version-n journal to version n + 1, inside the opening transaction.
MIGRATIONS: Mapping[int, Migration] = {1: _run(_SIGNALS_V2), 2: _run(_ROLL_EXITS_V3)}

_TABLES_V1 = """
CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    time     TEXT NOT NULL,
    key      TEXT NOT NULL,
    kind     TEXT NOT NULL,
    exec_id  TEXT,
    payload  TEXT NOT NULL
);
CREATE INDEX events_by_key ON events (key, id);
-- An execution (and its commission report) is journalled once, however often IB reports it:
-- live, and again from reqExecutions after every reconnect.
CREATE UNIQUE INDEX events_once_per_execution ON events (kind, exec_id)
    WHERE exec_id IS NOT NULL;
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;

-- Projection: one row per order, derivable from the events (Journal.rebuild_projection).
CREATE TABLE orders (
    key            TEXT PRIMARY KEY,
    created_at     TEXT NOT NULL,
    parent_key     TEXT REFERENCES orders (key),
    state          TEXT NOT NULL,
    final          INTEGER NOT NULL,
    intent         TEXT NOT NULL,
    lifecycle      TEXT NOT NULL,
    last_event_id  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX orders_by_created ON orders (created_at, key);
CREATE INDEX orders_open ON orders (created_at, key) WHERE final = 0;
CREATE INDEX orders_by_parent ON orders (parent_key) WHERE parent_key IS NOT NULL;

-- Projection: one row per execution; a corrected execution is marked superseded.
CREATE TABLE fills (
    exec_id       TEXT PRIMARY KEY,
    exec_base     TEXT NOT NULL,
    key           TEXT NOT NULL REFERENCES orders (key),
    time          TEXT NOT NULL,
    con_id        INTEGER NOT NULL,
    side          TEXT NOT NULL,
    quantity      TEXT NOT NULL,
    price         TEXT NOT NULL,
    commission    TEXT,
    currency      TEXT,
    realized_pnl  TEXT,
    superseded    INTEGER NOT NULL DEFAULT 0,
    event_id      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX fills_by_time ON fills (time, exec_id);
CREATE INDEX fills_by_base ON fills (exec_base);
CREATE INDEX fills_by_key ON fills (key);
"""


def open_database(
    path: Path,
    *,
    version: int = SCHEMA_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
) -> sqlite3.Connection:
    """Open (creating if needed) the journal at ``path`` and bring its schema to ``version``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"cannot create the journal folder {path.parent}: {exc}") from exc
    try:
        # Autocommit mode: every write opens its own BEGIN IMMEDIATE ... COMMIT.
        conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the journal {path}: {exc}") from exc
    try:
        _configure(conn, path)
        _prepare_schema(conn, path, version, migrations)
    except sqlite3.Error as exc:
        conn.close()
        raise JournalError(f"{path} is not a usable ibconsole journal: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        logger.warning("the journal %s runs in %s mode: the file system refused WAL", path, mode)
    # WAL with synchronous=NORMAL: a commit is in the operating system's hands when it
    # returns, so a crash or SIGKILL of the console loses nothing that was acknowledged; only
    # a power cut or kernel crash can drop the last commits (never corrupt the file). FULL
    # would fsync on every commit, milliseconds on the event loop thread for each order
    # event; the broker's own records (reconciled at start-up) cover that rarer case.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")


def _prepare_schema(
    conn: sqlite3.Connection, path: Path, version: int, migrations: Mapping[int, Migration]
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if app_id == 0 and found == 0 and tables == 0:
            _create(conn)
            _migrate(conn, path, 1, version, migrations)
        elif app_id != APPLICATION_ID:
            raise JournalError(f"{path} is an SQLite database but not an ibconsole journal")
        elif found > version:
            raise JournalError(
                f"the journal {path} has schema version {found}, newer than the {version} this "
                "version of ibconsole understands; upgrade ibconsole to open it"
            )
        elif found < version:
            _migrate(conn, path, found, version, migrations)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create(conn: sqlite3.Connection) -> None:
    for statement in _statements(_TABLES_V1):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")


def _migrate(
    conn: sqlite3.Connection,
    path: Path,
    found: int,
    version: int,
    migrations: Mapping[int, Migration],
) -> None:
    for step in range(found, version):
        migration = migrations.get(step)
        if migration is None:
            raise JournalError(
                f"the journal {path} has schema version {found} and no migration from "
                f"version {step} exists"
            )
        logger.info("migrating the journal %s from schema version %d", path, step)
        migration(conn)
        conn.execute(f"PRAGMA user_version = {step + 1}")


def _statements(script: str) -> list[str]:
    """Split a DDL script for ``execute`` (``executescript`` would commit the open transaction)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements
