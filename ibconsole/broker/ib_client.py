"""The one module that imports the IB client library; everything else imports its names from here.

The console runs on ``ib_async``, the maintained successor of ``ib_insync``. Where only
``ib_insync`` 0.9.86 is installed (someone who pins it), the same names come from it: the two
share their API, and both ship a top-level ``eventkit`` (``aeventkit`` for ``ib_async``), so an
environment holds one of them, never both. ``LIBRARY`` names the one in use.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Final

from ibconsole.broker.handler_errors import heard
from ibconsole.broker.numpy_on_use import numpy_on_use

with numpy_on_use():  # eventkit's array operators are the only users of numpy here
    from eventkit import Event as _LibraryEvent

if find_spec("ib_async") is not None:
    from ib_async import (
        IB,
        BarData,
        BarDataList,
        Client,
        ComboLeg,
        CommissionReport,
        ContFuture,
        Contract,
        ContractDetails,
        Execution,
        ExecutionFilter,
        Fill,
        Forex,
        Future,
        FuturesOption,
        LimitOrder,
        MarketOrder,
        MktDepthData,
        OptionChain,
        OptionComputation,
        Order,
        OrderComboLeg,
        OrderState,
        OrderStatus,
        PnL,
        PnLSingle,
        PortfolioItem,
        Position,
        PriceIncrement,
        RequestError,
        Stock,
        StopLimitOrder,
        StopOrder,
        TagValue,
        Ticker,
        Trade,
        util,
    )
    from ib_async.decoder import Decoder
    from ib_async.util import UNSET_DOUBLE

    LIBRARY: Final = "ib_async"
else:
    from ib_insync import (  # type: ignore[assignment,no-redef,unused-ignore]
        IB,
        BarData,
        BarDataList,
        Client,
        ComboLeg,
        CommissionReport,
        ContFuture,
        Contract,
        ContractDetails,
        Execution,
        ExecutionFilter,
        Fill,
        Forex,
        Future,
        FuturesOption,
        LimitOrder,
        MarketOrder,
        MktDepthData,
        OptionChain,
        OptionComputation,
        Order,
        OrderComboLeg,
        OrderState,
        OrderStatus,
        PnL,
        PnLSingle,
        PortfolioItem,
        Position,
        PriceIncrement,
        RequestError,
        Stock,
        StopLimitOrder,
        StopOrder,
        TagValue,
        Ticker,
        Trade,
        util,
    )
    from ib_insync.decoder import Decoder  # type: ignore[assignment,no-redef,unused-ignore]
    from ib_insync.util import UNSET_DOUBLE  # type: ignore[no-redef,unused-ignore]

    LIBRARY: Final = "ib_insync"  # type: ignore[misc,no-redef,unused-ignore]


class Event(_LibraryEvent):  # type: ignore[misc,unused-ignore]  # eventkit 1.0 is not annotated
    """eventkit's event, whatever its handlers raise logged (``handler_errors``)."""

    def __init__(self, name: str = "", _with_error_done_events: bool = True) -> None:
        super().__init__(name, _with_error_done_events)
        heard(self)


__all__ = [
    "IB",
    "LIBRARY",
    "UNSET_DOUBLE",
    "BarData",
    "BarDataList",
    "Client",
    "ComboLeg",
    "CommissionReport",
    "ContFuture",
    "Contract",
    "ContractDetails",
    "Decoder",
    "Event",
    "Execution",
    "ExecutionFilter",
    "Fill",
    "Forex",
    "Future",
    "FuturesOption",
    "LimitOrder",
    "MarketOrder",
    "MktDepthData",
    "OptionChain",
    "OptionComputation",
    "Order",
    "OrderComboLeg",
    "OrderState",
    "OrderStatus",
    "PnL",
    "PnLSingle",
    "PortfolioItem",
    "Position",
    "PriceIncrement",
    "RequestError",
    "Stock",
    "StopLimitOrder",
    "StopOrder",
    "TagValue",
    "Ticker",
    "Trade",
    "util",
]
