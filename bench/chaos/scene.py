"""What every part of a scenario shares: the rig, the outcome, the background work, and the way
the trader answers a confirmation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

from bench.chaos.outcome import Outcome
from bench.stress_rig import CLIENT_ID, StressRig
from ibconsole.broker.order_values import ConfirmationNeeded, OrderRefused, OrderRow
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import EntryOutcome, NeedsConfirmation
from ibconsole.domain.orders import OrderIntent, OrderValidationError, build_intent

log = logging.getLogger("bench.chaos")

# How long the end of a scenario waits for the console to recover, for orders to end, for
# positions and streams to agree, and for background work (rolls, bar loads) to finish.
RECOVERY = 10.0
SETTLE = 3.0
EXPECTED = (OrderRefused, OrderValidationError)


class Scene:
    """One scenario's rig and outcome, the contracts it traded and the work it left running."""

    def __init__(self, rig: StressRig, outcome: Outcome) -> None:
        self.rig = rig
        self.outcome = outcome
        self.gw = rig.gw
        self.broker = rig.broker
        self.orders = rig.broker.orders
        self.months = (rig.front, rig.next_month)
        # every contract traded, whose position the end compares with the simulator's
        self.traded: dict[int, ListedContract] = {m.con_id: m for m in self.months}
        self.background: list[asyncio.Task[Any]] = []

    # ---------------------------------------------------------------- the market
    def quote(self, month: ListedContract) -> tuple[Decimal, Decimal]:
        """The simulator's bid and ask of ``month``: where the market is, whatever the console
        has heard of it."""
        quote = self.gw.market.quote(month.con_id)
        return quote.bid, quote.ask

    def connected(self) -> bool:
        return any(c.client_id == CLIENT_ID and c.started for c in self.gw.connections)

    # ---------------------------------------------------------------- the ticket
    def intent(self, **fields: Any) -> OrderIntent:
        return build_intent(
            contract=self.rig.front,
            clock=self.broker.clock,
            account=self.broker.account.account,
            **fields,
        )

    def send(self, intent: OrderIntent, how: str) -> None:
        """Submit as the ticket does; ``how`` the trader answers a confirmation: ``confirm``
        (sent confirmed at once), ``ask`` (asked, then yes) or ``decline``."""
        if how == "confirm":
            self.orders.submit(intent, confirmed=True)
            return
        try:
            self.orders.submit(intent)
        except ConfirmationNeeded as asked:
            if how == "decline":
                self.orders.decline(intent, asked.report)
            else:
                self.orders.submit(intent, confirmed=True)

    def answer(self, outcome: EntryOutcome, how: str) -> EntryOutcome:
        """The trader's answer to what the order-entry model said: a question is confirmed
        (``confirm``, ``ask``) or declined, as the confirmation dialog would."""
        if not isinstance(outcome, NeedsConfirmation):
            return outcome
        entry = self.broker.entry
        if how == "decline":
            log.info("declined: %s", entry.decline(outcome))
            return outcome
        answered = entry.confirm(outcome)
        if isinstance(answered, NeedsConfirmation):  # asked again: the market moved meanwhile
            answered = entry.confirm(answered)
        return answered

    @staticmethod
    def said(outcome: EntryOutcome | str) -> str:
        """What the view would show of ``outcome``."""
        return outcome if isinstance(outcome, str) else getattr(outcome, "message", "asked")

    def pick(self, fraction: float, con_ids: set[int] | None = None) -> OrderRow | None:
        """One of the console's own working orders (on ``con_ids`` only, when given)."""
        working = sorted(
            (
                r
                for r in self.orders.rows()
                if r.ours and r.working and (con_ids is None or r.con_id in con_ids)
            ),
            key=lambda r: r.order_id,
        )
        return working[int(fraction * len(working))] if working else None

    # ---------------------------------------------------------------- background
    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.set_name(f"chaos {name}")
        self.background.append(task)

    async def background_done(self, seconds: float) -> None:
        pending = [t for t in self.background if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=seconds)
            for task in late:
                self.outcome.crashes.append(f"{task.get_name()} still running after the heal")
                task.cancel()
            if late:
                await asyncio.wait(late)
        for task in self.background:
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None and not isinstance(error, EXPECTED):
                self.outcome.crashes.append(
                    f"{task.get_name()} raised {type(error).__name__}: {error}"
                )
