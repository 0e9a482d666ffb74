"""Append-only SQLite journal of every order intent, decision, submission, status and fill."""
