"""The simulated broker's books: cash, positions with average cost, realised and unrealised
P&L, commissions and margin for every account a gateway manages.

Conventions (IB's): a position's average cost is price × multiplier with the opening
commissions in it (a 1-lot ES buy at 6005.25 with 2.25 commission costs 300264.75; a short's
cost is its proceeds less commission), so unrealised P&L (market value − average cost ×
quantity) is net of the commissions paid to open, and realised P&L is net of the commissions
paid to open and to close. Commissions are charged to cash as they occur; futures and FX settle
their price P&L into cash (no notional changes hands), stocks pay and receive their notional.
Hence net liquidation = starting cash + realised + unrealised P&L.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ibconsole.sim.instruments import Instrument
from ibconsole.sim.orders import WhatIf
from ibconsole.sim.rates import Margin, commission, margin, multiplier_of
from ibconsole.sim.spread_margin import account_margin

__all__ = [
    "SUMMARY_TAGS",
    "AccountSnapshot",
    "Accounts",
    "FillCharge",
    "MarginRule",
    "Marks",
    "PositionView",
]

Marks = Callable[[Instrument], Decimal]
"""The price a position is valued at (the instrument's last trade)."""
MarginRule = Callable[[Instrument, Decimal, Decimal], Margin]
"""(instrument, signed position, price) -> margin required to hold it."""

_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_BUYING_POWER_MULTIPLE = Decimal(4)  # Reg T margin account, intraday
# Security types whose price changes hands in full (stock; options' premiums): their market
# value is part of the account's equity. Futures and FX settle only their P&L.
_PAID_IN_FULL = frozenset({"STK", "FOP"})

SUMMARY_TAGS = [
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
]
"""Every account summary tag the simulator answers (plus the ``$LEDGER`` groups)."""

_LEDGER_TAGS = (
    "CashBalance",
    "TotalCashBalance",
    "NetLiquidationByCurrency",
    "StockMarketValue",
    "OptionMarketValue",
    "FuturesPNL",
    "UnrealizedPnL",
    "RealizedPnL",
    "ExchangeRate",
)


def _money(value: Decimal) -> str:
    return format(value.quantize(_CENT), "f")


@dataclass(frozen=True, slots=True)
class FillCharge:
    """What one execution cost and realised."""

    commission: Decimal
    realized_pnl: Decimal | None
    """``None`` when the execution only opened or added to a position."""


@dataclass(frozen=True, slots=True)
class PositionView:
    account: str
    instrument: Instrument
    quantity: Decimal
    avg_cost: Decimal
    market_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal

    @property
    def daily_pnl(self) -> Decimal:
        return self.unrealized_pnl + self.realized_pnl


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """One account's figures at one moment, in its base currency."""

    account: str
    currency: str
    cash: Decimal
    stock_value: Decimal
    futures_pnl: Decimal
    net_liquidation: Decimal
    gross_position_value: Decimal
    init_margin: Decimal
    maint_margin: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    daily_pnl: Decimal
    commissions: Decimal
    option_value: Decimal = _ZERO

    @property
    def equity_with_loan(self) -> Decimal:
        return self.net_liquidation

    @property
    def available_funds(self) -> Decimal:
        return self.equity_with_loan - self.init_margin

    @property
    def excess_liquidity(self) -> Decimal:
        return self.net_liquidation - self.maint_margin

    @property
    def buying_power(self) -> Decimal:
        return max(_ZERO, self.available_funds * _BUYING_POWER_MULTIPLE)

    def _ratio(self, numerator: Decimal) -> str:
        if not self.net_liquidation:
            return "0"
        return format((numerator / self.net_liquidation).quantize(Decimal("0.0001")), "f")

    def _tag_values(self) -> dict[str, tuple[str, str]]:
        c = self.currency
        return {
            "AccountType": ("INDIVIDUAL", ""),
            "NetLiquidation": (_money(self.net_liquidation), c),
            "TotalCashValue": (_money(self.cash), c),
            "SettledCash": (_money(self.cash), c),
            "AccruedCash": ("0.00", c),
            "BuyingPower": (_money(self.buying_power), c),
            "EquityWithLoanValue": (_money(self.equity_with_loan), c),
            "PreviousDayEquityWithLoanValue": (_money(self.equity_with_loan - self.daily_pnl), c),
            "GrossPositionValue": (_money(self.gross_position_value), c),
            "RegTEquity": (_money(self.equity_with_loan), c),
            "RegTMargin": (_money(self.gross_position_value / 2), c),
            "SMA": (_money(max(_ZERO, self.available_funds)), c),
            "InitMarginReq": (_money(self.init_margin), c),
            "MaintMarginReq": (_money(self.maint_margin), c),
            "AvailableFunds": (_money(self.available_funds), c),
            "ExcessLiquidity": (_money(self.excess_liquidity), c),
            "Cushion": (self._ratio(self.excess_liquidity), ""),
            "FullInitMarginReq": (_money(self.init_margin), c),
            "FullMaintMarginReq": (_money(self.maint_margin), c),
            "FullAvailableFunds": (_money(self.available_funds), c),
            "FullExcessLiquidity": (_money(self.excess_liquidity), c),
            "LookAheadNextChange": ("0", ""),
            "LookAheadInitMarginReq": (_money(self.init_margin), c),
            "LookAheadMaintMarginReq": (_money(self.maint_margin), c),
            "LookAheadAvailableFunds": (_money(self.available_funds), c),
            "LookAheadExcessLiquidity": (_money(self.excess_liquidity), c),
            "HighestSeverity": ("0", ""),
            "DayTradesRemaining": ("-1", ""),
            "DayTradesRemainingT+1": ("-1", ""),
            "DayTradesRemainingT+2": ("-1", ""),
            "DayTradesRemainingT+3": ("-1", ""),
            "DayTradesRemainingT+4": ("-1", ""),
            "Leverage": (self._ratio(self.gross_position_value), ""),
        }

    def _ledger(self, currency: str) -> list[tuple[str, str, str]]:
        values = {
            "CashBalance": _money(self.cash),
            "TotalCashBalance": _money(self.cash),
            "NetLiquidationByCurrency": _money(self.net_liquidation),
            "StockMarketValue": _money(self.stock_value),
            "OptionMarketValue": _money(self.option_value),
            "FuturesPNL": _money(self.futures_pnl),
            "UnrealizedPnL": _money(self.unrealized_pnl),
            "RealizedPnL": _money(self.realized_pnl),
            "ExchangeRate": "1.00",
        }
        return [(tag, values[tag], currency) for tag in _LEDGER_TAGS]

    def summary(self, tags: Iterable[str]) -> list[tuple[str, str, str]]:
        """(tag, value, currency) for reqAccountSummary; unknown tags are left out, as TWS
        does. ``$LEDGER``/``$LEDGER:ALL`` give the ledger in BASE and the account currency,
        ``$LEDGER:<CUR>`` in that currency."""
        known = self._tag_values()
        rows: list[tuple[str, str, str]] = []
        for tag in tags:
            tag = tag.strip()
            if tag in known:
                value, currency = known[tag]
                rows.append((tag, value, currency))
            elif tag in ("$LEDGER", "$LEDGER:ALL"):
                rows += self._ledger("BASE")
                if tag == "$LEDGER:ALL":
                    rows += self._ledger(self.currency)
            elif tag == f"$LEDGER:{self.currency}":
                rows += self._ledger(self.currency)
        return rows

    def values(self) -> list[tuple[str, str, str]]:
        """(key, value, currency) as updateAccountValue and accountUpdateMulti carry them."""
        rows = [
            ("AccountCode", self.account, ""),
            ("AccountReady", "true", ""),
            ("Currency", self.currency, self.currency),
            ("Currency", "BASE", "BASE"),
        ]
        tag_values = self._tag_values()
        rows += [(tag, value, currency) for tag, (value, currency) in tag_values.items()]
        rows += self._ledger("BASE")
        rows += self._ledger(self.currency)
        return rows


@dataclass(slots=True)
class _Position:
    instrument: Instrument
    quantity: Decimal = _ZERO
    avg_price: Decimal = _ZERO
    """The average fill price, which futures settle against (no commission in it)."""
    avg_cost: Decimal = _ZERO
    """IB's average cost: per unit, × multiplier, opening commissions included."""
    realized: Decimal = _ZERO


@dataclass(slots=True)
class _Account:
    code: str
    cash: Decimal
    starting_equity: Decimal
    realized: Decimal = _ZERO
    commissions: Decimal = _ZERO
    positions: dict[int, _Position] = field(default_factory=dict)


class Accounts:
    """Every account a gateway manages, paper (``DU…``) or live-style (``U…``) alike."""

    def __init__(
        self,
        codes: Sequence[str],
        *,
        starting_cash: Decimal = Decimal(1_000_000),
        currency: str = "USD",
        margin_rule: MarginRule = margin,
    ) -> None:
        if not codes:
            raise ValueError("a gateway manages at least one account")
        for code in codes:
            if not code or "," in code or not code.isalnum():
                raise ValueError(f"account code must be letters and digits, got {code!r}")
        if len(set(codes)) != len(codes):
            raise ValueError(f"account codes must be unique, got {list(codes)!r}")
        self.codes = tuple(codes)
        self.currency = currency
        self._margin = margin_rule
        self._accounts = {code: _Account(code, starting_cash, starting_cash) for code in self.codes}

    def resolve(self, requested: str) -> str | None:
        """The account an order is booked to: the one named, or the first one if none is;
        ``None`` for an account this gateway does not manage."""
        if not requested:
            return self.codes[0]
        return requested if requested in self._accounts else None

    def _account(self, code: str) -> _Account:
        try:
            return self._accounts[code]
        except KeyError:
            raise KeyError(f"unknown account {code!r}; managed: {list(self.codes)}") from None

    def apply_fill(
        self,
        code: str,
        instrument: Instrument,
        side: str,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal | None = None,
    ) -> FillCharge:
        """Book one execution of ``quantity`` (unsigned) on ``side`` ('BUY'/'SELL'), charged
        the schedule's commission unless ``fee`` says otherwise (an option's expiry)."""
        account = self._account(code)
        position = account.positions.get(instrument.con_id)
        if position is None:
            position = account.positions[instrument.con_id] = _Position(instrument)
        signed = quantity if side == "BUY" else -quantity
        multiplier = multiplier_of(instrument.multiplier)
        if fee is None:
            fee = commission(instrument, quantity, price)
        realized: Decimal | None = None
        settled = _ZERO
        opening_fee = fee
        held = position.quantity
        if held and (held > 0) != (signed > 0):
            closed = min(abs(held), abs(signed))
            direction = Decimal(1) if held > 0 else Decimal(-1)
            closing_fee = fee * closed / quantity
            opening_fee = fee - closing_fee
            settled = (price - position.avg_price) * closed * direction * multiplier
            realized = (price * multiplier - position.avg_cost) * closed * direction - closing_fee
            position.realized += realized
            account.realized += realized
        new_quantity = held + signed
        if new_quantity == 0:
            position.avg_price = position.avg_cost = _ZERO
        elif held == 0 or (held > 0) != (new_quantity > 0):
            position.avg_price = price
            position.avg_cost = (price * multiplier * new_quantity + opening_fee) / new_quantity
        elif abs(new_quantity) > abs(held):
            position.avg_price = (position.avg_price * held + price * signed) / new_quantity
            position.avg_cost = (
                position.avg_cost * held + price * multiplier * signed + opening_fee
            ) / new_quantity
        position.quantity = new_quantity
        account.commissions += fee
        account.cash -= fee
        if instrument.sec_type in _PAID_IN_FULL:
            account.cash -= signed * price * multiplier
        else:
            account.cash += settled
        return FillCharge(fee, realized)

    def _view(self, code: str, position: _Position, marks: Marks) -> PositionView:
        instrument = position.instrument
        multiplier = multiplier_of(instrument.multiplier)
        mark = marks(instrument) if position.quantity else position.avg_price
        market_value = mark * position.quantity * multiplier
        return PositionView(
            account=code,
            instrument=instrument,
            quantity=position.quantity,
            avg_cost=position.avg_cost,
            market_price=mark,
            market_value=market_value,
            unrealized_pnl=market_value - position.avg_cost * position.quantity,
            realized_pnl=position.realized,
        )

    def positions(self, code: str, marks: Marks) -> list[PositionView]:
        """Open positions (non-zero quantity), in the order they were first traded."""
        account = self._account(code)
        return [
            self._view(code, position, marks)
            for position in account.positions.values()
            if position.quantity
        ]

    def position(self, code: str, con_id: int, marks: Marks) -> PositionView | None:
        """The position in one contract, also when it was closed (quantity 0) today."""
        position = self._account(code).positions.get(con_id)
        return None if position is None else self._view(code, position, marks)

    def quantity(self, code: str, con_id: int) -> Decimal:
        position = self._account(code).positions.get(con_id)
        return _ZERO if position is None else position.quantity

    def snapshot(self, code: str, marks: Marks) -> AccountSnapshot:
        account = self._account(code)
        stock_value = option_value = futures_pnl = unrealized = gross = _ZERO
        holdings = []
        for position in account.positions.values():
            if not position.quantity:
                continue
            view = self._view(code, position, marks)
            unrealized += view.unrealized_pnl
            holdings.append((position.instrument, position.quantity, view.market_price))
            if position.instrument.sec_type == "STK":
                stock_value += view.market_value
                gross += abs(view.market_value)
            elif position.instrument.sec_type in _PAID_IN_FULL:
                option_value += view.market_value
                gross += abs(view.market_value)
            else:
                # what the futures settle into cash: price moves only, the commission is paid
                multiplier = multiplier_of(position.instrument.multiplier)
                price_move = view.market_price - position.avg_price
                futures_pnl += price_move * position.quantity * multiplier
        net_liquidation = account.cash + stock_value + option_value + futures_pnl
        need = account_margin(holdings, self._margin)
        init, maint = need.initial, need.maintenance
        return AccountSnapshot(
            account=code,
            currency=self.currency,
            cash=account.cash,
            stock_value=stock_value,
            futures_pnl=futures_pnl,
            net_liquidation=net_liquidation,
            gross_position_value=gross,
            init_margin=init,
            maint_margin=maint,
            unrealized_pnl=unrealized,
            realized_pnl=account.realized,
            daily_pnl=net_liquidation - account.starting_equity,
            commissions=account.commissions,
            option_value=option_value,
        )

    def what_if(
        self,
        code: str,
        legs: Sequence[tuple[Instrument, Decimal]],
        price: Decimal,
        marks: Marks,
    ) -> WhatIf:
        """Margin before and after executing ``legs`` (each contract with its signed quantity:
        one for an order, one per leg for a combo) and their commission; ``price`` is what a
        single contract would execute at, combo legs are valued at their marks."""
        before = self.snapshot(code, marks)
        account = self._account(code)
        held = {
            con_id: (position.instrument, position.quantity)
            for con_id, position in account.positions.items()
            if position.quantity
        }
        fee = _ZERO
        for instrument, signed in legs:
            _, quantity = held.get(instrument.con_id, (instrument, _ZERO))
            held[instrument.con_id] = (instrument, quantity + signed)
            leg_price = price if len(legs) == 1 else marks(instrument)
            fee += commission(instrument, signed, leg_price)
        then = account_margin(
            ((instrument, quantity, marks(instrument)) for instrument, quantity in held.values()),
            self._margin,
        )
        return WhatIf(
            init_before=before.init_margin,
            maint_before=before.maint_margin,
            equity_before=before.equity_with_loan,
            init_after=then.initial,
            maint_after=then.maintenance,
            equity_after=before.equity_with_loan - fee,
            commission=fee,
            currency=self.currency,
        )
