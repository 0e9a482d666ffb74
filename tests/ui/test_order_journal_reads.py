"""What one order costs the journal: a click on Buy in the assembled window, through placeOrder,
IB's statuses, the fill and its commission, until the orders and fills panels, the alerts and the
chart show it. Every listener asks the journal for the order on each report; the journal reads
each row from its file once (and each write needs no read of the row it changes), so the SQL
reads of a whole round trip stay within a small, fixed budget.

Counted with SQLite's own trace of the journal's connection: each statement that reaches the file.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QPushButton

from ibconsole.domain.alert_kinds import AlertKind
from ibconsole.ui.context import UiContext
from ibconsole.ui.main_window import MainWindow

# A round trip's reads once each row is read once: the key not yet journalled (the duplicate
# guard), the intent as the file holds it, the bracket children, the execution id (new, not a
# repeat) and, for the commission, its execution and an earlier report of it. About 27 before
# the journal kept what it read and wrote.
READ_BUDGET = 6


def _statement(sql: str) -> str:
    return " ".join(sql.split()[:6])


async def test_an_order_round_trip_reads_each_journal_row_once(
    main_window: MainWindow, ui_context: UiContext, wait_for: Any
) -> None:
    ctx = ui_context
    ticket = main_window.ticket
    await wait_for(lambda: ticket.is_populated, what="the ticket's contract")
    contract = ticket.contract
    assert contract is not None
    await wait_for(lambda: ctx.broker.market.quote(contract.con_id), what="a quote")
    kind = ticket.findChild(QComboBox, "ticketOrderType")
    buy = ticket.findChild(QPushButton, "buyButton")
    assert kind is not None
    assert buy is not None
    kind.setCurrentIndex(kind.findData("MKT"))
    await wait_for(buy.isEnabled, what="Buy enabled")
    ib = ctx.broker.session.ib
    journal = ctx.broker.journal
    statements: Counter[str] = Counter()

    journal.trace(lambda sql: statements.update([_statement(sql)]))
    QTest.mouseClick(buy, Qt.MouseButton.LeftButton)
    # Conditions the views and the IB client answer, never the journal (that would count).
    await wait_for(
        lambda: any(f.commissionReport.execId for f in ib.fills()), what="the commission"
    )
    fill = next(f for f in ib.fills() if f.commissionReport.execId)
    key = fill.execution.orderRef
    exec_id = fill.execution.execId
    orders, fills = main_window.orders.model, main_window.fills.model
    await wait_for(
        lambda: orders.find(key) is not None and orders.text(key, "Status") == "Filled",
        what="the order shown filled",
    )
    await wait_for(
        lambda: fills.find(exec_id) is not None and fills.text(exec_id, "Commission") != "",
        what="the fill shown with its commission",
    )
    await wait_for(
        lambda: any(r.kind is AlertKind.FILL for r in main_window.notifier.history),
        what="the fill's alert",
    )
    journal.trace(None)

    reads = {sql: n for sql, n in statements.items() if sql.upper().startswith("SELECT")}
    assert sum(reads.values()) <= READ_BUDGET, reads
    assert statements["INSERT INTO fills (exec_id, exec_base, key,"] == 1
