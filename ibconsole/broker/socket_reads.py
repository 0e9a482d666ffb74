"""Socket reads handed to the IB client in slices, one slice per loop turn, so that decoding a
read costs time in proportion to its size and no read holds the loop for longer than a slice.

ib_async (and ib_insync before it) frames a read by cutting each message off the front of its
buffer (``self._data = self._data[msgEnd:]``), which copies the rest of the buffer every time:
a read of n bytes costs in the order of n² bytes copied. A read holds whatever queued while the
loop was busy, so the busier the loop, the slower each message, and a loaded machine falls
further behind: framing a 150 kB read took 3.3 µs a message whole against 1.6 µs in 32 kB
slices (``bench/decode_share.py``), and a read grows to 256 kB. The client keeps a message
split across two reads for the next, so slicing changes nothing it decodes. Each slice ends in
one ``pendingTickersEvent``, whose handlers run once for every ticker it holds: smaller slices
frame faster and run them more often (in a loaded run, 8 kB slices cost more CPU a message in
all than 32 kB). A slice is one loop job, and at 5,000 ticks/s with the ladder's depth a 32 kB
slice took up to 12-14 ms of the loop thread's CPU to decode, most of a frame; 16 kB slices
take at most 7-10 ms for about 0.5-1 µs more a message (handlers run twice as often).

The first slice of a read is decoded at once, as the read was, unless a slice was already
decoded on this turn of the loop; the rest follow on the next turns, in order, one a turn, so a
click or a paint waits for one slice at most, not for the whole read. (Under qasync a read and a
queued slice are both zero-delay timers, and Qt runs every timer that is due in one batch: a
read arriving while a slice was queued made two slices one job of 15-20 ms.) A read arriving
meanwhile queues behind them; a lost connection hands the client what it still holds before it
hears of the loss, and one the client closes drops it (the client has reset itself for its next
connection).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ibconsole.broker.ib_client import Client

READ_SLICE = 16 * 1024  # bytes handed to the client at once


def slice_reads(client: Client) -> None:
    """Make ``client``'s connection hand its reads to the client ``READ_SLICE`` bytes at a
    time, one slice per loop turn (before it connects; it holds across reconnects)."""
    connection = client.conn
    emit = connection.hasData.emit
    lost: Callable[[Exception | None], None] = connection.connection_lost
    close: Callable[[], None] = connection.disconnect
    pending: deque[bytes] = deque()
    handed_this_turn = False  # a slice was decoded on this turn of the loop
    queued = False  # next_slice is queued for the next turn

    def turn_over() -> None:
        nonlocal handed_this_turn
        handed_this_turn = False

    def queue_next() -> None:
        nonlocal queued
        if pending and not queued:
            queued = True
            asyncio.get_running_loop().call_soon(next_slice)

    def next_slice() -> None:
        nonlocal queued, handed_this_turn
        queued = False
        if not pending:
            return  # dropped by disconnect()
        if handed_this_turn:  # a read of the next connection was decoded on this turn
            queue_next()
            return
        handed_this_turn = True
        asyncio.get_running_loop().call_soon(turn_over)  # queued first: runs before next_slice
        try:
            emit(pending.popleft())
        finally:
            queue_next()

    def data_received(data: bytes) -> None:
        wait = bool(pending) or handed_this_turn
        pending.extend(
            data[start : start + READ_SLICE] for start in range(0, len(data), READ_SLICE)
        )
        if wait:
            queue_next()
        else:
            next_slice()

    def connection_lost(error: Exception | None) -> None:
        try:
            while pending:
                emit(pending.popleft())
        finally:
            pending.clear()
            lost(error)

    def disconnect() -> None:
        nonlocal handed_this_turn
        pending.clear()  # the client is closing: it has reset itself and reads no more
        handed_this_turn = False  # the next connection's first read is decoded at once
        close()

    connection.data_received = data_received  # type: ignore[method-assign,unused-ignore]
    connection.connection_lost = connection_lost  # type: ignore[method-assign,unused-ignore]
    connection.disconnect = disconnect  # type: ignore[method-assign,unused-ignore]
