"""The journal's recently read orders and fills, kept so that one order's round trip (click,
placeOrder, statuses, fill, commission) reads its rows from the file once instead of once for
every listener (the order tracker, the blotter, the alerts, the chart).

Correct because every change of the file goes through here: the journal's own writes put what
they wrote here once committed (a write that fails leaves what was here; a rebuild of the
projection empties it), and a commit by any other connection to the file (a second console on the
same journal, ...) changes SQLite's ``data_version``, which the journal compares before it
answers from here or writes, emptying the cache when it moved. Checkpoints copy pages and change
no row. A new ``Journal`` (a restart, a recovery) starts with nothing here.

Bounded: at most ``size`` entries, the least recently used go first, so a long session holds no
more than its last ``size`` orders and fills, however many it trades.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Final, Generic, TypeVar

from ibconsole.journal.events import CommissionRecorded, FillRecorded
from ibconsole.journal.lifecycle import exec_base
from ibconsole.journal.snapshots import JournalFill, JournalOrder

K = TypeVar("K")
V = TypeVar("V")

CACHE_SIZE: Final = 256  # orders (and fills) kept: far more than a session works at once


class Missing:
    """Not in the cache (an entry may hold ``None``: known not to be journalled)."""


MISSING: Final = Missing()


class RecentlyRead(Generic[K, V]):
    """A least-recently-used map of at most ``size`` entries."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError(f"a cache holds at least one entry, not {size}")
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | Missing:
        try:
            value = self._entries[key]
        except KeyError:
            return MISSING
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def __iter__(self) -> Iterator[K]:
        """The keys held now (a copy: entries may be forgotten meanwhile)."""
        return iter(list(self._entries))

    def clear(self) -> None:
        self._entries.clear()


@dataclass(slots=True)
class ReadCache:
    """The journal's orders (by key) and fills (by execution id) read or written last; ``None``
    for one known not to be journalled (or, for a fill, replaced by a correction).

    A write stages what it changes (``stage_*``; ``None``: to be read from the file again) and
    ``commit`` takes it in once the transaction is committed; ``discard`` drops it when the
    transaction fails.
    """

    data_version: int | None = None  # SQLite's, when the entries were last known current
    orders: RecentlyRead[str, JournalOrder | None] = field(default_factory=RecentlyRead)
    fills: RecentlyRead[str, JournalFill | None] = field(default_factory=RecentlyRead)
    _staged_orders: dict[str, JournalOrder | None] = field(default_factory=dict)
    _staged_fills: dict[str, JournalFill | None] = field(default_factory=dict)

    def follow(self, data_version: int) -> None:
        """Forget everything if another connection committed since ``data_version`` was seen."""
        if data_version != self.data_version:
            self.clear()
            self.data_version = data_version

    def written_order(self, key: str) -> JournalOrder | Missing | None:
        """The order as the write under way left it, or as last committed (a write trusts no
        entry of a key it wrote without its row: ``MISSING``, to be read in the transaction)."""
        if key in self._staged_orders:
            staged = self._staged_orders[key]
            return MISSING if staged is None else staged
        return self.orders.get(key)

    def stage_order(self, key: str, order: JournalOrder | None) -> None:
        self._staged_orders[key] = order

    def stage_fill(self, key: str, fill: FillRecorded) -> None:
        """An execution of the order ``key``, as the fills table will hold it."""
        self._staged_fills[fill.exec_id] = JournalFill(
            exec_id=fill.exec_id,
            key=key,
            con_id=fill.con_id,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            time=fill.time,
            commission=None,
            commission_currency=None,
            realized_pnl=None,
        )

    def stage_commission(self, report: CommissionRecorded) -> None:
        known = self._staged_fills.get(report.exec_id) or self.fills.get(report.exec_id)
        self._staged_fills[report.exec_id] = (
            replace(
                known,
                commission=report.commission,
                commission_currency=report.currency,
                realized_pnl=report.realized_pnl,
            )
            if isinstance(known, JournalFill)
            else None
        )

    def commit(self) -> None:
        for key, order in self._staged_orders.items():
            if order is None:
                self.orders.forget(key)
            else:
                self.orders.put(key, order)
        for exec_id, fill in self._staged_fills.items():
            if fill is None:
                self.fills.forget(exec_id)
                continue
            base = exec_base(exec_id)  # the executions it corrects read as None from now on
            for other in self.fills:
                if exec_base(other) == base:
                    self.fills.forget(other)
            self.fills.put(exec_id, fill)
        self.discard()

    def discard(self) -> None:
        self._staged_orders.clear()
        self._staged_fills.clear()

    def clear(self) -> None:
        self.discard()
        self.orders.clear()
        self.fills.clear()
