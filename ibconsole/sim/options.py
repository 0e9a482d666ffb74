"""Option requests: reqSecDefOptParams (78 -> 75 per trading class and underlying, then 76),
calculateImpliedVolatility (54) and calculateOptionPrice (55) -> TICK_OPTION_COMPUTATION with
tick type 53 (CUST_OPTION_COMPUTATION), and their cancels (56, 57)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ibconsole.sim import black76
from ibconsole.sim.clock import SimClock
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.instruments import Catalogue, Instrument
from ibconsole.sim.link import ClientLink
from ibconsole.sim.option_chains import OptionChains
from ibconsole.sim.option_quotes import years_between
from ibconsole.sim.option_ticks import computation_fields
from ibconsole.sim.volatility_smile import RATE

__all__ = ["OptionsService"]

log = logging.getLogger(__name__)

Handler = Callable[[ClientLink, list[str]], None]

_CUSTOM_COMPUTATION = 53
_CONTRACT = slice(3, 15)


def _positive(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RequestError(321, f"Error validating request.-'{name}' : not a number") from None
    if not value > 0 or value == float("inf"):
        raise RequestError(321, f"Error validating request.-'{name}' : must be positive")
    return value


class OptionsService:
    """Option chains and IB's option calculator for API clients."""

    def __init__(self, catalogue: Catalogue, chains: OptionChains, clock: SimClock) -> None:
        self._catalogue = catalogue
        self._chains = chains
        self._clock = clock

    def handlers(self) -> Mapping[int, Handler]:
        return {
            54: self._on_implied_volatility,
            55: self._on_option_price,
            56: self._on_cancel_calculation,
            57: self._on_cancel_calculation,
            78: self._on_sec_def_opt_params,
        }

    def _on_sec_def_opt_params(self, link: ClientLink, fields: list[str]) -> None:
        # 78, reqId, underlyingSymbol, futFopExchange, underlyingSecType, underlyingConId
        req_id = int(fields[1])
        symbol, exchange, sec_type = fields[2], fields[3], fields[4].upper()
        under_con_id = int(fields[5] or 0)
        if sec_type == "FUT":
            for option_class, underlying, members in self._chains.chains(
                symbol, exchange, under_con_id
            ):
                expirations = sorted({series.expiry for series in members})
                strikes = sorted({k for series in members for k in self._chains.strikes(series)})
                link.send(
                    75,
                    req_id,
                    option_class.exchange,
                    underlying.con_id,
                    option_class.trading_class,
                    option_class.multiplier,
                    len(expirations),
                    *expirations,
                    len(strikes),
                    *(float(strike) for strike in strikes),
                )
        link.send(76, req_id)

    def _option(self, fields: list[str]) -> Instrument:
        instrument = resolve_contract(self._catalogue, fields[_CONTRACT])
        if instrument.sec_type != "FOP":
            raise RequestError(
                321,
                "Error validating request.-'contract' : cause - option calculations need an "
                f"option contract, got {instrument.sec_type} {instrument.local_symbol}",
            )
        return instrument

    def _years(self, instrument: Instrument) -> float:
        expires = instrument.expires_at
        return 0.0 if expires is None else years_between(self._clock.now(), expires)

    def _on_implied_volatility(self, link: ClientLink, fields: list[str]) -> None:
        # 54, 3, reqId, contract(12), optionPrice, underPrice, implVolOptions...
        req_id = int(fields[2])
        try:
            instrument = self._option(fields)
            option_price = _positive(fields[15], "optionPrice")
            under_price = _positive(fields[16], "underPrice")
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        years = self._years(instrument)
        strike, right = float(instrument.strike), instrument.right
        vol = black76.implied_volatility(option_price, under_price, strike, years, RATE, right)
        greeks = (
            None
            if vol is None
            else black76.greeks(under_price, strike, years, RATE, vol, instrument.right)
        )
        link.send(
            *computation_fields(req_id, _CUSTOM_COMPUTATION, vol, greeks, option_price, under_price)
        )

    def _on_option_price(self, link: ClientLink, fields: list[str]) -> None:
        # 55, 3, reqId, contract(12), volatility, underPrice, optPrcOptions...
        req_id = int(fields[2])
        try:
            instrument = self._option(fields)
            vol = _positive(fields[15], "volatility")
            under_price = _positive(fields[16], "underPrice")
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        greeks = black76.greeks(
            under_price,
            float(instrument.strike),
            self._years(instrument),
            RATE,
            vol,
            instrument.right,
        )
        link.send(*computation_fields(req_id, _CUSTOM_COMPUTATION, vol, greeks, None, under_price))

    def _on_cancel_calculation(self, link: ClientLink, fields: list[str]) -> None:
        # 56/57, 1, reqId: a calculation is answered at once, so nothing is left to stop
        log.debug("%r cancelled option calculation %s", link, fields[2])
