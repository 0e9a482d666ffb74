"""A socket read reaches the IB client in slices of at most ``READ_SLICE`` bytes, in order and
whole, so that decoding a large read costs time in proportion to its size."""

from __future__ import annotations

from ibconsole.broker.ib_client import IB
from ibconsole.broker.socket_reads import READ_SLICE, slice_reads


def test_a_large_read_reaches_the_client_in_slices_and_a_small_one_whole() -> None:
    client = IB().client
    slice_reads(client)
    # Only what the client would be handed is looked at: its own decoder is left out.
    client.conn.hasData.clear()
    handed: list[bytes] = []
    client.conn.hasData += handed.append
    read = bytes(range(256)) * (3 * READ_SLICE // 256 + 4)

    client.conn.data_received(read)
    assert b"".join(handed) == read
    assert [len(piece) for piece in handed] == [READ_SLICE] * 3 + [1024]

    handed.clear()
    client.conn.data_received(b"small")
    assert handed == [b"small"]
