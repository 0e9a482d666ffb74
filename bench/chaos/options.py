"""Options on futures: limit and market orders, bracketed limits (the exits IB takes on an
option: a limit and a stop), and changes of them, entered as the chain loads the ticket (through
the order-entry model), while the underlying moves fast and IB floods the console with option
computations (greeks and model prices) for every option it quotes."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from bench.chaos.scene import SETTLE, Scene
from bench.stress_rig import until
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_entry import EntryFields, OrderChange
from ibconsole.domain.orders import Side

log = logging.getLogger("bench.chaos")

_FLOOD_BATCH = 25  # underlying steps between two turns of the loop during a flood


class OptionSteps:
    VERBS = ("option_open", "option", "option_bracket", "option_modify", "option_flood")

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.options: tuple[ListedContract, ...] = ()

    async def close(self) -> None:
        for option in self.options:
            self.scene.broker.market.unsubscribe(option.con_id)
        self.options = ()

    async def option_open(self, strikes: int) -> None:
        """The chain opens on the front month: ``strikes`` strikes around the money of its first
        expiry, calls and puts, quoted (their computations stream with the quotes)."""
        broker, front = self.scene.broker, self.scene.rig.front
        expiries = await broker.options.expiries([front])
        expiry = next((e for e in expiries if e.underlying_con_id == front.con_id), None)
        if expiry is None or not expiry.strikes:
            self.scene.outcome.mismatches.append(f"no option expiry listed on {front.local_symbol}")
            return
        bid, ask = self.scene.quote(front)
        middle = (bid + ask) / 2
        nearest = sorted(expiry.strikes, key=lambda k: abs(k - middle))[:strikes]
        self.options = await broker.options.options(expiry, front, sorted(nearest))
        for option in self.options:
            broker.market.subscribe(option)
        await until(lambda: all(broker.market.quote(o.con_id) for o in self.options), SETTLE)

    def _pick(self, fraction: float) -> ListedContract | None:
        if not self.options:
            return None
        option = self.options[int(fraction * len(self.options))]
        self.scene.traded[option.con_id] = option
        return option

    def _price(self, option: ListedContract, side: str, ticks: int) -> Decimal | None:
        """A limit ``ticks`` through the touch (negative: resting below the bid of a buy,
        above the ask of a sell), on the option's tick; None when that is not a price."""
        quote = self.scene.gw.market.quote(option.con_id)
        buy = side == "BUY"
        touch = quote.bid if buy else quote.ask
        if touch is None or touch <= 0:
            return None
        step = option.tick_at(touch)
        price = touch + (ticks if buy else -ticks) * step
        return price if price > 0 else None

    async def option(
        self,
        pick: float,
        kind: str,
        side: str,
        quantity: int,
        ticks: int,
        tp: int,
        sl: int,
        how: str,
    ) -> None:
        await self._enter(pick, kind, side, quantity, ticks, None, how)

    async def option_bracket(
        self,
        pick: float,
        kind: str,
        side: str,
        quantity: int,
        ticks: int,
        tp: int,
        sl: int,
        how: str,
    ) -> None:
        await self._enter(pick, kind, side, quantity, ticks, (tp, sl), how)

    async def _enter(
        self,
        pick: float,
        kind: str,
        side: str,
        quantity: int,
        ticks: int,
        exits: tuple[int, int] | None,
        how: str,
    ) -> None:
        option = self._pick(pick)
        if option is None:
            return
        price = self._price(option, side, ticks)
        if price is None:
            return
        fields = EntryFields(
            option, Decimal(quantity), kind, limit_price=price if kind == "LMT" else None
        )
        if exits is not None:
            step = option.tick_at(price)
            direction = 1 if side == "BUY" else -1
            stop_loss = price - direction * exits[1] * step
            fields = EntryFields(
                option,
                Decimal(quantity),
                kind,
                limit_price=fields.limit_price,
                bracket=True,
                take_profit=price + direction * exits[0] * step,
                stop_loss=stop_loss if stop_loss > 0 else None,
            )
        entry = self.scene.broker.entry
        outcome = self.scene.answer(entry.place(Side(side), fields), how)
        log.info("option order: %s", Scene.said(outcome))

    async def option_modify(self, pick: float, quantity: int, ticks: int, how: str) -> None:
        row = self.scene.pick(pick, {o.con_id for o in self.options})
        if row is None or row.limit_price is None:
            return
        option = self.scene.traded[row.con_id]
        price = row.limit_price + ticks * option.tick_at(row.limit_price)
        if price <= 0:
            return
        change = OrderChange(
            row.order_id, quantity=max(Decimal(1), row.quantity + quantity), limit_price=price
        )
        outcome = self.scene.answer(self.scene.broker.entry.modify(change), how)
        log.info("option change: %s", Scene.said(outcome))

    async def option_flood(self, steps: int) -> None:
        """The underlying moves ``steps`` times at once: each move reprices every quoted option,
        with its computation ticks (bid, ask, last and model)."""
        con_id = self.scene.rig.front.con_id
        for number in range(steps):
            self.scene.gw.market.step(con_id)
            if number % _FLOOD_BATCH == 0:
                await asyncio.sleep(0)
