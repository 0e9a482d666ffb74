"""A paced market: the busy instruments update ``tick_rate`` times a second, every other held
one (an option with its busy future included) at the quiet rate, and an unpaced market still
updates every held instrument, and each option with its future, at ``tick_rate``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ibconsole.sim import PaperGateway
from ibconsole.sim.instruments import Instrument

TICK_RATE = 400.0
QUIET_RATE = 4.0  # one update in a hundred of the busy instruments'
BUSY_UPDATES = 600


def _instruments(gateway: PaperGateway) -> tuple[Instrument, Instrument, list[Instrument]]:
    """The ES front month, the next month and two options on the front month."""
    futures = gateway.catalogue.match(["", "ES", "FUT", "", "", "", "", "CME", "", "USD", "", ""])
    front, second = sorted(futures, key=lambda future: future.expires_at)[:2]
    options = [
        option
        for option in gateway.catalogue.match(
            ["", "ES", "FOP", "", "", "", "", "CME", "", "USD", "", ""]
        )
        if option.under_con_id == front.con_id
    ][:2]
    assert len(options) == 2
    return front, second, options


async def _count_updates(gateway: PaperGateway, wait_for: Any) -> tuple[Counter[int], list[int]]:
    front, second, options = _instruments(gateway)
    market = gateway.market
    updates: Counter[int] = Counter()
    market.add_listener(lambda con_id, quote: updates.update((con_id,)))
    held = [front.con_id, second.con_id, *(option.con_id for option in options)]
    for con_id in held:
        market.hold(con_id)
    try:
        await wait_for(
            lambda: updates[front.con_id] >= BUSY_UPDATES, timeout=20, what="the busy updates"
        )
    finally:
        for con_id in held:
            market.release(con_id)
    return updates, held


async def test_quiet_instruments_update_at_their_rate_beside_the_busy_ones(
    make_gateway: Any, wait_for: Any
) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=TICK_RATE)
    front, _, _ = _instruments(gateway)
    gateway.market.pace([front.con_id], QUIET_RATE)

    updates, (busy, second, *options) = await _count_updates(gateway, wait_for)

    # Both walk on one timer: each firing steps the busy month, every hundredth the quiet one.
    steps = updates[busy]
    share = QUIET_RATE / TICK_RATE
    assert int(steps * share) - 1 <= updates[second] <= int(steps * share) + 1
    for option in options:  # with its future, every hundredth of the future's updates
        assert int(steps * share) - 1 <= updates[option] <= int(steps * share) + 1


async def test_an_unpaced_market_updates_every_held_instrument_alike(
    make_gateway: Any, wait_for: Any
) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=TICK_RATE)

    updates, (busy, second, *options) = await _count_updates(gateway, wait_for)

    assert updates[busy] - 1 <= updates[second] <= updates[busy] + 1
    for option in options:
        assert updates[option] == updates[busy]


async def test_a_quiet_walk_moves_as_a_walk_at_that_tick_rate_does(make_gateway: Any) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=TICK_RATE)
    slow: PaperGateway = await make_gateway(tick_rate=QUIET_RATE)
    front, second, _ = _instruments(gateway)
    busy_before = gateway.market.tick_volatility(front.con_id)
    gateway.market.pace([front.con_id], QUIET_RATE)

    quiet = gateway.market.tick_volatility(second.con_id)
    assert quiet == pytest.approx(slow.market.tick_volatility(second.con_id))
    assert gateway.market.tick_volatility(front.con_id) == busy_before


@pytest.mark.parametrize("quiet_rate", [0.0, -1.0, TICK_RATE * 2, float("nan")])
async def test_a_quiet_rate_outside_the_tick_rate_is_refused(
    make_gateway: Any, quiet_rate: float
) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=TICK_RATE)
    with pytest.raises(ValueError, match="quiet_rate"):
        gateway.market.pace([], quiet_rate)
