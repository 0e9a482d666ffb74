"""The simulated broker's books: positions, average cost, P&L, commissions, margin, values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibconsole.sim.accounts import SUMMARY_TAGS, Accounts
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue, Instrument

D = Decimal
PAPER = "DU1234567"
LIVE = "U7654321"
# the tag list ib_insync's accountSummaryAsync sends (also on error 1102)
IB_INSYNC_TAGS = [
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadNextChange",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "HighestSeverity",
    "DayTradesRemaining",
    "DayTradesRemainingT+1",
    "DayTradesRemainingT+2",
    "DayTradesRemainingT+3",
    "DayTradesRemainingT+4",
    "Leverage",
    "$LEDGER:ALL",
]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(SimClock(datetime(2025, 1, 15, 15, tzinfo=UTC)))


def listed(catalogue: Catalogue, local_symbol: str) -> Instrument:
    return next(i for i in catalogue.listed() if i.local_symbol == local_symbol)


@pytest.fixture(scope="module")
def mes(catalogue: Catalogue) -> Instrument:
    return listed(catalogue, "MESH5")


@pytest.fixture(scope="module")
def es(catalogue: Catalogue) -> Instrument:
    return listed(catalogue, "ESH5")


@pytest.fixture(scope="module")
def aapl(catalogue: Catalogue) -> Instrument:
    return listed(catalogue, "AAPL")


def at(price: str):
    return lambda _instrument: D(price)


def test_opening_fill_sets_average_cost_price_times_multiplier_plus_commission(
    mes: Instrument,
) -> None:
    books = Accounts([PAPER])
    charge = books.apply_fill(PAPER, mes, "BUY", D(1), D("5000.25"))
    assert charge.commission == D("0.62")
    assert charge.realized_pnl is None
    (view,) = books.positions(PAPER, at("5001.25"))
    assert view.avg_cost == D("25001.87")
    assert view.unrealized_pnl == D("4.38")
    assert view.market_value == D("25006.25")


def test_es_average_cost_includes_commission_as_ib_reports_it(es: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, es, "BUY", D(1), D("6005.25"))
    (view,) = books.positions(PAPER, at("6005.25"))
    assert view.avg_cost == D("300264.75")
    assert view.unrealized_pnl == D("-2.25")


def test_a_short_costs_its_proceeds_less_commission(es: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, es, "SELL", D(2), D("6000.00"))
    (view,) = books.positions(PAPER, at("6000.00"))
    assert view.avg_cost == D("299997.75")
    assert view.unrealized_pnl == D("-4.50")
    charge = books.apply_fill(PAPER, es, "BUY", D(2), D("5990.00"))
    assert charge.realized_pnl == D("991.00")  # 2 × 10 points × 50 − 4 × 2.25


def test_adding_averages_and_closing_realizes(mes: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, mes, "BUY", D(1), D("5000.00"))
    books.apply_fill(PAPER, mes, "BUY", D(1), D("5001.00"))
    (view,) = books.positions(PAPER, at("5001.00"))
    assert view.avg_cost == D("5000.50") * 5 + D("0.62")
    charge = books.apply_fill(PAPER, mes, "SELL", D(2), D("5002.00"))
    assert charge.realized_pnl == D("15.00") - 4 * D("0.62")
    assert books.positions(PAPER, at("5002")) == []
    closed = books.position(PAPER, mes.con_id, at("5002"))
    assert closed is not None
    assert closed.quantity == 0
    assert closed.realized_pnl == D("12.52")


def test_flipping_through_zero_opens_the_rest_at_the_fill_price(es: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, es, "SELL", D(1), D("6000.00"))
    charge = books.apply_fill(PAPER, es, "BUY", D(3), D("5990.00"))
    # the short's open and a third of this fill's commission close it
    assert charge.realized_pnl == D("500.00") - D("2.25") - D("2.25")
    assert charge.commission == D("6.75")
    (view,) = books.positions(PAPER, at("5990"))
    assert view.quantity == 2
    assert view.avg_cost == D("5990.00") * 50 + D("2.25")


def test_futures_settle_pnl_and_commissions_into_cash(es: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, es, "BUY", D(1), D("6000.00"))
    open_snapshot = books.snapshot(PAPER, at("6002.00"))
    assert open_snapshot.cash == D("999997.75")
    assert open_snapshot.unrealized_pnl == D("97.75")
    assert open_snapshot.futures_pnl == D("100.00")
    assert open_snapshot.net_liquidation == D("1000097.75")
    assert open_snapshot.net_liquidation == D(1_000_000) + open_snapshot.unrealized_pnl
    assert open_snapshot.init_margin == D("15800.00")
    assert open_snapshot.available_funds == D("1000097.75") - D("15800.00")
    books.apply_fill(PAPER, es, "SELL", D(1), D("6002.00"))
    closed = books.snapshot(PAPER, at("6002.00"))
    assert closed.realized_pnl == D("95.50")
    assert closed.cash == D("1000095.50")
    assert closed.net_liquidation == D(1_000_000) + closed.realized_pnl
    assert closed.daily_pnl == D("95.50")
    assert closed.init_margin == 0


def test_stocks_pay_their_notional(aapl: Instrument) -> None:
    books = Accounts([PAPER])
    charge = books.apply_fill(PAPER, aapl, "BUY", D(100), D("200.00"))
    assert charge.commission == D("1.00")
    snapshot = books.snapshot(PAPER, at("201.00"))
    assert snapshot.cash == D("1000000") - D("20000.00") - D("1.00")
    assert snapshot.stock_value == D("20100.00")
    assert snapshot.gross_position_value == D("20100.00")
    assert snapshot.net_liquidation == D("1000099.00")
    assert snapshot.init_margin == D("10050.00")


def test_what_if_reports_margin_before_and_after(es: Instrument, mes: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, es, "BUY", D(1), D("6000.00"))
    opening = books.what_if(PAPER, [(mes, D(2))], D("6000.00"), at("6000.00"))
    assert opening.init_before == D("15800.00")
    assert opening.init_change == D("3160.00")
    assert opening.maint_after == (D("15800.00") + D("3160.00")) * D("0.91")
    assert opening.commission == D("1.24")
    assert opening.equity_change == D("-1.24")
    reducing = books.what_if(PAPER, [(es, D(-1))], D("6000.00"), at("6000.00"))
    assert reducing.init_after == 0
    assert reducing.init_change == D("-15800.00")


def test_several_accounts_keep_separate_books(mes: Instrument) -> None:
    books = Accounts([PAPER, LIVE])
    assert books.resolve("") == PAPER
    assert books.resolve(LIVE) == LIVE
    assert books.resolve("DU999") is None
    books.apply_fill(LIVE, mes, "SELL", D(3), D("5000"))
    assert books.positions(PAPER, at("5000")) == []
    assert books.quantity(LIVE, mes.con_id) == -3


@pytest.mark.parametrize("codes", [[], ["DU1", "DU1"], ["DU,1"], [""]])
def test_account_codes_are_checked(codes: list[str]) -> None:
    with pytest.raises(ValueError, match="account"):
        Accounts(codes)


def test_summary_answers_every_tag_ib_insync_asks_for(mes: Instrument) -> None:
    books = Accounts([PAPER])
    books.apply_fill(PAPER, mes, "BUY", D(1), D("5000"))
    rows = books.snapshot(PAPER, at("5000")).summary(IB_INSYNC_TAGS)
    tags = {tag for tag, _, _ in rows}
    assert tags >= set(IB_INSYNC_TAGS[:-1])
    assert set(SUMMARY_TAGS) == set(IB_INSYNC_TAGS[:-1])
    ledger = {(tag, currency) for tag, _, currency in rows if tag == "CashBalance"}
    assert ledger == {("CashBalance", "BASE"), ("CashBalance", "USD")}
    for tag, value, _ in rows:
        if tag != "AccountType":
            float(value)  # every value parses as a number, as clients expect


def test_account_values_carry_the_keys_a_console_shows(mes: Instrument) -> None:
    books = Accounts([PAPER])
    values = {
        (key, currency): value for key, value, currency in books.snapshot(PAPER, at("1")).values()
    }
    assert values[("NetLiquidation", "USD")] == "1000000.00"
    assert values[("AvailableFunds", "USD")] == "1000000.00"
    assert values[("BuyingPower", "USD")] == "4000000.00"
    assert values[("AccountType", "")] == "INDIVIDUAL"
    assert values[("AccountCode", "")] == PAPER
    for key in ("TotalCashValue", "ExcessLiquidity", "InitMarginReq", "MaintMarginReq"):
        assert (key, "USD") in values
    for key in ("UnrealizedPnL", "RealizedPnL"):
        assert (key, "BASE") in values
