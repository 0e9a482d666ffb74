"""The journal's checkpoints, on a thread of their own: the write-ahead log copied back into the
database file away from the thread that writes orders.

In WAL mode a commit appends its pages to the ``-wal`` file; by default the commit that takes the
log past 1,000 pages then copies the whole log into the database file and syncs both files
(with ``synchronous = NORMAL`` those are the only syncs). On the journal's thread, the event
loop's, that is 25 ms and more, landing on whichever write comes next: often an order's, between
the trader's click and its bytes. The journal's connection does no checkpoints
(``wal_autocheckpoint = 0``); this thread checkpoints on a connection of its own, ``PASSIVE``
(it never waits for, nor holds up, the writer), a ``pause`` after a write, so at most once a
``pause`` while orders are written.

Durability is unchanged: a commit is in the log (the operating system's hands) when it returns,
whether or not it is copied yet; a checkpoint cut short by a crash is finished by the next one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

CHECKPOINT_PAUSE = 1.0  # seconds from a write to the checkpoint that copies it


class Checkpointer:
    """Copies the journal's log into its database file on a thread; ``written()`` after each
    commit, ``close()`` before the journal's connection closes."""

    def __init__(self, path: Path, pause: float = CHECKPOINT_PAUSE) -> None:
        self._path = path
        self._pause = pause
        self._written = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"journal checkpoints {path.name}", daemon=True
        )
        self._thread.start()

    def written(self) -> None:
        """A commit went into the log: copy it back within ``pause``."""
        self._written.set()

    def close(self) -> None:
        """Stop the thread (a checkpoint under way finishes first). What is left in the log stays
        there, safe: SQLite copies it when the last connection to the file closes."""
        self._closing.set()
        self._written.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None)
        except sqlite3.Error as exc:
            logger.error("journal checkpoints cannot open %s: %s", self._path, exc)
            return
        try:
            while True:
                self._written.wait()
                # Writes of the next ``pause`` share one checkpoint.
                if self._closing.wait(self._pause):
                    return
                self._written.clear()
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            busy, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            logger.warning("journal checkpoint of %s failed: %s", self._path, exc)
            return
        logger.debug(
            "journal checkpoint: %s of %s log pages copied (busy %s)", copied, logged, busy
        )
