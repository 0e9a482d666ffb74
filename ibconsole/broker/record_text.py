"""The IB client library's log lines about orders, fills and holdings: their text made in full
only when the line is kept.

ib_async (and ib_insync) log each order placed or cancelled, each order status, execution,
commission report, position and portfolio update at INFO with an f-string, such as
``self._logger.info(f"orderStatus: {trade}")``: the text of the whole ``Trade`` (its contract, its
order with every field set, its status, every fill and every log entry with its time; one to
two kilobytes) is built before the logger is asked whether it keeps INFO, some 80 µs a line and
eight lines an order, on the loop's thread, with the account id in most of them.

The console keeps the library's loggers at WARNING unless ``--log-level DEBUG``
(``library_log_level``) and logs its own line for each order sent, status and execution (the
order desk and the order tracker). ``format_records_when_kept`` gives those record classes a
``__format__`` (what an f-string calls; ``str`` and ``repr`` are left as they are) that builds the
full text while the library's loggers keep INFO, as before, and otherwise a short one: the ids,
contract, side, quantity and status a kept WARNING line (a cancelled order, a validation
warning) needs, and no account id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from ibconsole.broker.ib_client import (
    LIBRARY,
    CommissionReport,
    Execution,
    Fill,
    PortfolioItem,
    Position,
    Trade,
)

# The library's loggers that format records: IB (placeOrder, cancelOrder) and its wrapper.
_LOGGERS: Final = (logging.getLogger(f"{LIBRARY}.ib"), logging.getLogger(f"{LIBRARY}.wrapper"))


def library_log_level(console_level: str) -> None:
    """The IB client library logs at WARNING and above, or everything at ``DEBUG``."""
    logging.getLogger(LIBRARY).setLevel(
        logging.DEBUG if console_level.upper() == "DEBUG" else logging.WARNING
    )


def _kept() -> bool:
    return any(logger.isEnabledFor(logging.INFO) for logger in _LOGGERS)


def _symbol(contract: Any) -> str:
    return str(contract.localSymbol or contract.symbol or contract.conId)


def _trade(trade: Trade) -> str:
    order, status = trade.order, trade.orderStatus
    said = next((f", {e.errorCode}: {e.message}" for e in trade.log[-1:] if e.errorCode), "")
    return (
        f"Trade(orderId={order.orderId}, permId={order.permId or status.permId}, "
        f"orderRef={order.orderRef!r}, {order.action} {order.totalQuantity} "
        f"{_symbol(trade.contract)} {order.orderType}, status={status.status}, "
        f"filled={status.filled}, remaining={status.remaining}{said})"
    )


def _execution(execution: Execution) -> str:
    return (
        f"Execution(execId={execution.execId}, orderId={execution.orderId}, "
        f"orderRef={execution.orderRef!r}, {execution.side} {execution.shares} "
        f"@ {execution.price})"
    )


def _fill(fill: Fill) -> str:
    return f"Fill({_symbol(fill.contract)}, {_execution(fill.execution)})"


def _commission(report: CommissionReport) -> str:
    return (
        f"CommissionReport(execId={report.execId}, {report.commission} {report.currency}, "
        f"realizedPNL={report.realizedPNL})"
    )


def _position(position: Position) -> str:
    return f"Position({_symbol(position.contract)}, {position.position} @ {position.avgCost})"


def _portfolio(item: PortfolioItem) -> str:
    return (
        f"PortfolioItem({_symbol(item.contract)}, {item.position} "
        f"@ {item.marketPrice}, unrealizedPNL={item.unrealizedPNL})"
    )


_SHORT: Final[dict[type, Callable[[Any], str]]] = {
    Trade: _trade,
    Execution: _execution,
    Fill: _fill,
    CommissionReport: _commission,
    Position: _position,
    PortfolioItem: _portfolio,
}


def _format(record: object, spec: str) -> str:
    short = _SHORT.get(type(record))
    if spec or short is None or _kept():
        return object.__format__(record, spec)
    return short(record)


def format_records_when_kept() -> None:
    """Install the short text on the library's record classes (again is harmless)."""
    for kind in _SHORT:
        kind.__format__ = _format  # type: ignore[assignment,method-assign]
