"""Probes the console's process carries while it is measured: event-loop stalls, paints of a
widget, and the console's quote deliveries as its chart receives them.

They watch from the outside: a Qt timer, an event filter and one more slot on the bridge signal
the chart listens to. None of them changes what the console does.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QWidget

from bench.peer import TickKey
from ibconsole.broker.ib_client import Ticker
from ibconsole.domain.quotes import Quote
from ibconsole.ui.bridge import BrokerBridge


class LoopProbe(QObject):
    """A precise Qt timer every ``interval_ms``: how late it fires is how long the loop (Qt and
    asyncio are one loop under qasync) was busy with something else.

    Beside each gap it keeps the CPU time the loop's thread used in it: a gap much longer than
    its CPU time is the operating system running something else (another process), not the
    console blocking its own loop."""

    def __init__(self, interval_ms: int = 2) -> None:
        super().__init__()
        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self.gap_cpu: list[float] = []
        self._last = 0.0
        self._last_cpu = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self.gaps.clear()
        self.gap_cpu.clear()
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def stalls(self) -> list[float]:
        """Seconds each tick of the timer came later than due (0 when on time)."""
        return [max(0.0, gap - self.interval) for gap in self.gaps]

    def stall_cpu(self) -> list[float]:
        """CPU seconds the loop's thread used in each gap, less the interval (0 when on time):
        the part of each stall that was the console's own work."""
        return [max(0.0, cpu - self.interval) for cpu in self.gap_cpu]

    def cpu_over(self, seconds: float) -> int:
        """How many gaps held more than ``seconds`` of the loop thread's own CPU: jobs (or loop
        passes) too long whatever else the machine runs."""
        return sum(1 for cpu in self.stall_cpu() if cpu > seconds)

    def _on_timer_timeout(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.gaps.append(now - self._last)
        self.gap_cpu.append(cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu


class PaintProbe(QObject):
    """Stamps every paint event a widget receives (a frame of it reaching pixels)."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.paints: list[float] = []
        self._on = False
        widget.installEventFilter(self)

    def start(self) -> None:
        self.paints.clear()
        self._on = True

    def stop(self) -> None:
        self._on = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._on and event.type() == QEvent.Type.Paint:
            self.paints.append(time.perf_counter())
        return False


class DeliveryProbe:
    """One more slot on the bridge's ``sig_quotes_updated``, connected after the chart's (Qt calls
    slots in connection order): when it runs, the chart holds the quotes. It stamps them with the
    state of ib_insync's ticker behind each, which names the simulator update it reflects."""

    def __init__(self, bridge: BrokerBridge, tickers: dict[int, Ticker]) -> None:
        self.held: list[tuple[int, float, TickKey]] = []
        self.batches = 0
        self._tickers = tickers
        self._on = False
        bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)

    def start(self) -> None:
        self.held.clear()
        self.batches = 0
        self._on = True

    def stop(self) -> None:
        self._on = False

    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        if not self._on:
            return
        now = time.perf_counter()
        self.batches += 1
        for quote in quotes:
            ticker = self._tickers.get(quote.con_id)
            if ticker is not None:
                self.held.append((quote.con_id, now, ticker_key(ticker)))


def ticker_key(ticker: Ticker) -> TickKey:
    """The ticker's state in the simulator's key order (see ``bench.peer.TickKey``)."""
    return (
        ticker.bid,
        ticker.bidSize,
        ticker.ask,
        ticker.askSize,
        ticker.last,
        ticker.lastSize,
        ticker.volume,
    )
