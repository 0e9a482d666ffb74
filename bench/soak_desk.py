"""The trader at the window during the soak: clicks on the price ladder (buys below the bid, sells
above the ask, cancels and drags of its own orders), the options chain scrolled and switched
between expiries, and webhook signals posted over loopback HTTP and sent from the signal inbox.
Every order goes through the same clicks, checks and confirmations as a trader's; a confirmation
the checks ask for is confirmed, as a trader who wants the order does.
"""

from __future__ import annotations

import json
import logging
import random
from decimal import Decimal
from typing import Any

import aiohttp
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QPushButton

from ibconsole.app import Console
from ibconsole.domain.ladder import LadderColumn
from ibconsole.domain.orders import Side
from ibconsole.domain.signals import sendable
from ibconsole.ui.confirm_dialog import ConfirmDialog

log = logging.getLogger("bench.soak")

_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)
_JSON = {"Content-Type": "application/json"}


class Desk:
    """One trader's clicks on the ladder, the chain and the inbox of ``console``."""

    def __init__(self, console: Console, secret: str, seed: int) -> None:
        self.console = console
        self.window = console.window
        self.rng = random.Random(seed)
        self.secret = secret
        self.clicks = 0
        self.posted = 0
        self.sent_signals = 0
        self._day = 0
        self._http: aiohttp.ClientSession | None = None
        expiry = self.window.option_chain.findChild(QComboBox, "optionExpiry")
        table = self.window.option_chain.findChild(QAbstractItemView, "optionTable")
        send = self.window.signal_inbox.findChild(QPushButton, "signalSendButton")
        assert expiry is not None
        assert table is not None
        assert send is not None
        self._expiry, self._chain_table, self._send = expiry, table, send

    def open(self) -> None:
        """The ladder, the chain and the inbox in view beside the chart: the chain floats (its
        place is a tab behind the chart), the inbox is raised in front of its tab group."""
        chain = self.window.docks["optionChain"]
        chain.setFloating(True)
        chain.resize(760, 320)
        chain.show()
        self.window.docks["signalInbox"].raise_()
        self.window.docks["priceLadder"].raise_()
        self._http = aiohttp.ClientSession(timeout=_HTTP_TIMEOUT)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def ready(self) -> bool:
        """Depth on the ladder, option lines in the chain, bars on the chart."""
        ladder, chain = self.window.ladder, self.window.option_chain
        table = chain.model.table
        return (
            ladder.contract is not None
            and not ladder.ladder.book.empty
            and ladder.ladder.market_in_view()
            and table is not None
            and bool(table.contracts)
            and self.window.chart.is_populated
        )

    # ------------------------------------------------------------------ a step
    async def act(self) -> None:
        """One thing a trader does; an open confirmation is answered first."""
        if self._confirm():
            return
        roll = self.rng.random()
        if roll < 0.3:
            self._click_market_side()
        elif roll < 0.45:
            self._touch_own_order()
        elif roll < 0.55:
            self._switch_expiry()
        elif roll < 0.7:
            self._scroll_chain()
        elif not self._send_signal():
            await self._post_signal()

    def _confirm(self) -> bool:
        """Confirm whichever confirmation is open (ladder, ticket or inbox)."""
        for dialog in self.window.findChildren(ConfirmDialog):
            if dialog.isVisible():
                dialog.confirm_button.click()
                return True
        return False

    # ------------------------------------------------------------------ ladder
    def _click_market_side(self) -> None:
        """A Bid click a few ticks under the best bid (a buy limit) or an Ask click above the
        best ask (a sell limit): resting orders the market may fill."""
        ladder = self.window.ladder.ladder
        bid, ask = ladder.best_bid, ladder.best_ask
        if bid is None or ask is None:
            return
        ticks = self.rng.randint(0, 4) * ladder.tick
        if self.rng.random() < 0.5:
            self._click(bid - ticks, LadderColumn.BID)
        else:
            self._click(ask + ticks, LadderColumn.ASK)

    def _touch_own_order(self) -> None:
        """Cancel an own working order with a click on its cell, or drag it one tick."""
        panel = self.window.ladder
        contract = panel.contract
        if contract is None:
            return
        working = [
            row
            for row in self.console.broker.orders.rows()
            if row.ours
            and row.working
            and row.con_id == contract.con_id
            and row.limit_price is not None
        ]
        if not working:
            return
        row = self.rng.choice(working)
        assert row.limit_price is not None
        column = LadderColumn.BUY if row.side is Side.BUY else LadderColumn.SELL
        if self.rng.random() < 0.6:
            self._click(row.limit_price, column)
        else:
            away = -1 if column is LadderColumn.BUY else 1
            self._drag(row.limit_price, row.limit_price + away * panel.ladder.tick, column)

    def _point(self, price: Decimal, column: LadderColumn) -> QPoint | None:
        panel = self.window.ladder
        row = panel.ladder.row_of(price)
        if row is None:
            return None
        x, y, w, h = panel.view.cell_rect(row, int(column))
        viewport = panel.view.viewport()
        if w <= 0 or h <= 0 or y < 0 or y + h > viewport.height():
            return None  # outside the rows on screen: a trader cannot click it either
        return QPoint(x + w // 2, y + h // 2)

    def _click(self, price: Decimal, column: LadderColumn) -> None:
        point = self._point(price, column)
        if point is None:
            return
        viewport = self.window.ladder.view.viewport()
        none = Qt.KeyboardModifier.NoModifier
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, none, point)
        self.clicks += 1

    def _drag(self, source: Decimal, target: Decimal, column: LadderColumn) -> None:
        start, end = self._point(source, column), self._point(target, column)
        if start is None or end is None:
            return
        viewport = self.window.ladder.view.viewport()
        none = Qt.KeyboardModifier.NoModifier
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, none, start)
        QTest.mouseMove(viewport, end)
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, none, end)
        self.clicks += 1

    # ------------------------------------------------------------------ chain
    def _switch_expiry(self) -> None:
        count = self._expiry.count()
        if count > 1:
            self._expiry.setCurrentIndex((self._expiry.currentIndex() + 1) % count)

    def _scroll_chain(self) -> None:
        bar = self._chain_table.verticalScrollBar()
        bar.setValue(self.rng.randint(bar.minimum(), bar.maximum()))

    # ------------------------------------------------------------------ signals
    async def _post_signal(self) -> None:
        """A webhook signal on ES1! (the family's active month), posted as TradingView does."""
        http, url = self._http, self.console.signals_url
        if http is None or url is None:
            return
        self.posted += 1
        body = {
            "secret": self.secret,
            "id": f"soak-{self._day}-{self.posted}",
            "symbol": "ES1!",
            "action": self.rng.choice(("buy", "sell")),
            "quantity": 1,
            "order_type": "market",
        }
        try:
            async with http.post(url, data=json.dumps(body), headers=_JSON) as answer:
                if answer.status != 202:
                    log.warning("signal answered %d: %s", answer.status, await answer.text())
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("signal not posted: %r", error)

    def _send_signal(self) -> bool:
        """Select the oldest signal that can be sent and click Send; False when none waits."""
        inbox = self.console.context.inbox
        waiting = [e for e in inbox.entries if sendable(e.state) and e.contract is not None]
        if not waiting:
            return False
        self.window.signal_inbox.select(waiting[0].key)
        if self._send.isEnabled():
            self._send.click()
            self.sent_signals += 1
        return True

    # ------------------------------------------------------------------ the day's end
    def close_the_day(self) -> None:
        """Signals still waiting are dismissed, the chain is back on its first expiry and its
        top row: every day is measured in the same state."""
        self._confirm()
        inbox = self.console.context.inbox
        for entry in inbox.entries:
            if sendable(entry.state):
                inbox.dismiss(entry.key)
        if self._expiry.count():
            self._expiry.setCurrentIndex(0)
        self._chain_table.verticalScrollBar().setValue(0)
        self._day += 1


def describe(desk: Desk) -> dict[str, Any]:
    return {
        "ladder_clicks": desk.clicks,
        "signals_posted": desk.posted,
        "signals_sent": desk.sent_signals,
    }
