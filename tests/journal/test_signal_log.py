"""The signal log: a key is journalled once, across restarts; states follow; no secret kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ibconsole.domain.signals import Signal, SignalState, parse_signal
from ibconsole.journal import JournalError
from ibconsole.journal.signal_log import SignalLog

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
SECRET = "a-secret-never-written-7Hq2"


def test_a_key_is_journalled_once_and_remembered_after_a_restart(journal_path: Path) -> None:
    first = parse_signal(
        {
            "secret": SECRET,
            "id": "tv-1",
            "symbol": "MES1!",
            "action": "buy",
            "quantity": 2,
            "order_type": "limit",
            "price": "5931.75",
            "time": "2026-12-04T17:59:58Z",
            "source": "TV",
        },
        NOW,
    )
    with SignalLog(journal_path) as log:
        assert log.record(first)
        assert not log.record(first)
    with SignalLog(journal_path) as log:
        assert not log.record(first)
        (item,) = log.since(NOW - timedelta(minutes=1))
    assert item.signal == first
    assert item.state is SignalState.NEW
    assert SECRET.encode() not in journal_path.read_bytes()


def test_states_are_appended_and_the_last_one_is_read_back(journal_path: Path) -> None:
    signal = parse_signal({"secret": SECRET, "symbol": "ES1!", "action": "exit"}, NOW)
    with SignalLog(journal_path) as log:
        log.record(signal)
        log.record_state(signal.key, SignalState.REFUSED, "Blocked: too large", NOW)
        log.record_state(signal.key, SignalState.SENT, "Sent (ref ibc-9)", NOW)
        (item,) = log.since(NOW)
        assert log.since(NOW + timedelta(seconds=1)) == []
    assert (item.state, item.note) == (SignalState.SENT, "Sent (ref ibc-9)")
    assert item.signal.quantity is None


def test_a_state_for_an_unknown_key_and_a_closed_log_are_errors(journal_path: Path) -> None:
    log = SignalLog(journal_path)
    with pytest.raises(JournalError, match="cannot write"):
        log.record_state("id:nope", SignalState.SENT, "", NOW)
    log.close()
    with pytest.raises(JournalError, match="is closed"):
        log.since(NOW)


def _signal(ident: str) -> Signal:
    return parse_signal(
        {"secret": SECRET, "id": ident, "symbol": "MES1!", "action": "buy", "quantity": 1}, NOW
    )


def _in_thread(work: Callable[[], object]) -> object:
    """What ``work`` returned (or raised) on a thread of its own."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as error:  # handed back to the test's thread
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome[0]


def test_another_thread_writes_on_its_own_connection_once_attached(journal_path: Path) -> None:
    log = SignalLog(journal_path)
    first, second = _signal("in-thread"), _signal("on-opener")

    def attached() -> object:
        log.attach_thread()
        try:
            return log.record(first), log.known(first.key)
        finally:
            log.detach_thread()

    assert _in_thread(attached) == (True, True)
    # The opener's connection sees the other thread's commit, and writes beside it.
    assert log.known(first.key)
    assert log.record(second)
    assert [item.signal.key for item in log.since(NOW)] == ["id:in-thread", "id:on-opener"]
    log.close()


def test_a_thread_not_attached_or_attaching_too_late_is_refused(journal_path: Path) -> None:
    log = SignalLog(journal_path)
    refused = _in_thread(lambda: log.known("id:x"))
    assert isinstance(refused, JournalError)
    assert "not attached" in str(refused)
    with pytest.raises(JournalError, match="uses it as it is"):
        log.attach_thread()
    log.close()
    closed = _in_thread(log.attach_thread)
    assert isinstance(closed, JournalError)
    assert "closed" in str(closed)
