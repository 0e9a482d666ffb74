"""The signal endpoint on a thread of its own: a sender hears its 202 (or its refusal) while the
loop that owns the inbox is held busy, an accepted signal reaches ``accept`` on that loop once it
is free (and before ``stop`` returns), a refused one never does, and ``stop`` ends the thread.

The loop is held the way a long paint or a burst of market data holds the console's: by a job
that blocks it, here one waiting on a ``threading.Event`` that the sender sets once it has its
answers (with a deadline, so a broken endpoint fails the test instead of hanging it)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ibconsole.broker.signal_endpoint import THREAD_NAME, SignalEndpoint
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.signals import Signal, SignalSettings
from ibconsole.journal.signal_log import SignalLog
from tests.conftest import WaitFor
from tests.http_sender import post

SECRET = "thread-test-secret-8Lw2Q"
SETTINGS = SignalSettings(enabled=True, port=0, max_per_minute=1000, max_body_bytes=512)
HELD_AT_MOST = 30.0  # seconds a held loop waits for the sender before the test fails


@dataclass
class Rig:
    endpoint: SignalEndpoint
    log: SignalLog
    accepted: list[tuple[Signal, int]]  # each signal accepted, with the thread it came on

    @property
    def url(self) -> str:
        url = self.endpoint.url
        assert url is not None
        return url


@pytest.fixture
async def rig(tmp_path: Path, as_of: datetime) -> AsyncIterator[Rig]:
    log = SignalLog(tmp_path / "journal.sqlite3")
    accepted: list[tuple[Signal, int]] = []
    endpoint = SignalEndpoint(
        SETTINGS,
        SECRET,
        log,
        lambda signal: accepted.append((signal, threading.get_ident())),
        OffsetClock(as_of),
    )
    rig = Rig(endpoint, log, accepted)
    await endpoint.start(0)
    yield rig
    await rig.endpoint.stop()
    log.close()


def signal(ident: str, secret: str = SECRET) -> dict[str, Any]:
    return {"secret": secret, "id": ident, "symbol": "MES1!", "action": "buy", "quantity": 1}


def hold_the_loop_while(sender: Callable[[], list[int]]) -> list[int]:
    """Run ``sender`` on a thread of its own while the calling loop is blocked until it is done;
    its statuses. Called from a coroutine: nothing else on the loop runs meanwhile."""
    answered = threading.Event()
    statuses: list[int] = []

    def send() -> None:
        try:
            statuses.extend(sender())
        finally:
            answered.set()

    thread = threading.Thread(target=send, name="sender")
    thread.start()
    held = answered.wait(HELD_AT_MOST)  # blocks the loop, as a long job on it would
    thread.join()
    assert held, "the sender got no answer while the loop was held"
    return statuses


async def test_a_202_is_answered_while_the_loop_is_held_and_accept_runs_on_the_loop_after(
    rig: Rig, as_of: datetime, wait_for: WaitFor
) -> None:
    statuses = hold_the_loop_while(lambda: [post(rig.url, signal("held-1"))])
    assert statuses == [202]
    # Journalled before the 202 left, and not yet handed over: the loop was busy all along.
    assert [item.signal.key for item in rig.log.since(as_of)] == ["id:held-1"]
    assert rig.accepted == []
    await wait_for(lambda: rig.accepted, what="the signal handed over")
    [(accepted, thread)] = rig.accepted
    assert accepted.key == "id:held-1"
    assert thread == threading.get_ident(), "accept ran off the loop's thread"


async def test_refusals_are_answered_while_the_loop_is_held_and_never_reach_it(
    rig: Rig, as_of: datetime, wait_for: WaitFor
) -> None:
    wrong = SECRET[:-1] + "x"

    def flood() -> list[int]:
        answers = [post(rig.url, signal(f"bad-{n}", secret=wrong)) for n in range(20)]
        answers.append(post(rig.url, {**signal("odd"), "quantity": "many"}))
        answers.append(post(rig.url, signal("good")))
        answers.append(post(rig.url, signal("good")))
        return answers

    statuses = hold_the_loop_while(flood)
    assert statuses == [401] * 20 + [400, 202, 409]
    assert rig.endpoint.refusals == {401: 20, 400: 1, 409: 1}
    await wait_for(lambda: rig.accepted, what="the good signal handed over")
    assert [s.key for s, _ in rig.accepted] == ["id:good"]
    assert [item.signal.key for item in rig.log.since(as_of)] == ["id:good"]


async def test_stop_hands_over_what_was_accepted_then_ends_the_thread(rig: Rig) -> None:
    statuses = hold_the_loop_while(lambda: [post(rig.url, signal(f"s{n}")) for n in range(3)])
    assert statuses == [202] * 3
    url = rig.url
    await rig.endpoint.stop()
    assert [s.key for s, _ in rig.accepted] == ["id:s0", "id:s1", "id:s2"]
    assert rig.endpoint.url is None
    assert THREAD_NAME not in {thread.name for thread in threading.enumerate()}
    with pytest.raises(ConnectionError):
        post(url, signal("after"))
    # It starts again on the same journal (a new thread), and knows what it journalled.
    await rig.endpoint.start(0)
    assert [t.name for t in threading.enumerate()].count(THREAD_NAME) == 1
    assert hold_the_loop_while(lambda: [post(rig.url, signal("s1"))]) == [409]


async def test_a_port_in_use_is_an_oserror_and_leaves_no_thread(rig: Rig, as_of: datetime) -> None:
    port = int(urlsplit(rig.url).port or 0)
    second = SignalEndpoint(SETTINGS, SECRET, rig.log, lambda s: None, OffsetClock(as_of))
    with pytest.raises(OSError, match="in use"):
        await second.start(port)
    assert second.url is None
    assert [t.name for t in threading.enumerate()].count(THREAD_NAME) == 1  # the rig's own
