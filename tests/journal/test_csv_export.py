"""CSV export of the journal: header, order and fill rows, time order, since, file or stream."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.orders import Side
from ibconsole.journal import CSV_COLUMNS, Journal, export_csv

D = Decimal


def _day(journal: Journal, make_intent: Any, clock: ManualClock) -> None:
    start = clock.now()
    journal.record_intent(make_intent("ibc-1", quantity=D(2), created_at=start))
    journal.record_decision("ibc-1", "confirmed", [])
    journal.record_submission("ibc-1", 10, 3)
    journal.record_status("ibc-1", "Submitted", D(0), D(2), None, 555)
    journal.record_fill("ibc-1", "e.1.01", 620731015, Side.BUY, D(1), D("5000.25"), start)
    journal.record_fill(
        "ibc-1", "e.2.01", 620731015, Side.BUY, D(1), D("1E+1"), start + timedelta(minutes=2)
    )
    journal.record_commission("e.1.01", D("2.25"), "USD", None)
    journal.record_intent(
        make_intent("ibc-2", side=Side.SELL, created_at=start + timedelta(minutes=1))
    )


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def test_export_to_a_stream(journal: Journal, make_intent: Any, clock: ManualClock) -> None:
    _day(journal, make_intent, clock)
    stream = io.StringIO()
    assert export_csv(journal, stream) == 4
    rows = _rows(stream.getvalue())
    assert [(r["record"], r["key"], r["exec_id"]) for r in rows] == [
        ("order", "ibc-1", ""),
        ("fill", "ibc-1", "e.1.01"),
        ("order", "ibc-2", ""),
        ("fill", "ibc-1", "e.2.01"),
    ]
    order, first_fill, other, second_fill = rows
    assert order == {
        "record": "order",
        "time": "2025-01-02T14:30:00.000000+00:00",
        "key": "ibc-1",
        "parent_key": "",
        "account": "DU1234567",
        "symbol": "ES",
        "local_symbol": "ESH5",
        "con_id": "620731015",
        "side": "BUY",
        "quantity": "2",
        "order_type": "LMT",
        "limit_price": "5000.25",
        "stop_price": "",
        "tif": "DAY",
        "purpose": "manual",
        "state": "filled",
        "order_id": "10",
        "perm_id": "555",
        "filled": "2",
        "avg_fill_price": "2505.125",
        "exec_id": "",
        "price": "",
        "commission": "2.25",
        "commission_currency": "USD",
        "realized_pnl": "",
    }
    assert (first_fill["price"], first_fill["quantity"], first_fill["commission"]) == (
        "5000.25",
        "1",
        "2.25",
    )
    assert (first_fill["order_id"], first_fill["local_symbol"]) == ("10", "ESH5")
    assert second_fill["price"] == "10"  # fixed-point, never "1E+1"
    assert second_fill["commission"] == ""
    assert (other["side"], other["state"], other["filled"]) == ("SELL", "intended", "0")


def test_export_to_a_file_since_an_instant(
    journal: Journal, make_intent: Any, clock: ManualClock, tmp_path: Path
) -> None:
    _day(journal, make_intent, clock)
    dest = tmp_path / "exports" / "blotter.csv"
    dest.parent.mkdir()
    assert export_csv(journal, dest, since=clock.now() + timedelta(seconds=30)) == 2
    raw = dest.read_bytes()
    assert raw.count(b"\r\n") == 3  # header and two rows, CSV line ends, no blank lines
    rows = _rows(raw.decode("utf-8"))
    # The later fill belongs to an order created before ``since``: it still names its order.
    assert [(r["record"], r["key"], r["local_symbol"]) for r in rows] == [
        ("order", "ibc-2", "ESH5"),
        ("fill", "ibc-1", "ESH5"),
    ]


def test_an_empty_journal_exports_the_header(journal: Journal, tmp_path: Path) -> None:
    dest = tmp_path / "empty.csv"
    assert export_csv(journal, str(dest)) == 0
    assert dest.read_text(encoding="utf-8").strip() == ",".join(CSV_COLUMNS)
