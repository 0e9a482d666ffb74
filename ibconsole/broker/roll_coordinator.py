"""Roll coordination: cancel the old month's orders, close it, open the new month, then move the
exits that protected the position; a failed open leg is never silent and can be retried alone.

The exits a roll cancels are journalled until they are placed again (``RollExits``): moved to
the new month once it is open, or restored on the old month when the roll stops having closed
nothing. Every alert of a roll that stopped says which exits still work, which were placed again
and which are missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ibconsole.broker.account import AccountService
from ibconsole.broker.cancel_wait import cancel_and_wait
from ibconsole.broker.ib_client import Event
from ibconsole.broker.order_desk import OrderDesk
from ibconsole.broker.order_tracker import LIVE_STATUSES, OrderTracker
from ibconsole.broker.order_values import OrderRefused, RollFailure
from ibconsole.broker.roll_exits import MOVED, RollExits
from ibconsole.broker.session import Session
from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import OrderIntent, OrderType, Purpose, WorkingOrder, build_intent
from ibconsole.domain.roll_exit_words import order_words
from ibconsole.domain.rollover import RollLeg, RollPlan, move_exits
from ibconsole.journal import Journal, JournalOrder, OrderState

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Roll:
    """A roll in progress or incomplete: the close leg's key and every try of the open leg."""

    close_key: str
    open_keys: list[str] = field(default_factory=list)


class RollCoordinator:
    """Runs rolls through the order desk, one per plan, and remembers unfinished ones.

    Events: ``roll_failed(RollFailure)``; ``alert(str, bool)`` is shared with ``OrderService``.
    ``exits`` journals the exits every roll cancels (the spread roller's too).
    """

    def __init__(
        self,
        session: Session,
        journal: Journal,
        account: AccountService,
        desk: OrderDesk,
        tracker: OrderTracker,
        exits: RollExits,
        clock: Clock,
        alert: Event,
        fill_timeout: float,
    ) -> None:
        self.exits = exits
        self._session = session
        self._journal = journal
        self._account = account
        self._desk = desk
        self._tracker = tracker
        self._clock = clock
        self._alert = alert
        self._fill_timeout = fill_timeout
        self._rolls: dict[RollPlan, _Roll] = {}
        self.roll_failed = Event("roll_failed")

    @property
    def fill_timeout(self) -> float:
        """How long (seconds) a roll waits for IB to end each of its orders."""
        return self._fill_timeout

    @fill_timeout.setter
    def fill_timeout(self, seconds: float) -> None:
        self._fill_timeout = seconds

    async def roll(self, plan: RollPlan, continues: str | None = None) -> JournalOrder | None:
        """Cancel the old month's orders, close it, then open the new month.

        Both legs pass the pre-trade checks before anything is sent, and the position must still
        be the one planned, so a roll cannot stop halfway for a reason known in advance. Working
        orders on the old month are cancelled (IB confirms each) before the close leg goes; once
        the open leg has filled, the exits planned to move are placed again on the new month,
        shifted by the spread between the two legs' fills (see ``move_exits``). A roll that stops
        having closed nothing places the exits it cancelled on the old month again.

        ``continues`` is the key of an exit move this roll takes over (a spread roll's, whose
        rest it legs): settled once this roll's own is journalled.

        Returns the open leg's journal entry (None when the plan does not reopen). A close leg
        that does not fill stops the roll with nothing opened; an open leg that fails raises a
        critical alert naming both months and a ``RollFailure`` that ``retry_open`` can resume.
        """
        close, opening = self.check_roll(plan)
        self.exits.record(close.key, plan)
        if continues is not None:
            self.exits.settle(continues)
        self._rolls[plan] = _Roll(close.key)
        try:
            await self.clear_old_month(plan)
            self._desk.submit(close, confirmed=True)
        except OrderRefused as refused:
            del self._rolls[plan]
            message = _with(
                f"Roll stopped before closing {plan.close.contract.local_symbol}: "
                f"{refused.reason} Nothing was closed or opened.",
                self.exits.restore(plan, close.key),
            )
            self._alert.emit(message, True)
            raise OrderRefused(message, refused.report) from refused
        except asyncio.CancelledError:
            # Stopped before the close leg went out: nothing of this roll exists at the broker.
            # Its exits stay journalled (unless it cancelled none): the next start tells of them.
            if self._journal.order(close.key) is None:
                del self._rolls[plan]
                if not self.exits.cancelled(plan):
                    self.exits.settle(close.key)
            raise
        state = await self._final_or_timeout(close.key)
        closed = self._tracker.journalled(close.key).lifecycle.filled
        if state is OrderState.FILLED:
            if opening is None:
                del self._rolls[plan]
                self.exits.settle(close.key)  # closed as planned: its exits had to go
                return None
            return await self._open_leg(plan, opening)
        if state.is_final and closed and opening is not None:
            # Part of the old month is closed: the new month gets that much, by retry.
            failure = RollFailure(
                plan,
                f"closing {plan.close.contract.local_symbol} filled only "
                f"{closed.normalize():f} of {plan.close.quantity.normalize():f} before it "
                f"ended {state.value}, so nothing was opened yet",
                self.exits.waiting(plan),
            )
            self._roll_failed(failure)
            raise OrderRefused(failure.sentence)
        name = plan.close.contract.local_symbol
        if state.is_final:
            del self._rolls[plan]
            done = f" after {closed.normalize():f} filled" if closed else ""
            message = (
                f"Roll stopped: closing {name} ended {state.value}{done}; "
                "nothing was opened in the new month."
            )
            exits = self.exits.restore(plan, close.key)
        else:
            message = (
                f"Roll stopped: closing {name} has not filled within "
                f"{self._fill_timeout:g} s and is still {state.value}. Nothing was opened; "
                "once it has ended, retry the open leg."
            )
            exits = self.exits.waiting(plan)
            if opening is None:  # nothing will place them: the trader is told now
                self.exits.settle(close.key)
        message = _with(message, exits)
        self._alert.emit(message, True)
        raise OrderRefused(message)

    async def retry_open(self, plan: RollPlan) -> JournalOrder:
        """Place (again) only the open leg of ``plan``; the close leg is never repeated.

        Refused unless this console closed (some of) the old month for this plan and no try of
        the open leg is still working; a retry sends only what was closed and earlier tries left
        unfilled. When a try filled after the roll stopped waiting for it, nothing is sent: the
        roll completes, its exits placed, and that try is returned.
        """
        if plan.open is None:
            raise OrderRefused("This roll does not reopen a position.")
        roll = self._rolls.get(plan)
        if roll is None:
            raise OrderRefused(
                f"No unfinished roll of {plan.close.contract.local_symbol} into "
                f"{plan.open.contract.local_symbol} is known here; enter the open leg by hand."
            )
        closed = self._tracker.journalled(roll.close_key)
        if not closed.is_final or not closed.lifecycle.filled:
            raise OrderRefused(
                f"Closing {plan.close.contract.local_symbol} is {closed.state.value} with "
                f"{closed.lifecycle.filled.normalize():f} filled: there is nothing to reopen yet."
            )
        opened = Decimal(0)
        for key in roll.open_keys:
            earlier = self._journal.order(key)
            if earlier is None:
                continue
            if not earlier.is_final:
                raise OrderRefused(
                    f"The open leg in {plan.open.contract.local_symbol} is already "
                    f"{earlier.state.value} (key {key}); it is not sent again."
                )
            opened += earlier.lifecycle.filled
        # The new month gets what the old month gave up, never more than planned.
        missing = min(plan.open.quantity, closed.lifecycle.filled) - opened
        if missing <= 0:
            # A try filled after the roll stopped waiting for it: the roll is complete, and the
            # exits it cancelled go on the new month now, as they would have then.
            self._move_exits(plan, roll)
            del self._rolls[plan]
            return self._tracker.journalled(roll.open_keys[-1])
        # Only what earlier tries left unfilled goes out again.
        leg = replace(plan.open, quantity=missing)
        return await self._open_leg(plan, self._leg_intent(leg, Purpose.ROLL_OPEN))

    def check_roll(self, plan: RollPlan) -> tuple[OrderIntent, OrderIntent | None]:
        """Both legs of ``plan`` after every check that can be made before sending anything."""
        old = plan.close.contract.local_symbol
        if plan in self._rolls:
            raise OrderRefused(
                f"This roll of {old} was already started; retry its open leg instead."
            )
        block = self._desk.entry_block()
        if block:
            raise OrderRefused(block)
        for order in self._journal.open_orders():
            if any(leg.contract.con_id == plan.close.contract.con_id for leg in order.intent.legs):
                raise OrderRefused(
                    f"The spread order {order.intent.contract.local_symbol} (key {order.key}) "
                    f"is still {order.state.value} on {old}: cancel it, or leg its rest, "
                    "before rolling again."
                )
        held = self._account.position(plan.close.contract.con_id)
        if held is None:
            raise OrderRefused(f"Your position in {old} could not be read; the roll waits for it.")
        if held.quantity != plan.position:
            raise OrderRefused(
                f"The roll was planned for {plan.position.normalize():f} {old} but you hold "
                f"{held.quantity.normalize():f} now; plan it again."
            )
        client_id = self._session.endpoint.client_id
        for item in plan.orders:
            trade = self._tracker.trade_by_id(item.order.order_id)
            if (
                trade is not None
                and trade.order.clientId != client_id
                and trade.orderStatus.status in LIVE_STATUSES
            ):
                raise OrderRefused(
                    f"Order {item.order.order_id} on {old} was placed by another API client or "
                    "in TWS; cancel it there before rolling."
                )
        close = self._leg_intent(plan.close, Purpose.ROLL_CLOSE)
        opening = self._leg_intent(plan.open, Purpose.ROLL_OPEN) if plan.open else None
        for leg in (close, opening):
            if leg is None:
                continue
            report = self._desk.assess(leg)
            if report.blocked:
                self._desk.refuse(leg, [f.message for f in report.findings])
                raise OrderRefused(
                    f"Roll refused, nothing was sent: {leg.side.value.lower()} "
                    f"{leg.quantity.normalize():f} {leg.contract.local_symbol} would be "
                    f"blocked. {report.blocking_text}",
                    report,
                )
        return close, opening

    async def clear_old_month(self, plan: RollPlan) -> None:
        """Cancel the old month's working orders and wait until IB has ended each one."""
        old = plan.close.contract.local_symbol
        trades = [
            t
            for t in (self._tracker.trade_by_id(item.order.order_id) for item in plan.orders)
            if t is not None and t.orderStatus.status in LIVE_STATUSES
        ]
        try:
            stopped = await asyncio.wait_for(
                cancel_and_wait(
                    self._session, trades, lambda t: self._desk.send_cancel(t, f"roll of {old}")
                ),
                self._fill_timeout,
            )
        except TimeoutError:
            raise OrderRefused(
                f"IB did not confirm the cancels of the working orders on {old} within "
                f"{self._fill_timeout:g} s."
            ) from None
        if stopped is not None and stopped.dropped:
            raise OrderRefused(
                f"The connection dropped while the working orders on {old} were being "
                "cancelled; check them once it is back."
            )
        if stopped is not None:
            raise OrderRefused(
                f"The connection was reloaded while the working orders on {old} were being "
                f"cancelled, and not all of them ended: {stopped.counts}. Check them in the "
                "blotter."
            )
        held = self._account.position(plan.close.contract.con_id)
        if held is None or held.quantity != plan.position:
            now = "unknown" if held is None else f"{held.quantity.normalize():f}"
            raise OrderRefused(
                f"An order on {old} filled while it was being cancelled: you hold {now} now, "
                f"not the {plan.position.normalize():f} planned. Plan the roll again."
            )

    async def _open_leg(self, plan: RollPlan, opening: OrderIntent) -> JournalOrder:
        roll = self._rolls[plan]
        try:
            roll.open_keys.append(opening.key)
            journalled = self._desk.submit(opening, confirmed=True)
        except OrderRefused as refused:
            failure = RollFailure(plan, refused.reason, self.exits.waiting(plan))
            self._roll_failed(failure)
            raise OrderRefused(failure.sentence, refused.report) from refused
        state = await self._final_or_timeout(opening.key)
        if state is not OrderState.FILLED:
            ended = self._journal.order(opening.key)
            rejection = ended.lifecycle.rejection if ended else None
            failure = RollFailure(
                plan,
                (f"rejected by IB: {rejection}" if rejection else f"the order ended {state.value}")
                if state.is_final
                else f"the order is still {state.value} after {self._fill_timeout:g} s",
                self.exits.waiting(plan),
            )
            self._roll_failed(failure)
            raise OrderRefused(failure.sentence)
        self._move_exits(plan, roll)
        del self._rolls[plan]
        return journalled

    def _move_exits(self, plan: RollPlan, roll: _Roll) -> None:
        """Place on the new month the exits the roll cancelled on the old one (for what was
        opened), and on the old month again for what its close leg left there; any that cannot
        go raise a critical alert naming them, since the position is unprotected without."""
        if plan.open is None or not plan.exits_to_move:
            return
        old, new = plan.close.contract.local_symbol, plan.open.contract.local_symbol
        closed = self._tracker.journalled(roll.close_key)
        tries = [self._tracker.journalled(key) for key in roll.open_keys]
        opened = sum((t.lifecycle.filled for t in tries), Decimal(0))
        old_price = closed.lifecycle.avg_fill_price
        paid = [
            (t.lifecycle.filled, t.lifecycle.avg_fill_price) for t in tries if t.lifecycle.filled
        ]
        if old_price is None or opened <= 0 or any(price is None for _, price in paid):
            unknown = "the legs' fill prices are not known"
            self.exits_not_moved(old, new, [(order, unknown) for order in plan.exits_to_move])
        else:
            new_price = sum((q * p for q, p in paid if p is not None), Decimal(0)) / opened
            spread = new_price - old_price
            self.place_exits(plan, spread, opened, f"{roll.close_key}-exits", roll.close_key)
        left = abs(plan.position) - closed.lifecycle.filled
        if left > 0:
            # The close leg ended part-filled: what it left in the old month keeps its exits there.
            rest = replace(
                plan,
                position=left if plan.position > 0 else -left,
                orders=tuple(
                    replace(item, order=replace(item.order, remaining=left))
                    if item.order.remaining > left
                    else item
                    for item in plan.orders
                ),
            )
            words = self.exits.restore(rest, roll.close_key)
            if words:
                self._alert.emit(
                    f"Roll of {old} into {new}: its close leg closed "
                    f"{closed.lifecycle.filled.normalize():f} of {abs(plan.position).normalize():f}, "
                    f"so {left.normalize():f} {old} is left. {words}",
                    True,
                )
        self.exits.settle(roll.close_key)

    def place_exits(
        self,
        plan: RollPlan,
        spread: Decimal,
        opened: Decimal,
        oca_prefix: str,
        move: str | None = None,
        how: str = MOVED,
    ) -> None:
        """Place the exits ``plan`` moves on the new month for the ``opened`` contracts, shifted
        by ``spread`` (the new month's price minus the old month's, as the roll filled); each
        keyed after the exit and the move ``move`` (its key), ``how`` they go (all at once, or
        for one spread execution)."""
        if plan.open is None or not plan.exits_to_move:
            return
        old, new = plan.close.contract.local_symbol, plan.open.contract.local_symbol
        moved, stuck = move_exits(
            plan,
            spread,
            opened,
            oca_prefix=oca_prefix,
            new_key=self._desk.new_key,
            now=self._clock.now(),
            account=self._account.account,
        )
        not_moved = list(stuck)
        placed: list[str] = []
        for order in moved:
            intent = order.intent if move is None else self.exits.keyed(order, move, how)
            try:
                self._desk.submit(intent, confirmed=True)
            except OrderRefused as refused:
                not_moved.append((order.source, refused.reason))
            else:
                placed.append(order_words(order.intent, order.intent.quantity))
        if placed:
            self._alert.emit(
                f"Exit orders moved from {old} to {new} (shifted {spread.normalize():+f} by the roll's "
                f"fills): {'; '.join(placed)}.",
                False,
            )
        if not_moved:
            self.exits_not_moved(old, new, not_moved)

    def exits_not_moved(
        self, old: str, new: str, orders: Sequence[tuple[WorkingOrder, str]]
    ) -> None:
        lines = "; ".join(f"{order_words(order, order.remaining)} ({why})" for order, why in orders)
        message = (
            f"ROLL: exit orders cancelled on {old} were NOT placed on {new}: {lines}. "
            f"Your {new} position lacks them; enter them by hand."
        )
        log.critical("%s", message)
        self._alert.emit(message, True)

    def _roll_failed(self, failure: RollFailure) -> None:
        log.critical("%s", failure.sentence)
        self._alert.emit(failure.sentence, True)
        self.roll_failed.emit(failure)

    async def _final_or_timeout(self, key: str) -> OrderState:
        try:
            return await asyncio.wait_for(self._tracker.wait_final(key), self._fill_timeout)
        except TimeoutError:
            current = self._journal.order(key)
            return current.lifecycle.state if current else OrderState.UNKNOWN

    def _leg_intent(self, leg: RollLeg, purpose: Purpose) -> OrderIntent:
        return build_intent(
            contract=leg.contract,
            side=leg.side,
            quantity=leg.quantity,
            order_type=OrderType.MARKET,
            clock=self._clock,
            purpose=purpose,
            account=self._account.account,
            key_factory=self._desk.new_key,
        )


def _with(message: str, exits: str) -> str:
    """A roll's alert, followed by what became of the exits it cancelled (when any)."""
    return f"{message} {exits}" if exits else message
