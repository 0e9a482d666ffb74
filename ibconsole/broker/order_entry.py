"""The order-entry model: one path for every way an order is born.

The ticket, the price ladder, the options chain, chart trading and the signal inbox each turn a
click into a few ``EntryFields`` and a side; this model validates them into an intent, runs the
pre-trade checks with the live position, working orders and quote, and answers with what
happened (``Sent``), what the trader must confirm first (``NeedsConfirmation``, answered with
``confirm`` or ``decline``) or why nothing was sent (``Refused``). The journal, the checks and
the sentences are the same for all of them::

    entry.place(Side.BUY, EntryFields(es, 1, OrderType.LIMIT, limit_price="5931.75"))
    entry.place(Side.SELL, EntryFields(mes, 2))            # a signal: sell 2 MES at market

It knows nothing of Qt: a view shows the outcome and, for a confirmation, asks the trader.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from ibconsole.broker.account import AccountService
from ibconsole.broker.contracts import ContractService
from ibconsole.broker.market_data import MarketDataService
from ibconsole.broker.order_values import ConfirmationNeeded, MarginImpact, OrderRefused
from ibconsole.broker.orders import OrderService
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import (
    EntryFields,
    EntryOutcome,
    EntryPreview,
    FamilyExposure,
    NeedsConfirmation,
    OrderChange,
    Refusal,
    Refused,
    Sent,
    family_exposure,
    family_members,
    flatten_terms,
    shared_error,
)
from ibconsole.domain.order_words import (
    describe_intent,
    position_words,
    quantity_text,
    side_word,
)
from ibconsole.domain.orders import (
    OrderIntent,
    OrderType,
    OrderValidationError,
    Position,
    Purpose,
    Side,
    TimeInForce,
    WorkingOrder,
    build_intent,
    parse_order_type,
)
from ibconsole.domain.risk import RiskLimits, RiskReport, Severity

_PREVIEW_KEY = "preview"
_CHANGED = "Something changed while you were deciding; please check again."


class OrderEntry:
    """Builds, checks, confirms, sends, changes and cancels orders for every entry point."""

    def __init__(
        self,
        orders: OrderService,
        account: AccountService,
        market: MarketDataService,
        contracts: ContractService,
        clock: Clock,
    ) -> None:
        self._orders = orders
        self._account = account
        self._market = market
        self._contracts = contracts
        self._clock = clock

    # ------------------------------------------------------------- what is known
    @property
    def limits(self) -> RiskLimits:
        return self._orders.limits

    def reference_price(self, contract: ListedContract) -> Decimal | None:
        """The market's price for ``contract``: the last good quote's (last, else mid)."""
        quote = self._market.quote(contract.con_id)
        return quote.last_good_price() if quote is not None else None

    def position(self, contract: ListedContract) -> Position | None:
        """The position in ``contract``; None while positions are not synced."""
        return self._account.position(contract.con_id)

    def working_orders(self, contract: ListedContract) -> tuple[WorkingOrder, ...] | None:
        """The orders working on ``contract``; None while they are not synced."""
        if not self._account.positions_known:
            return None
        return self._orders.working_orders(contract.con_id)

    def family(self, contract: ListedContract) -> FamilyExposure | None:
        """What the family of ``contract`` holds and works elsewhere (other months, mini/micro);
        None while positions are not synced. Months of a sibling count once its chain is
        cached (``ContractService.chain``)."""
        if not self._account.positions_known:
            return None
        names: dict[int, str] = {}
        for member in family_members(contract.symbol):
            chain = self._contracts.cached(member.symbol)
            if chain is not None:
                names.update((c.con_id, c.local_symbol) for c in chain.contracts)
        return family_exposure(
            contract, self._account.portfolio(), self._orders.working_orders(), names
        )

    # ------------------------------------------------------------ building orders
    def intent(
        self,
        side: Side,
        fields: EntryFields,
        *,
        preview: bool = False,
        purpose: Purpose = Purpose.MANUAL,
    ) -> OrderIntent:
        """The order ``fields`` describe on ``side``, or ``OrderValidationError`` naming the field.

        A preview intent carries a placeholder key: it is for checks and estimates, never sent.
        """
        contract = fields.contract
        if contract is None:
            raise OrderValidationError("contract", "Choose a contract first")
        if fields.blank("quantity"):
            raise OrderValidationError("quantity", "Enter a quantity: how many contracts")
        order_type = parse_order_type(fields.order_type)
        if fields.bracket and fields.blank("take_profit") and fields.blank("stop_loss"):
            raise OrderValidationError(
                "take_profit", "Enter a take-profit, a stop-loss or both, or untick Bracket"
            )
        return build_intent(
            contract=contract,
            side=side,
            quantity=fields.quantity,
            order_type=order_type,
            clock=self._clock,
            limit_price=fields.limit_price if order_type.needs_limit else None,
            stop_price=fields.stop_price if order_type.needs_stop else None,
            tif=fields.tif,
            take_profit=fields.take_profit if fields.bracket else None,
            stop_loss=fields.stop_loss if fields.bracket else None,
            reference_price=self.reference_price(contract),
            purpose=purpose,
            account=self._account.account,
            key_factory=(lambda: _PREVIEW_KEY) if preview else self._orders.new_key,
        )

    def check(self, intent: OrderIntent) -> RiskReport:
        """The pre-trade findings for ``intent`` with the live position, orders and quote."""
        return self._orders.assess(intent)

    def preview(self, fields: EntryFields) -> EntryPreview:
        """Both sides of ``fields`` validated and checked as they stand, nothing sent."""
        outcomes: dict[Side, OrderIntent | OrderValidationError] = {}
        for side in Side:
            try:
                outcomes[side] = self.intent(side, fields, preview=True)
            except OrderValidationError as error:
                outcomes[side] = error
        reports = {
            side: self.check(intent)
            for side, intent in outcomes.items()
            if isinstance(intent, OrderIntent)
        }
        return EntryPreview(outcomes, reports, shared_error(outcomes, fields))

    async def margin(self, intent: OrderIntent) -> MarginImpact:
        """IB's what-if margin and commission for ``intent``; nothing is sent or journalled."""
        return await self._orders.what_if(intent)

    # -------------------------------------------------------------- sending orders
    def place(self, side: Side, fields: EntryFields) -> EntryOutcome:
        """Build the order ``fields`` describe and send it through the checks: the one call a
        click or a signal makes."""
        try:
            intent = self.intent(side, fields)
        except OrderValidationError as error:
            return Refused(Refusal.INVALID, f"Not sent: {error.message}.", error=error)
        return self.send(intent)

    def send(self, intent: OrderIntent) -> EntryOutcome:
        """Check, journal and send ``intent``, unless the trader must confirm it first."""
        try:
            self._orders.submit(intent)
        except ConfirmationNeeded as needed:
            return NeedsConfirmation(
                intent,
                needed.report,
                title="Confirm order",
                summary=f"{describe_intent(intent)}?",
                confirm_text=_confirm_text(intent),
            )
        except OrderRefused as refused:
            return _blocked(refused)
        return _sent(intent)

    def confirm(self, asked: NeedsConfirmation) -> EntryOutcome:
        """The trader confirmed ``asked``: send it, unless the market moved meanwhile and raised
        a finding the trader has not seen, which is asked again rather than waved through."""
        if asked.change is not None:
            return self._change(asked.change, confirmed=True)
        fresh = self.check(asked.intent)
        unseen = [f for f in fresh.of(Severity.CONFIRM) if f.check not in asked.shown]
        if unseen and not fresh.blocked:
            return replace(asked, report=fresh, notes=(_CHANGED,))
        try:
            self._orders.submit(asked.intent, confirmed=True)
        except OrderRefused as refused:
            return _blocked(refused)
        return _sent(asked.intent)

    def decline(self, asked: NeedsConfirmation) -> str:
        """The trader said no: a new order is journalled as declined; nothing is sent."""
        if asked.change is None:
            self._orders.decline(asked.intent, asked.report)
            return f"Declined, nothing was sent: {describe_intent(asked.intent)}."
        return f"Declined: order {asked.change.order_id} works unchanged."

    def flatten(self, contract: ListedContract | None) -> EntryOutcome:
        """Close the whole position in ``contract`` at market: always asks first."""
        if contract is None:
            return Refused(Refusal.UNKNOWN, "Choose a contract first: nothing was sent.")
        position = self.position(contract)
        if position is None:
            return Refused(
                Refusal.UNKNOWN,
                f"Your position in {contract.local_symbol} is unknown (not synced with the "
                "broker), so there is nothing known to flatten: nothing was sent.",
            )
        if position.quantity == 0:
            return Refused(
                Refusal.NOTHING, f"You hold no {contract.local_symbol}: nothing to flatten."
            )
        side, quantity = flatten_terms(position)
        try:
            intent = self.intent(
                side,
                EntryFields(contract, quantity, OrderType.MARKET, tif=TimeInForce.DAY),
                purpose=Purpose.FLATTEN,
            )
        except OrderValidationError as error:
            return Refused(Refusal.INVALID, f"Flatten not sent: {error.message}")
        report = self.check(intent)
        if report.blocked:
            return self.send(intent)  # journalled as blocked, and says why
        working = self._orders.working_orders(contract.con_id)
        notes = (
            (
                f"{len(working)} working order(s) on {contract.local_symbol} stay working; "
                "cancel them separately if they should go too.",
            )
            if working
            else ()
        )
        return NeedsConfirmation(
            intent,
            report,
            title="Flatten position",
            summary=(
                f"Flatten {contract.local_symbol}: you are {position_words(position.quantity)}. "
                f"{describe_intent(intent)}, at market?"
            ),
            confirm_text="Flatten",
            notes=notes,
        )

    # ------------------------------------------------------------ working orders
    def modify(self, change: OrderChange) -> EntryOutcome:
        """Change a working order entered here, after the same checks as a new one."""
        return self._change(change, confirmed=False)

    def cancel(self, order_id: int) -> EntryOutcome:
        try:
            self._orders.cancel(order_id)
        except OrderRefused as refused:
            return _blocked(refused)
        return Sent(f"Cancel sent: order {order_id}.")

    def cancel_all(self) -> EntryOutcome:
        try:
            sent = self._orders.cancel_all()
        except OrderRefused as refused:
            return _blocked(refused)
        if not sent:
            return Refused(Refusal.NOTHING, "No working order of yours to cancel.")
        return Sent(f"Cancel sent for {sent} working order(s).")

    def _change(self, change: OrderChange, *, confirmed: bool) -> EntryOutcome:
        before = self._orders.intent_of(change.order_id)
        if before is None:
            return Refused(
                Refusal.BLOCKED,
                f"Order {change.order_id} was not entered here or is not working: not changed.",
            )
        after = replace(
            before,
            quantity=change.quantity if change.quantity is not None else before.quantity,
            limit_price=change.limit_price
            if change.limit_price is not None
            else before.limit_price,
            stop_price=change.stop_price if change.stop_price is not None else before.stop_price,
        )
        try:
            self._orders.modify(
                change.order_id,
                quantity=change.quantity,
                limit_price=change.limit_price,
                stop_price=change.stop_price,
                confirmed=confirmed,
            )
        except ConfirmationNeeded as needed:
            return NeedsConfirmation(
                after,
                needed.report,
                title="Confirm change",
                summary=f"Change the order to {describe_intent(after)}?",
                confirm_text="Change",
                change=change,
            )
        except OrderRefused as refused:
            return _blocked(refused)
        return Sent(f"Change sent: {describe_intent(after)} (ref {after.key}).", after)


def _confirm_text(intent: OrderIntent) -> str:
    return f"{side_word(intent.side)} {quantity_text(intent.quantity)}"


def _sent(intent: OrderIntent) -> Sent:
    return Sent(f"Sent: {describe_intent(intent)} (ref {intent.key}).", intent)


def _blocked(refused: OrderRefused) -> Refused:
    report = refused.report
    text = (report.blocking_text if report is not None else "") or refused.reason
    return Refused(Refusal.BLOCKED, f"Blocked, nothing was sent: {text}", report)
