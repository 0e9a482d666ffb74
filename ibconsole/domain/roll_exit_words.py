"""What a roll that ended without rolling says about the exits (stops, take-profits) it cancelled
on the old month: each still working, placed there again, or missing — so a trader is never left
believing a position is protected when it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ibconsole.domain.orders import OrderIntent, WorkingOrder


class ExitFate(StrEnum):
    WORKING = "working"  # its cancel never took effect: it still works on the old month
    UNCONFIRMED = "unconfirmed"  # its cancel went out and IB has not confirmed it (yet)
    RESTORED = "restored"  # cancelled by the roll, then placed again on the old month
    MISSING = "missing"  # cancelled by the roll and placed nowhere: the position lacks it
    WAITING = "waiting"  # cancelled by the roll, placed again once the roll has ended


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    """One exit of the old month after a roll that rolled nothing, and why it is missing."""

    order: WorkingOrder
    fate: ExitFate
    why: str = ""


def order_words(order: WorkingOrder | OrderIntent, quantity: Decimal) -> str:
    """An order as a trader reads it: ``SELL 2 STP stop 5943.75``."""
    prices = [
        f" {name} {price.normalize():f}"
        for name, price in (("limit", order.limit_price), ("stop", order.stop_price))
        if price is not None
    ]
    return f"{order.side.value} {quantity.normalize():f} {order.order_type.value}{''.join(prices)}"


def exits_words(month: str, outcomes: Sequence[ExitOutcome], waiting_for: str = "") -> str:
    """The sentences that end a stopped roll's alert: what became of each exit on ``month``
    (``waiting_for``: where and when the waiting ones go); empty when the roll touched none."""
    sentences = []
    working = _listed(o for o in outcomes if o.fate is ExitFate.WORKING)
    if working:
        sentences.append(
            f"Its exit orders on {month} were not cancelled and still work: {working}."
        )
    unconfirmed = _listed(o for o in outcomes if o.fate is ExitFate.UNCONFIRMED)
    if unconfirmed:
        sentences.append(
            f"IB has not confirmed the cancel of its exit orders on {month}: {unconfirmed}; check "
            "whether they still work."
        )
    restored = _listed(o for o in outcomes if o.fate is ExitFate.RESTORED)
    if restored:
        sentences.append(
            f"The exit orders it cancelled on {month} were placed there again: {restored}."
        )
    missing = [o for o in outcomes if o.fate is ExitFate.MISSING]
    if missing:
        lines = "; ".join(
            order_words(o.order, o.order.remaining) + (f" ({o.why})" if o.why else "")
            for o in missing
        )
        sentences.append(
            f"EXITS MISSING: it cancelled these exit orders on {month} and they are NOT placed "
            f"again: {lines}. Your {month} position lacks them; enter them by hand."
        )
    waiting = _listed(o for o in outcomes if o.fate is ExitFate.WAITING)
    if waiting:
        sentences.append(
            f"EXITS NOT IN PLACE: it cancelled these exit orders on {month}: {waiting}. They go "
            f"{waiting_for or 'on the new month once the roll opens it'}; until then neither "
            "month has them."
        )
    return " ".join(sentences)


def _listed(outcomes: Iterable[ExitOutcome]) -> str:
    return "; ".join(order_words(o.order, o.order.remaining) for o in outcomes)
