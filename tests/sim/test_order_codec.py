"""Order and account messages of the simulator, checked against ib_insync's own Decoder.

Every outbound frame is encoded by the simulator's wire rules and fed to
``ib_insync.decoder.Decoder`` bound to the Wrapper of a real ``IB()``: a field too many or too
few in the messages ib_insync unpacks exactly shows up as a logged decode error and a missing
effect in the client's state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibconsole.broker.ib_client import IB, LIBRARY, Decoder, PnL, PnLSingle
from ibconsole.sim import account_codec as ac
from ibconsole.sim.accounts import Accounts
from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.order_codec import (
    OrderFormatError,
    commission_report_fields,
    completed_order_fields,
    decode_place_order,
    exec_details_fields,
    open_order_fields,
    order_status_fields,
)
from ibconsole.sim.orders import Execution, OrderSnapshot, WhatIf
from ibconsole.sim.wire import encode_field

ACCOUNT = "DU1234567"


def encoded(fields: Sequence[object]) -> list[str]:
    return [encode_field(value) for value in fields]


class Client:
    """A real client state (ib_async, or ib_insync) fed frame by frame, without a socket."""

    def __init__(self, server_version: int = 176, client_id: int = 7) -> None:
        self.ib = IB()
        self.ib.wrapper.clientId = client_id
        self.decoder = Decoder(self.ib.wrapper, server_version)

    def feed(self, fields: Sequence[object]) -> None:
        self.decoder.interpret(encoded(fields))


@pytest.fixture
def decode_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.set_level(logging.ERROR, logger=LIBRARY)
    return caplog.records


@pytest.fixture(scope="module")
def mes() -> Instrument:
    catalogue = Catalogue(SimClock(datetime(2025, 1, 15, 15, tzinfo=UTC)))
    return next(i for i in catalogue.listed() if i.local_symbol == "MESH5")


def snapshot_of(fields: list[str], version: int = 176, **changes: object) -> OrderSnapshot:
    request = decode_place_order(fields, version)
    base = OrderSnapshot(
        client_id=7,
        order_id=request.order_id,
        perm_id=123456789,
        con_id=request.contract.con_id,
        request=request,
        status="Submitted",
        filled=Decimal(0),
        remaining=request.quantity,
        avg_fill_price=Decimal(0),
        last_fill_price=Decimal(0),
        parent_id=request.parent_id,
        why_held="",
        updated_at=datetime(2025, 1, 15, 15, 0, 1, tzinfo=UTC),
    )
    return replace(base, **changes)


def execution(**changes: object) -> Execution:
    base = Execution(
        exec_id="0000e0d5.075bcd15.01.01",
        time=datetime(2025, 1, 15, 15, 0, 1, tzinfo=UTC),
        account=ACCOUNT,
        client_id=7,
        order_id=5,
        perm_id=123456789,
        con_id=711002503,
        side="BUY",
        shares=Decimal(1),
        price=Decimal("6000.25"),
        cum_qty=Decimal(1),
        avg_price=Decimal("6000.25"),
        order_ref="ref-1",
        model_code="",
        commission=Decimal("0.62"),
        commission_currency="USD",
        realized_pnl=None,
    )
    return replace(base, **changes)


# --- placeOrder in ----------------------------------------------------------------------------


def test_golden_market_order_decodes_at_v176(golden_market_order: list[str]) -> None:
    assert len(golden_market_order) == 115
    request = decode_place_order(golden_market_order, 176)
    assert request.order_id == 5
    assert request.contract.con_id == 711002503
    assert request.contract.local_symbol == "MESH5"
    assert (request.action, request.quantity, request.order_type) == ("BUY", Decimal(1), "MKT")
    assert request.lmt_price is None
    assert request.aux_price is None
    assert request.account == ACCOUNT
    assert request.order_ref == "ref-1"
    assert request.transmit is True
    assert request.parent_id == 0
    assert request.what_if is False


def test_v177_layout_has_no_fa_profile(golden_market_order: list[str]) -> None:
    without_fa_profile = golden_market_order[:42] + golden_market_order[43:]
    assert decode_place_order(without_fa_profile, 177) == decode_place_order(
        golden_market_order, 176
    )
    with pytest.raises(OrderFormatError, match="ended after 114 fields"):
        decode_place_order(without_fa_profile, 176)


def test_float_quantity_is_kept_whole(golden_market_order: list[str]) -> None:
    fields = golden_market_order
    fields[17] = "3.0"
    assert str(decode_place_order(fields, 176).quantity) == "3"


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (17, "one", "totalQuantity must be a number"),
        (19, "5000,25", "lmtPrice must be a number"),
        (27, "yes", "transmit must be 0 or 1"),
        (28, "x", "parentId must be an integer"),
        (90, "x", "conditions count must be an integer"),
        (90, "1", "unknown order condition type"),
    ],
)
def test_malformed_place_order_names_the_field(
    index: int, value: str, message: str, golden_market_order: list[str]
) -> None:
    fields = golden_market_order
    fields[index] = value
    with pytest.raises(OrderFormatError, match=message) as caught:
        decode_place_order(fields, 176)
    assert caught.value.order_id == 5


def test_truncated_and_padded_place_order_are_refused(golden_market_order: list[str]) -> None:
    with pytest.raises(OrderFormatError, match="ended after 60 fields"):
        decode_place_order(golden_market_order[:60], 176)
    with pytest.raises(OrderFormatError, match="2 unexpected trailing"):
        decode_place_order([*golden_market_order, "", "x"], 176)
    with pytest.raises(OrderFormatError, match="not a placeOrder"):
        decode_place_order(["4", "1", "5"], 176)


# --- order messages out -----------------------------------------------------------------------


def test_open_order_is_136_fields_and_ib_insync_builds_the_trade(
    mes: Instrument, decode_errors: list[logging.LogRecord], golden_market_order: list[str]
) -> None:
    snapshot = snapshot_of(golden_market_order)
    fields = open_order_fields(snapshot, mes.contract_fields(), 176)
    assert len(fields) == 136
    assert len(open_order_fields(snapshot, mes.contract_fields(), 177)) == 135
    client = Client()
    client.feed(fields)
    client.feed(order_status_fields(snapshot))
    assert not decode_errors
    (trade,) = client.ib.openTrades()
    assert (trade.order.orderId, trade.order.clientId, trade.order.permId) == (5, 7, 123456789)
    assert trade.order.orderRef == "ref-1"
    assert trade.order.account == ACCOUNT
    assert trade.contract.localSymbol == "MESH5"
    assert trade.contract.multiplier == "5"
    assert trade.orderStatus.status == "Submitted"
    assert trade.orderStatus.remaining == 1


def test_open_order_echoes_algo_params_and_bracket_parent(
    mes: Instrument, decode_errors: list[logging.LogRecord], golden_market_order: list[str]
) -> None:
    request = decode_place_order(golden_market_order, 176)
    request = replace(
        request,
        order_type="LMT",
        lmt_price=Decimal("6000.25"),
        algo_strategy="Adaptive",
        algo_params=(("adaptivePriority", "Normal"),),
        parent_id=4,
        oca_group="grp",
        oca_type=2,
    )
    snapshot = replace(snapshot_of(golden_market_order), request=request, parent_id=4)
    client = Client()
    client.feed(open_order_fields(snapshot, mes.contract_fields(), 176))
    assert not decode_errors
    (trade,) = client.ib.openTrades()
    assert trade.order.lmtPrice == 6000.25
    assert [(p.tag, p.value) for p in trade.order.algoParams] == [("adaptivePriority", "Normal")]
    assert (trade.order.parentId, trade.order.ocaGroup, trade.order.ocaType) == (4, "grp", 2)


async def test_what_if_open_order_resolves_with_numeric_margins(
    mes: Instrument, decode_errors: list[logging.LogRecord], golden_market_order: list[str]
) -> None:
    impact = WhatIf(
        init_before=Decimal("0.00"),
        maint_before=Decimal("0.00"),
        equity_before=Decimal("1000000.00"),
        init_after=Decimal("1580.00"),
        maint_after=Decimal("1437.80"),
        equity_after=Decimal("999999.38"),
        commission=Decimal("0.62"),
        currency="USD",
    )
    client = Client()
    future = client.ib.wrapper.startReq(5)
    client.feed(
        open_order_fields(snapshot_of(golden_market_order), mes.contract_fields(), 176, impact)
    )
    assert not decode_errors
    state = future.result()
    assert float(state.initMarginChange) == 1580.0
    assert float(state.maintMarginAfter) == 1437.8
    assert float(state.equityWithLoanChange) == pytest.approx(-0.62)
    assert state.commission == 0.62
    assert state.commissionCurrency == "USD"
    assert not client.ib.openTrades()


def test_fill_sequence_gives_fill_with_commission(
    mes: Instrument, decode_errors: list[logging.LogRecord], golden_market_order: list[str]
) -> None:
    snapshot = snapshot_of(golden_market_order)
    filled = replace(
        snapshot,
        status="Filled",
        filled=Decimal(1),
        remaining=Decimal(0),
        avg_fill_price=Decimal("6000.25"),
        last_fill_price=Decimal("6000.25"),
    )
    fill = execution()
    contract = mes.contract_fields()
    assert len(exec_details_fields(-1, fill, contract, 176)) == 31
    assert len(exec_details_fields(-1, fill, contract, 178)) == 32
    assert len(commission_report_fields(fill)) == 8
    client = Client()
    client.feed(open_order_fields(snapshot, contract, 176))
    client.feed(order_status_fields(snapshot))
    client.feed(exec_details_fields(-1, fill, contract, 176))
    client.feed(open_order_fields(filled, contract, 176))
    client.feed(order_status_fields(filled))
    client.feed(commission_report_fields(fill))
    assert not decode_errors
    (trade,) = client.ib.trades()
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == 6000.25
    (got,) = trade.fills
    assert got.execution.side == "BOT"
    assert got.execution.shares == 1
    assert got.execution.time == datetime(2025, 1, 15, 15, 0, 1, tzinfo=UTC)
    assert got.commissionReport.commission == 0.62
    assert got.commissionReport.realizedPNL == 0.0


def test_commission_report_carries_realized_pnl() -> None:
    fields = encoded(commission_report_fields(execution(realized_pnl=Decimal("-12.5"))))
    assert fields[5] == "-12.5"
    assert encoded(commission_report_fields(execution()))[5] == "1.7976931348623157E308"


async def test_completed_order_decodes(
    mes: Instrument, decode_errors: list[logging.LogRecord], golden_market_order: list[str]
) -> None:
    done = snapshot_of(
        golden_market_order, status="Filled", filled=Decimal(1), remaining=Decimal(0)
    )
    fields = completed_order_fields(done, mes.contract_fields(), 176)
    assert len(fields) == 101
    client = Client()
    future = client.ib.wrapper.startReq("completedOrders")
    client.feed(fields)
    client.feed((102,))
    assert not decode_errors
    (trade,) = future.result()
    assert trade.orderStatus.status == "Filled"
    assert trade.order.permId == 123456789
    assert trade.order.filledQuantity == 1
    assert trade.contract.localSymbol == "MESH5"


# --- account messages out ---------------------------------------------------------------------


def test_position_and_portfolio_have_exact_counts(
    mes: Instrument, decode_errors: list[logging.LogRecord]
) -> None:
    books = Accounts([ACCOUNT])
    books.apply_fill(ACCOUNT, mes, "BUY", Decimal(2), Decimal("6000.25"))
    (view,) = books.positions(ACCOUNT, lambda _: Decimal("6001.00"))
    assert len(ac.position_fields(view)) == 16
    assert len(ac.portfolio_fields(view)) == 20
    client = Client()
    client.feed(ac.position_fields(view))
    client.feed(ac.portfolio_fields(view))
    assert not decode_errors
    (position,) = client.ib.positions()
    assert position.position == 2
    assert position.avgCost == 30001.87  # 2 × 0.62 commission spread over 2
    assert position.contract.exchange == "CME"
    (item,) = client.ib.portfolio()
    assert item.unrealizedPNL == 6.26
    assert item.averageCost == 30001.87
    assert item.contract.primaryExchange == "CME"


def test_account_streams_decode(decode_errors: list[logging.LogRecord]) -> None:
    client = Client()
    client.feed(ac.account_value_fields("NetLiquidation", "1000000.00", "USD", ACCOUNT))
    client.feed(ac.account_time_fields(datetime(2025, 1, 15, 15, 4, tzinfo=UTC)))
    client.feed(ac.account_update_multi_fields(9, ACCOUNT, "", "BuyingPower", "4000000", "USD"))
    client.feed(ac.account_summary_fields(10, ACCOUNT, "AvailableFunds", "990000.00", "USD"))
    pnl = PnL(ACCOUNT, "")
    client.ib.wrapper.reqId2PnL[11] = pnl
    client.feed(ac.pnl_fields(11, Decimal(5), Decimal(7), Decimal(-2)))
    assert not decode_errors
    values = {(v.tag, v.value) for v in client.ib.accountValues()}
    assert ("NetLiquidation", "1000000.00") in values
    assert ("BuyingPower", "4000000") in values
    (summary,) = client.ib.wrapper.acctSummary.values()
    assert summary.tag == "AvailableFunds"
    assert (pnl.dailyPnL, pnl.unrealizedPnL, pnl.realizedPnL) == (5, 7, -2)


def test_pnl_single_position_is_an_integer(
    mes: Instrument, decode_errors: list[logging.LogRecord]
) -> None:
    books = Accounts([ACCOUNT])
    books.apply_fill(ACCOUNT, mes, "SELL", Decimal("3.0"), Decimal("6000"))
    view = books.position(ACCOUNT, mes.con_id, lambda _: Decimal("5999"))
    client = Client()
    single = PnLSingle(ACCOUNT, "", mes.con_id)
    client.ib.wrapper.reqId2PnlSingle[12] = single
    client.feed(ac.pnl_single_fields(12, view))
    assert not decode_errors
    assert single.position == -3
    assert single.unrealizedPnL == 13.14  # 15 less the 3 × 0.62 paid to open
    assert single.value == -89985
