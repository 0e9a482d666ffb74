"""Option spreads as BAG combos over real TCP: a vertical call spread on E-mini S&P 500
options quoted from its legs, and traded atomically, seen by ib_insync and by ibapi."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ibapi.contract import ComboLeg as IbapiComboLeg
from ibapi.contract import Contract as IbapiContract
from ibapi.order import Order

from ibconsole.broker.ib_client import (
    IB,
    ComboLeg,
    Contract,
    FuturesOption,
    LimitOrder,
    MarketOrder,
    Ticker,
)
from ibconsole.sim import PaperGateway

TIMEOUT = 5.0
EXPIRY = "20250321"  # the ES March quarterly options at the suite's as_of
LOW, HIGH = 5800, 5900


@pytest.fixture
async def gateway(make_gateway) -> PaperGateway:
    """A gateway whose market stands still unless a test steps it."""
    return await make_gateway(tick_rate=0.01)


async def call_spread_legs(ib: IB) -> tuple[Contract, Contract]:
    low, high = await asyncio.wait_for(
        ib.qualifyContractsAsync(
            FuturesOption("ES", EXPIRY, LOW, "C", "CME"),
            FuturesOption("ES", EXPIRY, HIGH, "C", "CME"),
        ),
        TIMEOUT,
    )
    return low, high


def vertical(low: Contract, high: Contract, exchange: str = "CME") -> Contract:
    """Buy the lower strike call, sell the higher: a debit (bull) call spread."""
    return Contract(
        secType="BAG",
        symbol="ES",
        exchange=exchange,
        currency="USD",
        comboLegs=[
            ComboLeg(conId=low.conId, ratio=1, action="BUY", exchange="CME"),
            ComboLeg(conId=high.conId, ratio=1, action="SELL", exchange="CME"),
        ],
    )


async def quoted(ib: IB, contract: Contract, wait_for) -> Ticker:
    ticker = ib.reqMktData(contract)
    await wait_for(lambda: ticker.bid == ticker.bid and ticker.ask == ticker.ask, what="quote")
    return ticker


def as_decimal(value: float) -> Decimal:
    return Decimal(str(value))


async def test_a_vertical_call_spread_quotes_its_legs_implied_market(
    gateway: PaperGateway, ib: IB, wait_for
) -> None:
    low, high = await call_spread_legs(ib)
    ticker = await quoted(ib, vertical(low, high), wait_for)
    await wait_for(lambda: ticker.minTick == ticker.minTick, what="tickReqParams")

    low_quote, high_quote = gateway.market.quote(low.conId), gateway.market.quote(high.conId)
    assert as_decimal(ticker.bid) == low_quote.bid - high_quote.ask
    assert as_decimal(ticker.ask) == low_quote.ask - high_quote.bid
    assert 0 < ticker.bid < ticker.ask < HIGH - LOW  # a debit spread is worth less than its width
    assert ticker.minTick == 0.05


async def test_a_vertical_call_spread_fills_both_options_at_one_price(
    gateway: PaperGateway, ib: IB, wait_for
) -> None:
    low, high = await call_spread_legs(ib)
    ask = (await quoted(ib, vertical(low, high), wait_for)).ask
    trade = ib.placeOrder(vertical(low, high), LimitOrder("BUY", 2, ask))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    await wait_for(lambda: len(trade.fills) == 3, what="two leg fills and the combo's")

    low_fill, high_fill, combo_fill = trade.fills
    assert (low_fill.contract.secType, high_fill.contract.secType) == ("FOP", "FOP")
    assert (low_fill.contract.strike, high_fill.contract.strike) == (LOW, HIGH)
    assert (low_fill.execution.side, high_fill.execution.side) == ("BOT", "SLD")
    spread = as_decimal(low_fill.execution.price) - as_decimal(high_fill.execution.price)
    assert spread == as_decimal(ask)
    assert combo_fill.contract.secType == "BAG"
    assert trade.filled() == 2
    await wait_for(lambda: len(ib.positions()) == 2, what="a position per option")
    assert {p.contract.conId: p.position for p in ib.positions()} == {
        low.conId: 2,
        high.conId: -2,
    }


async def test_a_smart_routed_option_spread_needs_no_tag(
    gateway: PaperGateway, ib: IB, wait_for
) -> None:
    low, high = await call_spread_legs(ib)
    ask = (await quoted(ib, vertical(low, high, "SMART"), wait_for)).ask
    trade = ib.placeOrder(vertical(low, high, "SMART"), LimitOrder("BUY", 1, ask))
    await asyncio.wait_for(trade.filledEvent, TIMEOUT)
    assert trade.orderStatus.avgFillPrice == ask


async def test_ibapi_sees_an_option_spread_fill_leg_by_leg(
    gateway: PaperGateway, connect, ibapi_connect, wait_for
) -> None:
    low, high = await call_spread_legs(await connect(gateway))
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.currency, contract.exchange = (
        "ES",
        "BAG",
        "USD",
        "CME",
    )
    contract.comboLegs = []
    for con_id, action in ((low.conId, "SELL"), (high.conId, "BUY")):
        leg = IbapiComboLeg()
        leg.conId, leg.ratio, leg.action, leg.exchange = con_id, 1, action, "CME"
        contract.comboLegs.append(leg)
    order = Order()
    order.action, order.orderType, order.totalQuantity = "BUY", "MKT", Decimal(1)
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, contract, order)  # a credit spread: sells the richer call
    await wait_for(lambda: len(peer.calls("execDetails")) == 3, what="executions")

    executions = peer.calls("execDetails")
    assert [c["contract"].secType for c in executions] == ["FOP", "FOP", "BAG"]
    low_exec, high_exec, combo_exec = (c["execution"] for c in executions)
    assert (low_exec.side, high_exec.side) == ("SLD", "BOT")
    spread = as_decimal(high_exec.price) - as_decimal(low_exec.price)
    assert spread == as_decimal(combo_exec.price)
    assert combo_exec.price < 0  # a credit
    await wait_for(lambda: len(peer.calls("commissionAndFeesReport")) == 2, what="commissions")


async def test_what_if_of_a_debit_call_spread_costs_the_long_premium_only(
    gateway: PaperGateway, ib: IB
) -> None:
    low, high = await call_spread_legs(ib)
    spread = await asyncio.wait_for(
        ib.whatIfOrderAsync(vertical(low, high), LimitOrder("BUY", 1, 1.0)), TIMEOUT
    )
    naked = await asyncio.wait_for(ib.whatIfOrderAsync(high, LimitOrder("SELL", 1, 1.0)), TIMEOUT)

    low_quote = gateway.market.quote(low.conId)
    long_premium = (low_quote.bid + low_quote.ask) / 2 * 50  # options are marked at the mid
    assert as_decimal(float(spread.initMarginChange)) == long_premium
    assert float(spread.initMarginChange) < float(naked.initMarginChange) + float(long_premium)
    assert not ib.positions()


async def test_a_working_option_spread_is_cancelled_when_its_options_expire(
    make_gateway, connect, wait_for, record_errors
) -> None:
    # OGJ5 (gold options) stops at 12:30 Chicago (17:30 UTC) on 26 March 2025
    gateway = await make_gateway(as_of=datetime(2025, 3, 26, 16, 0, tzinfo=UTC))
    ib: IB = await connect(gateway)
    low, high = await asyncio.wait_for(
        ib.qualifyContractsAsync(
            FuturesOption("GC", "20250326", 3500, "C", "COMEX"),
            FuturesOption("GC", "20250326", 3600, "C", "COMEX"),
        ),
        TIMEOUT,
    )
    held = ib.placeOrder(low, MarketOrder("BUY", 1))
    await wait_for(lambda: held.isDone(), what="an option held into expiry")
    spread = Contract(
        secType="BAG",
        symbol="GC",
        exchange="COMEX",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=low.conId, ratio=1, action="BUY", exchange="COMEX"),
            ComboLeg(conId=high.conId, ratio=1, action="SELL", exchange="COMEX"),
        ],
    )
    errors = record_errors(ib)
    # a debit spread is never worth less than nothing: a bid below zero keeps working
    working = ib.placeOrder(spread, LimitOrder("BUY", 1, -1.0))
    await wait_for(lambda: working.orderStatus.status == "Submitted", what="a working spread")

    gateway.clock.advance(timedelta(hours=2))
    await wait_for(lambda: working.orderStatus.status == "Cancelled", what="cancelled at expiry")
    assert 202 in errors.codes
    assert not working.fills
