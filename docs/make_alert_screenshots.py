"""Renders docs/chart-trading.png and docs/alerts.png off screen, against the built-in simulator.

The clock starts inside ES's December 2026 roll window. A long position in the expiring month
with a take-profit, a protective stop and a buy limit below shows chart trading; a reject, a
dropped connection and a price alert fill the alerts dock beside the fill and roll alerts.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_alert_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")
import qasync
from PySide6.QtWidgets import QApplication

from ibconsole.broker.session import Endpoint
from ibconsole.config import Settings
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import EntryFields, NeedsConfirmation
from ibconsole.domain.orders import OrderType, Side
from ibconsole.journal.price_alert_file import PriceAlertFile
from ibconsole.sim import PaperGateway
from ibconsole.ui.alert_center import AlertCenter
from ibconsole.ui.alert_sound import AlertSound
from ibconsole.ui.alerts_dock import AlertsPanel
from ibconsole.ui.application import create_application
from ibconsole.ui.charts import ChartPanel
from ibconsole.ui.context import UiContext, close_context, open_context
from ibconsole.ui.notifier import Notifier
from ibconsole.ui.price_alert_book import PriceAlertBook
from ibconsole.ui.rollover_panel import RolloverPanel

AS_OF = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
DOCS = Path(__file__).resolve().parent
_PATIENCE = 60.0  # seconds to wait for one step of the scene


async def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + _PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {_PATIENCE} s")
        await asyncio.sleep(0.02)


async def settle(seconds: float) -> None:
    """Let the simulated market run a little (ticks, bars, repaints)."""
    await asyncio.sleep(seconds)


def place(ctx: UiContext, side: Side, fields: EntryFields) -> None:
    outcome = ctx.broker.entry.place(side, fields)
    if isinstance(outcome, NeedsConfirmation):
        outcome = ctx.broker.entry.confirm(outcome)
    print(f"  {outcome.message}")


async def shoot(folder: Path) -> None:
    gateway = PaperGateway(seed=11, as_of=AS_OF)
    await gateway.start("127.0.0.1", 0)
    settings = Settings()
    ctx = open_context(
        settings,
        Endpoint("127.0.0.1", gateway.port, 1, ""),
        folder / "journal.sqlite3",
        OffsetClock(AS_OF),
        settings.default_profile,
    )
    try:
        await ctx.broker.start()
        notifier = Notifier(settings.alerts, ctx.clock, AlertSound(None))
        book = PriceAlertBook(ctx, PriceAlertFile(folder / "alerts.json"))
        center = AlertCenter(ctx, notifier, book)
        rollover = RolloverPanel(ctx)
        rollover.resize(900, 400)
        center.watch_rollover(rollover.model)

        chain = await ctx.broker.contracts.chain("ES")
        expiring: ListedContract = next(c for c in chain.contracts if c.contract_month == "202612")
        chart = ChartPanel(ctx)
        chart.resize(1280, 720)
        chart.show()
        chart.show_contract(expiring)
        await until(lambda: chart.is_populated, "bars")
        quote = lambda: ctx.broker.market.quote(expiring.con_id)  # noqa: E731
        await until(lambda: (q := quote()) is not None and q.last is not None, "a price")
        await settle(2)

        place(ctx, Side.BUY, EntryFields(expiring, 2, OrderType.MARKET))
        await until(lambda: chart.trading.position_line is not None, "the position line")
        q = quote()
        assert q is not None
        assert q.last is not None
        last, tick = q.last, expiring.min_tick
        place(
            ctx, Side.SELL, EntryFields(expiring, 2, OrderType.LIMIT, limit_price=last + 24 * tick)
        )
        place(ctx, Side.SELL, EntryFields(expiring, 2, OrderType.STOP, stop_price=last - 20 * tick))
        place(
            ctx, Side.BUY, EntryFields(expiring, 1, OrderType.LIMIT, limit_price=last - 36 * tick)
        )
        await until(lambda: len(chart.trading.order_lines) == 3, "three order lines")
        buy_limit = next(ln for ln in chart.trading.order_lines.values() if ln.row.side is Side.BUY)
        await until(lambda: buy_limit.row.status == "Submitted", "the buy limit acknowledged")
        # Dragged eight ticks lower: the chart modifies it through the order-entry core.
        buy_limit.setValue(float(last - 44 * tick))
        buy_limit.sigPositionChangeFinished.emit(buy_limit)
        await until(lambda: buy_limit.wanted is None, "the move confirmed")
        book.add(expiring, last + 36 * tick)  # a price alert, drawn while armed
        chart.trading.show_alerts(book.alerts)
        await settle(3)
        QApplication.processEvents()
        chart.grab().save(str(DOCS / "chart-trading.png"))
        print(f"wrote {DOCS / 'chart-trading.png'}")

        gateway.faults.reject_next_order("Order size exceeds the account's limit")
        place(
            ctx, Side.BUY, EntryFields(expiring, 5, OrderType.LIMIT, limit_price=last - 40 * tick)
        )
        q = quote()
        assert q is not None
        now = q.last_good_price()
        assert now is not None
        book.add(expiring, now + tick)  # one tick either side: the next move crosses one
        book.add(expiring, now - tick)
        await until(lambda: any(a.triggered_at for a in book.alerts), "a price alert")
        gateway.drop_connections()
        await until(
            lambda: any(r.kind.value == "connection_restored" for r in notifier.history),
            "the reconnect",
        )
        panel = AlertsPanel(notifier, book)
        panel.resize(980, 560)
        panel.show()
        await settle(0.5)
        QApplication.processEvents()
        panel.grab().save(str(DOCS / "alerts.png"))
        print(f"wrote {DOCS / 'alerts.png'}")
        for widget in (panel, chart, rollover):
            widget.close()
        book.release()
        chart.release()
        chart.trading.release()
    finally:
        await close_context(ctx)
        await gateway.stop()


def main() -> int:
    app = create_application(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as folder, loop:
        loop.run_until_complete(shoot(Path(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
