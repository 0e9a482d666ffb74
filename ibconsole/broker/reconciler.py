"""Reconciliation: after every sync the journal is compared with what the broker reports, and no
order may be sent until it has been (DESIGN.md section 7: nothing lost, nothing sent twice).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from ibconsole.broker.contracts import ContractService
from ibconsole.broker.ib_client import Event, Trade
from ibconsole.broker.mapping import ACTIVE_STATUSES, order_prices
from ibconsole.broker.order_tracker import OrderTracker
from ibconsole.broker.order_values import Reconciliation
from ibconsole.broker.session import Session, SyncInfo
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.health import HealthSnapshot, HealthState
from ibconsole.domain.orders import KEY_PREFIX, OrderIntent, OrderType, Side, TimeInForce
from ibconsole.journal import Journal, JournalError, OrderState, ReconciliationOutcome

log = logging.getLogger(__name__)

_SESSION_STATES = (HealthState.CONNECTED, HealthState.DEGRADED)


class Reconciler:
    """Reconciles the journal with the broker after each sync and says whether it is done.

    Events: ``reconciled(Reconciliation)``; ``alert(str, bool)`` is shared with ``OrderService``.
    """

    def __init__(
        self,
        session: Session,
        journal: Journal,
        tracker: OrderTracker,
        contracts: ContractService,
        clock: Clock,
        alert: Event,
    ) -> None:
        self._session = session
        self._ib = session.ib
        self._journal = journal
        self._tracker = tracker
        self._contracts = contracts
        self._clock = clock
        self._alert = alert
        self._reconciled = False
        self.reconciled = Event("reconciled")
        session.health_changed += self._on_health
        session.synced += self._on_synced
        session.ended += self._on_ended

    @property
    def done(self) -> bool:
        """True once the journal was reconciled with the current session."""
        return self._reconciled

    def _on_health(self, snapshot: HealthSnapshot) -> None:
        # Every resync (a reconnect, or IB's 1101/1102) reloads orders and executions: nothing
        # may be sent again until they are reconciled with the journal.
        if snapshot.state not in _SESSION_STATES:
            self._reconciled = False

    def _on_ended(self, reason: str) -> None:
        self._reconciled = False

    def _on_synced(self, info: SyncInfo) -> None:
        self._tracker.forget_changes()
        try:
            result = self.reconcile()
        except JournalError as exc:
            message = (
                f"The journal could not be reconciled with the broker ({exc}); orders stay blocked."
            )
            log.error("%s", message)
            self._alert.emit(message, True)
            return
        self._reconciled = True
        self.reconciled.emit(result)
        for trade in self._ib.trades():
            self._tracker.order_changed.emit(self._tracker.row(trade))

    def reconcile(self) -> Reconciliation:
        """Compare every unfinished journal order with what the broker reports now.

        Executions first (they are facts), then statuses; an order the broker has never heard of
        is marked unknown and shown, never resent. A working order's quantity is the broker's.
        """
        tracker = self._tracker
        unfinished = self._journal.open_orders()
        fills_before = len(self._journal.known_exec_ids())
        for fill in self._ib.fills():
            tracker.record_fill(fill)
            tracker.record_commission(fill.commissionReport)
        fills_recovered = len(self._journal.known_exec_ids()) - fills_before
        # Only what the broker has acknowledged counts: after IB's 1101/1102 the session keeps
        # its trades, and one still waiting for its first answer (no permId) may never arrive.
        by_key = {
            t.order.orderRef: t
            for t in self._ib.trades()
            if t.order.orderRef and (t.order.permId or t.orderStatus.permId)
        }
        executed_keys = {f.execution.orderRef for f in self._ib.fills()}
        matched: list[str] = []
        unknown: list[str] = []
        filled_away: list[str] = []
        for journalled in unfinished:
            key = journalled.intent.key
            trade = by_key.get(key)
            if trade is None and key not in executed_keys:
                if journalled.lifecycle.state in (OrderState.INTENDED, OrderState.CONFIRMED):
                    detail = "journalled but never submitted to the broker"
                else:
                    detail = "submitted but unknown to the broker: check TWS before re-entering it"
                tracker.settle(
                    self._journal.record_reconciliation(key, ReconciliationOutcome.UNKNOWN, detail)
                )
                unknown.append(key)
                continue
            if trade is not None:
                tracker.record_status(tracker.journalled(key), trade)
                self._adopt_quantity(key, trade)
            after = tracker.journalled(key)
            if after.lifecycle.state is OrderState.FILLED:
                self._journal.record_reconciliation(
                    key, ReconciliationOutcome.FILLED_WHILE_DISCONNECTED, "filled while away"
                )
                filled_away.append(key)
            else:
                self._journal.record_reconciliation(key, ReconciliationOutcome.MATCHED, "")
                matched.append(key)
            tracker.settle(after)
        adopted = self._adopt(by_key)
        result = Reconciliation(
            tuple(matched), tuple(unknown), tuple(filled_away), tuple(adopted), fills_recovered
        )
        if unknown:
            message = (
                f"{len(unknown)} journalled order(s) are unknown to the broker and were NOT "
                "resent; review them in the blotter."
            )
            log.warning("%s", message)
            self._alert.emit(message, True)
        log.info(
            "reconciled: %d matched, %d unknown, %d filled while away, %d adopted, %d fills",
            len(matched),
            len(unknown),
            len(filled_away),
            len(adopted),
            fills_recovered,
        )
        return result

    def _adopt_quantity(self, key: str, trade: Trade) -> None:
        """A change sent before the connection dropped may or may not have reached IB."""
        current = self._journal.order(key)
        if current is None or current.is_final or trade.orderStatus.status not in ACTIVE_STATUSES:
            return
        quantity = Decimal(repr(trade.order.totalQuantity))
        if quantity != current.lifecycle.quantity and quantity >= current.lifecycle.filled:
            terms = self._tracker.terms(trade, current)
            self._journal.record_modification(key, quantity, terms[1], terms[2])

    def _adopt(self, by_key: dict[str, Trade]) -> list[str]:
        """Journal orders at the broker that carry a console key but are missing here."""
        adopted = []
        for key, trade in by_key.items():
            if not key.startswith(KEY_PREFIX) or self._journal.order(key) is not None:
                continue
            month = self._contracts.by_con_id(trade.contract.conId)
            if month is None:
                log.warning("order %s at the broker has a console key but an unknown contract", key)
                continue
            intent = _intent_from_trade(key, trade, month.contract, self._clock.now())
            self._journal.record_intent(intent)
            self._journal.record_reconciliation(
                key, ReconciliationOutcome.ADOPTED, "found at the broker, missing in the journal"
            )
            self._tracker.record_status(self._tracker.journalled(key), trade)
            adopted.append(key)
        return adopted


def _intent_from_trade(
    key: str, trade: Trade, contract: ListedContract, now: datetime
) -> OrderIntent:
    order = trade.order
    limit_price, stop_price = order_prices(order, contract.min_tick)
    return OrderIntent(
        key=key,
        contract=contract,
        side=Side(order.action),
        quantity=Decimal(repr(order.totalQuantity)),
        order_type=OrderType(order.orderType),
        limit_price=limit_price,
        stop_price=stop_price,
        tif=TimeInForce(order.tif)
        if order.tif in TimeInForce.__members__.values()
        else TimeInForce.DAY,
        bracket=None,
        created_at=now,
        account=order.account,
    )
