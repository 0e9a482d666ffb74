"""Order messages on the wire: placeOrder in; openOrder, orderStatus, execDetails,
commissionReport and completedOrder out (server versions 176 to 178)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ibconsole.sim.orders import (
    ComboLegRef,
    ContractRef,
    Execution,
    OrderRequest,
    OrderSnapshot,
    WhatIf,
)
from ibconsole.sim.wire import UNSET_DOUBLE, UNSET_INTEGER, is_unset_double

__all__ = [
    "MIN_SERVER_VERSION_FA_PROFILE_DESUPPORT",
    "MIN_SERVER_VERSION_PENDING_PRICE_REVISION",
    "OrderFormatError",
    "commission_report_fields",
    "completed_order_fields",
    "decode_place_order",
    "exec_details_fields",
    "ib_time_text",
    "open_order_fields",
    "order_status_fields",
]

MIN_SERVER_VERSION_FA_PROFILE_DESUPPORT = 177
MIN_SERVER_VERSION_PENDING_PRICE_REVISION = 178

# Number of fields of each order condition type including its type field, from the
# condition classes the clients serialise field by field.
_CONDITION_WIDTHS = {1: 7, 3: 4, 4: 4, 5: 5, 6: 6, 7: 6}


class OrderFormatError(ValueError):
    """A placeOrder message that does not follow the layout of its server version."""

    def __init__(self, message: str, order_id: int | None) -> None:
        super().__init__(message)
        self.order_id = order_id


class _Cursor:
    def __init__(self, fields: Sequence[str], order_id: int | None) -> None:
        self._fields = fields
        self._index = 1
        self.order_id = order_id

    def error(self, message: str) -> OrderFormatError:
        return OrderFormatError(f"placeOrder {message}", self.order_id)

    def text(self, name: str) -> str:
        if self._index >= len(self._fields):
            raise self.error(
                f"ended after {len(self._fields)} fields, before {name} (field {self._index})"
            )
        value = self._fields[self._index]
        self._index += 1
        return value

    def skip(self, count: int, name: str) -> tuple[str, ...]:
        return tuple(self.text(f"{name} {i + 1}/{count}") for i in range(count))

    def integer(self, name: str, default: int = 0) -> int:
        value = self.optional_int(name)
        return default if value is None else value

    def optional_int(self, name: str) -> int | None:
        value = self.text(name)
        if value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise self.error(f"field {name} must be an integer, got {value!r}") from None

    def decimal(self, name: str) -> Decimal | None:
        value = self.text(name)
        if value == "" or is_unset_double(value):
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(f"field {name} must be a number, got {value!r}") from None
        if not number.is_finite():
            raise self.error(f"field {name} must be a finite number, got {value!r}")
        return number

    def number_text(self, name: str) -> str:
        """A numeric field only needed to steer the cursor (kept as text, 'Infinite' allowed)."""
        value = self.text(name)
        if value not in ("", "Infinite", "-Infinite") and not is_unset_double(value):
            try:
                Decimal(value)
            except InvalidOperation:
                raise self.error(f"field {name} must be a number, got {value!r}") from None
        return value

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value in ("", "0"):
            return False
        if value == "1":
            return True
        raise self.error(f"field {name} must be 0 or 1, got {value!r}")

    def finish(self) -> None:
        extra = len(self._fields) - self._index
        if extra:
            raise self.error(
                f"has {extra} unexpected trailing field(s) after {self._index} fields: "
                f"{list(self._fields[self._index : self._index + 5])!r}"
            )


def _whole_if_integral(number: Decimal) -> Decimal:
    """``1.0`` (a float quantity as the client prints it) becomes ``1`` so it can be echoed in
    fields the clients parse with ``int()``."""
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def decode_place_order(fields: Sequence[str], server_version: int) -> OrderRequest:
    """Decode msg 3 with a cursor that mirrors the client's writer, variable parts included.

    Raises :class:`OrderFormatError` naming the first field that does not fit.
    """
    if not fields or fields[0] != "3":
        raise OrderFormatError(f"not a placeOrder message: {list(fields[:3])!r}", None)
    order_id: int | None
    try:
        order_id = int(fields[1]) if len(fields) > 1 else None
    except ValueError:
        order_id = None
    cur = _Cursor(fields, order_id)
    parsed_order_id = cur.integer("orderId")
    contract = ContractRef(
        con_id=cur.integer("conId"),
        symbol=cur.text("symbol"),
        sec_type=cur.text("secType"),
        last_trade_date=cur.text("lastTradeDateOrContractMonth"),
        strike=cur.text("strike"),
        right=cur.text("right"),
        multiplier=cur.text("multiplier"),
        exchange=cur.text("exchange"),
        primary_exchange=cur.text("primaryExchange"),
        currency=cur.text("currency"),
        local_symbol=cur.text("localSymbol"),
        trading_class=cur.text("tradingClass"),
    )
    cur.skip(2, "secIdType/secId")
    action = cur.text("action")
    quantity = cur.decimal("totalQuantity")
    order_type = cur.text("orderType")
    lmt_price = cur.decimal("lmtPrice")
    aux_price = cur.decimal("auxPrice")
    tif = cur.text("tif")
    oca_group = cur.text("ocaGroup")
    account = cur.text("account")
    open_close = cur.text("openClose")
    origin = cur.integer("origin")
    order_ref = cur.text("orderRef")
    transmit = cur.flag("transmit")
    parent_id = cur.integer("parentId")
    block_order = cur.flag("blockOrder")
    sweep_to_fill = cur.flag("sweepToFill")
    display_size = cur.integer("displaySize")
    trigger_method = cur.integer("triggerMethod")
    outside_rth = cur.flag("outsideRth")
    hidden = cur.flag("hidden")
    combo_legs: tuple[ComboLegRef, ...] = ()
    combo_prices: tuple[Decimal | None, ...] = ()
    combo_params: tuple[tuple[str, str], ...] = ()
    if contract.sec_type.upper() == "BAG":
        combo_legs = tuple(_combo_leg(cur) for _ in range(cur.integer("comboLegs count")))
        combo_prices = tuple(
            cur.decimal("order combo leg price") for _ in range(cur.integer("orderComboLegs count"))
        )
        combo_params = tuple(
            (cur.text("smartComboRoutingParam tag"), cur.text("smartComboRoutingParam value"))
            for _ in range(cur.integer("smartComboRoutingParams count"))
        )
    cur.text("sharesAllocation")
    discretionary_amt = cur.decimal("discretionaryAmt")
    good_after_time = cur.text("goodAfterTime")
    good_till_date = cur.text("goodTillDate")
    fa_group = cur.text("faGroup")
    fa_method = cur.text("faMethod")
    fa_percentage = cur.text("faPercentage")
    fa_profile = (
        cur.text("faProfile") if server_version < MIN_SERVER_VERSION_FA_PROFILE_DESUPPORT else ""
    )
    model_code = cur.text("modelCode")
    cur.integer("shortSaleSlot")
    cur.text("designatedLocation")
    cur.integer("exemptCode", -1)
    oca_type = cur.integer("ocaType")
    rule80a = cur.text("rule80A")
    cur.text("settlingFirm")
    all_or_none = cur.flag("allOrNone")
    min_qty = cur.optional_int("minQty")
    cur.number_text("percentOffset")
    cur.flag("eTradeOnly")
    cur.flag("firmQuoteOnly")
    cur.number_text("nbboPriceCap")
    cur.integer("auctionStrategy")
    for name in ("startingPrice", "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper"):
        cur.number_text(name)
    cur.flag("overridePercentageConstraints")
    cur.number_text("volatility")
    cur.optional_int("volatilityType")
    delta_neutral_order_type = cur.text("deltaNeutralOrderType")
    cur.number_text("deltaNeutralAuxPrice")
    if delta_neutral_order_type:
        cur.skip(8, "deltaNeutral field")
    cur.flag("continuousUpdate")
    cur.optional_int("referencePriceType")
    trail_stop_price = cur.decimal("trailStopPrice")
    trailing_percent = cur.decimal("trailingPercent")
    cur.optional_int("scaleInitLevelSize")
    cur.optional_int("scaleSubsLevelSize")
    increment = cur.number_text("scalePriceIncrement")
    if increment not in ("", "Infinite", "-Infinite") and 0 < float(increment) < UNSET_DOUBLE:
        cur.skip(7, "scale field")
    cur.skip(3, "scaleTable/activeStartTime/activeStopTime")
    hedge_type = cur.text("hedgeType")
    hedge_param = cur.text("hedgeParam") if hedge_type else ""
    cur.flag("optOutSmartRouting")
    cur.text("clearingAccount")
    cur.text("clearingIntent")
    not_held = cur.flag("notHeld")
    if cur.flag("deltaNeutralContract present"):
        cur.skip(3, "deltaNeutralContract field")
    algo_strategy = cur.text("algoStrategy")
    algo_params: tuple[tuple[str, str], ...] = ()
    if algo_strategy:
        count = cur.integer("algoParams count")
        algo_params = tuple(
            (cur.text("algoParam tag"), cur.text("algoParam value")) for _ in range(count)
        )
    algo_id = cur.text("algoId")
    what_if = cur.flag("whatIf")
    cur.text("orderMiscOptions")
    cur.flag("solicited")
    cur.flag("randomizeSize")
    cur.flag("randomizePrice")
    if order_type == "PEG BENCH":
        cur.skip(5, "PEG BENCH field")
    conditions: list[tuple[str, ...]] = []
    for _ in range(cur.integer("conditions count")):
        cond_type = cur.integer("condition type")
        width = _CONDITION_WIDTHS.get(cond_type)
        if width is None:
            raise cur.error(f"has an unknown order condition type {cond_type}")
        conditions.append((str(cond_type), *cur.skip(width - 1, "condition field")))
    if conditions:
        cur.skip(2, "conditionsIgnoreRth/conditionsCancelOrder")
    cur.skip(7, "adjusted order field")
    cur.text("extOperator")
    cur.skip(2, "softDollarTier field")
    cash_qty = cur.decimal("cashQty")
    cur.skip(4, "mifid2 field")
    cur.skip(4, "dontUseAutoPriceForHedge/isOmsContainer/discretionaryUpToLimit/usePriceMgmtAlgo")
    if server_version >= 158:
        cur.optional_int("duration")
    if server_version >= 160:
        cur.optional_int("postToAts")
    if server_version >= 162:
        cur.flag("autoCancelParent")
    advanced_error_override = cur.text("advancedErrorOverride") if server_version >= 166 else ""
    manual_order_time = cur.text("manualOrderTime") if server_version >= 169 else ""
    if server_version >= 170:
        if contract.exchange == "IBKRATS":
            cur.optional_int("minTradeQty")
        if order_type == "PEG BEST":
            cur.optional_int("minCompeteSize")
            if cur.number_text("competeAgainstBestOffset") == "Infinite":
                cur.skip(2, "midOffset field")
        elif order_type == "PEG MID":
            cur.skip(2, "midOffset field")
    cur.finish()
    return OrderRequest(
        order_id=parsed_order_id,
        contract=contract,
        action=action,
        quantity=_whole_if_integral(quantity) if quantity is not None else Decimal(0),
        order_type=order_type,
        lmt_price=lmt_price,
        aux_price=aux_price,
        tif=tif,
        oca_group=oca_group,
        account=account,
        open_close=open_close,
        origin=origin,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        block_order=block_order,
        sweep_to_fill=sweep_to_fill,
        display_size=display_size,
        trigger_method=trigger_method,
        outside_rth=outside_rth,
        hidden=hidden,
        discretionary_amt=discretionary_amt,
        good_after_time=good_after_time,
        good_till_date=good_till_date,
        fa_group=fa_group,
        fa_method=fa_method,
        fa_percentage=fa_percentage,
        fa_profile=fa_profile,
        model_code=model_code,
        oca_type=oca_type,
        rule80a=rule80a,
        all_or_none=all_or_none,
        min_qty=min_qty,
        trail_stop_price=trail_stop_price,
        trailing_percent=trailing_percent,
        hedge_type=hedge_type,
        hedge_param=hedge_param,
        not_held=not_held,
        algo_strategy=algo_strategy,
        algo_params=algo_params,
        algo_id=algo_id,
        what_if=what_if,
        conditions=tuple(conditions),
        cash_qty=cash_qty,
        advanced_error_override=advanced_error_override,
        manual_order_time=manual_order_time,
        combo_legs=combo_legs,
        order_combo_prices=combo_prices,
        smart_combo_params=combo_params,
    )


def _combo_leg(cur: _Cursor) -> ComboLegRef:
    return ComboLegRef(
        con_id=cur.integer("combo leg conId"),
        ratio=cur.integer("combo leg ratio"),
        action=cur.text("combo leg action"),
        exchange=cur.text("combo leg exchange"),
        open_close=cur.integer("combo leg openClose"),
        short_sale_slot=cur.integer("combo leg shortSaleSlot"),
        designated_location=cur.text("combo leg designatedLocation"),
        exempt_code=cur.integer("combo leg exemptCode", -1),
    )


def ib_time_text(moment: datetime) -> str:
    """A timestamp as IB writes it in executions: ``20250102 14:30:00 UTC``."""
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


def _contract11(block: Sequence[object]) -> tuple[object, ...]:
    """The contract block without primaryExchange, as openOrder/execDetails/position carry it."""
    if len(block) != 12:
        raise ValueError(f"a contract block has 12 fields, got {len(block)}")
    return (*block[0:8], *block[9:12])


def _order_contract(block: Sequence[object]) -> tuple[object, ...]:
    """The contract block of openOrder and completedOrder: as execDetails carries it, but the
    strike printed without a needless fraction and an unset right as ``?`` (TWS v173/v176
    captures: ``265598|AAPL|STK||0|?||SMART``)."""
    fields = list(_contract11(block))
    strike = fields[4]
    if isinstance(strike, float | Decimal) and strike == int(strike):
        fields[4] = int(strike)
    if fields[5] == "":
        fields[5] = "?"
    return tuple(fields)


def _unset_double(value: Decimal | None) -> object:
    return UNSET_DOUBLE if value is None else value


def _algo_fields(request: OrderRequest) -> tuple[object, ...]:
    if not request.algo_strategy:
        return ("",)
    pairs = [item for pair in request.algo_params for item in pair]
    return (request.algo_strategy, len(request.algo_params), *pairs)


# Runs of fields openOrder and completedOrder both carry, in wire order: clients read each run
# with the same decoding steps in both messages, so each is written here once.


def _order_terms(r: OrderRequest) -> tuple[object, ...]:
    """action through orderRef."""
    return (
        r.action,
        r.quantity,
        r.order_type,
        # TWS echoes an unset limit or stop price as 0.0, and fills in its default TIF
        r.lmt_price if r.lmt_price is not None else 0.0,
        r.aux_price if r.aux_price is not None else 0.0,
        r.tif or "DAY",
        r.oca_group,
        r.account,
        r.open_close,
        r.origin,
        r.order_ref,
    )


def _handling(r: OrderRequest) -> tuple[object, ...]:
    """outsideRth through goodAfterTime."""
    return (
        r.outside_rth,
        r.hidden,
        r.discretionary_amt or 0,
        r.good_after_time,
    )


def _allocation_to_exempt_code(r: OrderRequest, server_version: int) -> tuple[object, ...]:
    """faGroup through exemptCode; faProfile only before its desupport."""
    fa_profile = (r.fa_profile,) if server_version < MIN_SERVER_VERSION_FA_PROFILE_DESUPPORT else ()
    return (
        r.fa_group,
        r.fa_method,
        r.fa_percentage,
        *fa_profile,
        r.model_code,
        r.good_till_date,
        r.rule80a,
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
    )


_BOX_AND_STOCK_RANGE: tuple[object, ...] = (
    "",  # startingPrice
    "",  # stockRefPrice
    "",  # delta
    "",  # stockRangeLower
    "",  # stockRangeUpper
)


# TWS names no delta-neutral order type "None", so the clients go on to read the delta-neutral
# fields: all of them in openOrder, four in completedOrder.
_DELTA_NEUTRAL_OPEN: tuple[object, ...] = (0, "", "", "", "?", False, 0, "")
_DELTA_NEUTRAL_COMPLETED: tuple[object, ...] = (0, False, 0, "")


def _volatility_and_trail(r: OrderRequest, delta_neutral: tuple[object, ...]) -> tuple[object, ...]:
    """volatility through trailingPercent."""
    return (
        "",  # volatility
        0,  # volatilityType
        "None",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        *delta_neutral,
        False,  # continuousUpdate
        0,  # referencePriceType
        r.trail_stop_price,
        r.trailing_percent,
    )


def _combo_fields(r: OrderRequest) -> tuple[object, ...]:
    """comboLegsDescrip, the legs, the per-leg prices and the smart-combo routing tags, as IB
    echoes a BAG order (``conId|signed ratio`` pairs in the description, as in TWS's
    openOrder); four empty counts for any other order."""
    legs = r.combo_legs
    description = ",".join(
        f"{leg.con_id}|{-leg.ratio if leg.action.upper() == 'SELL' else leg.ratio}" for leg in legs
    )
    leg_fields = [
        value
        for leg in legs
        for value in (
            leg.con_id,
            leg.ratio,
            leg.action,
            leg.exchange,
            leg.open_close,
            leg.short_sale_slot,
            leg.designated_location,
            leg.exempt_code,
        )
    ]
    params = [value for pair in r.smart_combo_params for value in pair]
    return (
        description,
        len(legs),
        *leg_fields,
        len(r.order_combo_prices),
        *(UNSET_DOUBLE if price is None else price for price in r.order_combo_prices),
        len(r.smart_combo_params),
        *params,
    )


def _combo_scale_and_hedge(r: OrderRequest) -> tuple[object, ...]:
    """comboLegsDescrip through hedgeType (and hedgeParam when there is a hedge)."""
    return (
        *_combo_fields(r),
        UNSET_INTEGER,  # scaleInitLevelSize
        UNSET_INTEGER,  # scaleSubsLevelSize
        "",  # scalePriceIncrement
        r.hedge_type,
        *((r.hedge_param,) if r.hedge_type else ()),
    )


def _clearing_to_solicited(r: OrderRequest) -> tuple[object, ...]:
    """clearingAccount through solicited."""
    return (
        "",  # clearingAccount
        "IB",  # clearingIntent
        r.not_held,
        False,  # deltaNeutralContract present
        *_algo_fields(r),
        False,  # solicited
    )


_PEG_BEST_PEG_MID: tuple[object, ...] = (
    "",  # minTradeQty
    "",  # minCompeteSize
    "",  # competeAgainstBestOffset
    "",  # midOffsetAtWhole
    "",  # midOffsetAtHalf
)
# TWS fills in IB's PEG BEST defaults for stocks (v173 capture of an AAPL order: 100 and 0.02)
# and leaves them empty for futures (capture of an ES order).
_STOCK_PEG_BEST_PEG_MID: tuple[object, ...] = ("", 100, 0.02, "", "")
_NOT_A_SHAREHOLDER = "Not an insider or substantial shareholder"
_UNSET_LONG = 2**63 - 1


def _display_size(r: OrderRequest) -> int:
    return r.display_size or UNSET_INTEGER


def _oca_type(r: OrderRequest) -> int:
    # 3 (reduce, no block) is what TWS reports for an order that named no OCA type
    return r.oca_type or 3


def open_order_fields(
    snapshot: OrderSnapshot,
    contract: Sequence[object],
    server_version: int,
    what_if: WhatIf | None = None,
) -> tuple[object, ...]:
    """openOrder (msg 5, no version field): 136 fields for a plain order at v176, 135 at v177+.

    ``contract`` is the instrument's 12-field block; ``what_if`` turns the reply into a
    what-if answer (whatIf=1 with numeric margins and commission).
    """
    r = snapshot.request
    if what_if is None:
        margin_fields: tuple[object, ...] = (UNSET_DOUBLE,) * 9
        commission: tuple[object, ...] = (None, None, None, "")
    else:
        margin_fields = (
            what_if.init_before,
            what_if.maint_before,
            what_if.equity_before,
            what_if.init_change,
            what_if.maint_change,
            what_if.equity_change,
            what_if.init_after,
            what_if.maint_after,
            what_if.equity_after,
        )
        fee = what_if.commission
        commission = (fee, fee, fee, what_if.currency)
    fields: tuple[object, ...] = (
        5,
        snapshot.order_id,
        *_order_contract(contract),
        *_order_terms(r),
        snapshot.client_id,
        snapshot.perm_id,
        *_handling(r),
        f"{snapshot.perm_id}.0/{r.account}/100",  # sharesAllocation, deprecated
        *_allocation_to_exempt_code(r, server_version),
        0,  # auctionStrategy
        *_BOX_AND_STOCK_RANGE,
        _display_size(r),
        r.block_order,
        r.sweep_to_fill,
        r.all_or_none,
        r.min_qty,
        _oca_type(r),
        False,  # eTradeOnly
        False,  # firmQuoteOnly
        "",  # nbboPriceCap
        snapshot.parent_id,
        r.trigger_method,
        *_volatility_and_trail(r, _DELTA_NEUTRAL_OPEN),
        "",  # basisPoints
        "",  # basisPointsType
        *_combo_scale_and_hedge(r),
        False,  # optOutSmartRouting
        *_clearing_to_solicited(r),
        what_if is not None,
        snapshot.status,
        *margin_fields,
        *commission,
        "",  # warningText
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # conditions: not echoed, conditional orders are rejected
        "None",  # adjustedOrderType
        UNSET_DOUBLE,  # triggerPrice
        _unset_double(r.trail_stop_price),
        UNSET_DOUBLE,  # lmtPriceOffset
        UNSET_DOUBLE,  # adjustedStopPrice
        UNSET_DOUBLE,  # adjustedStopLimitPrice
        UNSET_DOUBLE,  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        r.cash_qty if r.cash_qty is not None else 0,
        True,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        False,  # discretionaryUpToLimitPrice
        False,  # usePriceMgmtAlgo
        "",  # duration
        "",  # postToAts
        False,  # autoCancelParent
        *(_STOCK_PEG_BEST_PEG_MID if contract[2] == "STK" else _PEG_BEST_PEG_MID),
    )
    return fields


def order_status_fields(snapshot: OrderSnapshot) -> tuple[object, ...]:
    """orderStatus (msg 3 outbound, no version field): 12 fields."""
    return (
        3,
        snapshot.order_id,
        snapshot.status,
        snapshot.filled,
        snapshot.remaining,
        snapshot.avg_fill_price,
        snapshot.perm_id,
        snapshot.parent_id,
        snapshot.last_fill_price,
        snapshot.client_id,
        snapshot.why_held,
        0,  # mktCapPrice, as TWS sends it (v173 capture)
    )


def exec_details_fields(
    req_id: int, execution: Execution, contract: Sequence[object], server_version: int
) -> tuple[object, ...]:
    """execDetails (msg 11, no version field): exactly 31 fields up to v177, 32 at v178+."""
    # a SMART order executes on a venue, which TWS reports (v173 capture: AAPL on IEX)
    exchange = contract[8] if contract[7] == "SMART" and contract[8] else contract[7]
    fields: tuple[object, ...] = (
        11,
        req_id,
        execution.order_id,
        *_contract11((*contract[:7], exchange, *contract[8:])),
        execution.exec_id,
        ib_time_text(execution.time),
        execution.account,
        exchange,
        "BOT" if execution.side == "BUY" else "SLD",
        execution.shares,
        execution.price,
        execution.perm_id,
        execution.client_id,
        0,  # liquidation
        execution.cum_qty,
        execution.avg_price,
        execution.order_ref,
        "",  # evRule
        "",  # evMultiplier
        execution.model_code,
        2,  # lastLiquidity: 2 = removed liquidity (the simulator fills at the touch)
    )
    if server_version >= MIN_SERVER_VERSION_PENDING_PRICE_REVISION:
        fields += (False,)
    return fields


def commission_report_fields(execution: Execution) -> tuple[object, ...]:
    """commissionReport (msg 59): exactly 8 fields; realised P&L unset on opening fills."""
    return (
        59,
        1,
        execution.exec_id,
        execution.commission,
        execution.commission_currency,
        execution.realized_pnl if execution.realized_pnl is not None else UNSET_DOUBLE,
        UNSET_DOUBLE,  # yield
        "",  # yieldRedemptionDate
    )


def completed_order_fields(
    snapshot: OrderSnapshot, contract: Sequence[object], server_version: int
) -> tuple[object, ...]:
    """completedOrder (msg 101, no version, no orderId): 101 fields for a plain order at v176."""
    r = snapshot.request
    completed_status = "Filled" if snapshot.status == "Filled" else "Cancelled by Trader"
    return (
        101,
        *_order_contract(contract),
        *_order_terms(r),
        snapshot.perm_id,
        *_handling(r),
        *_allocation_to_exempt_code(r, server_version),
        *_BOX_AND_STOCK_RANGE,
        _display_size(r),
        r.sweep_to_fill,
        r.all_or_none,
        r.min_qty,
        _oca_type(r),
        r.trigger_method,
        *_volatility_and_trail(r, _DELTA_NEUTRAL_COMPLETED),
        *_combo_scale_and_hedge(r),
        *_clearing_to_solicited(r),
        snapshot.status,
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # conditions
        _unset_double(r.trail_stop_price),
        UNSET_DOUBLE,  # lmtPriceOffset
        r.cash_qty if r.cash_qty is not None else 0,
        True,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        "",  # autoCancelDate
        snapshot.filled,
        UNSET_INTEGER,  # refFuturesConId
        False,  # autoCancelParent
        _NOT_A_SHAREHOLDER,
        False,  # imbalanceOnly
        False,  # routeMarketableToBbo
        _UNSET_LONG,  # parentPermId
        ib_time_text(snapshot.updated_at),
        completed_status,
        *_PEG_BEST_PEG_MID,
    )
