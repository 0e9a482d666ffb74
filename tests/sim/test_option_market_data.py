"""Option chains, option quotes and IB's option computations over TCP, as an unmodified
ib_insync client and IB's own ibapi client see them: reqSecDefOptParams, ticker greeks from
ticks 10-13, option volume / open interest / implied volatility generic ticks, quotes on the
tick grid and consistent with put-call parity, and the option calculator (tick type 53)."""

from __future__ import annotations

import math
from decimal import Decimal

from ibapi.contract import Contract as IbapiContract

from ibconsole.broker.ib_client import IB, Future, FuturesOption, Ticker
from ibconsole.sim import PaperGateway
from ibconsole.sim.volatility_smile import RATE

REPLY_TIMEOUT = 3.0


async def _qualified(ib: IB, *contracts):
    return await ib.qualifyContractsAsync(*contracts)


def _years(gateway: PaperGateway, option) -> float:
    instrument = gateway.catalogue.by_con_id(option.conId)
    assert instrument is not None
    expires = instrument.expires_at
    assert expires is not None
    return (expires - gateway.clock.now()).total_seconds() / (365 * 24 * 3600)


def _on_grid(price: float) -> bool:
    """E-mini options: 0.05 up to 5.00, 0.25 above."""
    step = Decimal("0.05") if price < 5 else Decimal("0.25")
    return Decimal(repr(price)) % step == 0


async def test_sec_def_opt_params_list_each_class_on_a_future(
    gateway: PaperGateway, connect
) -> None:
    ib: IB = await connect(gateway)
    esm5, clk5, gcj5 = await _qualified(
        ib, Future("ES", "202506", "CME"), Future("CL", "202505", "NYMEX"),
        Future("GC", "202504", "COMEX"),
    )  # fmt: skip
    chains = await ib.reqSecDefOptParamsAsync("ES", "CME", "FUT", esm5.conId)
    by_class = {chain.tradingClass: chain for chain in chains}
    # ESM5 underlies the June quarterlies and the March, April and May end-of-month options
    assert set(by_class) == {"ES", "EW"}
    assert by_class["ES"].expirations == ["20250620"]
    assert by_class["EW"].expirations == ["20250331", "20250430", "20250530"]
    for chain in chains:
        assert chain.exchange == "CME"
        assert int(chain.underlyingConId) == esm5.conId  # ib_insync keeps it as text
        assert chain.multiplier == "50"
        assert 5900.0 in chain.strikes
        assert 6000.0 in chain.strikes
    (crude,) = await ib.reqSecDefOptParamsAsync("CL", "NYMEX", "FUT", clk5.conId)
    assert (crude.tradingClass, crude.multiplier, crude.expirations) == ("LO", "1000", ["20250416"])
    assert {70.0, 70.5, 71.0} <= set(crude.strikes)
    gold = await ib.reqSecDefOptParamsAsync("GC", "COMEX", "FUT", gcj5.conId)
    # GCJ5 underlies the April options (and March's, which expired on 24 February)
    assert [(c.tradingClass, c.multiplier, c.expirations) for c in gold] == [
        ("OG", "100", ["20250326"])
    ]
    assert await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", 265598) == []


async def test_an_option_ticker_carries_ibs_greeks(
    gateway: PaperGateway, connect, wait_for
) -> None:
    ib: IB = await connect(gateway)
    (option,) = await _qualified(ib, FuturesOption("ES", "20250321", 6000, "C", "CME"))
    ticker: Ticker = ib.reqMktData(option, "100,101,106")
    await wait_for(
        lambda: ticker.modelGreeks and ticker.bidGreeks and ticker.askGreeks and ticker.bid > 0,
        timeout=REPLY_TIMEOUT,
        what="option computations",
    )
    model, bid, ask = ticker.modelGreeks, ticker.bidGreeks, ticker.askGreeks
    assert 0.05 < model.impliedVol < 0.6
    assert 0 < model.delta < 1
    assert model.gamma > 0
    assert model.vega > 0
    assert model.theta < 0
    assert model.pvDividend == 0.0
    underlying = gateway.market.quote(gateway.catalogue.by_con_id(option.conId).under_con_id)
    assert abs(model.undPrice - float(underlying.bid + underlying.ask) / 2) < 20
    # the bid's and ask's computations price exactly the quote; volatility rises with price
    assert bid.optPrice == ticker.bid
    assert ask.optPrice == ticker.ask
    assert bid.impliedVol < model.impliedVol < ask.impliedVol
    assert ticker.bid < model.optPrice < ticker.ask
    assert _on_grid(ticker.bid)
    assert _on_grid(ticker.ask)
    assert ticker.callVolume >= 0
    assert ticker.callOpenInterest > 0
    assert ticker.impliedVolatility == model.impliedVol


async def test_greeks_follow_the_underlying(gateway: PaperGateway, connect, wait_for) -> None:
    ib: IB = await connect(gateway)
    (option,) = await _qualified(ib, FuturesOption("ES", "20250321", 6000, "C", "CME"))
    ticker = ib.reqMktData(option)
    await wait_for(lambda: ticker.modelGreeks, what="model greeks")
    first = ticker.modelGreeks
    await wait_for(
        lambda: ticker.modelGreeks.undPrice != first.undPrice, timeout=10, what="a new underlying"
    )
    moved = ticker.modelGreeks
    # a call gains with its future: delta and price move the way the future did
    up = moved.undPrice > first.undPrice
    assert (moved.delta > first.delta) == up
    assert (moved.optPrice > first.optPrice) == up


async def test_quotes_respect_put_call_parity_and_the_skew(
    gateway: PaperGateway, connect, wait_for
) -> None:
    ib: IB = await connect(gateway)
    call, put, low_put = await _qualified(
        ib,
        FuturesOption("ES", "20250321", 5950, "C", "CME"),
        FuturesOption("ES", "20250321", 5950, "P", "CME"),
        FuturesOption("ES", "20250321", 5600, "P", "CME"),
    )
    tickers = [ib.reqMktData(contract) for contract in (call, put, low_put)]
    years = _years(gateway, call)
    discount = math.exp(-RATE * years)

    def parity() -> bool:
        c, p, _ = tickers
        if not (c.modelGreeks and p.modelGreeks and c.bid > 0 and p.bid > 0):
            return False
        forward = c.modelGreeks.undPrice
        if p.modelGreeks.undPrice != forward:
            return False
        carry = discount * (forward - 5950)
        model = c.modelGreeks.optPrice - p.modelGreeks.optPrice
        quoted = c.bid - p.ask <= carry <= c.ask - p.bid
        return abs(model - carry) < 0.01 and quoted

    await wait_for(parity, timeout=REPLY_TIMEOUT, what="put-call parity in quotes and model")
    await wait_for(lambda: tickers[2].modelGreeks, what="the low put's greeks")
    assert tickers[2].modelGreeks.impliedVol > tickers[1].modelGreeks.impliedVol
    assert 0 < tickers[2].bid < 5 or _on_grid(tickers[2].bid)
    assert _on_grid(tickers[2].ask)


async def test_crude_and_gold_options_quote_on_their_own_ticks(
    gateway: PaperGateway, connect, wait_for
) -> None:
    ib: IB = await connect(gateway)
    crude, gold = await _qualified(
        ib,
        FuturesOption("CL", "20250416", 70, "P", "NYMEX"),
        FuturesOption("GC", "20250326", 2700, "C", "COMEX"),
    )
    lo, og = ib.reqMktData(crude, "101"), ib.reqMktData(gold)
    await wait_for(lambda: lo.modelGreeks and og.modelGreeks and lo.ask > 0, what="quotes")
    assert Decimal(repr(lo.ask)) % Decimal("0.01") == 0
    assert Decimal(repr(og.ask)) % Decimal("0.1") == 0
    assert lo.modelGreeks.delta < 0
    assert lo.putOpenInterest > 0
    assert og.modelGreeks.delta > 0


async def test_the_option_calculator_answers_with_tick_type_53(
    gateway: PaperGateway, connect
) -> None:
    ib: IB = await connect(gateway)
    (option,) = await _qualified(ib, FuturesOption("ES", "20250321", 6000, "P", "CME"))
    priced = await ib.calculateOptionPriceAsync(option, 0.2, 6000.0)
    assert priced is not None
    assert priced.impliedVol == 0.2
    assert priced.undPrice == 6000.0
    assert -0.6 < priced.delta < -0.4
    implied = await ib.calculateImpliedVolatilityAsync(option, priced.optPrice, 6000.0)
    assert implied is not None
    assert abs(implied.impliedVol - 0.2) < 1e-4
    assert implied.optPrice == priced.optPrice
    nothing = await ib.calculateImpliedVolatilityAsync(option, 0.0, 6000.0)
    assert not nothing  # error 321 ends the request without a computation


async def test_ibapi_decodes_chains_option_computations_and_the_calculator(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    future = gateway.catalogue.match(
        ["", "CL", "FUT", "202505", "", "", "", "NYMEX", "", "", "", ""]
    )[0]
    peer.client.reqSecDefOptParams(4, "CL", "NYMEX", "FUT", future.con_id)
    await wait_for(lambda: list(peer.by_request("securityDefinitionOptionParameterEnd", 4)))
    (chain,) = list(peer.by_request("securityDefinitionOptionParameter", 4))
    assert chain["tradingClass"] == "LO"
    assert chain["underlyingConId"] == future.con_id
    assert chain["expirations"] == {"20250416"}
    assert 70.0 in chain["strikes"]

    option = IbapiContract()
    option.symbol, option.secType, option.exchange, option.currency = "CL", "FOP", "NYMEX", "USD"
    option.lastTradeDateOrContractMonth, option.strike, option.right = "20250416", 70.0, "C"
    peer.client.reqMktData(5, option, "", False, False, [])

    def computations() -> set[int]:
        return {call["tickType"] for call in peer.by_request("tickOptionComputation", 5)}

    await wait_for(lambda: {10, 11, 13} <= computations(), what="bid, ask and model greeks")
    model = [c for c in peer.by_request("tickOptionComputation", 5) if c["tickType"] == 13][-1]
    assert 0 < model["delta"] < 1
    assert model["impliedVol"] > 0
    assert model["undPrice"] > 0
    assert model["tickAttrib"] == 0
    con_id = gateway.catalogue.match(
        ["", "CL", "FOP", "20250416", "70", "C", "", "NYMEX", "", "USD", "", ""]
    )[0].con_id
    assert gateway.market.is_held(con_id)
    assert gateway.market.is_held(future.con_id)  # the option's future ticks with it
    peer.client.cancelMktData(5)
    await wait_for(lambda: not gateway.market.is_held(con_id), what="the option released")
    assert not gateway.market.is_held(future.con_id)

    peer.client.calculateImpliedVolatility(6, option, 3.0, 70.0, [])
    await wait_for(lambda: list(peer.by_request("tickOptionComputation", 6)), what="the calculator")
    (custom,) = list(peer.by_request("tickOptionComputation", 6))
    assert custom["tickType"] == 53
    assert 0.1 < custom["impliedVol"] < 1.0
    assert custom["optPrice"] == 3.0
    peer.client.cancelCalculateImpliedVolatility(6)
    peer.client.calculateOptionPrice(7, option, 0.3, 70.0, [])
    await wait_for(lambda: list(peer.by_request("tickOptionComputation", 7)), what="the price")
    (price,) = list(peer.by_request("tickOptionComputation", 7))
    assert price["tickType"] == 53
    assert price["optPrice"] > 0
    peer.client.calculateImpliedVolatility(8, future_contract("CL"), 3.0, 70.0, [])
    await wait_for(lambda: any(e[0] == 8 for e in peer.errors), what="the error")
    assert [e[1] for e in peer.errors if e[0] == 8] == [321]


def future_contract(symbol: str) -> IbapiContract:
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.exchange = symbol, "FUT", "NYMEX"
    contract.currency, contract.lastTradeDateOrContractMonth = "USD", "202505"
    return contract


async def test_delayed_option_data_uses_the_delayed_computation_ticks(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    option = IbapiContract()
    option.symbol, option.secType, option.exchange, option.currency = "ES", "FOP", "CME", "USD"
    option.lastTradeDateOrContractMonth, option.strike, option.right = "20250321", 6000.0, "P"
    peer.client.reqMarketDataType(3)
    peer.client.reqMktData(9, option, "", False, False, [])

    def tick_types() -> set[int]:
        return {call["tickType"] for call in peer.by_request("tickOptionComputation", 9)}

    await wait_for(lambda: {80, 81, 83} <= tick_types(), what="delayed bid, ask and model")
    assert tick_types() <= {80, 81, 82, 83}
    model = [c for c in peer.by_request("tickOptionComputation", 9) if c["tickType"] == 83][-1]
    assert model["delta"] < 0


async def test_a_future_gives_its_thirty_day_implied_volatility(
    gateway: PaperGateway, connect, wait_for, qualified_future
) -> None:
    ib: IB = await connect(gateway)
    future = await qualified_future(ib, "ES", "202506")
    ticker = ib.reqMktData(future, "106")
    await wait_for(lambda: not math.isnan(ticker.impliedVolatility), what="tick 24")
    assert 0.1 < ticker.impliedVolatility < 0.3


async def test_option_history_ends_at_the_quote_and_leaves_it_priced_by_the_model(
    gateway: PaperGateway, connect
) -> None:
    ib: IB = await connect(gateway)
    (option,) = await _qualified(ib, FuturesOption("ES", "20250321", 6000, "C", "CME"))
    bars = await ib.reqHistoricalDataAsync(option, "", "1 D", "5 mins", "TRADES", True)
    assert bars
    quote = gateway.market.quote(option.conId)
    assert bars[-1].close == float(quote.last)
    instrument = gateway.catalogue.by_con_id(option.conId)
    underlying = gateway.market.quote(instrument.under_con_id)
    model = gateway.option_book.model(instrument, underlying, gateway.clock.now())
    assert quote.bid < model.greeks.price < quote.ask
