"""A bar stream whose first answer reaches the console together with the loss of its connection,
against the paper gateway over TCP.

A busy console reads a large batch of messages at once and hands it to the IB client in slices,
one per loop turn; when the connection is lost meanwhile, the slices still held are decoded
first and the loss is reported right after, in the same turn. A bar request answered in such a
slice has its answer and the end of its session arrive together: its stream died with the
socket, so the console must load it again once it is back, not keep counting a dead stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.ib_client import Event
from ibconsole.broker.socket_reads import READ_SLICE
from ibconsole.domain.contracts import ListedContract
from ibconsole.sim import PaperGateway
from ibconsole.sim.connection import Connection

Record = Callable[[Event], Any]
WaitFor = Callable[..., Any]

REQ_HISTORICAL_DATA = "20"
CURRENT_TIME = 49


def history_streams(gateway: PaperGateway) -> int:
    """keepUpToDate bar streams the gateway is feeding."""
    return sum(len(streams) for streams in gateway.history._live.values())


class _AnswerThenClose:
    """The gateway's dispatch, made to answer the first bar request behind several read slices
    of other messages and then close the connection (FIN), all in one write."""

    def __init__(self, gateway: PaperGateway) -> None:
        self._dispatch = gateway.dispatch
        self._clock = gateway.clock
        self.closed = False

    def __call__(self, connection: Connection, fields: list[str]) -> None:
        if self.closed or fields[:1] != [REQ_HISTORICAL_DATA]:
            self._dispatch(connection, fields)
            return
        self.closed = True
        now = int(self._clock.epoch())
        # about 20 bytes each: the answer comes some slices after the first
        for _ in range(4 * READ_SLICE // 20):
            connection.send(CURRENT_TIME, 1, now)
        self._dispatch(connection, fields)
        connection.close()


@pytest.mark.expect_log_warnings  # the dropped connection is logged
async def test_a_bar_stream_answered_as_its_connection_is_lost_is_loaded_again(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    wait_for: WaitFor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cutter = _AnswerThenClose(gateway)
    monkeypatch.setattr(gateway, "dispatch", cutter)
    ended = record(broker.session.ended)
    synced = record(broker.session.synced)
    resets = record(broker.market.bars_reset)

    key = await broker.market.subscribe_bars(es_front, "1 min")

    assert cutter.closed
    await wait_for(lambda: ended.values and synced.values, what="the reconnect")
    await wait_for(lambda: history_streams(gateway) == 1, what="the bar stream requested again")
    assert broker.market.bar_subscriptions() == {key: 1}
    await wait_for(lambda: resets.values, what="the bars loaded")
    assert resets.values[-1][0] == key
    assert resets.values[-1][1], "the bars of the new session"
