"""Contract look-ups: reqContractDetails (msg 9 -> 10.../52) and reqMarketRule (91 -> 93)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC

from ibconsole.sim.clock import SimClock
from ibconsole.sim.instruments import MARKET_RULES, Catalogue, Instrument
from ibconsole.sim.link import ClientLink
from ibconsole.sim.wire import UNSET_INTEGER

__all__ = ["ContractDetailsService", "RequestError", "resolve_contract"]

log = logging.getLogger(__name__)

# Fields of contract details laid out without a version field and with minSize,
# sizeIncrement and suggestedSizeIncrement from this server version on.
_SIZE_RULES_VERSION = 164
_SUGGESTED_SIZE_VERSION = 163
_SESSION_DAYS = 7
_NO_SECURITY = "No security definition has been found for the request"
_NO_COMBO_DETAILS = (
    "Error validating request.-'bI' : cause - 'BAG' isn't supported for contract data request. "
    "Please enter a valid security type"
)
_INDUSTRY = {"AAPL": "Technology", "MSFT": "Technology", "SPY": "Funds"}
# TWS lists a stock's ISIN in the security-id list of its contract details.
_ISIN = {"AAPL": "US0378331005", "MSFT": "US5949181045", "SPY": "US78462F1030"}


class RequestError(ValueError):
    """A request the simulator cannot serve; ``code`` is the IB error code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def resolve_contract(
    catalogue: Catalogue, contract: list[str], include_expired: bool = False
) -> Instrument:
    """The one instrument a request's 12 contract fields name (error 200 if none or several)."""
    try:
        found = catalogue.match(contract, include_expired=include_expired)
    except ValueError as exc:
        raise RequestError(321, f"Error validating request.-'contract' : cause - {exc}") from None
    if not found:
        raise RequestError(200, _NO_SECURITY)
    if len(found) > 1:
        names = ", ".join(instrument.local_symbol for instrument in found[:6])
        raise RequestError(
            200, f"The contract description specified is ambiguous; it matches {names}"
        )
    return found[0]


class ContractDetailsService:
    def __init__(self, catalogue: Catalogue, clock: SimClock) -> None:
        self._catalogue = catalogue
        self._clock = clock

    def handlers(self) -> Mapping[int, Callable[[ClientLink, list[str]], None]]:
        return {9: self._on_contract_details, 91: self._on_market_rule}

    def _on_contract_details(self, link: ClientLink, fields: list[str]) -> None:
        # 9, 8, reqId, contract(12), includeExpired, secIdType, secId[, issuerId]
        req_id = int(fields[2])
        contract = fields[3:15]
        if len(contract) != 12:
            link.send_error(req_id, 321, "Error validating request.-'contract' : incomplete")
            return
        include_expired = fields[15:16] == ["1"]
        if contract[2].strip().upper() == "BAG":
            # a combo has no contract of its own (pysystemtrade#1639 quotes TWS's answer)
            link.send_error(req_id, 321, _NO_COMBO_DETAILS)
            return
        try:
            found = self._catalogue.match(contract, include_expired=include_expired)
        except ValueError as exc:
            link.send_error(req_id, 321, f"Error validating request.-'contract' : cause - {exc}")
            return
        if not found:
            link.send_error(req_id, 200, _NO_SECURITY)
            return
        for instrument in found:
            link.send(*self.details_fields(link.server_version, req_id, instrument))
        link.send(52, 1, req_id)

    def _on_market_rule(self, link: ClientLink, fields: list[str]) -> None:
        rule_id = int(fields[1])
        rule = MARKET_RULES.get(rule_id)
        if rule is None:
            log.info("market rule %d requested but not defined", rule_id)
            return
        flat = [value for pair in rule for value in pair]
        link.send(93, rule_id, len(rule), *flat)

    def details_fields(
        self, server_version: int, req_id: int, instrument: Instrument
    ) -> tuple[object, ...]:
        """One contractDetails message (msg 10) in the layout of ``server_version``."""
        zone = instrument.zone
        today = self._clock.now().astimezone(zone).date()
        is_future = instrument.sec_type in ("FUT", "FOP")
        expires = instrument.expires_at
        # TWS at v176 writes the last trade as a UTC instant: "20240402-17:10:00" for a CME
        # future last trading at 12:10 Chicago (IB Gateway capture, ghill2/pyfutures)
        last_times = f"{expires.astimezone(UTC):%Y%m%d-%H:%M:%S}" if expires else ""
        exchanges = instrument.valid_exchanges.split(",") if instrument.valid_exchanges else []
        rule_ids = ",".join(str(instrument.market_rule_id) for _ in exchanges)
        head: list[object] = [10]
        if server_version < _SIZE_RULES_VERSION:
            head.append(8)
        head += [
            req_id,
            instrument.symbol,
            instrument.sec_type,
            last_times,
            float(instrument.strike) if instrument.right else 0,  # "0" for no strike, as TWS
            instrument.right,
            instrument.exchange,
            instrument.currency,
            instrument.local_symbol,
            instrument.trading_class,  # marketName
            instrument.trading_class,
            instrument.con_id,
            instrument.min_tick,
        ]
        if server_version < _SIZE_RULES_VERSION:
            head.append(1)  # mdSizeMultiplier, dropped at 164
        industry = _INDUSTRY.get(instrument.symbol, "") if instrument.sec_type == "STK" else ""
        body: list[object] = [
            instrument.multiplier,
            instrument.order_types,
            instrument.valid_exchanges,
            1,  # priceMagnifier
            instrument.under_con_id,
            instrument.long_name,
            "" if is_future else instrument.primary_exchange,  # futures: none (same capture)
            instrument.contract_month,
            industry,
            industry,  # category
            industry,  # subcategory
            instrument.time_zone,
            instrument.session.trading_hours(today, _SESSION_DAYS),
            instrument.session.liquid_hours(today, _SESSION_DAYS),
            "",  # evRule
            "",  # evMultiplier
            *_security_ids(instrument),
            UNSET_INTEGER if is_future else 0,  # aggGroup: unset for futures (CME, MATIF captures)
            instrument.symbol if is_future else "",
            instrument.under_sec_type,
            rule_ids,
            instrument.last_trade_date,  # realExpirationDate
            instrument.stock_type,
        ]
        if server_version >= _SIZE_RULES_VERSION:
            body += ["1", "1", "1"]
        elif server_version == _SUGGESTED_SIZE_VERSION:
            body.append("1")
        return (*head, *body)


def _security_ids(instrument: Instrument) -> tuple[object, ...]:
    """secIdList: its count, then tag and value per id (the ISIN of a stock)."""
    isin = _ISIN.get(instrument.symbol) if instrument.sec_type == "STK" else None
    return (1, "ISIN", isin) if isin else (0,)
