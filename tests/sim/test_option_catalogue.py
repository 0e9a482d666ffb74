"""Options on futures in the simulator's catalogue: expiry rules against published dates, the
underlying month, IB's local symbols, strikes on each product's grid, and FOP contract details
as ib_insync and IB's own ibapi client decode them over TCP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from ibapi.contract import Contract as IbapiContract

from ibconsole.broker.ib_client import IB, Contract, FuturesOption
from ibconsole.sim import PaperGateway
from ibconsole.sim import option_expiries as rules
from ibconsole.sim.instruments import MARKET_RULES, price_increment


@pytest.mark.parametrize(
    ("rule", "year", "month", "expected"),
    [
        # ES quarterly options stop with the future, 3rd Friday (CME 358A)
        (rules.equity_index_quarterly, 2025, 3, date(2025, 3, 21)),
        (rules.equity_index_quarterly, 2025, 6, date(2025, 6, 20)),
        # EW end-of-month: last business day (31 May 2025 is a Saturday)
        (rules.end_of_month, 2025, 5, date(2025, 5, 30)),
        (rules.end_of_month, 2025, 3, date(2025, 3, 31)),
        # LO: 3 business days before CL's last trade; "CL Sept contract options expired last
        # Wed on the 17th" (August 2011, CLU1 stopped on 22 August)
        (rules.crude_oil_options, 2011, 9, date(2011, 8, 17)),
        (rules.crude_oil_options, 2025, 4, date(2025, 3, 17)),
        (rules.crude_oil_options, 2025, 5, date(2025, 4, 16)),  # Good Friday skipped
        # OG: published 2011 COMEX gold options calendar (goldprice.org, "Gold and Silver
        # Options Expiry"): 26 Jan, 23 Feb, 28 Mar, 26 Apr, 27 Jun, 26 Jul, 25 Aug (the 4th
        # last business day was a Friday), 27 Sep, 26 Oct
        (rules.gold_options, 2011, 2, date(2011, 1, 26)),
        (rules.gold_options, 2011, 3, date(2011, 2, 23)),
        (rules.gold_options, 2011, 4, date(2011, 3, 28)),
        (rules.gold_options, 2011, 5, date(2011, 4, 26)),
        (rules.gold_options, 2011, 7, date(2011, 6, 27)),
        (rules.gold_options, 2011, 8, date(2011, 7, 26)),
        (rules.gold_options, 2011, 9, date(2011, 8, 25)),
        (rules.gold_options, 2011, 10, date(2011, 9, 27)),
        (rules.gold_options, 2011, 11, date(2011, 10, 26)),
        # the day before Thanksgiving and the Friday after it both step back (2024: Monday 25th)
        (rules.gold_options, 2024, 12, date(2024, 11, 25)),
        (rules.gold_options, 2025, 5, date(2025, 4, 24)),
    ],
)
def test_option_last_trade_dates_follow_the_exchange_rule(rule, year, month, expected) -> None:
    assert rule(year, month) == expected


@pytest.mark.parametrize(
    ("mapping", "month", "expected"),
    [
        (rules.next_quarter, (2025, 1), (2025, 3)),
        (rules.next_quarter, (2025, 3), (2025, 6)),
        (rules.next_quarter, (2025, 12), (2026, 3)),
        (rules.gold_cycle_month, (2025, 1), (2025, 2)),
        (rules.gold_cycle_month, (2025, 2), (2025, 2)),
        (rules.gold_cycle_month, (2025, 11), (2025, 12)),
        (rules.same_month, (2025, 5), (2025, 5)),
    ],
)
def test_each_series_exercises_into_the_right_futures_month(mapping, month, expected) -> None:
    assert mapping(*month) == expected


def test_equity_option_ticks_are_finer_below_five_points(gateway: PaperGateway) -> None:
    option = gateway.option_chains.match(
        ["", "ES", "FOP", "20250321", "5800", "C", "", "CME", "", "USD", "", "ES"]
    )[0]
    assert MARKET_RULES[option.market_rule_id][0] == (Decimal(0), Decimal("0.05"))
    assert price_increment(option, Decimal("4.95")) == Decimal("0.05")
    assert price_increment(option, Decimal("5.25")) == Decimal("0.25")
    assert option.min_tick == Decimal("0.05")


def test_strikes_lie_on_each_products_grid_around_the_underlying(gateway: PaperGateway) -> None:
    chains = gateway.option_chains
    by_class = {series.option_class.trading_class: series for series in reversed(chains.series())}
    es, lo, og = by_class["ES"], by_class["LO"], by_class["OG"]
    es_strikes = chains.strikes(es)
    reference = gateway.market.quote(es.underlying.con_id).close
    near = [k for k in es_strikes if abs(k - reference) < reference * Decimal("0.04")]
    assert all(k % 5 == 0 for k in near)
    assert len(near) >= 40
    assert all(k % 100 == 0 for k in es_strikes if k > reference * Decimal("1.21"))
    assert min(es_strikes) >= reference * Decimal("0.5")
    assert max(es_strikes) <= reference * 2
    lo_strikes = chains.strikes(lo)
    assert sum(1 for k in lo_strikes if k % Decimal("2.5") != 0) > 100  # $0.50 steps
    assert all(k > 0 for k in lo_strikes)
    assert all(k % 5 == 0 for k in chains.strikes(og))


async def test_qualify_a_futures_option_gives_ibs_local_symbol(
    gateway: PaperGateway, connect
) -> None:
    ib: IB = await connect(gateway)
    es = FuturesOption("ES", "20250321", 5800, "C", "CME")
    lo = FuturesOption("CL", "202505", 70, "P", "NYMEX", tradingClass="LO")
    og = FuturesOption("GC", "202504", 2700, "C", "COMEX")
    qualified = await ib.qualifyContractsAsync(es, lo, og)
    assert [c.localSymbol for c in qualified] == ["ESH5 C5800", "LOK5 P7000", "OGJ5 C2700"]
    assert [c.multiplier for c in qualified] == ["50", "1000", "100"]
    assert lo.lastTradeDateOrContractMonth == "20250416"
    assert og.lastTradeDateOrContractMonth == "20250326"
    again = Contract(conId=es.conId)
    assert (await ib.qualifyContractsAsync(again))[0].localSymbol == "ESH5 C5800"


async def test_fop_contract_details_name_the_underlying_future(
    gateway: PaperGateway, connect
) -> None:
    ib: IB = await connect(gateway)
    (details,) = await ib.reqContractDetailsAsync(
        FuturesOption("ES", "20250331", 5800, "P", "CME", tradingClass="EW")
    )
    assert details.contract.localSymbol == "EWH5 P5800"
    assert details.contract.right == "P"
    assert details.contract.strike == 5800.0
    assert details.underSecType == "FUT"
    assert details.minTick == 0.05
    assert details.marketRuleIds == "1100"
    assert details.contractMonth == "202503"
    # TWS at v176 sends the last trade as a UTC instant: 15:00 Chicago (CDT) is 20:00 UTC
    assert details.contract.lastTradeDateOrContractMonth == "20250331"
    assert details.lastTradeTime == "20:00:00"
    (future,) = await ib.reqContractDetailsAsync(Contract(conId=details.underConId))
    # the March end-of-month option exercises into June: March stopped on the 3rd Friday
    assert future.contract.localSymbol == "ESM5"
    assert details.tradingHours == future.tradingHours
    assert details.liquidHours == future.liquidHours
    rules_reply = await ib.reqMarketRuleAsync(1100)
    assert [(r.lowEdge, r.increment) for r in rules_reply] == [(0.0, 0.05), (5.0, 0.25)]


async def test_a_month_that_two_classes_share_is_ambiguous(gateway: PaperGateway, connect) -> None:
    ib: IB = await connect(gateway)
    found = await ib.reqContractDetailsAsync(FuturesOption("ES", "202503", 5800, "C", "CME"))
    assert sorted(d.contract.localSymbol for d in found) == ["ESH5 C5800", "EWH5 C5800"]
    assert not await ib.reqContractDetailsAsync(FuturesOption("ES", "20250321", 5801, "C", "CME"))


async def test_ibapi_decodes_fop_contract_details(
    gateway: PaperGateway, ibapi_connect, wait_for
) -> None:
    peer = await ibapi_connect(gateway)
    contract = IbapiContract()
    contract.symbol, contract.secType, contract.exchange = "GC", "FOP", "COMEX"
    contract.currency, contract.lastTradeDateOrContractMonth = "USD", "202505"
    contract.strike, contract.right = 2700, "P"
    peer.client.reqContractDetails(5, contract)
    await wait_for(lambda: list(peer.by_request("contractDetailsEnd", 5)), what="details end")
    (details,) = [call["contractDetails"] for call in peer.by_request("contractDetails", 5)]
    assert details.contract.localSymbol == "OGK5 P2700"
    assert details.contract.tradingClass == "OG"
    assert details.contract.lastTradeDateOrContractMonth.startswith("20250424")
    assert details.contract.multiplier == "100"
    assert details.minTick == 0.1
    assert (
        details.underConId == gateway.option_chains.by_con_id(details.contract.conId).under_con_id
    )
    underlying = gateway.catalogue.by_con_id(details.underConId)
    assert underlying is not None
    assert underlying.local_symbol == "GCM5"
