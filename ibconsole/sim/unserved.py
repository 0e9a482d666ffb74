"""The answer to every request no service of the simulator serves: TWS never leaves a request
unanswered, so neither does the gateway. A request it cannot serve gets the error TWS gives
when the account lacks the data or permission (news and Wall Street Horizon: 10276; FA: 321
for a non-FA account), otherwise an error 321 naming the request; a cancel of such a request
is accepted silently, as TWS accepts a cancel. Services registered for a message id (market
depth, option computations, ...) take precedence: the gateway asks here only when none did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ibconsole.sim.link import ClientLink
from ibconsole.sim.wire import UNSET_INTEGER

__all__ = ["UnservedRequests"]

log = logging.getLogger(__name__)

NO_REQUEST_ID = -1
_VALIDATION = "Error validating request.-'bN' : cause - "
_NOT_SERVED = _VALIDATION + "{name} is not available from this paper gateway"
# Observed from IB Gateway on paper accounts without a news subscription (ibkr-go captures)
_NEWS_NOT_ALLOWED = (10276, "News is not allowed.")
# TWS's answer to FA requests from an individual account (ibkr-go captures at v200)
_NOT_FA = (321, _VALIDATION + "FA data operations ignored for non FA customers.")


@dataclass(frozen=True, slots=True)
class _Request:
    name: str
    """The EClient method that sends it."""
    req_id_field: int | None
    """Where the request id is (fields[0] is the message id); ``None`` if it has none."""
    answer: tuple[int, str] | None = None
    """(code, message) TWS answers with; ``None`` for the generic 321 naming the request."""
    no_id: int = NO_REQUEST_ID
    """The id its error carries when the request has none."""


# Requests (by message id, server version 176 layouts) the simulator has no service for.
_REQUESTS: dict[int, _Request] = {
    10: _Request("reqMktDepth", 2),
    18: _Request("requestFA", None, _NOT_FA, no_id=UNSET_INTEGER),
    19: _Request("replaceFA", 4, _NOT_FA),
    21: _Request("exerciseOptions", 2),
    22: _Request("reqScannerSubscription", 1),
    24: _Request("reqScannerParameters", None),
    54: _Request("calculateImpliedVolatility", 2),
    55: _Request("calculateOptionPrice", 2),
    65: _Request("verifyRequest", None),
    66: _Request("verifyMessage", None),
    72: _Request("verifyAndAuthRequest", None),
    73: _Request("verifyAndAuthMessage", None),
    78: _Request("reqSecDefOptParams", 1),
    82: _Request("reqMktDepthExchanges", None),
    84: _Request("reqNewsArticle", 1, _NEWS_NOT_ALLOWED),
    86: _Request("reqHistoricalNews", 1, _NEWS_NOT_ALLOWED),
    96: _Request("reqHistoricalTicks", 1),
    97: _Request("reqTickByTickData", 1),
    100: _Request("reqWshMetaData", 1, _NEWS_NOT_ALLOWED),
    102: _Request("reqWshEventData", 1, _NEWS_NOT_ALLOWED),
    105: _Request("reqCurrentTimeInMillis", None),
}
# Cancels and switches: TWS takes them without a reply.
_SILENT = frozenset({11, 23, 56, 57, 71, 90, 98, 101, 103, 106, 107})


class UnservedRequests:
    """The gateway's fallback for message ids no service registered."""

    def answer(self, link: ClientLink, fields: list[str]) -> None:
        msg_id = int(fields[0])
        if msg_id in _SILENT:
            return
        request = _REQUESTS.get(msg_id)
        if request is None:
            log.info("client %s sent unknown message id %d", link.client_id, msg_id)
            link.send_error(NO_REQUEST_ID, 321, _VALIDATION + f"Unknown message id {msg_id}")
            return
        req_id = request.no_id
        if request.req_id_field is not None:
            req_id = int(fields[request.req_id_field])
        code, message = request.answer or (321, _NOT_SERVED.format(name=request.name))
        link.send_error(req_id, code, message)
