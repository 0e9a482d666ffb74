"""Rolls as one calendar-spread order: a BAG of the held month and the next, directed to the
exchange so both legs fill together at one spread price or not at all.

The same checks, old-month cancels and exit moves as the two-order roll (``RollCoordinator``):
the legs pass the pre-trade checks, working orders on the old month are cancelled first, and
once the spread has filled (in full, or in part when the rest is cancelled) the exits that
protected the position are placed on the new month for what was rolled, shifted by the spread's
fill price, still one-cancels-all. A spread order still working after the fill timeout stays
working, never silently: the trader modifies it, cancels it, or legs the rest with the two-order
roll. IB has no contract details for a BAG (error 321), so none are asked for: the combo is
built from the legs' conIds.

The exits a roll moves are journalled (``RollExits``, shared with the two-order roll) before the
first old-month cancel goes, with each combo execution whose exits are placed; a spread that ends
with nothing rolled places them on the old month again. Legging the rest hands the move to the
two-order roll of that rest. A console that died mid-roll does not place them after its restart:
at its first reconciliation it raises a critical alert naming the exits cancelled on the old
month and not placed again, and what the combo rolled, so the trader enters them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal

from ibconsole.broker.account import AccountService
from ibconsole.broker.cancel_wait import cancel_and_wait
from ibconsole.broker.ib_client import Event, Trade
from ibconsole.broker.order_desk import OrderDesk
from ibconsole.broker.order_tracker import OrderTracker
from ibconsole.broker.order_values import OrderRefused, OrderRow
from ibconsole.broker.roll_coordinator import RollCoordinator
from ibconsole.broker.roll_exits import part_moved
from ibconsole.broker.session import Session
from ibconsole.domain.calendar_spread import CalendarSpread, spread_for_roll
from ibconsole.domain.clock import Clock
from ibconsole.domain.orders import OrderType
from ibconsole.domain.rollover import OldMonthOrder, OrderAction, RollPlan
from ibconsole.journal import Journal, JournalFill, JournalOrder, OrderState
from ibconsole.journal.lifecycle import FillPart

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _SpreadRoll:
    """A spread order of a roll, until it has ended and its exits are placed."""

    plan: RollPlan
    spread: CalendarSpread
    key: str
    moves_exits: bool  # the exits to move are journalled (there are some)
    legging: bool = False  # its rest is being rolled as two orders, which take its exits over
    exits_words: str = ""  # what became of its exits when it ended having rolled nothing
    # the combo executions whose contracts have their exits on the new month, and how many
    # contracts of each old exit (by order id) those cover
    protected_by: set[str] = field(default_factory=set)
    protected: dict[int, Decimal] = field(default_factory=dict)

    def unprotected(self) -> tuple[OldMonthOrder, ...]:
        """The plan's old-month orders, each exit reduced to what is not yet on the new month."""
        kept = []
        for item in self.plan.orders:
            if item.action is not OrderAction.MOVE:
                kept.append(item)
                continue
            left = item.order.remaining - self.protected.get(item.order.order_id, Decimal(0))
            if left > 0:
                kept.append(OldMonthOrder(replace(item.order, remaining=left), item.action))
        return tuple(kept)


class SpreadRoller:
    """Runs spread rolls through the order desk and follows each until it ends.

    Events: ``spread_ended(JournalOrder)`` once a spread order of a roll is final and its exits
    are placed; ``alert(str, bool)`` is shared with ``OrderService``.
    """

    def __init__(
        self,
        session: Session,
        journal: Journal,
        account: AccountService,
        desk: OrderDesk,
        tracker: OrderTracker,
        coordinator: RollCoordinator,
        clock: Clock,
        alert: Event,
        fill_timeout: float,
    ) -> None:
        self._session = session
        self._journal = journal
        self._account = account
        self._desk = desk
        self._tracker = tracker
        self._coordinator = coordinator
        self._clock = clock
        self._alert = alert
        self.fill_timeout = fill_timeout
        self._working: dict[str, _SpreadRoll] = {}  # by the spread order's key
        self._exits = coordinator.exits
        self.spread_ended = Event("spread_ended")
        tracker.order_changed += self._on_order_changed
        tracker.fill_recorded += self._on_fill_recorded

    async def roll(
        self, plan: RollPlan, order_type: OrderType, limit_price: Decimal | None = None
    ) -> JournalOrder:
        """Cancel the old month's orders, then send the roll as one spread order and wait up to
        the fill timeout for it to end.

        Returns the spread order's journal entry: final (filled, or cancelled after a part
        filled), or still working when the timeout passed — then it keeps working, and the
        trader decides. A spread refused before anything was sent, rejected by IB, or ended
        with nothing filled raises ``OrderRefused`` saying what happened.
        """
        spread = spread_for_roll(plan)
        # the same checks as the two-order roll, a spread still working on the month included
        self._coordinator.check_roll(plan)
        try:
            intent = spread.intent(
                order_type,
                limit_price,
                key_factory=self._desk.new_key,
                now=self._clock.now(),
                account=self._account.account,
            )
        except ValueError as error:
            raise OrderRefused(f"Roll not sent: {error}.") from None
        moves_exits = self._exits.record(intent.key, plan)
        try:
            await self._coordinator.clear_old_month(plan)
            self._desk.submit(intent, confirmed=True)
        except OrderRefused as refused:
            exits = self._exits.restore(plan, intent.key)
            message = (
                f"Roll stopped before the {spread.name} spread order went out: "
                f"{refused.reason} Nothing was closed or opened."
            ) + (f" {exits}" if exits else "")
            self._alert.emit(message, True)
            raise OrderRefused(message, refused.report) from refused
        rolling = _SpreadRoll(plan, spread, intent.key, moves_exits)
        self._working[intent.key] = rolling
        state = await self._final_or_timeout(intent.key)
        self._catch_up(intent.key)
        journalled = self._tracker.journalled(intent.key)
        if not state.is_final:
            price = f" at {intent.limit_price.normalize():f}" if intent.limit_price else ""
            near, far = spread.near.local_symbol, spread.far.local_symbol
            exits = self._exits.waiting(
                replace(plan, orders=rolling.unprotected()),
                f"on {far} as the spread fills, or back on {near} for what it leaves there",
            )
            self._alert.emit(
                f"The {spread.name} spread order{price} has not filled within "
                f"{self.fill_timeout:g} s: {journalled.lifecycle.filled.normalize():f} of "
                f"{intent.quantity.normalize():f} rolled, the rest is still working (and what "
                f"is left in {near} has no exits meanwhile). Modify it, cancel it, or leg the "
                "rest as two orders." + (f" {exits}" if exits else ""),
                bool(exits),  # critical when stops are cancelled and not yet back
            )
            return journalled
        if state is OrderState.UNKNOWN:
            raise OrderRefused(
                f"The {spread.name} spread order is unknown to IB after the reconnect (it never "
                "arrived, and it was not sent again); IB reports nothing rolled. Check TWS "
                "before rolling again." + (f" {rolling.exits_words}" if rolling.exits_words else "")
            )
        if journalled.lifecycle.filled <= 0:
            why = journalled.lifecycle.rejection
            message = (
                f"The {spread.name} spread order ended {state.value}"
                + (f" (IB: {why})" if why else "")
                + f"; nothing was rolled, you still hold {plan.close.contract.local_symbol}."
                + (f" {rolling.exits_words}" if rolling.exits_words else "")
            )
            raise OrderRefused(message)
        return journalled

    async def leg_rest(self, key: str) -> JournalOrder | None:
        """Cancel what the spread order ``key`` left unfilled, then roll that rest as two
        orders (close, then open). Returns the open leg's journal entry."""
        roll = self._working.get(key)
        if roll is None:
            raise OrderRefused(f"No working spread roll has the key {key}.")
        roll.legging = True
        try:
            remainder = await self._rest_of(roll)
            return await self._coordinator.roll(remainder, continues=key)
        except BaseException:
            roll.legging = False
            if key not in self._working and self._exits.is_open(key):
                # the spread ended meanwhile and no two-order roll took its exits over
                self._ended(roll, self._tracker.journalled(key))
            raise

    async def _rest_of(self, roll: _SpreadRoll) -> RollPlan:
        """Cancel what the spread order of ``roll`` left unfilled; the plan that rolls that rest
        as two orders, once IB's position in the old month is what it leaves."""
        key = roll.key
        journalled = self._tracker.journalled(key)
        if not journalled.is_final:
            order_id = journalled.lifecycle.order_id
            trade = None if order_id is None else self._tracker.trade_by_id(order_id)
            if order_id is None or trade is None:
                raise OrderRefused(f"The spread order {key} has not reached IB yet.")
            await self._cancelled(roll, trade, order_id)
        self._catch_up(key)
        rest = self._tracker.journalled(key).lifecycle.remaining
        if rest <= 0:
            raise OrderRefused(f"The {roll.spread.name} spread order filled: nothing is left.")
        plan = roll.plan
        if plan.open is None:
            raise OrderRefused("This roll does not reopen a position: there is nothing to leg.")
        remainder = replace(
            plan,
            position=rest if plan.position > 0 else -rest,
            close=replace(plan.close, quantity=rest),
            open=replace(plan.open, quantity=rest),
            orders=roll.unprotected(),
        )
        await self._position_is(remainder)
        return remainder

    async def _cancelled(self, roll: _SpreadRoll, trade: Trade, order_id: int) -> None:
        """Cancel the spread order of ``roll`` and wait until IB has ended it: up to the fill
        timeout, or until a reload on the same socket shows the cancel will not be answered."""
        name = roll.spread.name
        unconfirmed = (
            f"IB has not confirmed the cancel of the {name} spread order within "
            f"{self.fill_timeout:g} s; nothing was legged."
        )
        try:
            stopped = await asyncio.wait_for(
                cancel_and_wait(
                    self._session,
                    (trade,),
                    lambda _: self._desk.cancel(order_id, "legging the rest of the roll"),
                ),
                self.fill_timeout,
            )
        except TimeoutError:
            raise OrderRefused(unconfirmed) from None
        if stopped is not None and stopped.dropped:
            raise OrderRefused(
                f"The connection dropped while the {name} spread order was being cancelled; "
                "nothing was legged. Check it once the connection is back."
            )
        if stopped is not None:
            raise OrderRefused(
                f"The connection was reloaded while the {name} spread order was being "
                f"cancelled, and it has not ended: {stopped.counts}. Nothing was legged; check "
                "it in the blotter."
            )
        # IB has ended it: the journal follows within the same turn of the loop
        if not (await self._final_or_timeout(roll.key)).is_final:
            raise OrderRefused(unconfirmed)

    # ---------------------------------------------------------------- inside
    def catch_up(self, *_: object) -> None:
        """Bring every spread roll up to date (after a reconciliation, when orders may go)."""
        for key in tuple(self._working):
            self._catch_up(key)

    def _catch_up(self, key: str) -> None:
        """Place exits for each combo execution not yet protected, and once the spread order
        has ended with all its executions in, let it go. Orders wait for reconciliation: a
        resync reports executions before the desk accepts orders again."""
        roll = self._working.get(key)
        if roll is None or self._desk.entry_block():
            return
        current = self._tracker.journalled(key)
        for part in current.lifecycle.order_fills:
            if part.exec_id not in roll.protected_by:
                roll.protected_by.add(part.exec_id)
                self._protect(roll, part)
                if roll.moves_exits:
                    self._exits.protected(key, part.exec_id)
        lifecycle = current.lifecycle
        if current.is_final and lifecycle.executed >= lifecycle.reported_filled:
            del self._working[key]
            if not roll.legging:
                self._ended(roll, current)
            log.info(
                "spread roll %s ended %s, %s rolled", key, current.state.value, lifecycle.filled
            )
            self.spread_ended.emit(current)

    def _protect(self, roll: _SpreadRoll, part: FillPart) -> None:
        """Place on the new month the exits for the contracts one combo execution rolled,
        shifted by its spread price, one-cancels-all where they were."""
        plan = replace(roll.plan, orders=roll.unprotected())
        exits = plan.exits_to_move
        if not exits:
            return
        self._coordinator.place_exits(
            plan,
            part.price,
            part.quantity,
            f"{roll.key}-x{len(roll.protected_by)}",
            roll.key,
            part_moved(len(roll.protected_by)),
        )
        for order in exits:
            placed = min(order.remaining, part.quantity)
            roll.protected[order.order_id] = roll.protected.get(order.order_id, 0) + placed

    def _ended(self, roll: _SpreadRoll, spread: JournalOrder) -> None:
        """The spread order of ``roll`` ended, its rest not legged: the exits of the contracts
        it rolled are on the new month already; those of the rest it did not roll go back on
        the old month, and the trader is told what became of them."""
        plan, rolled = roll.plan, spread.lifecycle.filled
        rest = plan.close.quantity - rolled
        if rest <= 0:
            self._exits.settle(roll.key)
            return
        left = replace(
            plan, position=rest if plan.position > 0 else -rest, orders=roll.unprotected()
        )
        roll.exits_words = self._exits.restore(left, roll.key)
        if roll.exits_words:
            self._alert.emit(
                f"The {roll.spread.name} spread order ended {spread.state.value} with "
                f"{rolled.normalize():f} of {plan.close.quantity.normalize():f} rolled. "
                f"{roll.exits_words}",
                True,
            )

    def _on_order_changed(self, row: OrderRow) -> None:
        self._catch_up(row.key)

    def _on_fill_recorded(self, fill: JournalFill) -> None:
        self._catch_up(fill.key)

    async def _final_or_timeout(self, key: str) -> OrderState:
        try:
            return await asyncio.wait_for(self._tracker.wait_final(key), self.fill_timeout)
        except TimeoutError:
            return self._tracker.journalled(key).lifecycle.state

    async def _position_is(self, plan: RollPlan) -> None:
        """Wait (up to the fill timeout) until IB's position in the old month is the one
        ``plan`` rolls: positions follow executions by a moment."""
        con_id = plan.close.contract.con_id
        loop = asyncio.get_running_loop()
        settled: asyncio.Future[None] = loop.create_future()

        def check(*_: object) -> None:
            held = self._account.position(con_id)
            if held is not None and held.quantity == plan.position and not settled.done():
                settled.set_result(None)

        self._account.portfolio_changed += check
        try:
            check()
            await asyncio.wait_for(settled, self.fill_timeout)
        except TimeoutError:
            pass  # the roll's own check says what is held instead
        finally:
            self._account.portfolio_changed -= check
