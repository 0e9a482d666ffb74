"""Every request IB's ``ibapi`` 10.x client can send (``ibapi.message.OUT``), built with the
client's own ``EClient`` methods, for tests that walk the whole list against the gateway.

``REQUESTS[msg_id](client, req_id)`` sends that message. ``SILENT`` lists the messages TWS
never answers (cancels, settings, subscriptions that only report when something happens);
``CANCELS`` names the request each cancel cancels.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ibapi.common import WshEventData
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.message import OUT
from ibapi.order import Order
from ibapi.order_cancel import OrderCancel
from ibapi.protobuf.ConfigRequest_pb2 import ConfigRequest as ConfigRequestProto
from ibapi.protobuf.UpdateConfigRequest_pb2 import UpdateConfigRequest as UpdateConfigRequestProto
from ibapi.scanner import ScannerSubscription

__all__ = ["CANCELS", "REQUESTS", "SILENT", "es_future", "stock"]

Request = Callable[[object, int], None]
ACCOUNT = "DU1234567"


def es_future() -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange = "ES", "FUT", "CME"
    contract.currency, contract.lastTradeDateOrContractMonth = "USD", "202503"
    return contract


def stock(symbol: str = "AAPL") -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = (
        symbol,
        "STK",
        "SMART",
        "USD",
    )
    return contract


def _market_order() -> Order:
    order = Order()
    order.action, order.orderType, order.totalQuantity = "BUY", "MKT", Decimal(1)
    return order


def _scanner() -> ScannerSubscription:
    scan = ScannerSubscription()
    scan.instrument, scan.locationCode, scan.scanCode = "STK", "STK.US.MAJOR", "TOP_PERC_GAIN"
    return scan


def _wsh_event_data() -> WshEventData:
    data = WshEventData()
    data.conId = 265598
    return data


def _place(client, req_id: int) -> None:
    client.placeOrder(req_id, es_future(), _market_order())


REQUESTS: dict[int, Request] = {
    OUT.REQ_MKT_DATA: lambda c, r: c.reqMktData(r, es_future(), "", False, False, []),
    OUT.CANCEL_MKT_DATA: lambda c, r: c.cancelMktData(r),
    OUT.PLACE_ORDER: _place,
    OUT.CANCEL_ORDER: lambda c, r: c.cancelOrder(r, OrderCancel()),
    OUT.REQ_OPEN_ORDERS: lambda c, r: c.reqOpenOrders(),
    OUT.REQ_ACCT_DATA: lambda c, r: c.reqAccountUpdates(True, ACCOUNT),
    OUT.REQ_EXECUTIONS: lambda c, r: c.reqExecutions(r, ExecutionFilter()),
    OUT.REQ_IDS: lambda c, r: c.reqIds(1),
    OUT.REQ_CONTRACT_DATA: lambda c, r: c.reqContractDetails(r, es_future()),
    OUT.REQ_MKT_DEPTH: lambda c, r: c.reqMktDepth(r, es_future(), 5, False, []),
    OUT.CANCEL_MKT_DEPTH: lambda c, r: c.cancelMktDepth(r, False),
    OUT.REQ_NEWS_BULLETINS: lambda c, r: c.reqNewsBulletins(True),
    OUT.CANCEL_NEWS_BULLETINS: lambda c, r: c.cancelNewsBulletins(),
    OUT.SET_SERVER_LOGLEVEL: lambda c, r: c.setServerLogLevel(3),
    OUT.REQ_AUTO_OPEN_ORDERS: lambda c, r: c.reqAutoOpenOrders(False),
    OUT.REQ_ALL_OPEN_ORDERS: lambda c, r: c.reqAllOpenOrders(),
    OUT.REQ_MANAGED_ACCTS: lambda c, r: c.reqManagedAccts(),
    OUT.REQ_FA: lambda c, r: c.requestFA(1),
    OUT.REPLACE_FA: lambda c, r: c.replaceFA(r, 1, "<ListOfGroups/>"),
    OUT.REQ_HISTORICAL_DATA: lambda c, r: c.reqHistoricalData(
        r, es_future(), "", "1 D", "1 hour", "TRADES", 1, 1, False, []
    ),
    OUT.EXERCISE_OPTIONS: lambda c, r: c.exerciseOptions(
        r, es_future(), 1, 1, ACCOUNT, 0, "", "", False
    ),
    OUT.REQ_SCANNER_SUBSCRIPTION: lambda c, r: c.reqScannerSubscription(r, _scanner(), [], []),
    OUT.CANCEL_SCANNER_SUBSCRIPTION: lambda c, r: c.cancelScannerSubscription(r),
    OUT.REQ_SCANNER_PARAMETERS: lambda c, r: c.reqScannerParameters(),
    OUT.CANCEL_HISTORICAL_DATA: lambda c, r: c.cancelHistoricalData(r),
    OUT.REQ_CURRENT_TIME: lambda c, r: c.reqCurrentTime(),
    OUT.REQ_REAL_TIME_BARS: lambda c, r: c.reqRealTimeBars(r, es_future(), 5, "TRADES", False, []),
    OUT.CANCEL_REAL_TIME_BARS: lambda c, r: c.cancelRealTimeBars(r),
    OUT.REQ_CALC_IMPLIED_VOLAT: lambda c, r: c.calculateImpliedVolatility(
        r, es_future(), 10.0, 6000.0, []
    ),
    OUT.REQ_CALC_OPTION_PRICE: lambda c, r: c.calculateOptionPrice(r, es_future(), 0.2, 6000.0, []),
    OUT.CANCEL_CALC_IMPLIED_VOLAT: lambda c, r: c.cancelCalculateImpliedVolatility(r),
    OUT.CANCEL_CALC_OPTION_PRICE: lambda c, r: c.cancelCalculateOptionPrice(r),
    OUT.REQ_GLOBAL_CANCEL: lambda c, r: c.reqGlobalCancel(OrderCancel()),
    OUT.REQ_MARKET_DATA_TYPE: lambda c, r: c.reqMarketDataType(1),
    OUT.REQ_POSITIONS: lambda c, r: c.reqPositions(),
    OUT.REQ_ACCOUNT_SUMMARY: lambda c, r: c.reqAccountSummary(r, "All", "NetLiquidation"),
    OUT.CANCEL_ACCOUNT_SUMMARY: lambda c, r: c.cancelAccountSummary(r),
    OUT.CANCEL_POSITIONS: lambda c, r: c.cancelPositions(),
    OUT.VERIFY_REQUEST: lambda c, r: c.verifyRequest("ibconsole-test", "1"),
    OUT.VERIFY_MESSAGE: lambda c, r: c.verifyMessage("data"),
    OUT.QUERY_DISPLAY_GROUPS: lambda c, r: c.queryDisplayGroups(r),
    OUT.SUBSCRIBE_TO_GROUP_EVENTS: lambda c, r: c.subscribeToGroupEvents(r, 1),
    OUT.UPDATE_DISPLAY_GROUP: lambda c, r: c.updateDisplayGroup(r, "8314@SMART"),
    OUT.UNSUBSCRIBE_FROM_GROUP_EVENTS: lambda c, r: c.unsubscribeFromGroupEvents(r),
    OUT.START_API: lambda c, r: c.startApi(),
    OUT.VERIFY_AND_AUTH_REQUEST: lambda c, r: c.verifyAndAuthRequest("ibconsole-test", "1", "k"),
    OUT.VERIFY_AND_AUTH_MESSAGE: lambda c, r: c.verifyAndAuthMessage("data", "xyz"),
    OUT.REQ_POSITIONS_MULTI: lambda c, r: c.reqPositionsMulti(r, ACCOUNT, ""),
    OUT.CANCEL_POSITIONS_MULTI: lambda c, r: c.cancelPositionsMulti(r),
    OUT.REQ_ACCOUNT_UPDATES_MULTI: lambda c, r: c.reqAccountUpdatesMulti(r, ACCOUNT, "", False),
    OUT.CANCEL_ACCOUNT_UPDATES_MULTI: lambda c, r: c.cancelAccountUpdatesMulti(r),
    OUT.REQ_SEC_DEF_OPT_PARAMS: lambda c, r: c.reqSecDefOptParams(r, "ES", "CME", "FUT", 0),
    OUT.REQ_SOFT_DOLLAR_TIERS: lambda c, r: c.reqSoftDollarTiers(r),
    OUT.REQ_FAMILY_CODES: lambda c, r: c.reqFamilyCodes(),
    OUT.REQ_MATCHING_SYMBOLS: lambda c, r: c.reqMatchingSymbols(r, "ES"),
    OUT.REQ_MKT_DEPTH_EXCHANGES: lambda c, r: c.reqMktDepthExchanges(),
    OUT.REQ_SMART_COMPONENTS: lambda c, r: c.reqSmartComponents(r, "a6"),
    OUT.REQ_NEWS_ARTICLE: lambda c, r: c.reqNewsArticle(r, "BRFG", "BRFG$1", []),
    OUT.REQ_NEWS_PROVIDERS: lambda c, r: c.reqNewsProviders(),
    OUT.REQ_HISTORICAL_NEWS: lambda c, r: c.reqHistoricalNews(r, 265598, "BRFG", "", "", 10, []),
    OUT.REQ_HEAD_TIMESTAMP: lambda c, r: c.reqHeadTimeStamp(r, es_future(), "TRADES", 1, 1),
    OUT.REQ_HISTOGRAM_DATA: lambda c, r: c.reqHistogramData(r, es_future(), True, "1 day"),
    OUT.CANCEL_HISTOGRAM_DATA: lambda c, r: c.cancelHistogramData(r),
    OUT.CANCEL_HEAD_TIMESTAMP: lambda c, r: c.cancelHeadTimeStamp(r),
    OUT.REQ_MARKET_RULE: lambda c, r: c.reqMarketRule(67),
    OUT.REQ_PNL: lambda c, r: c.reqPnL(r, ACCOUNT, ""),
    OUT.CANCEL_PNL: lambda c, r: c.cancelPnL(r),
    OUT.REQ_PNL_SINGLE: lambda c, r: c.reqPnLSingle(r, ACCOUNT, "", 0),
    OUT.CANCEL_PNL_SINGLE: lambda c, r: c.cancelPnLSingle(r),
    OUT.REQ_HISTORICAL_TICKS: lambda c, r: c.reqHistoricalTicks(
        r, es_future(), "", "20250304 14:00:00 UTC", 10, "TRADES", 1, True, []
    ),
    OUT.REQ_TICK_BY_TICK_DATA: lambda c, r: c.reqTickByTickData(r, es_future(), "Last", 0, False),
    OUT.CANCEL_TICK_BY_TICK_DATA: lambda c, r: c.cancelTickByTickData(r),
    OUT.REQ_COMPLETED_ORDERS: lambda c, r: c.reqCompletedOrders(False),
    OUT.REQ_WSH_META_DATA: lambda c, r: c.reqWshMetaData(r),
    OUT.CANCEL_WSH_META_DATA: lambda c, r: c.cancelWshMetaData(r),
    OUT.REQ_WSH_EVENT_DATA: lambda c, r: c.reqWshEventData(r, _wsh_event_data()),
    OUT.CANCEL_WSH_EVENT_DATA: lambda c, r: c.cancelWshEventData(r),
    OUT.REQ_USER_INFO: lambda c, r: c.reqUserInfo(r),
    OUT.REQ_CURRENT_TIME_IN_MILLIS: lambda c, r: c.reqCurrentTimeInMillis(),
    OUT.CANCEL_CONTRACT_DATA: lambda c, r: c.cancelContractData(r),
    OUT.CANCEL_HISTORICAL_TICKS: lambda c, r: c.cancelHistoricalTicks(r),
    OUT.REQ_CONFIG: lambda c, r: c.reqConfigProtoBuf(ConfigRequestProto(reqId=r)),
    OUT.UPDATE_CONFIG: lambda c, r: c.updateConfigProtoBuf(UpdateConfigRequestProto(reqId=r)),
}

# Each cancel, and the request it cancels (the walk gives both the same request id).
CANCELS = {
    OUT.CANCEL_MKT_DATA: OUT.REQ_MKT_DATA,
    OUT.CANCEL_ORDER: OUT.PLACE_ORDER,
    OUT.CANCEL_MKT_DEPTH: OUT.REQ_MKT_DEPTH,
    OUT.CANCEL_SCANNER_SUBSCRIPTION: OUT.REQ_SCANNER_SUBSCRIPTION,
    OUT.CANCEL_HISTORICAL_DATA: OUT.REQ_HISTORICAL_DATA,
    OUT.CANCEL_REAL_TIME_BARS: OUT.REQ_REAL_TIME_BARS,
    OUT.CANCEL_CALC_IMPLIED_VOLAT: OUT.REQ_CALC_IMPLIED_VOLAT,
    OUT.CANCEL_CALC_OPTION_PRICE: OUT.REQ_CALC_OPTION_PRICE,
    OUT.CANCEL_ACCOUNT_SUMMARY: OUT.REQ_ACCOUNT_SUMMARY,
    OUT.CANCEL_POSITIONS_MULTI: OUT.REQ_POSITIONS_MULTI,
    OUT.CANCEL_ACCOUNT_UPDATES_MULTI: OUT.REQ_ACCOUNT_UPDATES_MULTI,
    OUT.CANCEL_HISTOGRAM_DATA: OUT.REQ_HISTOGRAM_DATA,
    OUT.CANCEL_HEAD_TIMESTAMP: OUT.REQ_HEAD_TIMESTAMP,
    OUT.CANCEL_PNL: OUT.REQ_PNL,
    OUT.CANCEL_PNL_SINGLE: OUT.REQ_PNL_SINGLE,
    OUT.CANCEL_TICK_BY_TICK_DATA: OUT.REQ_TICK_BY_TICK_DATA,
    OUT.CANCEL_WSH_META_DATA: OUT.REQ_WSH_META_DATA,
    OUT.CANCEL_WSH_EVENT_DATA: OUT.REQ_WSH_EVENT_DATA,
    OUT.UNSUBSCRIBE_FROM_GROUP_EVENTS: OUT.SUBSCRIBE_TO_GROUP_EVENTS,
}

SILENT = frozenset(
    {
        OUT.CANCEL_MKT_DATA,
        OUT.CANCEL_MKT_DEPTH,
        OUT.REQ_NEWS_BULLETINS,
        OUT.CANCEL_NEWS_BULLETINS,
        OUT.SET_SERVER_LOGLEVEL,
        OUT.REQ_AUTO_OPEN_ORDERS,
        OUT.CANCEL_SCANNER_SUBSCRIPTION,
        OUT.CANCEL_HISTORICAL_DATA,
        OUT.CANCEL_REAL_TIME_BARS,
        OUT.CANCEL_CALC_IMPLIED_VOLAT,
        OUT.CANCEL_CALC_OPTION_PRICE,
        OUT.REQ_GLOBAL_CANCEL,
        OUT.REQ_MARKET_DATA_TYPE,
        OUT.CANCEL_ACCOUNT_SUMMARY,
        OUT.CANCEL_POSITIONS,
        OUT.UNSUBSCRIBE_FROM_GROUP_EVENTS,
        OUT.CANCEL_POSITIONS_MULTI,
        OUT.CANCEL_ACCOUNT_UPDATES_MULTI,
        OUT.CANCEL_HISTOGRAM_DATA,
        OUT.CANCEL_HEAD_TIMESTAMP,
        OUT.CANCEL_PNL,
        OUT.CANCEL_PNL_SINGLE,
        OUT.CANCEL_TICK_BY_TICK_DATA,
        OUT.CANCEL_WSH_META_DATA,
        OUT.CANCEL_WSH_EVENT_DATA,
        OUT.START_API,  # a second startApi on a started connection
    }
)
