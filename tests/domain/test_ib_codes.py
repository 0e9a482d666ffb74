"""IB message codes: category, action and the trader's sentence for each code we act on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibconsole.domain.ib_codes import IbAction, IbCategory, IbSeverity, classify, farm_name

C = IbCategory
A = IbAction


@pytest.mark.parametrize(
    ("code", "text", "category", "action"),
    [
        (1100, "Connectivity between IB and Trader Workstation has been lost.", C.CONNECTIVITY_LOST, A.BLOCK_ORDERS),
        (1101, "Connectivity between IB and TWS has been restored- data lost.", C.CONNECTIVITY_RESTORED_DATA_LOST, A.RESUBSCRIBE_AND_RESYNC),
        (1102, "Connectivity between IB and TWS has been restored- data maintained.", C.CONNECTIVITY_RESTORED_DATA_KEPT, A.RESYNC),
        (2103, "Market data farm connection is broken:usfarm", C.FARM_BROKEN, A.MARK_DEGRADED),
        (2104, "Market data farm connection is OK:usfarm", C.FARM_OK, A.CLEAR_DEGRADED),
        (2105, "HMDS data farm connection is broken:ushmds", C.FARM_BROKEN, A.MARK_DEGRADED),
        (2106, "HMDS data farm connection is OK:ushmds", C.FARM_OK, A.CLEAR_DEGRADED),
        (2107, "HMDS data farm connection is inactive but should be available upon demand.ushmds", C.FARM_INACTIVE, A.NONE),
        (2108, "Market data farm connection is inactive but should be available upon demand.usfarm", C.FARM_INACTIVE, A.NONE),
        (2157, "Sec-def data farm connection is broken:secdefnj", C.FARM_BROKEN, A.MARK_DEGRADED),
        (2158, "Sec-def data farm connection is OK:secdefnj", C.FARM_OK, A.CLEAR_DEGRADED),
        (326, "Unable to connect as the client id is already in use. Retry with a unique client id.", C.CLIENT_ID_IN_USE, A.BACK_OFF),
        (502, "Couldn't connect to TWS.", C.CONNECT_FAILED, A.BACK_OFF),
        (504, "Not connected", C.NOT_CONNECTED, A.FAIL_REQUEST),
        (100, "Max rate of messages per second has been exceeded.", C.PACING, A.BACK_OFF),
        (162, "Historical Market Data Service error message:Historical data request pacing violation", C.PACING, A.BACK_OFF),
        (162, "Historical Market Data Service error message:HMDS query returned no data: ESM5@CME Trades", C.HISTORICAL_DATA, A.FAIL_REQUEST),
        (200, "No security definition has been found for the request", C.NO_SECURITY_DEFINITION, A.FAIL_REQUEST),
        (201, "Order rejected - reason:Insufficient margin", C.ORDER_REJECTED, A.FAIL_ORDER),
        (110, "The price does not conform to the minimum price variation for this contract.", C.ORDER_REJECTED, A.FAIL_ORDER),
        (202, "Order Canceled - reason:", C.ORDER_CANCELLED, A.NONE),
        (399, "Order Message:\nWarning: your order will not be placed at the exchange until 2025-03-03 09:30:00 US/Eastern", C.ORDER_WARNING, A.NONE),
        (103, "Duplicate order id", C.DUPLICATE_ORDER_ID, A.FAIL_ORDER),
        (10147, "OrderId 12 that needs to be cancelled is not found.", C.UNKNOWN_ORDER, A.RESYNC),
        (354, "Requested market data is not subscribed.", C.MARKET_DATA_NOT_SUBSCRIBED, A.FAIL_REQUEST),
        (10167, "Requested market data is not subscribed. Displaying delayed market data.", C.DELAYED_DATA, A.USE_DELAYED_DATA),
        (10168, "Requested market data is not subscribed. Delayed market data is not enabled.", C.MARKET_DATA_NOT_SUBSCRIBED, A.FAIL_REQUEST),
        (10197, "No market data during competing live session", C.COMPETING_SESSION, A.FAIL_REQUEST),
    ],
)  # fmt: skip
def test_known_codes(code: int, text: str, category: IbCategory, action: IbAction) -> None:
    message = classify(code, text)
    assert (message.code, message.category, message.action) == (code, category, action)
    assert message.raw == text
    assert message.sentence.endswith(".")
    assert "{" not in message.sentence


@pytest.mark.parametrize(
    ("code", "text", "sentence"),
    [
        (
            2103,
            "Market data farm connection is broken:usfarm",
            "IB's market data server connection is down (usfarm); market data may stop updating "
            "until it returns.",
        ),
        (2158, "Sec-def data farm connection is OK:secdefnj", "IB's contract definition server connection is OK (secdefnj)."),
        (2104, "Market data farm connection is OK", "IB's market data server connection is OK."),
        (201, "Order rejected - reason:Insufficient margin", "IB rejected the order: Insufficient margin."),
        (201, "Order rejected", "IB rejected the order."),
        (202, "Order Canceled - reason:", "The order was cancelled."),
    ],
)  # fmt: skip
def test_sentences_carry_the_farm_and_the_reason(code: int, text: str, sentence: str) -> None:
    assert classify(code, text).sentence == sentence


@pytest.mark.parametrize(
    ("code", "severity"),
    [(1100, IbSeverity.ERROR), (2103, IbSeverity.WARNING), (2104, IbSeverity.INFO), (2106, IbSeverity.INFO)],
)  # fmt: skip
def test_farm_ok_is_info_and_broken_is_a_warning(code: int, severity: IbSeverity) -> None:
    assert classify(code, "x").severity is severity


@pytest.mark.parametrize(
    ("code", "severity"),
    [(2100, IbSeverity.INFO), (2150, IbSeverity.INFO), (9999, IbSeverity.WARNING), (-1, IbSeverity.WARNING)],
)  # fmt: skip
def test_unknown_codes_fall_back_to_ibs_own_text(code: int, severity: IbSeverity) -> None:
    message = classify(code, "  Something IB said.  ")
    assert message.category is IbCategory.INFORMATIONAL
    assert message.action is IbAction.NONE
    assert message.severity is severity
    assert message.sentence == "Something IB said."


def test_unknown_code_without_text_still_says_something() -> None:
    assert classify(4242, "").sentence == "IB sent message 4242 without text."


@pytest.mark.parametrize(
    ("text", "farm"),
    [
        ("Market data farm connection is OK:usfarm", "usfarm"),
        ("Market data farm connection is OK:usfarm.nj", "usfarm.nj"),
        ("HMDS data farm connection is broken: ushmds ", "ushmds"),
        (
            "HMDS data farm connection is inactive but should be available upon demand.ushmds",
            "ushmds",
        ),
        ("Market data farm connection is OK", ""),
        ("Market data farm connection is OK.", ""),
        ("no farm here", ""),
    ],
)
def test_farm_name(text: str, farm: str) -> None:
    assert farm_name(text) == farm


@pytest.mark.parametrize(
    ("code", "text", "farm"),
    [
        (2103, "Market data farm connection is broken:usfarm", "market data usfarm"),
        (2104, "Market data farm connection is OK:usfarm", "market data usfarm"),
        (2105, "HMDS data farm connection is broken:ushmds", "historical data ushmds"),
        (2157, "Sec-def data farm connection is broken:secdefnj", "contract definition secdefnj"),
        (2104, "Market data farm connection is OK", "market data"),
        (1100, "Connectivity between IB and Trader Workstation has been lost.", ""),
    ],
)
def test_farm_key_pairs_broken_with_ok(code: int, text: str, farm: str) -> None:
    assert classify(code, text).farm == farm


@settings(deadline=None)
@given(st.integers(min_value=-(2**31), max_value=2**31), st.text(max_size=200))
def test_classify_accepts_anything_a_peer_sends(code: int, text: str) -> None:
    message = classify(code, text)
    assert message.code == code
    assert message.raw == text
    assert message.sentence
