"""The journal file: creation, SQLite settings, recognition, schema versions and migrations."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.journal import SCHEMA_VERSION, Journal, JournalError, default_journal_path
from ibconsole.journal.schema import APPLICATION_ID, MIGRATIONS, open_database


def _pragma(path: Path, name: str) -> object:
    with closing(sqlite3.connect(path)) as conn, conn:
        value: object = conn.execute(f"PRAGMA {name}").fetchone()[0]
    return value


def test_a_new_journal_is_created_with_its_folders(journal_path: Path, clock: ManualClock) -> None:
    assert not journal_path.parent.exists()
    with Journal(journal_path, clock) as journal:
        assert journal.path == journal_path
        assert journal.orders() == []
    assert _pragma(journal_path, "journal_mode") == "wal"
    assert _pragma(journal_path, "application_id") == APPLICATION_ID
    assert _pragma(journal_path, "user_version") == SCHEMA_VERSION


def test_connection_settings(journal_path: Path) -> None:
    conn = open_database(journal_path)
    try:
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert not conn.in_transaction
    finally:
        conn.close()


def test_an_existing_journal_opens_again(
    journal_path: Path, clock: ManualClock, make_intent: Any
) -> None:
    with Journal(journal_path, clock) as journal:
        journal.record_intent(make_intent())
    with Journal(journal_path, clock) as journal:
        assert [o.key for o in journal.orders()] == ["ibc-1"]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my trading notes, not a database\n" * 20)
    with pytest.raises(JournalError, match=r"notes\.txt is not a usable ibconsole journal"):
        Journal(path, clock)
    assert path.read_text().startswith("these are my trading notes")


def test_another_applications_database_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE things (id INTEGER)")
    with pytest.raises(JournalError, match="an SQLite database but not an ibconsole journal"):
        Journal(path, clock)
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT name FROM sqlite_schema").fetchall() == [("things",)]


def test_a_journal_from_a_newer_version_is_refused(journal_path: Path, clock: ManualClock) -> None:
    Journal(journal_path, clock).close()
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(
        JournalError, match=f"newer than the {SCHEMA_VERSION} this version of ibconsole"
    ):
        Journal(journal_path, clock)


def test_migrations_run_in_order_on_an_older_journal(
    journal_path: Path, clock: ManualClock, make_intent: Any
) -> None:
    with Journal(journal_path, clock) as journal:
        journal.record_intent(make_intent())
    ran: list[int] = []
    later = SCHEMA_VERSION + 1

    def to_later(conn: sqlite3.Connection) -> None:
        ran.append(later)
        conn.execute("CREATE TABLE notes (key TEXT PRIMARY KEY, note TEXT NOT NULL)")

    def to_latest(conn: sqlite3.Connection) -> None:
        ran.append(later + 1)
        conn.execute("INSERT INTO notes SELECT key, 'migrated' FROM orders")

    steps = {**MIGRATIONS, SCHEMA_VERSION: to_later, later: to_latest}
    conn = open_database(journal_path, version=later + 1, migrations=steps)
    try:
        assert ran == [later, later + 1]
        assert conn.execute("PRAGMA user_version").fetchone() == (later + 1,)
        assert conn.execute("SELECT * FROM notes").fetchall() == [("ibc-1", "migrated")]
    finally:
        conn.close()


def test_a_missing_migration_leaves_the_journal_untouched(
    journal_path: Path, clock: ManualClock
) -> None:
    Journal(journal_path, clock).close()
    later = SCHEMA_VERSION + 1

    def to_later(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE notes (note TEXT)")

    with pytest.raises(JournalError, match=f"no migration from version {later} exists"):
        open_database(
            journal_path, version=later + 1, migrations={**MIGRATIONS, SCHEMA_VERSION: to_later}
        )
    assert _pragma(journal_path, "user_version") == SCHEMA_VERSION
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
    assert "notes" not in tables


def test_a_new_journal_is_created_at_the_latest_version(journal_path: Path) -> None:
    def to_v2(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE notes (note TEXT)")

    open_database(journal_path, version=2, migrations={1: to_v2}).close()
    assert _pragma(journal_path, "user_version") == 2


def test_a_version_1_journal_gains_the_signal_tables(
    journal_path: Path, clock: ManualClock, make_intent: Any
) -> None:
    open_database(journal_path, version=1, migrations={}).close()
    assert _pragma(journal_path, "user_version") == 1
    with Journal(journal_path, clock) as journal:
        journal.record_intent(make_intent())
    assert _pragma(journal_path, "user_version") == SCHEMA_VERSION
    with closing(sqlite3.connect(journal_path)) as conn, conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
        assert conn.execute("SELECT key FROM orders").fetchall() == [("ibc-1",)]
    assert {"signals", "signal_states", "orders", "events"} <= tables


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG data folder is Linux's")
def test_default_location_is_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert default_journal_path() == tmp_path / "share" / "ibconsole" / "journal.sqlite3"
