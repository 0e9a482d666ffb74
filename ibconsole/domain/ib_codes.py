"""IB's numbered API messages: what each code means for the connection, and a sentence for the trader.

Codes and texts follow IB's "Message Codes" reference (interactivebrokers.github.io/tws-api/
message_codes.html). The category drives the health machine; the sentence is shown to the trader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["IbAction", "IbCategory", "IbMessage", "IbSeverity", "classify", "farm_name"]


class IbCategory(StrEnum):
    CONNECTIVITY_LOST = "connectivity_lost"
    CONNECTIVITY_RESTORED_DATA_LOST = "connectivity_restored_data_lost"
    CONNECTIVITY_RESTORED_DATA_KEPT = "connectivity_restored_data_kept"
    FARM_BROKEN = "farm_broken"
    FARM_OK = "farm_ok"
    FARM_INACTIVE = "farm_inactive"
    CLIENT_ID_IN_USE = "client_id_in_use"
    CONNECT_FAILED = "connect_failed"
    NOT_CONNECTED = "not_connected"
    PACING = "pacing"
    HISTORICAL_DATA = "historical_data"
    NO_SECURITY_DEFINITION = "no_security_definition"
    ORDER_REJECTED = "order_rejected"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_WARNING = "order_warning"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    UNKNOWN_ORDER = "unknown_order"
    MARKET_DATA_NOT_SUBSCRIBED = "market_data_not_subscribed"
    DELAYED_DATA = "delayed_data"
    COMPETING_SESSION = "competing_session"
    INFORMATIONAL = "informational"


class IbAction(StrEnum):
    """What the console does about a message, beyond showing it."""

    NONE = "none"
    BLOCK_ORDERS = "block_orders"  # until connectivity returns
    RESYNC = "resync"  # reload orders, positions and executions
    RESUBSCRIBE_AND_RESYNC = "resubscribe_and_resync"
    MARK_DEGRADED = "mark_degraded"
    CLEAR_DEGRADED = "clear_degraded"
    BACK_OFF = "back_off"  # wait before trying again
    FAIL_REQUEST = "fail_request"  # the request that caused it is over
    FAIL_ORDER = "fail_order"
    USE_DELAYED_DATA = "use_delayed_data"


class IbSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class IbMessage:
    code: int
    category: IbCategory
    action: IbAction
    severity: IbSeverity
    sentence: str
    raw: str  # IB's own text, kept for the log
    farm: str = ""  # for farm status: which farm, "market data usfarm"; pairs broken with OK


@dataclass(frozen=True, slots=True)
class _Entry:
    category: IbCategory
    action: IbAction
    severity: IbSeverity
    sentence: str
    farm_kind: str = ""


def _farm(broken: bool, kind: str) -> _Entry:
    if broken:
        return _Entry(
            IbCategory.FARM_BROKEN,
            IbAction.MARK_DEGRADED,
            IbSeverity.WARNING,
            f"IB's {kind} server connection is down{{farm}}; {kind} may stop updating until it "
            "returns.",
            kind,
        )
    return _Entry(
        IbCategory.FARM_OK,
        IbAction.CLEAR_DEGRADED,
        IbSeverity.INFO,
        f"IB's {kind} server connection is OK{{farm}}.",
        kind,
    )


_MARKET_DATA = "market data"
_HISTORICAL = "historical data"
_SECDEF = "contract definition"

_TABLE: Mapping[int, _Entry] = MappingProxyType(
    {
        1100: _Entry(
            IbCategory.CONNECTIVITY_LOST,
            IbAction.BLOCK_ORDERS,
            IbSeverity.ERROR,
            "TWS/Gateway has lost its connection to IB. Orders are blocked until it returns.",
        ),
        1101: _Entry(
            IbCategory.CONNECTIVITY_RESTORED_DATA_LOST,
            IbAction.RESUBSCRIBE_AND_RESYNC,
            IbSeverity.WARNING,
            "The connection to IB is back, but market data subscriptions were lost; "
            "resubscribing and reloading orders.",
        ),
        1102: _Entry(
            IbCategory.CONNECTIVITY_RESTORED_DATA_KEPT,
            IbAction.RESYNC,
            IbSeverity.INFO,
            "The connection to IB is back and market data was kept; reloading orders.",
        ),
        2103: _farm(True, _MARKET_DATA),
        2104: _farm(False, _MARKET_DATA),
        2105: _farm(True, _HISTORICAL),
        2106: _farm(False, _HISTORICAL),
        2107: _Entry(
            IbCategory.FARM_INACTIVE,
            IbAction.NONE,
            IbSeverity.INFO,
            "IB's historical data server connection is idle{farm} and wakes up on demand.",
            _HISTORICAL,
        ),
        2108: _Entry(
            IbCategory.FARM_INACTIVE,
            IbAction.NONE,
            IbSeverity.INFO,
            "IB's market data server connection is idle{farm} and wakes up on demand.",
            _MARKET_DATA,
        ),
        2157: _farm(True, _SECDEF),
        2158: _farm(False, _SECDEF),
        326: _Entry(
            IbCategory.CLIENT_ID_IN_USE,
            IbAction.BACK_OFF,
            IbSeverity.ERROR,
            "This clientId is already connected, perhaps by a session that has not been "
            "released yet. Wait and retry, or choose another clientId (each clientId owns "
            "its own orders).",
        ),
        502: _Entry(
            IbCategory.CONNECT_FAILED,
            IbAction.BACK_OFF,
            IbSeverity.ERROR,
            "Could not connect to TWS/Gateway. Check that it is running, that the API is "
            "enabled (Configure → API → Settings) and that the port is right.",
        ),
        504: _Entry(
            IbCategory.NOT_CONNECTED,
            IbAction.FAIL_REQUEST,
            IbSeverity.ERROR,
            "Not connected to TWS/Gateway.",
        ),
        100: _Entry(
            IbCategory.PACING,
            IbAction.BACK_OFF,
            IbSeverity.WARNING,
            "Too many messages per second were sent to IB; requests are slowed down.",
        ),
        162: _Entry(
            IbCategory.HISTORICAL_DATA,
            IbAction.FAIL_REQUEST,
            IbSeverity.WARNING,
            "IB returned no historical data for this request.",
        ),
        200: _Entry(
            IbCategory.NO_SECURITY_DEFINITION,
            IbAction.FAIL_REQUEST,
            IbSeverity.ERROR,
            "IB does not know this contract (it may have expired or the symbol is wrong).",
        ),
        201: _Entry(
            IbCategory.ORDER_REJECTED,
            IbAction.FAIL_ORDER,
            IbSeverity.ERROR,
            "IB rejected the order{reason}.",
        ),
        110: _Entry(
            IbCategory.ORDER_REJECTED,
            IbAction.FAIL_ORDER,
            IbSeverity.ERROR,
            "The price is not a multiple of the contract's tick; IB rejected the order.",
        ),
        202: _Entry(
            IbCategory.ORDER_CANCELLED,
            IbAction.NONE,
            IbSeverity.INFO,
            "The order was cancelled{reason}.",
        ),
        399: _Entry(
            IbCategory.ORDER_WARNING,
            IbAction.NONE,
            IbSeverity.WARNING,
            "IB accepted the order with a warning{reason}.",
        ),
        103: _Entry(
            IbCategory.DUPLICATE_ORDER_ID,
            IbAction.FAIL_ORDER,
            IbSeverity.ERROR,
            "IB refused the order because its order id was already used; orders are reloaded "
            "before anything is sent again.",
        ),
        10147: _Entry(
            IbCategory.UNKNOWN_ORDER,
            IbAction.RESYNC,
            IbSeverity.WARNING,
            "IB does not know the order that was to be cancelled; it may already be filled "
            "or cancelled. Orders are reloaded.",
        ),
        354: _Entry(
            IbCategory.MARKET_DATA_NOT_SUBSCRIBED,
            IbAction.FAIL_REQUEST,
            IbSeverity.WARNING,
            "This account has no market data subscription for the contract.",
        ),
        10167: _Entry(
            IbCategory.DELAYED_DATA,
            IbAction.USE_DELAYED_DATA,
            IbSeverity.INFO,
            "No live market data subscription: showing delayed prices.",
        ),
        10168: _Entry(
            IbCategory.MARKET_DATA_NOT_SUBSCRIBED,
            IbAction.FAIL_REQUEST,
            IbSeverity.WARNING,
            "No market data subscription, and delayed data is not enabled for this account.",
        ),
        10197: _Entry(
            IbCategory.COMPETING_SESSION,
            IbAction.FAIL_REQUEST,
            IbSeverity.WARNING,
            "No market data: another live session (TWS or the mobile app elsewhere) holds "
            "this account's data.",
        ),
    }
)

_REASON_CODES = (201, 202, 399)


def farm_name(message: str) -> str:
    """The farm a farm status message names: after the colon ("...is OK:usfarm" -> "usfarm"),
    or after the final period for the "inactive" notices ("...upon demand.ushmds")."""
    for separator in (":", "."):
        head, sep, tail = message.rpartition(separator)
        name = tail.strip()
        if sep and head and name and " " not in name:
            return name
    return ""


def _reason(message: str) -> str:
    # 201/202/399 carry IB's reason after "reason:" or after the first colon.
    lowered = message.lower()
    if "reason:" in lowered:
        reason = message[lowered.index("reason:") + len("reason:") :]
    else:
        _, _, reason = message.partition(":")
    reason = reason.strip()
    return f": {reason}" if reason else ""


def classify(code: int, message: str) -> IbMessage:
    """Translate an IB error/status callback (code and text) into what it means for the console."""
    entry = _TABLE.get(code)
    if code == 162 and "pacing violation" in message.lower():
        entry = _Entry(
            IbCategory.PACING,
            IbAction.BACK_OFF,
            IbSeverity.WARNING,
            "IB refused a historical data request for pacing (too many requests); it is "
            "retried later.",
        )
    if entry is None:
        # IB sends 2100-2199 as notices that never change the connection's state.
        severity = IbSeverity.INFO if 2100 <= code <= 2199 else IbSeverity.WARNING
        text = message.strip() or f"IB sent message {code} without text."
        return IbMessage(code, IbCategory.INFORMATIONAL, IbAction.NONE, severity, text, message)
    sentence = entry.sentence
    farm = ""
    if entry.farm_kind:
        name = farm_name(message)
        sentence = sentence.format(farm=f" ({name})" if name else "")
        farm = f"{entry.farm_kind} {name}".strip()
    elif code in _REASON_CODES:
        sentence = sentence.format(reason=_reason(message))
    return IbMessage(code, entry.category, entry.action, entry.severity, sentence, message, farm)
