"""Options on futures against the paper gateway: expiries from reqSecDefOptParams cached per day,
option contracts per strike on demand (never the whole chain) with their market rule's ticks,
IB's option computations beside the quotes, the market-data line budget, and failures said in
sentences."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.market_data import LineBudgetExceeded
from ibconsole.broker.option_chains import OptionChainError
from ibconsole.domain.contracts import ListedContract, OptionRight
from ibconsole.domain.ib_codes import IbCategory
from ibconsole.domain.option_chain import OptionExpiry, strike_window
from ibconsole.domain.orders import OrderType, Side, build_intent
from ibconsole.domain.quotes import MarketDataType
from ibconsole.sim import PaperGateway

WaitFor = Callable[..., Any]
Spy = Callable[[PaperGateway], Any]
Record = Callable[..., Any]
BrokerFactory = Callable[..., Broker]

REQ_MKT_DATA = 1
REQ_CONTRACT_DETAILS = 9
REQ_SEC_DEF_OPT_PARAMS = 78


async def _front_expiry(broker: Broker, es_front: ListedContract) -> OptionExpiry:
    expiries = await broker.options.expiries([es_front])
    return expiries[0]


async def test_expiries_come_from_sec_def_opt_params_once_a_day(
    gateway: PaperGateway, broker: Broker, es_front: ListedContract, inbound: Spy
) -> None:
    seen = inbound(gateway)

    expiries = await broker.options.expiries([es_front])
    again = await broker.options.expiries([es_front])

    assert again == expiries
    assert seen.count(REQ_SEC_DEF_OPT_PARAMS) == 1, "cached for the trading day"
    assert expiries, "ES options are listed on the front month"
    first = expiries[0]
    assert first.trading_class == "ES"
    assert first.exchange == "CME"
    assert first.multiplier == Decimal(50)
    assert first.underlying_con_id == es_front.con_id
    assert first.expiry == es_front.last_trade.strftime("%Y%m%d"), "quarterly ES options"
    assert len(first.strikes) > 100
    assert list(first.strikes) == sorted(first.strikes)


async def test_a_window_of_strikes_is_fetched_strike_by_strike_with_the_option_ticks(
    gateway: PaperGateway, broker: Broker, es_front: ListedContract, inbound: Spy
) -> None:
    expiry = await _front_expiry(broker, es_front)
    underlying = gateway.market.quote(es_front.con_id).last
    window = strike_window(expiry.strikes, underlying, 2)
    seen = inbound(gateway)

    options = await broker.options.options(expiry, es_front, window)
    again = await broker.options.options(expiry, es_front, window)

    assert again == options
    assert seen.count(REQ_CONTRACT_DETAILS) == len(window), "one request per strike, then cached"
    assert len(options) == 2 * len(window)
    assert {(o.option.strike, o.option.right) for o in options if o.option} == {
        (k, r) for k in window for r in OptionRight
    }
    call = options[0]
    assert call.option is not None
    assert call.option.underlying_con_id == es_front.con_id
    assert call.multiplier == Decimal(50)
    assert call.local_symbol.startswith(f"{es_front.local_symbol} ")
    # Market rule 1100: 0.05 up to a 5.00 premium, 0.25 above.
    assert call.tick_at(Decimal("4.95")) == Decimal("0.05")
    assert call.tick_at(Decimal("50")) == Decimal("0.25")
    assert broker.options.option(call.con_id) == call


async def test_an_option_quote_carries_ibs_greeks(
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    wait_for: WaitFor,
    gateway: PaperGateway,
) -> None:
    expiry = await _front_expiry(broker, es_front)
    underlying = gateway.market.quote(es_front.con_id).last
    [atm] = strike_window(expiry.strikes, underlying, 0)
    call, put = await broker.options.options(expiry, es_front, [atm])
    computed = record(broker.market.greeks_updated)

    broker.market.subscribe(call)
    broker.market.subscribe(put)
    await wait_for(
        lambda: broker.market.greeks(call.con_id) and broker.market.greeks(put.con_id),
        what="greeks",
    )

    call_greeks, put_greeks = broker.market.greeks(call.con_id), broker.market.greeks(put.con_id)
    assert call_greeks is not None
    assert put_greeks is not None
    assert call_greeks.delta is not None
    assert put_greeks.delta is not None
    assert 0.2 < call_greeks.delta < 0.8, "at the money"
    assert -0.8 < put_greeks.delta < -0.2
    assert call_greeks.implied_vol is not None
    assert 0.05 < call_greeks.implied_vol < 1.0
    assert call_greeks.gamma is not None
    assert call_greeks.gamma > 0
    assert call_greeks.theta is not None
    assert call_greeks.theta < 0
    assert any(con_id == call.con_id for batch in computed.values for con_id, _ in batch)
    quote = broker.market.quote(call.con_id)
    assert quote is not None
    assert quote.bid is not None
    assert quote.bid == quote.bid.quantize(call.tick_at(quote.bid)) or (
        quote.bid % call.tick_at(quote.bid) == 0
    )

    broker.market.unsubscribe(call.con_id)
    assert broker.market.greeks(call.con_id) is None, "released with its line"
    broker.market.unsubscribe(put.con_id)


async def test_the_line_budget_refuses_a_subscription_beyond_it_and_sends_nothing(
    gateway: PaperGateway,
    make_broker: BrokerFactory,
    inbound: Spy,
    record: Record,
    wait_for: WaitFor,
) -> None:
    broker = make_broker(gateway, line_budget=2)
    await broker.start()
    front, second, third = (await broker.contracts.chain("ES")).contracts[:3]
    changes = record(broker.market.lines_changed)
    seen = inbound(gateway)

    broker.market.subscribe(front)
    broker.market.subscribe(front)  # shared: still one line
    broker.market.subscribe(second)
    assert broker.market.lines_in_use == 2
    assert broker.market.lines_free == 0
    with pytest.raises(LineBudgetExceeded, match="All 2 market-data lines are in use"):
        broker.market.subscribe(third)

    await wait_for(lambda: gateway.market_data.subscription_count() == 2, what="two lines")
    assert seen.count(REQ_MKT_DATA) == 2
    assert third.con_id not in broker.market.subscriptions()
    broker.market.unsubscribe(second.con_id)
    broker.market.subscribe(third)  # the released line is free again
    assert changes.values == [(1, 2), (2, 2), (1, 2), (2, 2)]
    assert broker.market.line_budget == 2


async def test_a_family_without_options_is_said_in_words(
    broker: Broker,
) -> None:
    nq = (await broker.contracts.chain("NQ")).contracts[0]
    with pytest.raises(OptionChainError, match=r"IB lists no options on NQ\w+ for this account"):
        await broker.options.expiries([nq])


async def test_a_silent_gateway_is_a_timeout_sentence(
    gateway: PaperGateway, broker: Broker, es_front: ListedContract
) -> None:
    gateway.faults.stop_answering()
    try:
        with pytest.raises(OptionChainError, match=r"IB did not send the options on ESH5 within"):
            await broker.options.expiries([es_front])
    finally:
        gateway.faults.resume_answering()


async def test_delayed_option_quotes_are_reported_for_their_line(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    record: Record,
    wait_for: WaitFor,
) -> None:
    expiry = await _front_expiry(broker, es_front)
    call, _put = await broker.options.options(expiry, es_front, expiry.strikes[-1:])
    refused = record(broker.market.line_refused)
    gateway.faults.delayed_data_only()

    broker.market.subscribe(call)

    await wait_for(lambda: refused.values, what="the delayed-data notice")
    con_id, message = refused.values[0]
    assert con_id == call.con_id
    assert message.category is IbCategory.DELAYED_DATA
    assert "delayed" in message.sentence
    await wait_for(lambda: broker.market.quote(call.con_id), what="a delayed quote")
    quote = broker.market.quote(call.con_id)
    assert quote is not None
    assert quote.data_type is MarketDataType.DELAYED
    broker.market.unsubscribe(call.con_id)


async def test_nothing_is_asked_while_not_connected(
    gateway: PaperGateway, make_broker: BrokerFactory, es_front: ListedContract, inbound: Spy
) -> None:
    offline = make_broker(gateway, client_id=2)
    seen = inbound(gateway)

    with pytest.raises(OptionChainError, match=r"Not connected: the options on ESH5 are unknown"):
        await offline.options.expiries([es_front])

    assert seen.count(REQ_SEC_DEF_OPT_PARAMS) == 0


async def test_a_line_budget_applied_while_running_counts_from_the_next_subscription(
    gateway: PaperGateway, make_broker: BrokerFactory, record: Record, wait_for: WaitFor
) -> None:
    broker = make_broker(gateway, line_budget=3)
    await broker.start()
    front, second, third = (await broker.contracts.chain("ES")).contracts[:3]
    broker.market.subscribe(front)
    broker.market.subscribe(second)
    changes = record(broker.market.lines_changed)

    broker.apply_settings(broker.session.health_settings, broker.orders.limits, line_budget=1)

    assert changes.values == [(2, 1)]  # the status bar and the chain hear of it at once
    assert broker.market.lines_in_use == 2  # lines held stay until released
    with pytest.raises(LineBudgetExceeded, match="All 1 market-data lines are in use"):
        broker.market.subscribe(third)
    broker.market.unsubscribe(second.con_id)
    broker.market.unsubscribe(front.con_id)
    broker.market.subscribe(third)
    await wait_for(lambda: broker.market.quote(third.con_id) is not None, what="the new line")
    with pytest.raises(ValueError, match="1 or more"):
        broker.market.line_budget = 0


def _strike(option: ListedContract) -> Decimal | None:
    return option.option.strike if option.option is not None else None


async def _hold(broker: Broker, option: ListedContract, wait_for: WaitFor) -> None:
    """Buy one ``option`` at the market and keep it, without a line."""
    broker.market.subscribe(option)
    await wait_for(lambda: broker.market.quote(option.con_id), what="the option's quote")
    intent = build_intent(
        contract=option,
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.MARKET,
        limit_price=None,
        clock=broker.clock,
        account=broker.account.account,
    )
    broker.orders.submit(intent, confirmed=True)

    def held() -> Decimal | None:
        position = broker.account.position(option.con_id)
        return position.quantity if position is not None else None

    await wait_for(lambda: held() == 1, what="the option held")
    broker.market.unsubscribe(option.con_id)


async def _resync(gateway: PaperGateway, synced: Any, wait_for: WaitFor) -> None:
    """The nightly restart as the console lives it: the connection lost, the session synced."""
    before = len(synced)
    gateway.faults.drop(1)
    await wait_for(lambda: len(synced) > before, what="the resync")


@pytest.mark.expect_log_warnings  # each daily restart's dropped connection is logged as an error
async def test_each_sync_lets_go_of_the_options_no_line_or_position_needs(
    gateway: PaperGateway,
    broker: Broker,
    es_front: ListedContract,
    inbound: Spy,
    record: Record,
    wait_for: WaitFor,
) -> None:
    """Day after day the chain shows other strikes, and IB Gateway restarts each night: the
    options known stay those with a line (the chain's window) or a position, not every strike
    ever shown (before, they grew by a window a day)."""
    expiry = await _front_expiry(broker, es_front)
    middle = len(expiry.strikes) // 2
    windows = [expiry.strikes[middle + 3 * day : middle + 3 * day + 3] for day in range(4)]
    synced = record(broker.session.synced)
    fetched = list(await broker.options.options(expiry, es_front, windows[0]))
    held = fetched[-1]  # a put bought on the first day and held since
    await _hold(broker, held, wait_for)
    shown: ListedContract | None = None
    for day, window in enumerate(windows):
        options = await broker.options.options(expiry, es_front, window)
        if day:
            fetched.extend(options)
        if shown is not None:
            broker.market.unsubscribe(shown.con_id)
        shown = options[0]  # the window's first call has a line, as the chain's do
        broker.market.subscribe(shown)

        await _resync(gateway, synced, wait_for)

        known = {o.con_id for o in fetched if broker.options.option(o.con_id) is not None}
        # A strike is kept whole: the line's call and its put, the held put and its call.
        kept = {o.con_id for o in fetched if _strike(o) in {_strike(shown), _strike(held)}}
        assert {shown.con_id, held.con_id} <= known == kept, f"day {day + 1}: {len(known)} known"
    assert len(fetched) == 4 * 3 * 2
    seen = inbound(gateway)
    again = await broker.options.options(expiry, es_front, windows[0])
    assert again == tuple(fetched[:6]), "the same contracts when asked again"
    assert seen.count(REQ_CONTRACT_DETAILS) == 2, "fetched again, but for the held put's strike"
    assert shown is not None
    broker.market.unsubscribe(shown.con_id)
