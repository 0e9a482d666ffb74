"""Pre-trade checks: each check alone in a table, then properties that must hold for every order."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import (
    Bracket,
    OrderIntent,
    OrderType,
    Position,
    Purpose,
    Side,
    TimeInForce,
    WorkingOrder,
    is_on_tick,
)
from ibconsole.domain.quotes import MarketDataType, Quote
from ibconsole.domain.risk import (
    UNSET,
    Check,
    Finding,
    LimitOverride,
    RiskContext,
    RiskLimits,
    RiskReport,
    Severity,
    SymbolLimits,
    evaluate,
    working_exposure,
)
from ibconsole.domain.trading_mode import AccountMode

D = Decimal
T0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
CON_ID = 620731015


def listed(symbol: str = "ES", multiplier: str = "50", con_id: int = CON_ID) -> ListedContract:
    return ListedContract(
        symbol=symbol,
        local_symbol=f"{symbol}M5",
        con_id=con_id,
        contract_month="202506",
        last_trade=datetime(2025, 6, 20, 8, 30, tzinfo=ZoneInfo("America/Chicago")),
        exchange="CME",
        currency="USD",
        multiplier=D(multiplier),
        min_tick=D("0.25"),
        trading_class=symbol,
    )


ES = listed()


def intent(**changes: Any) -> OrderIntent:
    base = OrderIntent(
        key="ibc-1",
        contract=ES,
        side=Side.BUY,
        quantity=D(2),
        order_type=OrderType.LIMIT,
        limit_price=D("5000.00"),
        stop_price=None,
        tif=TimeInForce.DAY,
        bracket=None,
        created_at=T0,
    )
    return dataclasses.replace(base, **changes)


def live_quote(price: str = "5000.00", age: float = 1.0, **changes: Any) -> Quote:
    p = D(price)
    base = Quote(
        con_id=CON_ID,
        bid=p - D("0.25"),
        ask=p + D("0.25"),
        last=p,
        time=T0 - timedelta(seconds=age),
        data_type=MarketDataType.LIVE,
    )
    return dataclasses.replace(base, **changes)


def context(**changes: Any) -> RiskContext:
    base = RiskContext(
        now=T0,
        position=Position.flat(CON_ID),
        working_orders=(),
        quote=live_quote(),
        session_open=True,
        account_mode=AccountMode.PAPER,
        daily_pnl=D(0),
        recent_intents=(),
    )
    return dataclasses.replace(base, **changes)


def held(quantity: int) -> Position:
    return Position(CON_ID, D(quantity), D("4990"), "DU1")


def working(
    order_id: int,
    side: Side,
    remaining: int,
    *,
    parent_id: int = 0,
    oca_group: str = "",
    con_id: int = CON_ID,
) -> WorkingOrder:
    return WorkingOrder(
        order_id=order_id,
        key=f"ibc-w{order_id}",
        con_id=con_id,
        side=side,
        remaining=D(remaining),
        order_type=OrderType.LIMIT,
        limit_price=D(5000),
        stop_price=None,
        parent_id=parent_id,
        oca_group=oca_group,
        status="Submitted",
        tif=TimeInForce.DAY,
    )


LIMITS = RiskLimits()


def findings_of(report: RiskReport, check: Check) -> list[Finding]:
    return [f for f in report.findings if f.check is check]


def only(report: RiskReport, check: Check) -> Finding:
    found = findings_of(report, check)
    assert len(found) == 1, report.findings
    return found[0]


# --- a clean order ---------------------------------------------------------------------------


def test_a_plain_paper_order_passes_without_findings() -> None:
    report = evaluate(intent(), context(), LIMITS)
    assert report.findings == ()
    assert not report.blocked
    assert not report.needs_confirmation
    assert report.allows(confirmed=False)


def test_report_helpers() -> None:
    block = Finding(Check.TICK, Severity.BLOCK, "b")
    confirm = Finding(Check.LIVE_ACCOUNT, Severity.CONFIRM, "c")
    info = Finding(Check.MAX_QUANTITY, Severity.INFO, "i")
    assert RiskReport((confirm, info)).allows(confirmed=True)
    assert not RiskReport((confirm, info)).allows(confirmed=False)
    assert RiskReport((info,)).allows(confirmed=False)
    assert not RiskReport((block, confirm)).allows(confirmed=True)
    assert RiskReport((block, confirm, info)).of(Severity.CONFIRM) == (confirm,)


# --- position --------------------------------------------------------------------------------


def test_unknown_position_blocks_and_is_never_taken_for_flat() -> None:
    finding = only(evaluate(intent(), context(position=None), LIMITS), Check.POSITION)
    assert finding.severity is Severity.BLOCK
    assert "could not be read" in finding.message


def test_position_of_another_contract_blocks() -> None:
    other = Position(CON_ID + 1, D(0), D(0), "DU1")
    finding = only(evaluate(intent(), context(position=other), LIMITS), Check.POSITION)
    assert finding.severity is Severity.BLOCK
    assert str(CON_ID + 1) in finding.message


@pytest.mark.parametrize(
    ("side", "held_qty", "orders", "qty", "blocked"),
    [
        (Side.BUY, 18, (), 2, False),
        (Side.BUY, 18, (), 3, True),
        (Side.BUY, 15, (working(1, Side.BUY, 3),), 2, False),
        (Side.BUY, 15, (working(1, Side.BUY, 3),), 3, True),
        (Side.SELL, -18, (), 3, True),
        (Side.SELL, 0, (working(1, Side.SELL, 18),), 2, False),
        (Side.SELL, 0, (working(1, Side.SELL, 19),), 2, True),
        # Working sells do not count against a buy, and working orders of other contracts not at all.
        (Side.BUY, 18, (working(1, Side.SELL, 10),), 2, False),
        (Side.BUY, 18, (working(1, Side.BUY, 10, con_id=7),), 2, False),
    ],
)
def test_position_limit_counts_working_orders(
    side: Side, held_qty: int, orders: tuple[WorkingOrder, ...], qty: int, blocked: bool
) -> None:
    report = evaluate(
        intent(side=side, quantity=D(qty), limit_price=D(5000)),
        context(position=held(held_qty), working_orders=orders),
        LIMITS,
    )
    assert bool(findings_of(report, Check.POSITION)) is blocked
    assert report.blocked is blocked


def test_position_limit_message_says_where_the_order_would_take_you() -> None:
    report = evaluate(
        intent(quantity=D(3)),
        context(position=held(15), working_orders=(working(1, Side.BUY, 3),)),
        LIMITS,
    )
    message = only(report, Check.POSITION).message
    assert "long 21 ESM5" in message
    assert "position limit of 20 for ES" in message
    assert "You hold 15 now." in message


def test_bracket_exits_are_alternatives_and_count_once() -> None:
    # Long 10 with a filled bracket parent: a take-profit and a stop-loss, 10 each, one OCA pair.
    exits = (working(11, Side.SELL, 10, parent_id=9), working(12, Side.SELL, 10, parent_id=9))
    assert working_exposure(exits, CON_ID) == (D(0), D(10))
    report = evaluate(
        intent(side=Side.SELL, quantity=D(15)),
        context(position=held(10), working_orders=exits),
        LIMITS,
    )
    assert findings_of(report, Check.POSITION) == []


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ((), (0, 0)),
        ((working(1, Side.BUY, 2), working(2, Side.BUY, 3)), (5, 0)),
        ((working(1, Side.BUY, 2), working(2, Side.SELL, 3)), (2, 3)),
        # One OCA group: whichever fills cancels the others.
        (
            (working(1, Side.SELL, 2, oca_group="g"), working(2, Side.SELL, 5, oca_group="g")),
            (0, 5),
        ),
        (
            (working(1, Side.SELL, 2, oca_group="g"), working(2, Side.SELL, 5, oca_group="h")),
            (0, 7),
        ),
        # Children of a parent still working only unwind what it opens.
        (
            (
                working(1, Side.BUY, 4),
                working(2, Side.SELL, 4, parent_id=1),
                working(3, Side.SELL, 4, parent_id=1),
            ),
            (4, 0),
        ),
        ((working(1, Side.BUY, 0),), (0, 0)),
    ],
)
def test_working_exposure_table(
    orders: tuple[WorkingOrder, ...], expected: tuple[int, int]
) -> None:
    assert working_exposure(orders, CON_ID) == (D(expected[0]), D(expected[1]))


# --- quantity --------------------------------------------------------------------------------


def test_quantity_above_the_limit_blocks_in_plain_words() -> None:
    finding = only(evaluate(intent(quantity=D(50)), context(), LIMITS), Check.MAX_QUANTITY)
    assert finding == Finding(
        Check.MAX_QUANTITY, Severity.BLOCK, "Quantity 50 is above your limit of 10 for ES."
    )


def test_quantity_at_the_limit_passes() -> None:
    assert (
        findings_of(evaluate(intent(quantity=D(10)), context(), LIMITS), Check.MAX_QUANTITY) == []
    )


def test_per_symbol_override_changes_only_what_it_names() -> None:
    mes = listed("MES", multiplier="5")
    limits = RiskLimits(overrides={"MES": LimitOverride(max_quantity=D(50))})
    assert limits.for_symbol("MES") == dataclasses.replace(SymbolLimits(), max_quantity=D(50))
    assert limits.for_symbol("ES") == SymbolLimits()
    position = Position.flat(CON_ID)
    mes_report = evaluate(intent(contract=mes, quantity=D(15)), context(position=position), limits)
    assert findings_of(mes_report, Check.MAX_QUANTITY) == []
    es_report = evaluate(intent(quantity=D(15)), context(), limits)
    assert only(es_report, Check.MAX_QUANTITY).severity is Severity.BLOCK


def test_override_to_none_switches_a_limit_off() -> None:
    limits = RiskLimits(overrides={"ES": LimitOverride(max_quantity=None, max_position=None)})
    report = evaluate(intent(quantity=D(500)), context(), limits)
    assert findings_of(report, Check.MAX_QUANTITY) == []
    assert findings_of(report, Check.POSITION) == []
    assert LimitOverride().max_quantity is UNSET


def test_reducing_order_is_not_stopped_by_size_position_or_loss_limits() -> None:
    limits = RiskLimits(max_daily_loss=D(1000))
    report = evaluate(
        intent(side=Side.SELL, quantity=D(30), purpose=Purpose.FLATTEN),
        context(position=held(30), daily_pnl=D(-5000)),
        limits,
    )
    assert only(report, Check.MAX_QUANTITY).severity is Severity.INFO
    assert findings_of(report, Check.POSITION) == []
    assert findings_of(report, Check.DAILY_LOSS) == []
    assert not report.blocked


def test_an_order_that_flips_the_position_is_not_reducing() -> None:
    report = evaluate(
        intent(side=Side.SELL, quantity=D(30)), context(position=held(15)), RiskLimits()
    )
    assert only(report, Check.MAX_QUANTITY).severity is Severity.BLOCK


# --- notional --------------------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "blocked"), [(4, False), (5, True)])
def test_notional_limit(qty: int, blocked: bool) -> None:
    limits = RiskLimits(defaults=SymbolLimits(max_notional=D(1_000_000)))
    report = evaluate(intent(quantity=D(qty)), context(), limits)
    found = findings_of(report, Check.NOTIONAL)
    assert bool(found) is blocked
    if blocked:
        assert found[0].severity is Severity.BLOCK
        assert "1,250,000.00 USD (5 × 50 × 5000)" in found[0].message
        assert "limit of 1,000,000.00 USD for ES" in found[0].message


def test_notional_of_a_market_order_uses_the_last_good_price() -> None:
    limits = RiskLimits(defaults=SymbolLimits(max_notional=D(400_000)))
    market = intent(order_type=OrderType.MARKET, limit_price=None)
    report = evaluate(market, context(quote=live_quote("5000")), limits)
    assert only(report, Check.NOTIONAL).severity is Severity.BLOCK


def test_notional_without_any_price_asks_for_confirmation() -> None:
    limits = RiskLimits(
        defaults=SymbolLimits(max_notional=D(400_000)), block_market_orders_without_live_quote=False
    )
    market = intent(order_type=OrderType.MARKET, limit_price=None)
    report = evaluate(market, context(quote=None), limits)
    assert only(report, Check.NOTIONAL).severity is Severity.CONFIRM


# --- ticks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"limit_price": D("5000.10")},
        {"order_type": OrderType.STOP, "limit_price": None, "stop_price": D("5001.01")},
        {"bracket": Bracket(take_profit=D("5010.3"), stop_loss=None)},
        {"bracket": Bracket(take_profit=None, stop_loss=D("4990.3"))},
    ],
)
def test_off_tick_prices_block(changes: dict[str, Any]) -> None:
    finding = only(evaluate(intent(**changes), context(), LIMITS), Check.TICK)
    assert finding.severity is Severity.BLOCK
    assert "not a multiple of ES's tick 0.25" in finding.message


# --- price band ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "price", "severity"),
    [
        (Side.BUY, "5100.00", None),  # 2 % of 5000 is 100
        (Side.BUY, "5100.25", Severity.BLOCK),  # would buy far through the market
        (Side.BUY, "4899.75", Severity.CONFIRM),  # far below: harmless but probably a typo
        (Side.SELL, "4899.75", Severity.BLOCK),
        (Side.SELL, "5100.25", Severity.CONFIRM),
    ],
)
def test_price_band_in_percent(side: Side, price: str, severity: Severity | None) -> None:
    report = evaluate(intent(side=side, limit_price=D(price)), context(), LIMITS)
    found = findings_of(report, Check.PRICE_BAND)
    assert [f.severity for f in found] == ([] if severity is None else [severity])


def test_price_band_in_ticks_and_the_narrower_band_wins() -> None:
    limits = RiskLimits(defaults=SymbolLimits(price_band_percent=D(2), price_band_ticks=20))
    assert (
        findings_of(evaluate(intent(limit_price=D(5005)), context(), limits), Check.PRICE_BAND)
        == []
    )
    report = evaluate(intent(limit_price=D("5005.25")), context(), limits)
    finding = only(report, Check.PRICE_BAND)
    assert finding.severity is Severity.BLOCK
    assert "20 ticks band" in finding.message
    assert "5.25 above the market (5000.00)" in finding.message


def test_stop_and_bracket_prices_outside_the_band_need_confirmation() -> None:
    far = intent(
        order_type=OrderType.STOP_LIMIT,
        stop_price=D(5200),
        limit_price=D(5000),
        bracket=Bracket(take_profit=D(5300), stop_loss=D(4800)),
    )
    found = findings_of(evaluate(far, context(), LIMITS), Check.PRICE_BAND)
    assert [f.severity for f in found] == [Severity.CONFIRM] * 3


def test_price_band_switched_off() -> None:
    limits = RiskLimits(defaults=SymbolLimits(price_band_percent=None))
    report = evaluate(intent(limit_price=D(9000)), context(), limits)
    assert findings_of(report, Check.PRICE_BAND) == []


# --- quote quality ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quote", "fragment"),
    [
        (None, "There is no quote for ESM5"),
        (live_quote(con_id=CON_ID + 1), "There is no quote for ESM5"),
        (live_quote(bid=None, ask=None, last=None), "There is no quote"),
        (live_quote(data_type=MarketDataType.DELAYED), "is delayed data, not live"),
        (live_quote(data_type=MarketDataType.DELAYED_FROZEN), "is delayed frozen data"),
        (live_quote(age=31), "31 s old, older than 30 s"),
        (live_quote(data_type=MarketDataType.FROZEN), "is frozen (the last values"),
    ],
)
def test_doubtful_quotes_need_confirmation_for_priced_orders_and_block_market_orders(
    quote: Quote | None, fragment: str
) -> None:
    limit_report = evaluate(intent(), context(quote=quote), LIMITS)
    assert only(limit_report, Check.QUOTE).severity is Severity.CONFIRM
    assert fragment in only(limit_report, Check.QUOTE).message
    market = intent(order_type=OrderType.MARKET, limit_price=None)
    market_report = evaluate(market, context(quote=quote), LIMITS)
    assert only(market_report, Check.QUOTE).severity is Severity.BLOCK
    relaxed = RiskLimits(block_market_orders_without_live_quote=False)
    assert only(evaluate(market, context(quote=quote), relaxed), Check.QUOTE).severity is (
        Severity.CONFIRM
    )


def test_quote_at_the_age_limit_is_still_fresh() -> None:
    report = evaluate(intent(), context(quote=live_quote(age=30)), LIMITS)
    assert findings_of(report, Check.QUOTE) == []


# --- session, account, duplicates, daily loss ------------------------------------------------


@pytest.mark.parametrize(
    ("session_open", "order_type", "severity"),
    [
        (True, OrderType.LIMIT, None),
        (False, OrderType.LIMIT, Severity.CONFIRM),
        (False, OrderType.MARKET, Severity.BLOCK),
        (None, OrderType.LIMIT, Severity.CONFIRM),
    ],
)
def test_market_hours(
    session_open: bool | None, order_type: OrderType, severity: Severity | None
) -> None:
    price = D(5000) if order_type is OrderType.LIMIT else None
    order = intent(order_type=order_type, limit_price=price)
    report = evaluate(order, context(session_open=session_open), LIMITS)
    found = findings_of(report, Check.MARKET_HOURS)
    assert [f.severity for f in found] == ([] if severity is None else [severity])


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [(AccountMode.LIVE, "LIVE account U77"), (AccountMode.UNKNOWN, "treat this order as real")],
)
def test_live_or_unconfirmed_account_needs_confirmation(mode: AccountMode, fragment: str) -> None:
    report = evaluate(intent(account="U77"), context(account_mode=mode), LIMITS)
    finding = only(report, Check.LIVE_ACCOUNT)
    assert finding.severity is Severity.CONFIRM
    assert fragment in finding.message


@pytest.mark.parametrize(
    ("earlier_changes", "seconds_ago", "severity"),
    [
        ({"key": "ibc-0"}, 5, Severity.CONFIRM),
        ({"key": "ibc-0"}, 10, Severity.CONFIRM),
        ({"key": "ibc-0"}, 0, Severity.CONFIRM),
        ({"key": "ibc-0"}, 10.000001, None),
        ({"key": "ibc-0"}, -1, None),  # entered after this one
        ({"key": "ibc-0"}, 11, None),
        ({"key": "ibc-0", "quantity": D(3)}, 5, None),
        ({"key": "ibc-0", "side": Side.SELL}, 5, None),
        ({"key": "ibc-0", "contract": listed(con_id=5)}, 5, None),
        ({}, 5, Severity.BLOCK),  # the very same intent again
    ],
)
def test_duplicate_entry(
    earlier_changes: dict[str, Any], seconds_ago: float, severity: Severity | None
) -> None:
    earlier = intent(created_at=T0 - timedelta(seconds=seconds_ago), **earlier_changes)
    report = evaluate(intent(), context(recent_intents=(earlier,)), LIMITS)
    found = findings_of(report, Check.DUPLICATE)
    assert [f.severity for f in found] == ([] if severity is None else [severity])


def test_duplicate_message_names_the_order() -> None:
    earlier = intent(key="ibc-0", created_at=T0 - timedelta(seconds=4))
    report = evaluate(intent(), context(recent_intents=(earlier,)), LIMITS)
    assert only(report, Check.DUPLICATE).message == (
        "You sent the same order (buy 2 ESM5) 4 s ago. Send it again?"
    )


@pytest.mark.parametrize(
    ("pnl", "severity"),
    [
        (D(500), None),
        (D(-1999), None),
        (D(-2000), Severity.BLOCK),
        (D(-2500), Severity.BLOCK),
        (None, Severity.CONFIRM),
    ],
)
def test_daily_loss_limit(pnl: Decimal | None, severity: Severity | None) -> None:
    limits = RiskLimits(max_daily_loss=D(2000))
    report = evaluate(intent(), context(daily_pnl=pnl), limits)
    found = findings_of(report, Check.DAILY_LOSS)
    assert [f.severity for f in found] == ([] if severity is None else [severity])


def test_daily_loss_limit_off_by_default() -> None:
    assert findings_of(evaluate(intent(), context(daily_pnl=None), LIMITS), Check.DAILY_LOSS) == []


# --- limits are validated and frozen ---------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"max_quantity": D(0)},
        {"max_quantity": D(-1)},
        {"max_notional": D(0)},
        {"price_band_percent": D(0)},
        {"price_band_ticks": 0},
        {"max_position": D(-1)},
    ],
)
def test_nonsense_limits_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        SymbolLimits(**changes)


def test_daily_loss_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_daily_loss"):
        RiskLimits(max_daily_loss=D(-5))


def test_overrides_cannot_be_changed_after_construction() -> None:
    source = {"ES": LimitOverride(max_quantity=D(1))}
    limits = RiskLimits(overrides=source)
    source["NQ"] = LimitOverride()
    assert "NQ" not in limits.overrides
    with pytest.raises(TypeError):
        limits.overrides["NQ"] = LimitOverride()  # type: ignore[index]


# --- properties ------------------------------------------------------------------------------

quantities = st.integers(min_value=1, max_value=40).map(D)
prices = st.decimals(min_value=4000, max_value=6000, places=2, allow_nan=False)
sides = st.sampled_from(list(Side))


@settings(deadline=None)
@given(sides, quantities, prices, st.integers(min_value=-30, max_value=30))
def test_no_off_tick_price_passes(side: Side, qty: Decimal, price: Decimal, pos: int) -> None:
    report = evaluate(
        intent(side=side, quantity=qty, limit_price=price), context(position=held(pos)), LIMITS
    )
    if not is_on_tick(price, ES.min_tick):
        assert report.blocked
        assert findings_of(report, Check.TICK)


@settings(deadline=None)
@given(
    sides,
    quantities,
    st.sampled_from(list(OrderType)),
    st.sampled_from(list(Purpose)),
    st.sampled_from(list(AccountMode)),
)
def test_no_order_passes_with_an_unknown_position(
    side: Side, qty: Decimal, order_type: OrderType, purpose: Purpose, mode: AccountMode
) -> None:
    order = intent(
        side=side,
        quantity=qty,
        order_type=order_type,
        limit_price=D(5000) if order_type.needs_limit else None,
        stop_price=D(5000) if order_type.needs_stop else None,
        purpose=purpose,
    )
    report = evaluate(order, context(position=None, account_mode=mode), LIMITS)
    assert report.blocked
    assert not report.allows(confirmed=True)


@settings(deadline=None)
@given(
    sides,
    quantities,
    st.integers(min_value=-30, max_value=30),
    st.lists(
        st.tuples(sides, st.integers(min_value=0, max_value=10), st.integers(0, 3)), max_size=6
    ),
)
def test_a_passing_order_never_exceeds_the_position_limit(
    side: Side, qty: Decimal, pos: int, raw_orders: list[tuple[Side, int, int]]
) -> None:
    orders = tuple(
        working(i + 1, s, r, oca_group=f"g{g}" if g else "")
        for i, (s, r, g) in enumerate(raw_orders)
    )
    report = evaluate(
        intent(side=side, quantity=qty), context(position=held(pos), working_orders=orders), LIMITS
    )
    if report.allows(confirmed=True):
        buys, sells = working_exposure(orders, CON_ID)
        after = D(pos) + qty * side.sign
        reduces = pos != 0 and abs(after) < abs(pos) and (after == 0 or (after > 0) == (pos > 0))
        worst = D(pos) + buys + qty if side is Side.BUY else -(D(pos) - sells - qty)
        assert reduces or worst <= D(20)
        assert reduces or qty <= D(10)
