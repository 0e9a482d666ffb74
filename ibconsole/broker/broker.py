"""One connection to TWS/Gateway and every service that runs on it, assembled in one place.

The one rule: nothing here blocks the event loop. Only ib_insync's ``*Async`` requests are
awaited, each under a timeout; fire-and-forget calls (placeOrder, cancelOrder, reqMktData) are
made directly. Event handlers run on the loop thread and must return quickly.

Events, by service (all eventkit Events):
    session:   health_changed(HealthSnapshot), synced(SyncInfo), ended(str), data_lost(datetime),
               alert(str, bool), ib_message(int, IbMessage), throttled(bool)
    market:    quotes_updated(tuple[Quote, ...]), bars_reset(BarKey, tuple[Bar, ...]),
               bar_updated(BarKey, Bar, bool), gap_marked(BarKey, BarGap),
               greeks_updated(tuple[tuple[int, Greeks], ...]), lines_changed(int, int),
               line_refused(int, IbMessage)
    depth:     depth_updated(DepthUpdate), depth_status(DepthStatus)
    account:   portfolio_changed(tuple[PortfolioRow, ...]), account_changed(AccountSnapshot)
    orders:    order_changed(OrderRow), fill_recorded(JournalFill), reconciled(Reconciliation),
               alert(str, bool), roll_failed(RollFailure)
"""

from __future__ import annotations

import logging
import random

from ibconsole.broker.account import AccountService
from ibconsole.broker.calendars import EXCHANGE_CALENDARS, ExchangeCalendars
from ibconsole.broker.contracts import ContractService
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.market_depth import MarketDepthService
from ibconsole.broker.option_chains import OptionChainService
from ibconsole.broker.order_entry import OrderEntry
from ibconsole.broker.orders import OrderService
from ibconsole.broker.session import Endpoint, Session, SyncInfo
from ibconsole.broker.spread_quotes import SpreadQuotes
from ibconsole.broker.volume_profile import VolumeProfileService
from ibconsole.domain.clock import Clock
from ibconsole.domain.health import HealthSettings
from ibconsole.domain.quotes import MarketDataType
from ibconsole.domain.risk import RiskLimits
from ibconsole.journal import Journal

log = logging.getLogger(__name__)


class Broker:
    def __init__(
        self,
        endpoint: Endpoint,
        journal: Journal,
        clock: Clock,
        *,
        health: HealthSettings,
        limits: RiskLimits,
        request_timeout: float = 4.0,
        data_type: MarketDataType = MarketDataType.LIVE,
        history_retry: float = 15.0,
        line_budget: int = 100,
        rng: random.Random | None = None,
        depth_rows: int = 10,
        calendars: ExchangeCalendars = EXCHANGE_CALENDARS,
    ) -> None:
        self.clock = clock
        self.journal = journal
        self.calendars = calendars
        self.session = Session(endpoint, health, clock, request_timeout, rng)
        self.contracts = ContractService(self.session.ib, clock, request_timeout, calendars)
        self.market = MarketDataService(
            self.session, data_type, request_timeout, history_retry, line_budget
        )
        self.options = OptionChainService(self.session.ib, clock, request_timeout)
        self.depth = MarketDepthService(self.session, data_type, rows=depth_rows)
        self.volume = VolumeProfileService(self.session, request_timeout)
        self.account = AccountService(self.session)
        self.spread_quotes = SpreadQuotes(self.session)
        self.orders = OrderService(
            self.session,
            journal,
            self.account,
            self.market,
            self.contracts,
            limits,
            clock,
            request_timeout=request_timeout,
        )
        # Every entry point (ticket, ladder, chain, chart, signal inbox) orders through this.
        self.entry = OrderEntry(self.orders, self.account, self.market, self.contracts, clock)
        self.session.synced += self._on_synced

    def apply_settings(
        self, health: HealthSettings, limits: RiskLimits, *, line_budget: int
    ) -> None:
        """New connection-health settings, risk limits and market-data line budget, live: the
        next order entered anywhere is checked against ``limits``; no reconnect, nothing resent."""
        self.session.apply_health(health)
        self.orders.limits = limits
        self.market.line_budget = line_budget
        log.info("health settings, risk limits and the line budget applied")

    async def start(self) -> None:
        await self.session.connect()

    def _on_synced(self, info: SyncInfo) -> None:
        # A new session (IB Gateway's daily restart among them): the options cached for earlier
        # chain windows let go, but not one with a line (the chain, the risk panel) or held.
        held = self.account.positions()
        if held is not None:
            self.options.forget_unused({*self.market.subscriptions(), *(p.con_id for p in held)})

    async def stop(self) -> None:
        """Cancel subscriptions and background work, then disconnect."""
        for con_id, count in self.market.subscriptions().items():
            for _ in range(count):
                self.market.unsubscribe(con_id)
        for key, count in self.market.bar_subscriptions().items():
            for _ in range(count):
                self.market.unsubscribe_bars(key)
        self.depth.close()
        self.account.close()
        self.contracts.close()
        await self.session.disconnect()
        log.info("broker stopped")
