"""A handler that raises is logged with its traceback, whichever event it listens to: the console's
own, the IB client's, or its socket client's (ib_async's eventkit would drop it unheard)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from ibconsole.broker.handler_errors import hear_client, heard
from ibconsole.broker.ib_client import IB, Event

if TYPE_CHECKING:
    from conftest import Rig

pytestmark = pytest.mark.expect_log_warnings  # each failure is logged, as the tests ask


def _fail(*_: object) -> None:
    raise ValueError("the handler's own mistake")


def _failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ibconsole.broker.handler_errors"]


def test_a_failing_handler_of_a_console_event_is_logged_and_the_next_handler_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = Event("fill_recorded")
    heard_after: list[int] = []
    event += _fail
    event += heard_after.append
    with caplog.at_level(logging.ERROR):
        event.emit(7)
    (record,) = _failures(caplog)
    assert "fill_recorded" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is not None
    assert str(record.exc_info[1]) == "the handler's own mistake"
    assert heard_after == [7]


def test_every_event_of_the_ib_client_and_its_socket_client_is_heard_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ib = IB()
    hear_client(ib)
    hear_client(ib)  # a second time adds no second log line
    events = [getattr(ib, n) for n in ib.events] + [getattr(ib.client, n) for n in ib.client.events]
    for event in events:
        event += _fail
    with caplog.at_level(logging.ERROR):
        for event in events:
            event.emit()
    # ours fails on each event (some events pass the emit on to others, and the library's own
    # handlers may fail on an emit without arguments: those are logged too)
    ours = {r.getMessage() for r in _failures(caplog) if r.exc_info and r.exc_info[0] is ValueError}
    assert ours == {f"a handler of the event {e.name()!r} failed" for e in events}
    assert len(events) == len(ib.events) + len(ib.client.events)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        ib.orderStatusEvent.emit(None)
    assert len(_failures(caplog)) == 1  # heard once, however often it was asked


def test_an_event_another_listener_already_hears_is_left_to_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = Event("own")
    event.error_event.clear()
    seen: list[BaseException] = []
    event.error_event += lambda _event, error: seen.append(error)
    heard(event)
    event += _fail
    with caplog.at_level(logging.ERROR):
        event.emit()
    assert [str(e) for e in seen] == ["the handler's own mistake"]
    assert not _failures(caplog)


async def test_the_console_s_session_hears_its_ib_client(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    ib = rig.broker.session.ib
    ib.pendingTickersEvent += _fail
    with caplog.at_level(logging.ERROR):
        ib.pendingTickersEvent.emit(set())
    ib.pendingTickersEvent -= _fail
    (record,) = _failures(caplog)
    assert "pendingTickersEvent" in record.getMessage()
