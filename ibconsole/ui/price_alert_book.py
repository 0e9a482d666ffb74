"""The trader's price alerts: kept in their file, watched against the quotes, fired once.

Each armed alert holds a quote subscription on its contract (released when it fires or is
removed). Quotes are checked as they arrive, but a batch costs one set lookup per quote unless
it carries a watched contract, so alerts add nothing measurable to a fast market.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ibconsole.broker.contracts import FuturesChain
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import price_text
from ibconsole.domain.orders import SnapDirection, snap_to_tick
from ibconsole.domain.price_alerts import PriceAlert, PriceWatch, direction_for
from ibconsole.domain.quotes import Quote
from ibconsole.journal.price_alert_file import PriceAlertFile, PriceAlertFileError
from ibconsole.ui.context import UiContext

log = logging.getLogger(__name__)


class PriceAlertRefused(ValueError):
    """An alert could not be set; the message says why in the trader's words."""


class PriceAlertBook(QObject):
    """Every price alert, armed or fired, newest first.

    Signals:
        sig_changed()          an alert was added, removed or fired
        sig_fired(PriceAlert)  an alert fired (``triggered_at`` set); it never fires again
    """

    sig_changed = Signal()
    sig_fired = Signal(object)

    def __init__(
        self, ctx: UiContext, store: PriceAlertFile, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._store = store
        self._load_problem = self._save_problem = ""
        try:
            loaded = store.load()
        except PriceAlertFileError as error:
            self._load_problem = str(error)
            loaded = ()
        self._alerts: dict[str, PriceAlert] = {a.alert_id: a for a in loaded}
        self._watch = PriceWatch(loaded)
        self._watched = self._watch.con_ids()
        self._held: dict[int, int] = {}  # conId → the alert subscriptions this book holds on it
        self._unresolved = {a.alert_id for a in self._watch.armed()}
        ctx.bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)
        ctx.bridge.sig_synced.connect(self._on_bridge_synced)
        if ctx.broker.session.sync_info is not None:
            QTimer.singleShot(0, self._resolve)

    # ------------------------------------------------------------------ public
    @property
    def alerts(self) -> tuple[PriceAlert, ...]:
        """Every alert, newest first."""
        return tuple(sorted(self._alerts.values(), key=lambda a: a.created_at, reverse=True))

    @property
    def problem(self) -> str:
        """Why the saved alerts could not be read or written, "" when all is well."""
        return " ".join(p for p in (self._load_problem, self._save_problem) if p)

    def armed_for(self, con_id: int) -> tuple[PriceAlert, ...]:
        return tuple(a for a in self._watch.armed() if a.con_id == con_id)

    def add(self, contract: ListedContract, level: Decimal) -> PriceAlert:
        """Arm an alert at ``level`` (snapped to the tick) on ``contract``; it waits for the
        market to cross it from where it is now. ``PriceAlertRefused`` says why not."""
        if not level.is_finite() or level <= 0:
            raise PriceAlertRefused(f"{level} is not a price: an alert needs a positive level.")
        quote = self._ctx.broker.market.quote(contract.con_id)
        price = quote.last_good_price() if quote is not None else None
        if price is None:
            raise PriceAlertRefused(
                f"No price for {contract.local_symbol} yet: an alert needs the market's price "
                "to know which way it waits."
            )
        level = snap_to_tick(level, contract.min_tick, SnapDirection.NEAREST)
        if level == price:
            raise PriceAlertRefused(
                f"{contract.local_symbol} is at {price_text(price, contract)} now: set the "
                "alert at a level away from the market."
            )
        alert = PriceAlert(
            alert_id=uuid.uuid4().hex[:12],
            con_id=contract.con_id,
            symbol=contract.symbol,
            local_symbol=contract.local_symbol,
            level=level,
            direction=direction_for(level, price),
            reference=price,
            created_at=self._ctx.clock.now(),
        )
        self._alerts[alert.alert_id] = alert
        self._watch.add(alert)
        self._hold(contract)
        self._changed()
        log.info("price alert set: %s (market %s)", alert.describe(), price)
        return alert

    def remove(self, alert_id: str) -> None:
        alert = self._alerts.pop(alert_id, None)
        if alert is None:
            return
        if alert.armed:
            self._watch.remove(alert_id)
            self._unresolved.discard(alert_id)
            self._release(alert.con_id)
        self._changed()

    def release(self) -> None:
        """Drop every quote subscription the alerts hold (before the window closes)."""
        for con_id, count in self._held.items():
            for _ in range(count):
                self._ctx.broker.market.unsubscribe(con_id)
        self._held.clear()

    # -------------------------------------------------------------- watching
    @Slot(object)
    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        watched = self._watched
        if not watched:
            return
        prices: dict[int, Decimal] = {}
        for quote in quotes:
            if quote.con_id in watched:
                price = quote.last_good_price()
                if price is not None:
                    prices[quote.con_id] = price
        if not prices:
            return
        fired = self._watch.observe(prices, self._ctx.clock.now())
        for alert in fired:
            self._alerts[alert.alert_id] = alert
            self._unresolved.discard(alert.alert_id)
            self._release(alert.con_id)
        if fired:
            self._changed()
            for alert in fired:
                self.sig_fired.emit(alert)

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        self._resolve()

    def _resolve(self) -> None:
        """Subscribe to the contracts of alerts loaded from the file (known by conId only)."""
        for symbol in {self._alerts[i].symbol for i in self._unresolved}:
            self._ctx.runner.start(
                self._ctx.broker.contracts.chain(symbol),
                name=f"price alerts: {symbol} months",
                done=self._on_chain,
                failed=self._on_chain_failed,
            )

    def _on_chain(self, chain: FuturesChain) -> None:
        by_con_id = {c.con_id: c for c in chain.contracts}
        for alert_id in list(self._unresolved):
            contract = by_con_id.get(self._alerts[alert_id].con_id)
            if contract is not None:
                self._unresolved.discard(alert_id)
                self._hold(contract)

    def _on_chain_failed(self, error: BaseException) -> None:
        log.info("price alerts: a contract could not be looked up: %s", error)

    def _hold(self, contract: ListedContract) -> None:
        self._ctx.broker.market.subscribe(contract)
        self._held[contract.con_id] = self._held.get(contract.con_id, 0) + 1

    def _release(self, con_id: int) -> None:
        count = self._held.get(con_id, 0)
        if not count:
            return  # its contract was never resolved, so nothing was subscribed
        self._ctx.broker.market.unsubscribe(con_id)
        if count == 1:
            del self._held[con_id]
        else:
            self._held[con_id] = count - 1

    def _changed(self) -> None:
        self._watched = self._watch.con_ids()
        try:
            self._store.save(self._alerts.values())
        except PriceAlertFileError as error:
            self._save_problem = str(error)
            log.error("%s", error)
        else:
            self._save_problem = ""
        self.sig_changed.emit()
