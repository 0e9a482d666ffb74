"""BAG combos over real TCP with an unmodified ib_insync client: the calendar spread's own
quote, atomic fills of every leg at one spread price, what-if margins with the spread credit,
IB's refusals, and what other clients and a reconnecting client see of combo orders.

The gateway ticks once per 100 s here, so every quote is still the one a test read; a test
that needs the market to move steps a leg itself (``gateway.market.step``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ibconsole.broker.ib_client import (
    IB,
    ComboLeg,
    Contract,
    LimitOrder,
    MarketOrder,
    OrderComboLeg,
    TagValue,
    Ticker,
)
from ibconsole.sim import PaperGateway
from ibconsole.sim.combos import COMBO_CON_ID
from ibconsole.sim.market import Quote

TIMEOUT = 5.0
NEAR, FAR = "202503", "202506"  # ESH5 and ESM5 at the suite's as_of
ES_MARGIN = 15_800  # the simulator's outright initial margin for one ES


@pytest.fixture
async def gateway(make_gateway) -> PaperGateway:
    """A gateway whose market stands still unless a test steps it."""
    return await make_gateway(tick_rate=0.01)


def calendar(near: Contract, far: Contract, exchange: str = "CME", symbol: str = "ES") -> Contract:
    """Buy the deferred month, sell the nearby: priced deferred minus nearby."""
    return Contract(
        secType="BAG",
        symbol=symbol,
        exchange=exchange,
        currency="USD",
        comboLegs=[
            ComboLeg(conId=far.conId, ratio=1, action="BUY", exchange="CME"),
            ComboLeg(conId=near.conId, ratio=1, action="SELL", exchange="CME"),
        ],
    )


async def legs(ib: IB, qualified_future) -> tuple[Contract, Contract]:
    return await qualified_future(ib, "ES", NEAR), await qualified_future(ib, "ES", FAR)


def quotes(gateway: PaperGateway, near: Contract, far: Contract) -> tuple[Quote, Quote]:
    return gateway.market.quote(near.conId), gateway.market.quote(far.conId)


async def quoted(ib: IB, contract: Contract, wait_for) -> Ticker:
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.bid == ticker.bid and ticker.ask == ticker.ask, what="quote")
    return ticker


def as_decimal(value: float) -> Decimal:
    return Decimal(str(value))


def on_grid(value: float, tick: str) -> bool:
    return Decimal(str(value)) % Decimal(tick) == 0


async def test_listed_calendar_quotes_its_own_book_on_the_spread_tick(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    ticker = await quoted(ib, calendar(near, far), wait_for)
    await wait_for(lambda: ticker.minTick == ticker.minTick, what="tickReqParams")

    near_quote, far_quote = quotes(gateway, near, far)
    implied_bid = far_quote.bid - near_quote.ask
    implied_ask = far_quote.ask - near_quote.bid
    assert ticker.minTick == 0.05
    assert on_grid(ticker.bid, "0.05")
    assert on_grid(ticker.ask, "0.05")
    assert Decimal(str(ticker.ask)) - Decimal(str(ticker.bid)) == Decimal("0.05")
    # tighter than the legs' implied market, and inside it
    assert implied_bid <= Decimal(str(ticker.bid)) < Decimal(str(ticker.ask)) <= implied_ask
    assert ticker.last == float(far_quote.last - near_quote.last)
    assert ticker.bidSize > 0
    assert ticker.askSize > 0


async def test_a_smart_routed_combo_quotes_the_legs_implied_market(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    ticker = await quoted(ib, calendar(near, far, exchange="SMART"), wait_for)
    await wait_for(lambda: ticker.minTick == ticker.minTick, what="tickReqParams")

    near_quote, far_quote = quotes(gateway, near, far)
    assert ticker.minTick == 0.25
    assert ticker.bid == float(far_quote.bid - near_quote.ask)
    assert ticker.ask == float(far_quote.ask - near_quote.bid)
    assert ticker.bidSize == min(far_quote.bid_size, near_quote.ask_size)


async def test_combo_quote_follows_its_legs(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    ticker = await quoted(ib, calendar(near, far, exchange="SMART"), wait_for)
    for _ in range(20):
        gateway.market.step(far.conId)
    near_quote, far_quote = quotes(gateway, near, far)
    await wait_for(
        lambda: ticker.ask == float(far_quote.ask - near_quote.bid),
        what="the combo ask after the deferred leg moved",
    )
    ib.cancelMktData(ticker.contract)
    await wait_for(lambda: not gateway.market.is_held(far.conId), what="legs released")


async def test_limit_calendar_fills_every_leg_at_one_spread_price(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    ticker = await quoted(ib, calendar(near, far), wait_for)
    price = ticker.ask
    trade = ib.placeOrder(calendar(near, far), LimitOrder("BUY", 2, price, orderRef="roll-1"))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(trade.fills) == 3, what="two leg fills and the combo's")
    await wait_for(
        lambda: all(f.commissionReport.execId for f in trade.fills[:2]), what="leg commissions"
    )

    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 2
    assert trade.orderStatus.avgFillPrice == price
    assert trade.filled() == 2  # ib_insync counts the BAG executions of a combo
    far_fill, near_fill, combo_fill = trade.fills
    assert (far_fill.contract.conId, near_fill.contract.conId) == (far.conId, near.conId)
    assert (far_fill.execution.side, near_fill.execution.side) == ("BOT", "SLD")
    assert far_fill.execution.shares == near_fill.execution.shares == 2
    spread = Decimal(str(far_fill.execution.price)) - Decimal(str(near_fill.execution.price))
    assert spread == Decimal(str(price))
    # CME anchors an equity calendar's nearby leg at its prior day's settlement
    assert near_fill.execution.price == float(gateway.market.quote(near.conId).close)
    assert combo_fill.contract.secType == "BAG"
    assert combo_fill.contract.conId == COMBO_CON_ID
    assert combo_fill.execution.shares == 2
    assert combo_fill.execution.price == price
    assert {f.execution.orderRef for f in trade.fills} == {"roll-1"}
    assert {f.execution.permId for f in trade.fills} == {trade.order.permId}
    assert len({f.execution.execId for f in trade.fills}) == 3
    assert [f.commissionReport.commission for f in trade.fills[:2]] == [4.5, 4.5]

    await wait_for(lambda: len(ib.positions()) == 2, what="a position per leg")
    held = {p.contract.conId: p.position for p in ib.positions()}
    assert held == {far.conId: 2, near.conId: -2}
    assert all(p.contract.secType == "FUT" for p in ib.positions())
    ib.cancelMktData(ticker.contract)
    await wait_for(
        lambda: not gateway.market.is_held(far.conId) and not gateway.market.is_held(near.conId),
        what="the filled order and the cancelled quote released both legs",
    )


async def test_market_sell_of_a_calendar_takes_its_bid_and_reverses_the_legs(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    bid = (await quoted(ib, calendar(near, far), wait_for)).bid
    trade = ib.placeOrder(calendar(near, far), MarketOrder("SELL", 1))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(trade.fills) == 3, what="fills")

    far_fill, near_fill, combo_fill = trade.fills
    assert trade.orderStatus.avgFillPrice == bid
    assert (far_fill.execution.side, near_fill.execution.side) == ("SLD", "BOT")
    assert combo_fill.execution.side == "SLD"
    spread = Decimal(str(far_fill.execution.price)) - Decimal(str(near_fill.execution.price))
    assert spread == Decimal(str(bid))


async def test_partial_fills_move_the_legs_in_ratio(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    gateway.desk.set_partial_fills(2)
    trade = ib.placeOrder(calendar(near, far), MarketOrder("BUY", 4))
    await wait_for(lambda: trade.orderStatus.filled == 2, what="the first part")
    await wait_for(lambda: len(ib.positions()) == 2, what="both legs after the first part")

    assert trade.orderStatus.status == "Submitted"
    assert trade.orderStatus.remaining == 2
    assert {p.contract.conId: p.position for p in ib.positions()} == {far.conId: 2, near.conId: -2}

    gateway.market.step(near.conId)  # the next quote fills the rest
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(trade.fills) == 6, what="the second part's fills")
    await wait_for(
        lambda: (
            {p.contract.conId: p.position for p in ib.positions()} == {far.conId: 4, near.conId: -4}
        ),
        what="both legs after the second part",
    )
    assert trade.filled() == 4
    legs_filled = [f for f in trade.fills if f.contract.secType == "FUT"]
    assert [f.execution.cumQty for f in legs_filled] == [2, 2, 4, 4]


async def test_smart_routed_futures_combo_needs_the_non_guaranteed_tag(
    gateway: PaperGateway, ib: IB, qualified_future, record_errors, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    errors = record_errors(ib)
    refused = ib.placeOrder(calendar(near, far, exchange="SMART"), MarketOrder("BUY", 1))
    await wait_for(lambda: 10043 in errors.codes, what="error 10043")
    assert refused.orderStatus.status == "Cancelled"
    assert "can only be set as non-guaranteed" in errors[-1][2]

    order = MarketOrder("BUY", 1, smartComboRoutingParams=[TagValue("NonGuaranteed", "1")])
    trade = ib.placeOrder(calendar(near, far, exchange="SMART"), order)
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    assert trade.orderStatus.filled == 1
    await wait_for(lambda: len(trade.fills) == 3, what="fills")


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"legs": []}, 321, "Security type 'BAG' requires combo leg details."),
        ({"far_con_id": 999}, 200, "No security definition"),
        ({"ratio": 0}, 321, "Invalid ratio 0"),
        ({"currency": "EUR"}, 321, "one currency"),
        ({"exchange": "NYMEX"}, 321, "does not trade on NYMEX"),
    ],
)
async def test_invalid_combos_are_refused_as_tws_does(
    gateway: PaperGateway,
    ib: IB,
    qualified_future,
    record_errors,
    wait_for,
    refused_status,
    change: dict[str, object],
    code: int,
    text: str,
) -> None:
    near, far = await legs(ib, qualified_future)
    contract = calendar(near, far, exchange=str(change.get("exchange", "CME")))
    contract.currency = str(change.get("currency", "USD"))
    contract.comboLegs[0].conId = int(change.get("far_con_id", far.conId))  # type: ignore[call-overload]
    contract.comboLegs[0].ratio = int(change.get("ratio", 1))  # type: ignore[call-overload]
    if "legs" in change:
        contract.comboLegs = []
    errors = record_errors(ib)

    trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 10.0))
    await wait_for(lambda: code in errors.codes, what=f"error {code}")
    assert text in errors[-1][2]
    assert trade.orderStatus.status == (refused_status if code == 321 else "Cancelled")

    ticker = ib.reqMktData(contract)
    await wait_for(lambda: errors.codes.count(code) == 2, what="the same refusal for quotes")
    assert ticker.bid != ticker.bid  # nothing quoted
    assert not gateway.market.is_held(near.conId)


async def test_contract_details_of_a_combo_are_refused_with_321(
    gateway: PaperGateway, ib: IB, qualified_future, record_errors, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    errors = record_errors(ib)
    request = asyncio.ensure_future(ib.reqContractDetailsAsync(calendar(near, far)))
    await wait_for(lambda: 321 in errors.codes, what="error 321")
    # ib_insync ends the request on the error with no details; ib_async reads 321 as a warning
    # and leaves it open
    if request.done():
        assert request.result() == []
    else:
        request.cancel()
    (_req_id, code, message) = errors[-1]
    assert code == 321
    assert "'BAG' isn't supported for contract data request" in message


async def test_what_if_of_a_calendar_gets_the_spread_margin_credit(
    gateway: PaperGateway, ib: IB, qualified_future
) -> None:
    near, far = await legs(ib, qualified_future)
    spread = await asyncio.wait_for(
        ib.whatIfOrderAsync(calendar(near, far), LimitOrder("BUY", 1, 10.0)), TIMEOUT
    )
    outright = await asyncio.wait_for(
        ib.whatIfOrderAsync(far, LimitOrder("BUY", 1, 6000.0)), TIMEOUT
    )

    assert float(outright.initMarginChange) == ES_MARGIN
    # far less than the two outrights' margin (2 × 15,800)
    assert 0 < float(spread.initMarginChange) < 2 * ES_MARGIN / 10
    assert float(spread.commission) == pytest.approx(4.5)
    assert not ib.positions()


async def test_account_margin_after_a_calendar_fill_keeps_the_credit(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    trade = ib.placeOrder(calendar(near, far), MarketOrder("BUY", 1))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    snapshot = gateway.desk.account("DU1234567")
    assert 0 < snapshot.init_margin < 2 * ES_MARGIN / 10


async def test_all_clients_see_combo_orders_open_and_completed(
    gateway: PaperGateway, ib: IB, connect, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    bid = (await quoted(ib, calendar(near, far), wait_for)).bid
    resting = ib.placeOrder(calendar(near, far), LimitOrder("BUY", 1, round(bid - 1.0, 2)))
    filled = ib.placeOrder(calendar(near, far), MarketOrder("BUY", 1))
    await asyncio.wait_for(filled.filledEvent, TIMEOUT)
    await wait_for(lambda: resting.orderStatus.status == "Submitted", what="resting combo")

    other = await connect(gateway)
    open_trades = await asyncio.wait_for(other.reqAllOpenOrdersAsync(), TIMEOUT)
    (seen,) = [t for t in open_trades if t.order.permId == resting.order.permId]
    assert seen.contract.secType == "BAG"
    assert seen.contract.conId == COMBO_CON_ID
    assert [(leg.conId, leg.action) for leg in seen.contract.comboLegs] == [
        (far.conId, "BUY"),
        (near.conId, "SELL"),
    ]
    assert seen.order.lmtPrice == round(bid - 1.0, 2)

    completed = await asyncio.wait_for(other.reqCompletedOrdersAsync(apiOnly=True), TIMEOUT)
    (done,) = [t for t in completed if t.order.permId == filled.order.permId]
    assert done.contract.secType == "BAG"
    assert len(done.contract.comboLegs) == 2
    assert done.orderStatus.status == "Filled"


async def test_a_reconnecting_client_gets_each_combo_execution_once(
    gateway: PaperGateway, connect, qualified_future, wait_for
) -> None:
    ib = await connect(gateway, client_id=41)
    near, far = await legs(ib, qualified_future)
    trade = ib.placeOrder(calendar(near, far), MarketOrder("BUY", 1, orderRef="roll-9"))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(trade.fills) == 3, what="fills")
    live_ids = sorted(f.execution.execId for f in trade.fills)
    bid = (await quoted(ib, calendar(near, far), wait_for)).bid
    resting = ib.placeOrder(calendar(near, far), LimitOrder("BUY", 1, round(bid - 1.0, 2)))
    await wait_for(lambda: resting.orderStatus.status == "Submitted", what="a working combo")
    ib.disconnect()

    again = await connect(gateway, client_id=41)
    await wait_for(lambda: len(again.fills()) == 3, what="the day's executions re-sent")
    (working,) = again.openTrades()
    assert working.order.permId == resting.order.permId
    assert working.contract.secType == "BAG"
    assert [leg.conId for leg in working.contract.comboLegs] == [far.conId, near.conId]
    again.cancelOrder(working.order)
    await wait_for(lambda: working.orderStatus.status == "Cancelled", what="cancelled")
    assert sorted(f.execution.execId for f in again.fills()) == live_ids
    requested = await asyncio.wait_for(again.reqExecutionsAsync(), TIMEOUT)
    assert sorted(f.execution.execId for f in requested) == live_ids
    assert len(again.fills()) == 3  # asking again does not double count
    assert sum(1 for f in requested if f.contract.secType == "BAG") == 1
    legs_positions = {p.contract.conId: p.position for p in again.positions()}
    assert legs_positions == {far.conId: 1, near.conId: -1}


async def test_a_working_combo_order_can_be_modified_and_cancelled(
    gateway: PaperGateway, ib: IB, qualified_future, record_errors, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    ticker = await quoted(ib, calendar(near, far), wait_for)
    errors = record_errors(ib)
    order = LimitOrder("BUY", 1, round(ticker.bid - 0.5, 2))
    trade = ib.placeOrder(calendar(near, far), order)
    await wait_for(lambda: trade.orderStatus.status == "Submitted", what="working")
    order.totalQuantity = 2
    ib.placeOrder(trade.contract, order)
    await wait_for(lambda: trade.orderStatus.remaining == 2, what="the new quantity")
    assert not trade.fills

    ib.cancelOrder(order)
    await wait_for(lambda: trade.orderStatus.status == "Cancelled", what="cancelled")
    assert 202 in errors.codes
    assert not ib.positions()

    second = LimitOrder("BUY", 1, round(ticker.bid - 0.5, 2))
    working = ib.placeOrder(calendar(near, far), second)
    await wait_for(lambda: working.orderStatus.status == "Submitted", what="working")
    second.lmtPrice = ticker.ask  # now marketable
    ib.placeOrder(working.contract, second)
    await asyncio.wait_for(working.filledEvent, TIMEOUT)
    assert working.orderStatus.avgFillPrice == ticker.ask


@pytest.mark.parametrize("as_of", [datetime(2026, 11, 21, 20, 0, tzinfo=UTC)])  # a Saturday
async def test_a_combo_order_on_a_closed_market_waits_for_both_legs_to_open(
    make_gateway, connect, qualified_future, wait_for
) -> None:
    gateway: PaperGateway = await make_gateway(tick_rate=20)
    ib: IB = await connect(gateway)
    near = await qualified_future(ib, "ES", "202612")
    far = await qualified_future(ib, "ES", "202703")
    trade = ib.placeOrder(calendar(near, far), MarketOrder("BUY", 1))
    await wait_for(lambda: trade.orderStatus.status == "PreSubmitted", what="held for the open")
    assert not trade.fills

    sunday_open = datetime(2026, 11, 22, 17, 0, tzinfo=ZoneInfo("US/Central"))
    gateway.clock.advance(sunday_open - timedelta(milliseconds=300) - gateway.clock.now())
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(trade.fills) == 3, what="fills at the open")
    assert all(f.execution.time >= sunday_open for f in trade.fills)


async def test_prices_per_leg_need_a_non_guaranteed_smart_combo(
    gateway: PaperGateway, ib: IB, qualified_future, record_errors, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    errors = record_errors(ib)
    order = LimitOrder("BUY", 1, 1.0, orderComboLegs=[OrderComboLeg(6050.0), OrderComboLeg(6000.0)])
    refused = ib.placeOrder(calendar(near, far), order)
    await wait_for(lambda: 10058 in errors.codes, what="error 10058")
    assert refused.orderStatus.status == "Cancelled"
    assert "per-leg prices are only supported" in errors[-1][2]


async def test_a_resting_calendar_fills_at_its_limit_when_the_spread_comes_to_it(
    gateway: PaperGateway, ib: IB, qualified_future, wait_for
) -> None:
    near, far = await legs(ib, qualified_future)
    bid = (await quoted(ib, calendar(near, far), wait_for)).bid
    trade = ib.placeOrder(calendar(near, far), LimitOrder("BUY", 1, bid))
    await wait_for(lambda: trade.orderStatus.status == "Submitted", what="resting at the bid")
    assert not trade.fills

    for _ in range(400):  # the seeded walk brings the spread down to the bid
        if not gateway.desk.open_orders():
            break
        gateway.market.step(near.conId)
        gateway.market.step(far.conId)
    assert not gateway.desk.open_orders()
    await wait_for(lambda: len(trade.fills) == 3, what="fills")
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == bid
    far_fill, near_fill, _ = trade.fills
    assert as_decimal(far_fill.execution.price) - as_decimal(near_fill.execution.price) == (
        as_decimal(bid)
    )
