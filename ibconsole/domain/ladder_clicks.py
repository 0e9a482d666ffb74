"""What a click or a drag on the price ladder means, decided from the ladder's state alone.

- Bid column: a buy limit at the row's price, when that price is below the best ask; at or
  above the ask the buy is on the far side of the market.
- Ask column: a sell limit at the row's price above the best bid; at or below the bid, the far
  side.
- Far side: as the trader's setting says, a marketable limit that must be confirmed first, or a
  stop at that price (a buy stop above the market, a sell stop below it). Never silent.
- Buy or Sell column over own working orders: cancel those orders. Empty cells, the Price and
  Volume columns: nothing.
- Dragging own orders from a Buy/Sell cell to another row: move each of them to that price (a
  stop limit keeps the distance between its stop and its limit).

With the bid or ask unknown nothing is placed: the ladder could not tell a resting order from a
marketable one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ibconsole.domain.ladder import FarSideClick, Ladder, LadderColumn, order_price
from ibconsole.domain.order_entry import NeedsConfirmation, OrderChange
from ibconsole.domain.order_words import describe_intent, price_text, quantity_text, side_word
from ibconsole.domain.orders import OrderIntent, OrderType, Side
from ibconsole.domain.risk import RiskReport

__all__ = ["ClickKind", "LadderClick", "click_action", "drag_changes", "marketable_confirmation"]


class ClickKind(StrEnum):
    PLACE = "place"  # send an order: side, order type, price (confirm first when marketable)
    CANCEL = "cancel"  # cancel order_ids
    NOTHING = "nothing"  # a cell that does nothing when clicked
    REFUSED = "refused"  # nothing is sent; ``reason`` says why


@dataclass(frozen=True, slots=True)
class LadderClick:
    kind: ClickKind
    side: Side | None = None
    order_type: OrderType | None = None
    price: Decimal | None = None
    marketable: bool = False
    order_ids: tuple[int, ...] = ()
    reason: str = ""


_NOTHING = LadderClick(ClickKind.NOTHING)
_UNKNOWN_MARKET = (
    "The market's {side} is unknown, so the ladder cannot tell whether this {order} would "
    "rest or fill at once: nothing was sent."
)


def click_action(
    ladder: Ladder, row: int, column: LadderColumn, far_side: FarSideClick
) -> LadderClick:
    """What a left click on (``row``, ``column``) does."""
    price = ladder.price_at(row)
    if price is None:
        return _NOTHING
    if column in (LadderColumn.BUY, LadderColumn.SELL):
        side = Side.BUY if column is LadderColumn.BUY else Side.SELL
        own = ladder.own(side, price)
        if own is None:
            return _NOTHING
        return LadderClick(ClickKind.CANCEL, side=side, price=price, order_ids=own.order_ids)
    if column is LadderColumn.BID:
        return _entry(Side.BUY, price, ladder.best_ask, far_side)
    if column is LadderColumn.ASK:
        return _entry(Side.SELL, price, ladder.best_bid, far_side)
    return _NOTHING


def _entry(side: Side, price: Decimal, far: Decimal | None, setting: FarSideClick) -> LadderClick:
    """A buy (sell) at ``price`` against the best ask (bid) ``far``."""
    if far is None:
        words = "ask" if side is Side.BUY else "bid"
        return LadderClick(
            ClickKind.REFUSED,
            side=side,
            price=price,
            reason=_UNKNOWN_MARKET.format(side=words, order=f"{side_word(side).lower()} limit"),
        )
    crosses = price >= far if side is Side.BUY else price <= far
    if not crosses:
        return LadderClick(ClickKind.PLACE, side=side, order_type=OrderType.LIMIT, price=price)
    if setting is FarSideClick.STOP:
        return LadderClick(ClickKind.PLACE, side=side, order_type=OrderType.STOP, price=price)
    return LadderClick(
        ClickKind.PLACE, side=side, order_type=OrderType.LIMIT, price=price, marketable=True
    )


def drag_changes(
    ladder: Ladder, from_row: int, column: LadderColumn, to_row: int
) -> tuple[OrderChange, ...]:
    """The changes that move the own orders of a Buy/Sell cell to another row; empty when the
    cell holds none, the column is another one or the row is the same."""
    if column not in (LadderColumn.BUY, LadderColumn.SELL) or from_row == to_row:
        return ()
    source, target = ladder.price_at(from_row), ladder.price_at(to_row)
    if source is None or target is None:
        return ()
    side = Side.BUY if column is LadderColumn.BUY else Side.SELL
    own = ladder.own(side, source)
    if own is None:
        return ()
    changes = []
    for order in own.orders:
        at = order_price(order)
        if at is None:
            continue
        if order.order_type is OrderType.LIMIT:
            changes.append(OrderChange(order.order_id, limit_price=target))
        elif order.order_type is OrderType.STOP:
            changes.append(OrderChange(order.order_id, stop_price=target))
        elif order.limit_price is not None:
            shifted = order.limit_price + (target - at)
            changes.append(OrderChange(order.order_id, limit_price=shifted, stop_price=target))
    return tuple(changes)


def marketable_confirmation(
    intent: OrderIntent, report: RiskReport, far: Decimal
) -> NeedsConfirmation:
    """The question a far-side click asks before its marketable limit goes: what it is, that it
    fills at once against ``far`` (the best ask of a buy, the best bid of a sell), and the
    pre-trade findings."""
    contract = intent.contract
    touch = "ask" if intent.side is Side.BUY else "bid"
    where = "at or above" if intent.side is Side.BUY else "at or below"
    return NeedsConfirmation(
        intent,
        report,
        title="Confirm marketable order",
        summary=f"{describe_intent(intent)}?",
        confirm_text=f"{side_word(intent.side)} {quantity_text(intent.quantity)}",
        notes=(
            f"This limit is {where} the best {touch} ({price_text(far, contract)}): it is "
            "marketable and would fill at once, like a market order capped at this price.",
        ),
    )
