"""Where the journal lives unless the configuration names another file."""

from __future__ import annotations

from pathlib import Path

import platformdirs

JOURNAL_FILENAME = "journal.sqlite3"


def default_journal_path() -> Path:
    """The journal file in the user's data folder for ibconsole (created on first open)."""
    return platformdirs.user_data_path("ibconsole", appauthor=False) / JOURNAL_FILENAME
