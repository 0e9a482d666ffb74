"""The second baseline of the CPU benchmark: ib_insync's own Qt ticker-table example wiring. A
QTableWidget's cells are set from ``pendingTickersEvent`` (every field of every ticker that
changed), and Qt runs on ib_insync's ``util.useQt`` polling (asyncio drives, Qt is pumped every
10 ms). DESIGN.md section 3 bans ``util.useQt`` from the console; it appears here only as the
thing the console is compared with.

    python -m bench.qt_ticker_table --port PORT --instruments 1234:ES,5678:NQ
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem

from bench.bare_client import arguments, parse_instruments, subscribe
from bench.peer import Instrument
from ibconsole.broker.ib_client import IB, Ticker, util

_FIELDS = ("bidSize", "bid", "ask", "askSize", "last", "lastSize", "close")


class TickerTable(QTableWidget):
    """One row per ticker: its symbol, then the example's fields as text."""

    def __init__(self) -> None:
        super().__init__()
        self.setColumnCount(1 + len(_FIELDS))
        self.setHorizontalHeaderLabels(["symbol", *_FIELDS])
        self.setAlternatingRowColors(True)
        self.rows: dict[int, int] = {}

    def add(self, ticker: Ticker) -> None:
        row = self.rowCount()
        self.insertRow(row)
        contract = ticker.contract
        assert contract is not None
        self.rows[contract.conId] = row
        self.setItem(row, 0, QTableWidgetItem(contract.localSymbol))
        for column in range(1, 1 + len(_FIELDS)):
            self.setItem(row, column, QTableWidgetItem("-"))
        self.resizeColumnsToContents()

    def on_pending_tickers(self, tickers: Iterable[Ticker]) -> None:
        for ticker in tickers:
            assert ticker.contract is not None
            row = self.rows[ticker.contract.conId]
            for column, name in enumerate(_FIELDS, start=1):
                item = self.item(row, column)
                if item is not None:
                    item.setText(str(getattr(ticker, name)))


async def serve(port: int, instruments: Sequence[Instrument]) -> None:
    table = TickerTable()
    table.resize(600, 400)
    table.show()
    ib = IB()
    ib.pendingTickersEvent += table.on_pending_tickers
    for ticker in await subscribe(ib, port, instruments):
        table.add(ticker)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    ib.disconnect()


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv, "ib_insync's Qt ticker-table example wiring")
    QApplication([sys.argv[0]])
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    util.useQt("PySide6")
    loop.run_until_complete(serve(args.port, parse_instruments(args.instruments)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
