"""CSV export of journalled orders and fills: one table, one header row, rows in time order."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TextIO

from ibconsole.journal.codec import utc_text
from ibconsole.journal.errors import JournalError
from ibconsole.journal.snapshots import JournalFill, JournalOrder

if TYPE_CHECKING:
    from ibconsole.journal.journal import Journal

CSV_COLUMNS = (
    "record",
    "time",
    "key",
    "parent_key",
    "account",
    "symbol",
    "local_symbol",
    "con_id",
    "side",
    "quantity",
    "order_type",
    "limit_price",
    "stop_price",
    "tif",
    "purpose",
    "state",
    "order_id",
    "perm_id",
    "filled",
    "avg_fill_price",
    "exec_id",
    "price",
    "commission",
    "commission_currency",
    "realized_pnl",
)

Row = dict[str, str]


def _text(value: Decimal | int | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        # Fixed-point: spreadsheets misread "1E+1", and Decimal's str can produce it.
        return format(value, "f")
    return str(value)


def _order_row(order: JournalOrder) -> Row:
    intent, life = order.intent, order.lifecycle
    return {
        "record": "order",
        "time": utc_text(intent.created_at),
        "key": intent.key,
        "parent_key": _text(life.parent_key),
        "account": intent.account,
        "symbol": intent.contract.symbol,
        "local_symbol": intent.contract.local_symbol,
        "con_id": _text(intent.contract.con_id),
        "side": intent.side.value,
        "quantity": _text(intent.quantity),
        "order_type": intent.order_type.value,
        "limit_price": _text(intent.limit_price),
        "stop_price": _text(intent.stop_price),
        "tif": intent.tif.value,
        "purpose": intent.purpose.value,
        "state": life.state.value,
        "order_id": _text(life.order_id),
        "perm_id": _text(life.perm_id),
        "filled": _text(life.filled),
        "avg_fill_price": _text(life.avg_fill_price),
        "exec_id": "",
        "price": "",
        "commission": _text(life.commission),
        "commission_currency": _text(life.commission_currency),
        "realized_pnl": _text(life.realized_pnl),
    }


def _fill_row(fill: JournalFill, order: JournalOrder) -> Row:
    intent = order.intent
    traded = intent.traded(fill.con_id)
    return {
        "record": "fill",
        "time": utc_text(fill.time),
        "key": fill.key,
        "parent_key": _text(order.lifecycle.parent_key),
        "account": intent.account,
        "symbol": traded.symbol,
        "local_symbol": traded.local_symbol,
        "con_id": _text(fill.con_id),
        "side": fill.side.value,
        "quantity": _text(fill.quantity),
        "order_type": "",
        "limit_price": "",
        "stop_price": "",
        "tif": "",
        "purpose": intent.purpose.value,
        "state": "",
        "order_id": _text(order.lifecycle.order_id),
        "perm_id": _text(order.lifecycle.perm_id),
        "filled": "",
        "avg_fill_price": "",
        "exec_id": fill.exec_id,
        "price": _text(fill.price),
        "commission": _text(fill.commission),
        "commission_currency": _text(fill.commission_currency),
        "realized_pnl": _text(fill.realized_pnl),
    }


def export_csv(
    journal: Journal, dest: str | os.PathLike[str] | TextIO, since: datetime | None = None
) -> int:
    """Write the orders created and fills executed at or after ``since`` as CSV (a fill's order
    from before ``since`` is read too); return the data rows written."""
    orders = journal.orders(since, limit=None)
    fills = journal.fills(since)
    by_key = {order.key: order for order in orders}
    for key in {fill.key for fill in fills} - by_key.keys():
        earlier = journal.order(key)
        if earlier is None:
            raise JournalError(f"the journal has a fill for {key} but no such order")
        by_key[key] = earlier
    return write_csv(dest, orders, fills, by_key)


def write_csv(
    dest: str | os.PathLike[str] | TextIO,
    orders: Iterable[JournalOrder],
    fills: Sequence[JournalFill],
    order_of_fill: Mapping[str, JournalOrder],
) -> int:
    """Write ``orders`` and ``fills`` (each fill's order in ``order_of_fill``); return data rows."""
    rows = [_order_row(order) for order in orders]
    rows.extend(_fill_row(fill, order_of_fill[fill.key]) for fill in fills)
    # An order placed and filled within one microsecond still lists the order first.
    rows.sort(key=lambda row: (row["time"], row["record"] != "order", row["key"], row["exec_id"]))
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "w", encoding="utf-8", newline="") as stream:
            _write_rows(stream, rows)
    else:
        _write_rows(dest, rows)
    return len(rows)


def _write_rows(stream: TextIO, rows: Iterable[Row]) -> None:
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
