"""Orders on options on futures over TCP: fills against the option's quote, IB's futures option
commissions, positions and portfolio valued with the multiplier, P&L, what-if margins for long
and short options, prices refused off the tick grid, and what expiry does to a position (out
of the money: worthless; in the money: the future at the strike, or cash where the option
expires with its future). ib_insync and IB's own ibapi client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ibapi.contract import Contract as IbapiContract
from ibapi.order import Order as IbapiOrder

from ibconsole.broker.ib_client import IB, FuturesOption, LimitOrder, MarketOrder
from ibconsole.sim import PaperGateway

ACCOUNT = "DU1234567"
REPLY_TIMEOUT = 3.0


async def _option(ib: IB, *args, **kwargs) -> FuturesOption:
    (contract,) = await ib.qualifyContractsAsync(FuturesOption(*args, **kwargs))
    return contract


async def test_a_market_order_buys_at_the_ask_and_books_the_premium(
    gateway: PaperGateway, connect, wait_for
) -> None:
    ib: IB = await connect(gateway)
    option = await _option(ib, "ES", "20250321", 6000, "C", "CME")
    quote = gateway.market.quote(option.conId)
    trade = ib.placeOrder(option, MarketOrder("BUY", 2, account=ACCOUNT))
    await wait_for(lambda: trade.isDone() and trade.fills, what="the fill")
    (fill,) = trade.fills
    assert trade.orderStatus.status == "Filled"
    assert fill.execution.price in (float(quote.ask), float(gateway.market.quote(option.conId).ask))
    assert fill.contract.secType == "FOP"
    assert fill.contract.right == "C"
    assert fill.contract.strike == 6000.0
    await wait_for(lambda: fill.commissionReport.commission, what="the commission")
    # 0.85 IBKR + 0.55 CME + 0.02 regulatory per contract
    assert fill.commissionReport.commission == 2.84
    await wait_for(lambda: ib.positions(), what="the position")
    (position,) = ib.positions()
    assert position.position == 2
    # IB's average cost includes the commission: 1.42 per contract
    assert position.avgCost == pytest.approx(fill.execution.price * 50 + 1.42)
    snapshot = gateway.desk.account(ACCOUNT)
    paid = Decimal(repr(fill.execution.price)) * 50 * 2
    assert snapshot.cash == Decimal(1_000_000) - paid - Decimal("2.84")
    assert snapshot.option_value > 0
    assert snapshot.net_liquidation == snapshot.cash + snapshot.option_value


async def test_portfolio_and_pnl_value_an_option_with_its_multiplier(
    gateway: PaperGateway, connect, wait_for
) -> None:
    ib: IB = await connect(gateway)
    option = await _option(ib, "CL", "20250416", 70, "P", "NYMEX")
    trade = ib.placeOrder(option, MarketOrder("SELL", 3, account=ACCOUNT))
    await wait_for(lambda: trade.isDone(), what="the fill")
    await ib.reqAccountUpdatesAsync(ACCOUNT)
    await wait_for(lambda: ib.portfolio(), what="the portfolio")
    (item,) = ib.portfolio()
    quote = gateway.market.quote(option.conId)
    assert item.position == -3
    # a short's average cost is its proceeds less the commission (2.37 per LO contract)
    assert item.averageCost == pytest.approx(trade.orderStatus.avgFillPrice * 1000 - 2.37)
    assert abs(item.marketValue - item.marketPrice * -3 * 1000) < 0.01
    assert float(quote.bid) - 0.05 <= item.marketPrice <= float(quote.ask) + 0.05
    pnl = ib.reqPnLSingle(ACCOUNT, "", option.conId)
    await wait_for(lambda: pnl.position == -3, what="the P&L of the option")
    assert abs(pnl.value - item.marketPrice * -3 * 1000) < 100
    # unrealized P&L is the value less the average cost, commission included, as IB computes it
    expected = pnl.value - item.averageCost * -3
    assert abs(pnl.unrealizedPnL - expected) < 0.01


async def test_what_if_a_short_option_needs_more_than_its_premium(
    gateway: PaperGateway, connect
) -> None:
    ib: IB = await connect(gateway)
    option = await _option(ib, "GC", "20250326", 2700, "C", "COMEX")
    long = await ib.whatIfOrderAsync(option, MarketOrder("BUY", 1, account=ACCOUNT))
    short = await ib.whatIfOrderAsync(option, MarketOrder("SELL", 1, account=ACCOUNT))
    quote = gateway.market.quote(option.conId)
    premium = float((quote.bid + quote.ask) / 2) * 100
    assert abs(float(long.initMarginChange) - premium) < 50
    assert float(short.initMarginChange) > premium + 950  # at least a tenth of GC's 9,500
    assert float(short.maintMarginChange) < float(short.initMarginChange)
    assert float(long.commission) == 2.37  # 0.85 + 1.50 COMEX + 0.02
    assert not ib.positions()


async def test_option_prices_must_sit_on_the_market_rules_grid(
    gateway: PaperGateway, connect, wait_for, record_errors
) -> None:
    ib: IB = await connect(gateway)
    errors = record_errors(ib)
    cheap = await _option(ib, "ES", "20250321", 5300, "P", "CME")
    rich = await _option(ib, "ES", "20250321", 6000, "C", "CME")
    off_fine = ib.placeOrder(cheap, LimitOrder("BUY", 1, 0.07, account=ACCOUNT))
    off_coarse = ib.placeOrder(rich, LimitOrder("BUY", 1, 10.10, account=ACCOUNT))
    fine = ib.placeOrder(cheap, LimitOrder("BUY", 1, 0.05, account=ACCOUNT))
    coarse = ib.placeOrder(rich, LimitOrder("BUY", 1, 10.25, account=ACCOUNT))
    await wait_for(lambda: errors.codes.count(201) == 2, what="two rejects")
    await wait_for(lambda: fine.orderStatus.status and coarse.orderStatus.status, what="acks")
    assert off_fine.orderStatus.status == "Cancelled"
    assert off_coarse.orderStatus.status == "Cancelled"
    assert "0.05" in errors[0][2]
    assert "0.25" in errors[1][2]
    await wait_for(lambda: fine.orderStatus.status == "Submitted", what="the fine order")
    assert coarse.orderStatus.status == "Submitted"
    fractional = ib.placeOrder(rich, LimitOrder("BUY", 0.5, 10.25, account=ACCOUNT))
    await wait_for(lambda: fractional.isDone(), what="the fractional reject")
    assert "whole contracts" in fractional.log[-1].message


async def _expiry_gateway(make_gateway, at: datetime) -> PaperGateway:
    return await make_gateway(as_of=at)


async def test_at_expiry_in_the_money_becomes_the_future_and_out_of_the_money_expires(
    make_gateway, connect, wait_for
) -> None:
    # LOK5 stops trading at 13:30 Chicago (18:30 UTC) on 16 April 2025; start 3 s before
    gateway = await _expiry_gateway(make_gateway, datetime(2025, 4, 16, 18, 29, 57, tzinfo=UTC))
    ib: IB = await connect(gateway)
    itm_call = await _option(ib, "CL", "20250416", 55, "C", "NYMEX")
    itm_put = await _option(ib, "CL", "20250416", 90, "P", "NYMEX")
    otm_call = await _option(ib, "CL", "20250416", 90, "C", "NYMEX")
    trades = [
        ib.placeOrder(itm_call, MarketOrder("BUY", 2, account=ACCOUNT)),
        ib.placeOrder(itm_put, MarketOrder("SELL", 1, account=ACCOUNT)),
        # seconds from expiry an option far out of the money is offered at one tick, bid 0
        ib.placeOrder(otm_call, MarketOrder("BUY", 1, account=ACCOUNT)),
    ]
    resting = ib.placeOrder(itm_put, LimitOrder("BUY", 1, 0.5, account=ACCOUNT))
    await wait_for(lambda: all(t.isDone() for t in trades), what="the fills")
    prices = [Decimal(repr(t.orderStatus.avgFillPrice)) for t in trades]
    assert prices[2] == Decimal("0.01")
    await wait_for(
        lambda: {p.contract.secType for p in ib.positions()} == {"FUT"},
        timeout=8,
        what="the options to expire",
    )
    (future,) = ib.positions()
    await wait_for(lambda: resting.isDone(), what="the working order to end with its option")
    assert resting.orderStatus.status == "Cancelled"
    assert future.contract.localSymbol == "CLK5"
    # long calls and a short put in the money: long the future at their strikes
    assert future.position == 3
    assert abs(future.avgCost - (55.0 * 2 + 90.0) / 3 * 1000) < 0.01
    account = gateway.desk.account(ACCOUNT)
    # premiums paid are lost and the premium received is kept; the strikes' value is now
    # the future's
    # the premiums paid are lost and the premium received is kept, net of the commissions, as IB
    # reports realized P&L
    expected = (prices[1] - prices[0] * 2 - prices[2]) * 1000 - account.commissions
    assert account.commissions > 0
    assert account.realized_pnl == expected
    assert account.option_value == 0


async def test_an_option_expires_when_the_clock_is_moved_past_its_last_trade(
    make_gateway, connect, wait_for
) -> None:
    # OGJ5 stops at 12:30 Chicago (17:30 UTC) on 26 March 2025
    gateway = await _expiry_gateway(make_gateway, datetime(2025, 3, 26, 16, 0, tzinfo=UTC))
    ib: IB = await connect(gateway)
    far_call = await _option(ib, "GC", "20250326", 3500, "C", "COMEX")
    trade = ib.placeOrder(far_call, MarketOrder("BUY", 1, account=ACCOUNT))
    await wait_for(lambda: trade.isDone() and ib.positions(), what="the fill")
    premium = Decimal(repr(trade.orderStatus.avgFillPrice))
    gateway.clock.advance(timedelta(hours=2))
    await wait_for(lambda: not ib.positions(), timeout=5, what="the option to expire worthless")
    # the premium is lost, and the 2.37 commission with it
    assert gateway.desk.account(ACCOUNT).realized_pnl == -premium * 100 - Decimal("2.37")


async def test_quarterly_equity_options_settle_in_cash_with_their_future(
    make_gateway, connect, wait_for
) -> None:
    # ESH5 and its options stop at 08:30 Chicago (13:30 UTC) on 21 March 2025
    gateway = await _expiry_gateway(make_gateway, datetime(2025, 3, 21, 13, 29, 57, tzinfo=UTC))
    ib: IB = await connect(gateway)
    option = await _option(ib, "ES", "20250321", 5500, "C", "CME")
    trade = ib.placeOrder(option, MarketOrder("BUY", 1, account=ACCOUNT))
    await wait_for(lambda: trade.isDone(), what="the fill")
    premium = Decimal(repr(trade.orderStatus.avgFillPrice))
    await wait_for(lambda: ib.positions(), what="the position")
    await wait_for(lambda: not ib.positions(), timeout=8, what="the option to settle")
    future = gateway.catalogue.by_con_id(gateway.catalogue.by_con_id(option.conId).under_con_id)
    settlement = gateway.market.quote(future.con_id).last
    account = gateway.desk.account(ACCOUNT)
    # bought at the ask, settled at the intrinsic value of the final price; no future position
    assert abs(account.realized_pnl - (settlement - 5500 - premium) * 50) <= 50
    assert gateway.desk.positions(ACCOUNT) == []
    # realized P&L is net of the 1.42 commission, as IB reports it
    assert account.commissions == Decimal("1.42")
    assert account.cash == Decimal(1_000_000) + account.realized_pnl


async def test_ibapi_sees_an_option_fill_and_position(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        "GC",
        "FOP",
        "COMEX",
        "USD",
    )
    contract.lastTradeDateOrContractMonth, contract.strike, contract.right = "20250424", 2750, "P"
    contract.tradingClass = "OG"
    order = IbapiOrder()
    order.action, order.orderType, order.totalQuantity = "BUY", "MKT", Decimal(1)
    order.account = ACCOUNT
    peer.client.reqPositions()
    order_id = peer.next_order_id
    peer.client.placeOrder(order_id, contract, order)
    await wait_for(lambda: peer.calls("commissionAndFeesReport"), what="the commission report")
    (details,) = peer.calls("execDetails")
    assert details["contract"].secType == "FOP"
    assert details["contract"].localSymbol == "OGK5 P2750"
    assert details["contract"].strike == 2750.0
    assert details["contract"].right == "P"
    assert details["contract"].multiplier == "100"
    assert (
        peer.calls("commissionAndFeesReport")[-1]["commissionAndFeesReport"].commissionAndFees
        == 2.37
    )
    await wait_for(
        lambda: any(call["contract"].secType == "FOP" for call in peer.calls("position")),
        what="the position",
    )
    position = [call for call in peer.calls("position") if call["contract"].secType == "FOP"][-1]
    assert position["position"] == 1
    assert position["avgCost"] == pytest.approx(details["execution"].price * 100 + 2.37)
