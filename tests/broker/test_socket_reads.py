"""A socket read reaches the IB client in slices of at most ``READ_SLICE`` bytes, whole and in
order: the first at once, the others on the next turns of the loop (reads arriving meanwhile
behind them), and everything still held before the client hears the connection was lost."""

from __future__ import annotations

from typing import Any

from ibconsole.broker.ib_client import IB, Client
from ibconsole.broker.socket_reads import READ_SLICE, slice_reads

LOST = b"<connection lost>"


def _client() -> tuple[Client, list[bytes]]:
    """A client with sliced reads that hands what it would decode to a list (its own decoder is
    left out: only what it is handed, and when, is looked at)."""
    client = IB().client
    slice_reads(client)
    client.conn.hasData.clear()
    client.conn.disconnected.clear()
    handed: list[bytes] = []
    client.conn.hasData += handed.append
    client.conn.disconnected += lambda message: handed.append(LOST)
    return client, handed


def _read(slices: int) -> bytes:
    """``slices`` full slices and a quarter of one more, every byte telling its place."""
    size = slices * READ_SLICE + READ_SLICE // 4
    return bytes(i % 251 for i in range(size))


async def test_a_large_read_is_handed_one_slice_a_loop_turn_in_order(wait_for: Any) -> None:
    client, handed = _client()
    first, second = _read(3), _read(1)

    client.conn.data_received(first)
    assert handed == [first[:READ_SLICE]]  # the first slice at once, the rest later
    client.conn.data_received(second)  # arrives while the first read is still being handed
    assert len(handed) == 1

    await wait_for(lambda: len(handed) == 6, what="every slice")
    assert b"".join(handed) == first + second
    assert [len(piece) for piece in handed] == [READ_SLICE] * 3 + [READ_SLICE // 4] + [
        READ_SLICE,
        READ_SLICE // 4,
    ]


async def test_a_small_read_is_handed_at_once_whole() -> None:
    client, handed = _client()
    client.conn.data_received(b"small")
    assert handed == [b"small"]


async def test_a_read_on_a_turn_that_already_decoded_a_slice_waits_for_the_next_turn(
    wait_for: Any,
) -> None:
    client, handed = _client()
    client.conn.data_received(b"first")
    client.conn.data_received(b"second")  # the same turn: two decodes would be one long job
    assert handed == [b"first"]

    await wait_for(lambda: len(handed) == 2, what="the second read")
    assert handed == [b"first", b"second"]


async def test_a_lost_connection_hands_over_what_is_held_before_the_loss() -> None:
    client, handed = _client()
    read = _read(2)

    client.conn.data_received(read)
    client.conn.connection_lost(None)

    assert handed[-1] == LOST
    assert b"".join(handed[:-1]) == read


async def test_a_connection_the_client_closes_drops_what_is_held() -> None:
    client, handed = _client()
    client.conn.data_received(_read(2))
    client.conn.disconnect()  # no transport: nothing to close at the socket

    client.conn.data_received(b"next connection")  # handed at once: nothing queued before it
    assert handed == [handed[0], b"next connection"]
    assert len(handed[0]) == READ_SLICE
