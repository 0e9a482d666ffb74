"""The exits (stops, take-profits) a roll cancels on the old month, from the first cancel until
each is placed again — moved to the new month with what was rolled, or restored on the old month
when nothing was — or the trader is told they are missing.

Every roll that cancels exits, as two orders (reopening or closing only), as one spread order
or legging a spread's rest, journals them (``RollExitLog``) under its first order's key before
the first cancel goes, and settles the move once it is over. A console that died mid-roll places nothing after its restart
(the market has moved on, and nobody may be watching): at its first reconciliation it raises a
critical alert for each move left unsettled, naming the exits cancelled and not placed again and
what the roll's first order did, so the trader enters them. An exit placed again, on the old month
or on the new one (all at once by a roll as two orders, for each execution by a spread order), is
keyed after its move (``placed_key``), so a console that died before settling the move, or before
journalling an execution's exits placed, reads from the reconciled journal what of it works,
names that as working, and only what is missing in the critical alert (in a calm one when nothing
is).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from ibconsole.broker.account import AccountService
from ibconsole.broker.ib_client import Event
from ibconsole.broker.mapping import ACTIVE_STATUSES
from ibconsole.broker.order_desk import OrderDesk
from ibconsole.broker.order_tracker import OrderTracker
from ibconsole.broker.order_values import OrderRefused
from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import (
    OrderIntent,
    OrderValidationError,
    Purpose,
    WorkingOrder,
    validate_key,
)
from ibconsole.domain.roll_exit_words import ExitFate, ExitOutcome, exits_words, order_words
from ibconsole.domain.rollover import MovedOrder, RollPlan, restore_exits
from ibconsole.journal import BrokerStatus, Journal, JournalOrder, OrderState
from ibconsole.journal.roll_exit_log import ExitMove, RollExitLog

log = logging.getLogger(__name__)

_CANCELLED = frozenset({BrokerStatus.CANCELLED.value, BrokerStatus.API_CANCELLED.value})
_CLOSING_ONLY = ""  # the new month of a move journalled by a roll that does not reopen
MOVED = "m"  # an exit placed on the new month, all at once (a roll as two orders)
RESTORED = "r"  # an exit placed again on the old month
PART = "x"  # an exit placed on the new month for one execution of a spread order


class RollExits:
    """Journals, restores and hands over the exits rolls cancel; use it from the loop's thread.

    ``alert(str, bool)`` is shared with ``OrderService``.
    """

    def __init__(
        self,
        journal: Journal,
        account: AccountService,
        desk: OrderDesk,
        tracker: OrderTracker,
        clock: Clock,
        alert: Event,
    ) -> None:
        self._journal = journal
        self._account = account
        self._desk = desk
        self._tracker = tracker
        self._clock = clock
        self._alert = alert
        self._log = RollExitLog(journal.path)
        # the moves this process journalled and has not settled: the order ids of their exits,
        # as journalled (an exit restored on the old month is keyed after its place there)
        self._open: dict[str, tuple[int, ...]] = {}
        self._handed_over = False  # the moves an earlier process left unsettled were told

    def record(self, key: str, plan: RollPlan) -> bool:
        """Journal the exits ``plan`` moves (or, closing only, cancels), under the key of the
        roll's first order, before any of them is cancelled; False when there are none (nothing
        is journalled then)."""
        exits = plan.exits_to_move if plan.open is not None else plan.exits
        if not exits:
            return False
        self._log.record_move(
            key,
            plan.close.contract.local_symbol,
            plan.open.contract.local_symbol if plan.open is not None else _CLOSING_ONLY,
            exits,
            self._clock.now(),
        )
        self._open[key] = tuple(order.order_id for order in exits)
        return True

    def is_open(self, key: str) -> bool:
        """True while the move ``key`` this process journalled is not settled."""
        return key in self._open

    def protected(self, key: str, exec_id: str) -> None:
        """Journal that the exits for the execution ``exec_id`` of the move ``key`` are placed."""
        self._log.record_protected(key, exec_id, self._clock.now())

    def settle(self, key: str) -> None:
        """Journal that the move ``key`` is over (no-op for a roll that journalled none)."""
        if key in self._open:
            del self._open[key]
            self._log.record_settled(key, self._clock.now())

    def restore(self, plan: RollPlan, key: str) -> str:
        """After the roll ``key`` of ``plan`` ended without opening anything: place again on the
        old month the exits it cancelled, if the position there is still the one they protected,
        and settle the move. Returns what became of each exit, for the roll's alert."""
        outcomes, cancelled = self._sorted(plan)
        if cancelled:
            outcomes.extend(self._placed_again(plan, key, cancelled))
        self.settle(key)
        return exits_words(plan.close.contract.local_symbol, outcomes)

    def waiting(self, plan: RollPlan, waiting_for: str = "") -> str:
        """What became of the exits of a roll of ``plan`` still under way: those cancelled wait
        (``waiting_for`` says for what: by default a retry of the open leg) to be placed again,
        or are missing when the roll does not reopen."""
        outcomes, cancelled = self._sorted(plan)
        fate = ExitFate.MISSING if plan.open is None else ExitFate.WAITING
        outcomes.extend(ExitOutcome(order, fate) for order in cancelled)
        new = plan.open.contract.local_symbol if plan.open is not None else ""
        waiting_for = waiting_for or f"on {new} when a retry of the open leg fills"
        return exits_words(plan.close.contract.local_symbol, outcomes, waiting_for)

    def keyed(self, placed: MovedOrder, key: str, how: str) -> OrderIntent:
        """The order that places ``placed`` again (``how``: RESTORED on the old month, MOVED to
        the new one, ``part_moved`` to it for one spread execution) for the move ``key``, keyed
        after the move and the exit, so a console that dies before it settles the move finds it
        after its restart (unless that key would not fit in orderRef)."""
        journalled = self._open.get(key, ())
        if placed.source.order_id not in journalled:
            return placed.intent
        index = journalled.index(placed.source.order_id)
        try:
            derived = validate_key(placed_key(key, how, index))
        except OrderValidationError:  # too long for orderRef: placed all the same, unfound
            return placed.intent
        return replace(placed.intent, key=derived)

    def cancelled(self, plan: RollPlan) -> bool:
        """True unless every exit of ``plan`` still works on the old month."""
        known, cancelled = self._sorted(plan)
        return bool(cancelled) or any(o.fate is not ExitFate.WORKING for o in known)

    def hand_over(self, *_: object) -> None:
        """At the first reconciliation of this process: tell the trader, critically, of every
        exit move an earlier process left unsettled, and settle it; nothing is sent."""
        if self._handed_over:
            return
        self._handed_over = True
        for move in self._log.unsettled():
            if move.key not in self._open:
                self._tell(move)
                self._log.record_settled(move.key, self._clock.now())

    # ---------------------------------------------------------------- inside
    def _sorted(self, plan: RollPlan) -> tuple[list[ExitOutcome], list[WorkingOrder]]:
        """What is known of the exits of ``plan`` on the old month (still working, or cancelled
        without IB's confirmation), and those IB has cancelled. An exit that filled is in
        neither: the position changed, which restoring checks."""
        known: list[ExitOutcome] = []
        cancelled: list[WorkingOrder] = []
        for order in plan.exits:
            trade = self._tracker.trade_by_id(order.order_id)
            status = trade.orderStatus.status if trade is not None else None
            if status in _CANCELLED:
                cancelled.append(order)
            elif status in ACTIVE_STATUSES:
                known.append(ExitOutcome(order, ExitFate.WORKING))
            elif status != BrokerStatus.FILLED.value:
                known.append(ExitOutcome(order, ExitFate.UNCONFIRMED))
        return known, cancelled

    def _placed_again(
        self, plan: RollPlan, key: str, cancelled: list[WorkingOrder]
    ) -> list[ExitOutcome]:
        old = plan.close.contract
        held = self._account.position(old.con_id)
        if held is None or held.quantity != plan.position:
            now = "unknown" if held is None else f"{held.quantity.normalize():f}"
            why = (
                f"you hold {now} {old.local_symbol} now, not the "
                f"{plan.position.normalize():f} it protected"
            )
            return [ExitOutcome(order, ExitFate.MISSING, why) for order in cancelled]
        placed, stuck = restore_exits(
            plan,
            cancelled,
            oca_prefix=f"{key}-r",
            new_key=self._desk.new_key,
            now=self._clock.now(),
            account=self._account.account,
        )
        outcomes = [ExitOutcome(order, ExitFate.MISSING, why) for order, why in stuck]
        for restored in placed:
            try:
                self._desk.submit(self.keyed(restored, key, RESTORED), confirmed=True)
            except OrderRefused as refused:
                outcomes.append(ExitOutcome(restored.source, ExitFate.MISSING, refused.reason))
            else:
                outcomes.append(ExitOutcome(restored.source, ExitFate.RESTORED))
        return outcomes

    def _tell(self, move: ExitMove) -> None:
        first = self._journal.order(move.key)
        parts = first.lifecycle.order_fills if first is not None else ()
        protected = sum((p.quantity for p in parts if p.exec_id in move.protected), Decimal(0))
        # a spread order places each execution's exits, then journals them placed: one may have
        # gone out unjournalled, the one after those journalled
        spread = first is not None and first.intent.purpose is Purpose.ROLL_SPREAD
        unconfirmed = (part_moved(len(move.protected) + 1),) if spread else ()
        lacking: list[str] = []
        placed: list[str] = []  # placed again (either month) before the move was settled
        for index, order in enumerate(move.exits):
            if order.remaining <= protected or self._still_working(order):
                continue
            missing = order.remaining - protected
            for how in (MOVED, RESTORED, *unconfirmed):
                put = self._journal.order(placed_key(move.key, how, index))
                if put is None or (put.is_final and put.state is not OrderState.FILLED):
                    continue  # never placed, or IB never took it
                missing -= put.intent.quantity
                words = order_words(put.intent, put.intent.quantity)
                placed.append(
                    f"{words} on {put.intent.contract.local_symbol} ({put.key}, {put.state.value})"
                )
            if missing > 0:
                lacking.append(order_words(order, missing))
        old, new = move.old_month, move.new_month
        again = f" Placed before it stopped: {'; '.join(placed)}." if placed else ""
        if not lacking:
            if placed:  # nothing is missing: the trader is told what works, calmly
                self._alert.emit(
                    f"ROLL: the console stopped during the roll of {old} (order {move.key}) "
                    f"after cancelling its exit orders there.{again} {_story(first)}",
                    False,
                )
            return
        if new == _CLOSING_ONLY:
            if first is not None and first.state is OrderState.FILLED:
                return  # the position they protected is closed, as the roll meant
            message = (
                f"ROLL: the console stopped while closing {old} (order {move.key}) after "
                f"cancelling its exit orders there, and these were NOT placed again: "
                f"{'; '.join(lacking)}.{again} {_story(first)} Your {old} position lacks them; check "
                "its working orders and enter what is missing by hand."
            )
        else:
            message = (
                f"ROLL: the console stopped during the roll of {old} into {new} (order "
                f"{move.key}) after cancelling its exit orders on {old}, and these were NOT "
                f"placed again: {'; '.join(lacking)}.{again} {_story(first)} Your {old} and {new} "
                "positions lack them; check the working orders of both months and enter what is "
                "missing by hand."
            )
        log.critical("%s", message)
        self._alert.emit(message, True)

    def _still_working(self, order: WorkingOrder) -> bool:
        """True when the journal (reconciled) has the exit still working: its cancel never went
        out, or never took effect."""
        journalled = self._journal.order(order.key) if order.key else None
        return journalled is not None and not journalled.is_final


def placed_key(move_key: str, how: str, index: int) -> str:
    """The key of the exit ``index`` (as journalled) of the move ``move_key`` once it is placed
    again (``how``: MOVED or RESTORED): a restart reads from the journal whether it went out."""
    return f"{move_key}.{how}{index}"


def part_moved(part: int) -> str:
    """The ``how`` of ``placed_key`` for an exit placed on the new month for the ``part``-th
    execution (from 1) a spread roll protects."""
    return f"{PART}{part}{MOVED}"


def _story(first: JournalOrder | None) -> str:
    """What the roll's first order did, as the journal (reconciled) has it."""
    if first is None:
        return "Its first order was never journalled: nothing was rolled."
    filled = first.lifecycle.filled.normalize()
    if first.intent.purpose is Purpose.ROLL_SPREAD:
        if first.is_final:
            return f"The spread order ended {first.state.value} with {filled:f} rolled."
        return (
            f"The spread order is still {first.state.value} with {filled:f} rolled so far; what "
            "it fills from now on gets no exits either."
        )
    leg = f"Its close leg in {first.intent.contract.local_symbol}"
    if first.is_final:
        return f"{leg} ended {first.state.value} with {filled:f} closed."
    return f"{leg} is still {first.state.value} with {filled:f} closed so far."
