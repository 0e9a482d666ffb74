"""Socket reads handed to the IB client in slices, so that decoding a read costs time in
proportion to its size.

ib_async (and ib_insync before it) frames a read by cutting each message off the front of its
buffer (``self._data = self._data[msgEnd:]``), which copies the rest of the buffer every time:
a read of n bytes costs in the order of n² bytes copied. A read holds whatever queued while the
loop was busy, so the busier the loop, the slower each message, and a loaded machine falls
further behind: framing a 150 kB read took 3.3 µs a message whole against 1.6 µs in 32 kB
slices (``bench/decode_share.py``), and a read grows to 256 kB. The client keeps a message
split across two reads for the next, so slicing changes nothing it decodes. Each slice ends in
one ``pendingTickersEvent``, whose handlers run once for every ticker it holds: smaller slices
would frame faster and run them more often (8 kB slices cost more in all than 32 kB).
"""

from __future__ import annotations

from ibconsole.broker.ib_client import Client

READ_SLICE = 32 * 1024  # bytes handed to the client at once


def slice_reads(client: Client) -> None:
    """Make ``client``'s connection hand its reads to the client ``READ_SLICE`` bytes at a
    time (before it connects; it holds across reconnects)."""
    connection = client.conn
    emit = connection.hasData.emit

    def data_received(data: bytes) -> None:
        for start in range(0, len(data), READ_SLICE):
            emit(data[start : start + READ_SLICE])

    connection.data_received = data_received  # type: ignore[method-assign]
