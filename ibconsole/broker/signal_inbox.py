"""The signal inbox: signals wait here, each with the contract it resolves to and what it would do
to the position, until a trader sends, reviews or dismisses it. Nothing here sends on its own:
``send`` is called for a trader's click and goes through the order-entry model, with the same
checks and confirmations as the ticket.

Events (eventkit, on the loop's thread):
    arrived(InboxEntry)    a signal was accepted (journalled) and joined the inbox
    changed(InboxEntry)    an entry changed: resolved, expired, refused, sent, filled, dismissed
    removed(str)           the entry with this key left the inbox (done with, a day old)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ibconsole.broker.calendars import ExchangeCalendars
from ibconsole.broker.contracts import ContractLookupError, ContractService
from ibconsole.broker.family_months import load_family_months
from ibconsole.broker.ib_client import Event
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.order_entry import OrderEntry
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import (
    EntryFields,
    EntryOutcome,
    NeedsConfirmation,
    Refusal,
    Refused,
    Sent,
)
from ibconsole.domain.orders import OrderType
from ibconsole.domain.rollover import RolloverSettings
from ibconsole.domain.signals import (
    Signal,
    SignalInvalid,
    SignalOrder,
    SignalOrderType,
    SignalSettings,
    SignalState,
    SignalUnresolved,
    advance,
    dismissable,
    parse_symbol,
    resolve_month,
    sendable,
    signal_order,
)
from ibconsole.journal import Journal, JournalFill, OrderState
from ibconsole.journal.signal_log import SignalLog

log = logging.getLogger(__name__)

# Signals from this far back are shown again after a restart, in the state they reached.
_REMEMBERED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One signal in the inbox as it stands now."""

    signal: Signal
    state: SignalState
    contract: ListedContract | None = None  # None until resolved (or when it cannot be)
    note: str = ""  # why it cannot be resolved or was refused; the order's ref once sent
    order_key: str | None = None  # the journal key of the order it became

    @property
    def key(self) -> str:
        return self.signal.key


class SignalInbox:
    """The signals of this session (and the last day's, from the journal), newest last."""

    def __init__(
        self,
        entry: OrderEntry,
        contracts: ContractService,
        calendars: ExchangeCalendars,
        market: MarketDataService,
        journal: Journal,
        signal_log: SignalLog,
        clock: Clock,
        settings: SignalSettings,
        rollover: RolloverSettings,
    ) -> None:
        self._entry = entry
        self._contracts = contracts
        self._calendars = calendars
        self._market = market
        # A waiting signal's contract is quoted: its effect and its checks need the market.
        self._quoted: dict[str, int] = {}
        self._journal = journal
        self._log = signal_log
        self._clock = clock
        self._settings = settings
        self._rollover = rollover
        self._entries: dict[str, InboxEntry] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self.arrived = Event("arrived")
        self.changed = Event("changed")
        self.removed = Event("removed")

    # ------------------------------------------------------------------ what is there
    @property
    def entries(self) -> tuple[InboxEntry, ...]:
        return tuple(self._entries.values())

    def get(self, key: str) -> InboxEntry | None:
        return self._entries.get(key)

    @property
    def settings(self) -> SignalSettings:
        return self._settings

    def apply(self, settings: SignalSettings, rollover: RolloverSettings) -> None:
        """Use new ``[signals]`` and rollover settings for the signals that come next (the
        endpoint's port and limits change at the next start)."""
        self._settings = settings
        self._rollover = rollover

    @property
    def signal_log(self) -> SignalLog:
        """Where signals are journalled (the endpoint records each one there before its 202)."""
        return self._log

    def order_of(self, entry: InboxEntry) -> SignalOrder | str:
        """What ``entry`` would send against the current position, or why that is unknown."""
        if entry.contract is None:
            return entry.note or "resolving the contract…"
        position = self._entry.position(entry.contract)
        if position is None:
            return "position unknown (not synced)"
        try:
            return signal_order(entry.signal, position.quantity)
        except SignalUnresolved as nothing:
            return str(nothing)

    # ------------------------------------------------------------------ arrivals
    def restore(self) -> None:
        """Show the last day's journalled signals again, in the states they reached; a sent
        signal finds its order again (named in the note of its sending), so its fill still
        shows, also one journalled while the console was away."""
        since = self._clock.now() - _REMEMBERED
        items = self._log.since(since)
        orders = (
            self._journal.orders(since=since, limit=None)
            if any(item.state is SignalState.SENT for item in items)
            else []
        )
        for item in items:
            order = next((o for o in orders if o.key in item.note), None)
            order_key = order.key if order is not None and item.state is SignalState.SENT else None
            entry = InboxEntry(item.signal, item.state, note=item.note, order_key=order_key)
            self._entries[entry.key] = entry
            self.changed.emit(entry)
            if order is not None and order.lifecycle.state is OrderState.FILLED:
                self._move(entry, SignalState.FILLED, "filled while the console was away")
        for entry in self.entries:
            if entry.state is SignalState.NEW:
                self._start(self.resolve(entry.key), f"resolve signal {entry.key}")

    def accept(self, signal: Signal) -> None:
        """A journalled signal joins the inbox; its contract is resolved in the background."""
        entry = InboxEntry(signal, SignalState.NEW)
        self._entries[signal.key] = entry
        if signal.expired(self._clock.now(), self._settings.max_age):
            entry = self._move(entry, SignalState.EXPIRED, "too old on arrival")
        self.arrived.emit(entry)
        if entry.state is SignalState.NEW:
            self._start(self.resolve(signal.key), f"resolve signal {signal.key}")

    async def resolve(self, key: str) -> InboxEntry | None:
        """Find the listed month of the signal's symbol by the rollover rules (again, if it
        failed before: not connected, no chain yet)."""
        entry = self._entries.get(key)
        if entry is None or not sendable(entry.state):
            return entry
        now = self._clock.now()
        try:
            ref = parse_symbol(entry.signal.symbol, self._settings.symbols)
            months = await load_family_months(
                self._contracts, self._calendars, ref.product, self._rollover, now
            )
            contract = resolve_month(
                ref, months.chain.contracts, now, months.calendar, self._rollover
            )
        except (SignalInvalid, SignalUnresolved) as unusable:
            return self._update(key, None, str(unusable))
        except (ContractLookupError, ValueError) as error:  # not connected; no tradable month
            return self._update(key, None, f"contract not resolved: {error}")
        note = f"{ref.named} traded as {ref.product}" if ref.mapped else ""
        return self._update(key, contract, note)

    def expire_due(self) -> None:
        """Mark signals older than ``max_age`` expired: they can no longer be sent. Signals done
        with (sent, filled, expired, dismissed) that arrived more than a day ago leave the inbox,
        as they would at a restart: a console that runs for days does not keep every signal."""
        now = self._clock.now()
        for entry in self.entries:
            if sendable(entry.state) and entry.signal.expired(now, self._settings.max_age):
                self._move(entry, SignalState.EXPIRED, f"older than {_age(self._settings)}")
        for entry in self.entries:
            if not sendable(entry.state) and now - entry.signal.received_at > _REMEMBERED:
                del self._entries[entry.key]
                self.removed.emit(entry.key)

    # ------------------------------------------------------------------ a trader's clicks
    def send(self, key: str) -> EntryOutcome:
        """Send the signal ``key`` through the order-entry model: the trader clicked Send."""
        entry = self._entries.get(key)
        if entry is None:
            return Refused(Refusal.UNKNOWN, "That signal is no longer in the inbox.")
        if not sendable(entry.state):
            return Refused(Refusal.NOTHING, f"That signal is {entry.state.value}: not sent.")
        if entry.signal.expired(self._clock.now(), self._settings.max_age):
            self._move(entry, SignalState.EXPIRED, f"older than {_age(self._settings)}")
            return Refused(
                Refusal.BLOCKED,
                f"The signal is older than {_age(self._settings)}: expired, nothing was sent.",
            )
        order = self.order_of(entry)
        if entry.contract is None or isinstance(order, str):
            return Refused(Refusal.UNKNOWN, f"Not sent: {order}.")
        if order.flatten:
            outcome = self._entry.flatten(entry.contract)
        else:
            outcome = self._entry.place(order.side, self.fields(entry, order.quantity))
        return self.settle(key, outcome)

    def confirm(self, key: str, asked: NeedsConfirmation) -> EntryOutcome:
        """The trader confirmed the order the signal ``key`` asked about."""
        return self.settle(key, self._entry.confirm(asked))

    def decline(self, key: str, asked: NeedsConfirmation) -> str:
        """The trader said no: nothing is sent and the signal keeps waiting."""
        message = self._entry.decline(asked)
        entry = self._entries.get(key)
        if entry is not None:
            self._update(key, entry.contract, "declined at confirmation")
        return message

    def dismiss(self, key: str) -> bool:
        """Put the signal aside; False when it cannot be (sent, filled, dismissed already)."""
        entry = self._entries.get(key)
        if entry is None or not dismissable(entry.state):
            return False
        self._move(entry, SignalState.DISMISSED, "dismissed by the trader")
        return True

    def fields(self, entry: InboxEntry, quantity: Decimal | None = None) -> EntryFields:
        """The ticket's fields for ``entry``: its contract, size, and market or limit price."""
        size = quantity if quantity is not None else entry.signal.quantity or Decimal(1)
        if entry.signal.order_type is SignalOrderType.LIMIT:
            return EntryFields(
                entry.contract, size, OrderType.LIMIT, limit_price=entry.signal.price
            )
        return EntryFields(entry.contract, size, OrderType.MARKET)

    def settle(self, key: str, outcome: EntryOutcome) -> EntryOutcome:
        """Record what became of a send; a question for the trader changes nothing yet."""
        entry = self._entries.get(key)
        if entry is None or isinstance(outcome, NeedsConfirmation):
            return outcome
        if isinstance(outcome, Sent):
            order_key = outcome.intent.key if outcome.intent is not None else None
            self._move(entry, SignalState.SENT, outcome.message, order_key=order_key)
        else:
            self._move(entry, SignalState.REFUSED, outcome.message)
        return outcome

    # ------------------------------------------------------------------ fills
    def on_fill(self, fill: JournalFill) -> None:
        """An execution was journalled: a signal whose order is now filled says so."""
        for entry in self.entries:
            if entry.order_key == fill.key and entry.state is SignalState.SENT:
                order = self._journal.order(fill.key)
                if order is not None and order.lifecycle.state is OrderState.FILLED:
                    self._move(entry, SignalState.FILLED, f"filled at {fill.price}")

    async def close(self) -> None:
        """Stop resolving, let go of the views and close the signal log."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.arrived.clear()
        self.changed.clear()
        self.removed.clear()
        for con_id in self._quoted.values():
            self._market.unsubscribe(con_id)
        self._quoted.clear()
        self._log.close()

    # ------------------------------------------------------------------ internals
    def _start(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def _move(
        self, entry: InboxEntry, state: SignalState, note: str, order_key: str | None = None
    ) -> InboxEntry:
        moved = replace(
            entry,
            state=advance(entry.state, state),
            note=note,
            order_key=order_key or entry.order_key,
        )
        self._log.record_state(entry.key, state, note, self._clock.now())
        self._entries[entry.key] = moved
        self._quote(moved)
        log.info("signal %s %s: %s", entry.key, state.value, note)
        self.changed.emit(moved)
        return moved

    def _quote(self, entry: InboxEntry) -> None:
        """Hold a quote on the contract of a signal that can still be sent, and only then."""
        wanted = entry.contract.con_id if entry.contract and sendable(entry.state) else None
        held = self._quoted.get(entry.key)
        if held == wanted:
            return
        if held is not None:
            del self._quoted[entry.key]
            self._market.unsubscribe(held)
        if wanted is not None and entry.contract is not None:
            self._market.subscribe(entry.contract)
            self._quoted[entry.key] = wanted

    def _update(self, key: str, contract: ListedContract | None, note: str) -> InboxEntry | None:
        entry = self._entries.get(key)
        if entry is None or not sendable(entry.state):
            return entry  # it moved on (sent, dismissed, expired) while its month was looked up
        updated = replace(entry, contract=contract, note=note)
        self._entries[key] = updated
        self._quote(updated)
        self.changed.emit(updated)
        return updated


def _age(settings: SignalSettings) -> str:
    seconds = int(settings.max_age.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"
