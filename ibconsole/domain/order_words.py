"""How orders, prices, sizes and positions read in the console's sentences, the same wherever an
order is entered or shown: "Buy 2 ESM5 LMT 5,712.25 DAY", "long +2", "5,931.75"."""

from __future__ import annotations

from decimal import Decimal

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import OrderIntent, Position, Side, WorkingOrder

NO_VALUE = "—"


def price_text(price: Decimal | None, contract: ListedContract, signed: bool = False) -> str:
    """A price with the decimals of the contract's tick and thousands separators; "—" if None."""
    if price is None:
        return NO_VALUE
    return f"{price:{'+' if signed else ''},.{contract.price_places}f}"


def quantity_text(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def signed_quantity_text(value: Decimal) -> str:
    """ "+2", "-3", "0": a position's direction is read from its sign as well as its words."""
    text = quantity_text(abs(value))
    return f"+{text}" if value > 0 else f"-{text}" if value < 0 else "0"


def side_word(side: Side) -> str:
    return "Buy" if side is Side.BUY else "Sell"


def position_words(quantity: Decimal) -> str:
    """ "long +2", "short -1", "flat"."""
    if quantity > 0:
        return f"long {signed_quantity_text(quantity)}"
    if quantity < 0:
        return f"short {signed_quantity_text(quantity)}"
    return "flat"


def describe_intent(intent: OrderIntent) -> str:
    """The order in one line, as the trader would say it: "Buy 2 ESM5 LMT 5,712.25 DAY"."""
    contract = intent.contract
    parts = [side_word(intent.side), quantity_text(intent.quantity), contract.local_symbol]
    parts.append(intent.order_type.value)
    if intent.stop_price is not None:
        parts.append(f"stop {price_text(intent.stop_price, contract)}")
    if intent.limit_price is not None:
        parts.append(
            f"limit {price_text(intent.limit_price, contract)}"
            if intent.stop_price is not None
            else price_text(intent.limit_price, contract)
        )
    parts.append(intent.tif.value)
    text = " ".join(parts)
    bracket = intent.bracket
    if bracket is not None:
        exits = []
        if bracket.take_profit is not None:
            exits.append(f"take-profit {price_text(bracket.take_profit, contract)}")
        if bracket.stop_loss is not None:
            exits.append(f"stop-loss {price_text(bracket.stop_loss, contract)}")
        text += f", bracket: {' / '.join(exits)}"
    return text


def order_caption(intent: OrderIntent) -> str:
    """What a Buy/Sell button sends, short enough for a narrow dock: "2 ESM5 LMT 5,712.25"."""
    contract = intent.contract
    price = intent.entry_price
    text = f"{quantity_text(intent.quantity)} {contract.local_symbol} {intent.order_type.value}"
    return f"{text} {price_text(price, contract)}" if price is not None else text


def position_text(position: Position | None, contract: ListedContract) -> str:
    """A position with its direction and average price: "Long +2 @ 5,712.25"."""
    if position is None:
        return "Unknown: positions are not synced with the broker"
    if position.quantity == 0:
        return "Flat (0)"
    average = position.avg_cost / contract.multiplier  # IB's average cost is per contract
    return (
        f"{'Long' if position.quantity > 0 else 'Short'} "
        f"{signed_quantity_text(position.quantity)} @ {price_text(average, contract)}"
    )


def working_text(orders: tuple[WorkingOrder, ...], contract: ListedContract, listed: int) -> str:
    """The first ``listed`` working orders in short ("Buy 1 LMT 5,700.00 · and 2 more")."""
    if not orders:
        return "None"
    parts = []
    for order in orders[:listed]:
        prices = [
            price_text(p, contract) for p in (order.stop_price, order.limit_price) if p is not None
        ]
        parts.append(
            f"{side_word(order.side)} {quantity_text(order.remaining)} "
            f"{order.order_type.value} {' / '.join(prices)}".strip()
        )
    more = len(orders) - listed
    return " · ".join(parts) + (f" · and {more} more" if more > 0 else "")
