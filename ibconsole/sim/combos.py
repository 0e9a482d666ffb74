"""BAG combos: the legs a client names by conId, resolved against the catalogue into one combo
instrument per distinct leg set, and IB's refusals of combos it cannot take.

IB has no contract of its own for a combo: the legs define it, and TWS reports every USD combo
with the conId 28812380, local symbol ``28812380`` and trading class ``COMB`` (openOrder and
execDetails captures). A combo's price is the sum over its legs of ratio × leg price, signed
by each leg's action: for a calendar spread that buys the deferred month and sells the nearby,
deferred minus nearby. CME lists futures calendar spreads as instruments with their own book
and tick; IB routes a combo directed to the exchange ("guaranteed") to that book, and a
SMART-routed futures combo only with the ``NonGuaranteed`` tag (error 10043 otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ibconsole.sim.clock import SimClock
from ibconsole.sim.contract_details import RequestError
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.orders import ComboLegRef, OrderRequest

__all__ = [
    "COMBO_CON_ID",
    "ComboInstrument",
    "Combos",
    "Leg",
    "is_bag",
    "read_legs",
]

COMBO_CON_ID = 28812380
_NO_SECURITY = "No security definition has been found for the request"
_NEEDS_NON_GUARANTEED = (
    "Missing or invalid NonGuaranteed value. REL+MKT, LMT+MKT, and REL+LMT order of two legs "
    "can only be set as non-guaranteed."
)
_PER_LEG_PRICES = (
    "Combo per-leg prices are only supported for non-guaranteed smart combos with two legs and "
    'the "IECOMBOPERLEGPRICE" feature enabled.'
)
# Calendar-spread ticks where CME lists them finer than the outright (CME contract specs:
# "Calendar Spread: 0.05 index points" for ES, NQ and their micros, RTY and M2K); every other
# family's calendar trades on its outright tick (CL 0.01, YM and MYM 1.00).
_CALENDAR_TICKS = {
    "ES": Decimal("0.05"),
    "MES": Decimal("0.05"),
    "NQ": Decimal("0.05"),
    "MNQ": Decimal("0.05"),
    "RTY": Decimal("0.05"),
    "M2K": Decimal("0.05"),
}
_OPTION_TYPES = frozenset({"OPT", "FOP"})


def is_bag(contract: Sequence[str]) -> bool:
    """Whether a request's 12 contract fields name a combo (security type BAG)."""
    return len(contract) > 2 and contract[2].strip().upper() == "BAG"


def read_legs(fields: Sequence[str], start: int) -> tuple[list[ComboLegRef], int]:
    """The legs of a market-data style request (count, then conId ratio action exchange per
    leg) from ``fields[start]``; also the index of the first field after them."""
    count = int(fields[start] or 0)
    if count < 0:
        raise ValueError(f"combo leg count must not be negative, got {count}")
    legs = []
    index = start + 1
    for _ in range(count):
        con_id, ratio, action, exchange = fields[index : index + 4]
        legs.append(ComboLegRef(int(con_id or 0), int(ratio or 0), action, exchange))
        index += 4
    return legs, index


@dataclass(frozen=True, slots=True)
class Leg:
    """One resolved leg: which contract, how many per combo, and on which side."""

    instrument: Instrument
    ratio: int
    action: str

    @property
    def sign(self) -> int:
        """+1 for a bought leg, -1 for a sold one: its weight in the combo's price."""
        return 1 if self.action == "BUY" else -1

    @property
    def weight(self) -> int:
        return self.sign * self.ratio


@dataclass(frozen=True, slots=True)
class ComboInstrument(Instrument):
    """A combo as the simulated exchange trades it. ``con_id`` is the simulator's own key for
    this leg set (negative, never on the wire); ``listed`` marks an exchange-listed calendar
    spread, which has its own book and tick."""

    legs: tuple[Leg, ...] = ()
    listed: bool = False

    def contract_fields(self) -> tuple[object, ...]:
        """The contract block TWS sends for a combo: conId 28812380, right ``?``, local symbol
        the conId, trading class ``COMB``."""
        return (
            COMBO_CON_ID,
            self.symbol,
            "BAG",
            "",
            0.0,
            "?",
            "",
            self.exchange,
            "",
            self.currency,
            str(COMBO_CON_ID),
            "COMB",
        )


class Combos:
    """Every combo clients have named, one instrument per symbol, exchange and leg set."""

    def __init__(self, catalogue: Catalogue, clock: SimClock) -> None:
        self._catalogue = catalogue
        self._clock = clock
        self._by_key: dict[tuple[object, ...], ComboInstrument] = {}
        self._by_id: dict[int, ComboInstrument] = {}

    def get(self, con_id: int) -> ComboInstrument | None:
        return self._by_id.get(con_id)

    def resolve(
        self, contract: Sequence[str], legs: Sequence[ComboLegRef], request_code: str
    ) -> ComboInstrument:
        """The combo a request's contract fields and legs name; :class:`RequestError` with
        IB's code when TWS would refuse it (``request_code`` is the request's letters in
        TWS's 321 texts, e.g. ``bN`` for placeOrder)."""
        # the symbol comes back as the client wrote it (a captured openOrder: "IECombo")
        symbol, exchange, currency = (
            contract[1].strip(),
            contract[7].strip().upper(),
            contract[9].strip().upper(),
        )

        if not legs:
            raise _invalid(request_code, "Security type 'BAG' requires combo leg details.")
        if not exchange:
            raise _invalid(request_code, "Missing order exchange")
        resolved = [self._leg(leg, exchange, request_code) for leg in legs]
        con_ids = [leg.instrument.con_id for leg in resolved]
        if len(set(con_ids)) != len(con_ids):
            raise _invalid(request_code, "A combo names each leg contract once")
        currencies = {leg.instrument.currency for leg in resolved} | ({currency} - {""})
        if len(currencies) > 1:
            names = ", ".join(sorted(currencies))
            raise _invalid(request_code, f"Combo legs must share one currency, got {names}")
        key = (
            symbol.upper(),
            exchange,
            tuple((leg.instrument.con_id, leg.ratio, leg.action) for leg in resolved),
        )
        combo = self._by_key.get(key)
        if combo is None:
            combo = self._by_key[key] = self._build(symbol, exchange, tuple(resolved))
            self._by_id[combo.con_id] = combo
        return combo

    def routing_problem(self, request: OrderRequest, combo: ComboInstrument) -> RequestError | None:
        """IB's refusal of an order's routing: a SMART-routed combo with a futures or stock leg
        trades only as non-guaranteed (error 10043, nautilus_trader#3274); prices per leg only
        on a non-guaranteed SMART combo of two legs (error 10058, Lean IB brokerage #213)."""
        smart = combo.exchange == "SMART"
        tags = dict(request.smart_combo_params)
        non_guaranteed = smart and tags.get("NonGuaranteed", "").strip() == "1"
        per_leg = any(price is not None for price in request.order_combo_prices)
        if per_leg and not (non_guaranteed and len(combo.legs) == 2):
            return RequestError(10058, _PER_LEG_PRICES)
        if not smart or non_guaranteed:
            return None
        if all(leg.instrument.sec_type in _OPTION_TYPES for leg in combo.legs):
            return None
        return RequestError(10043, _NEEDS_NON_GUARANTEED)

    def _leg(self, leg: ComboLegRef, exchange: str, request_code: str) -> Leg:
        instrument = self._catalogue.by_con_id(leg.con_id)
        if instrument is None or instrument.is_expired(self._clock.now()):
            raise RequestError(200, _NO_SECURITY)
        if leg.ratio <= 0:
            raise _invalid(request_code, f"Invalid ratio {leg.ratio} for combo leg {leg.con_id}")
        action = leg.action.strip().upper()
        if action not in ("BUY", "SELL"):
            raise _invalid(
                request_code, f"Invalid action {leg.action!r} for combo leg {leg.con_id}"
            )
        venues = {instrument.exchange, *instrument.valid_exchanges.split(",")}
        if exchange != "SMART" and exchange not in venues:
            cause = f"Combo leg {instrument.local_symbol} does not trade on {exchange}"
            raise _invalid(request_code, cause)
        return Leg(instrument, leg.ratio, action)

    def _build(self, symbol: str, exchange: str, legs: tuple[Leg, ...]) -> ComboInstrument:
        first = legs[0].instrument
        listed = _is_listed_calendar(exchange, legs)
        tick = (
            _CALENDAR_TICKS.get(first.trading_class, first.min_tick)
            if listed
            else min(leg.instrument.min_tick for leg in legs)
        )
        return ComboInstrument(
            con_id=-1 - len(self._by_id),
            symbol=symbol or first.symbol,
            sec_type="BAG",
            exchange=exchange,
            primary_exchange="",
            currency=first.currency,
            local_symbol=str(COMBO_CON_ID),
            trading_class="COMB",
            multiplier="",
            min_tick=tick,
            last_trade_date="",
            last_trade_time="",
            contract_month="",
            time_zone=first.time_zone,
            long_name=" / ".join(
                f"{leg.action} {leg.ratio} {leg.instrument.local_symbol}" for leg in legs
            ),
            session=first.session,
            legs=legs,
            listed=listed,
        )


def _invalid(request_code: str, cause: str) -> RequestError:
    return RequestError(321, f"Error validating request.-'{request_code}' : cause - {cause}")


def _is_listed_calendar(exchange: str, legs: tuple[Leg, ...]) -> bool:
    """A futures calendar spread the exchange lists: two months of one product, 1:1, one bought
    and one sold, directed to that product's exchange."""
    if len(legs) != 2:
        return False
    near, far = (leg.instrument for leg in legs)
    return (
        near.sec_type == far.sec_type == "FUT"
        and near.trading_class == far.trading_class
        and near.exchange == far.exchange == exchange
        and legs[0].ratio == legs[1].ratio == 1
        and legs[0].action != legs[1].action
    )
