"""What price alerts and chart trading add to each tick, measured on the handlers themselves.

Quotes reach the price alerts as batches (``sig_quotes_updated``); order lines never see a quote
at all, and the position's P&L label is relabelled from the chart's coalesced repaint (at most
~30 times a second, whatever the tick rate). This times, in one process without a connection:

- the alerts' quote handler per quote, with no alert armed, with ten alerts on other contracts
  (the usual case: most quotes are of contracts nobody set an alert on), and with every quote
  on an alerted contract;
- one relabel of the position line with a changed price.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.alert_quote_cost
"""

from __future__ import annotations

import os
import sys
import tempfile
import timeit
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from ibconsole.broker.session import Endpoint
from ibconsole.config import Settings
from ibconsole.domain.account import PortfolioRow
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.price_alerts import CrossDirection, PriceAlert
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.journal.price_alert_file import PriceAlertFile
from ibconsole.ui.chart_marks import PositionMark
from ibconsole.ui.context import open_context
from ibconsole.ui.price_alert_book import PriceAlertBook

AT = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
BATCH = 20  # quotes per batch: the benchmark load's instruments
ROUNDS = 20_000


def _quotes(con_ids: range) -> tuple[Quote, ...]:
    return tuple(
        Quote(c, Decimal("6001.75"), Decimal(6002), Decimal(6002), AT, MarketDataType.LIVE)
        for c in con_ids
    )


def _alerts(count: int) -> list[PriceAlert]:
    return [
        PriceAlert(
            f"a{n}", 1000 + n, "ES", "ESZ6", Decimal(9000), CrossDirection.ABOVE, Decimal(6002), AT
        )
        for n in range(count)
    ]


def _per_quote(book: PriceAlertBook, batch: tuple[Quote, ...]) -> float:
    seconds = timeit.timeit(lambda: book._on_bridge_quotes_updated(batch), number=ROUNDS)
    return seconds / ROUNDS / len(batch) * 1e9


def main() -> int:
    QApplication(sys.argv)
    folder = Path(tempfile.mkdtemp())
    settings = Settings()
    ctx = open_context(
        settings, Endpoint("127.0.0.1", 1, 1, ""), folder / "j.sqlite3", OffsetClock(AT), "bench"
    )
    try:
        rows = []
        for label, armed, batch in (
            ("no alert armed", 0, _quotes(range(BATCH))),
            ("10 alerts, none on these contracts", 10, _quotes(range(BATCH))),
            ("10 alerts, every quote on one of them", 10, _quotes(range(1000, 1000 + BATCH))),
        ):
            store = PriceAlertFile(folder / f"alerts-{armed}-{len(rows)}.json")
            store.save(_alerts(armed))
            rows.append((label, _per_quote(PriceAlertBook(ctx, store), batch)))
        for label, nanoseconds in rows:
            print(f"price alerts, {label}: {nanoseconds:,.0f} ns per quote")
        es = ListedContract(
            symbol="ES",
            local_symbol="ESZ6",
            con_id=1,
            contract_month="202612",
            last_trade=AT,
            exchange="CME",
            currency="USD",
            multiplier=Decimal(50),
            min_tick=Decimal("0.25"),
            trading_class="ES",
        )
        held = PortfolioRow(
            account="",
            con_id=1,
            symbol="ES",
            local_symbol="ESZ6",
            quantity=Decimal(2),
            avg_cost=Decimal(300100),
            market_price=None,
            market_value=None,
            unrealized_pnl=None,
            realized_pnl=None,
        )
        mark = PositionMark(pg.PlotItem())
        mark.show(es, [held])
        prices = [Decimal(6000) + Decimal("0.25") * (n % 40) for n in range(ROUNDS)]
        feed = iter(prices)
        seconds = timeit.timeit(lambda: mark.show_price(next(feed)), number=ROUNDS)
        print(
            f"position line relabel (price changed): {seconds / ROUNDS * 1e6:,.1f} µs per repaint"
        )
    finally:
        ctx.broker.journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
