"""The gateway's frames compared field by field with real TWS / IB Gateway captures
(tests/sim/captures.py), over TCP with a raw peer. Every field must equal the capture's except
those named here, which carry the order's own identity, instrument, prices or time; those are
checked for TWS's form instead."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from ibconsole.sim import PaperGateway
from tests.sim import captures
from tests.sim.raw_peer import RawClient

ACCOUNT = "DU1234567"
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
INTEGER = re.compile(r"^\d+$")
DATE = re.compile(r"^\d{8}$")
EXEC_ID = re.compile(r"^[0-9a-f]{8}\.[0-9a-f]{8}\.\d{2}\.\d{2}$")
# TWS writes times in one of these forms (milestone2.md): two spaces, UTC dash, or a zone name
IB_TIME = re.compile(r"^\d{8}(  \d{2}:\d{2}:\d{2}|-\d{2}:\d{2}:\d{2}| \d{2}:\d{2}:\d{2} \S+)$")
UTC_INSTANT = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}$")
HOURS = re.compile(r"^(\d{8}:(CLOSED|\d{4}-\d{8}:\d{4}))(;\d{8}:(CLOSED|\d{4}-\d{8}:\d{4}))*$")


def assert_like_capture(
    ours: list[str], captured: tuple[str, ...], differ: Mapping[int, re.Pattern[str] | str]
) -> None:
    """Same length; every field equal to the capture's, except at the indices of ``differ``,
    where ours must match the pattern (or equal the string) given instead."""
    assert len(ours) == len(captured), (len(ours), len(captured))
    mismatches = []
    for index, (mine, real) in enumerate(zip(ours, captured, strict=True)):
        expected = differ.get(index, real)
        ok = expected.match(mine) if isinstance(expected, re.Pattern) else mine == expected
        if not ok:
            mismatches.append((index, mine, real))
    assert mismatches == [], "\n".join(map(str, mismatches))


async def _started(gateway: PaperGateway) -> RawClient:
    client = await RawClient.open(gateway)
    await client.start(0)
    return client


def _order(golden: list[str], order_id: int, contract: list[str], quantity: str) -> list[str]:
    fields = list(golden)
    fields[1] = str(order_id)
    fields[2:14] = contract
    fields[17] = quantity
    fields[24] = ""  # openClose, as ibapi and the captured clients send it
    fields[26] = ""  # orderRef
    return fields


AAPL = ["265598", "AAPL", "STK", "", "0.0", "", "", "SMART", "", "USD", "", ""]


async def test_open_order_status_and_execution_of_a_market_order(
    gateway: PaperGateway, golden_market_order: list[str]
) -> None:
    client = await _started(gateway)
    try:
        client.send(*_order(golden_market_order, 900, AAPL, "100"))
        open_order = await client.receive_until("5")
        status = await client.receive_until("3")
        execution = await client.receive_until("11")
    finally:
        client.close()
    perm_id = open_order[25]
    assert INTEGER.match(perm_id)
    assert_like_capture(
        open_order,
        captures.OPEN_ORDER_V173,
        {
            1: "900",  # orderId
            24: "0",  # clientId
            25: perm_id,
            30: f"{perm_id}.0/{ACCOUNT}/100",  # sharesAllocation
            94: re.compile("^(PreSubmitted|Submitted)$"),
        },
    )
    assert_like_capture(
        status,
        captures.ORDER_STATUS_V173,
        {
            1: "900",
            2: re.compile("^(PreSubmitted|Submitted|Filled)$"),
            3: INTEGER,  # filled
            4: INTEGER,  # remaining
            5: NUMBER,  # avgFillPrice
            6: perm_id,
            8: NUMBER,  # lastFillPrice
            9: "0",
        },
    )
    assert_like_capture(
        execution,
        captures.EXEC_DETAILS_V173,
        {
            2: "900",
            10: "NASDAQ",  # the venue: AAPL's primary exchange here, IEX in the capture
            14: EXEC_ID,
            15: IB_TIME,
            17: "NASDAQ",
            20: NUMBER,  # price
            21: perm_id,
            22: "0",  # clientId
            25: NUMBER,  # avgPrice
        },
    )


async def test_completed_order_of_a_cancelled_limit_order(
    gateway: PaperGateway, golden_market_order: list[str], front
) -> None:
    es = front(gateway, "ES")
    contract = [str(field) for field in es.contract_fields()]
    contract[4] = "0.0"
    limit = str(gateway.market.quote(es.con_id).bid - 100)
    fields = _order(golden_market_order, 901, contract, "1")
    fields[18], fields[19] = "LMT", limit
    client = await _started(gateway)
    try:
        client.send(*fields)
        await client.receive_until("5")
        client.send(4, 1, 901, "")
        while (await client.receive_until("3"))[2] != "Cancelled":
            pass
        client.send(99, 0)
        completed = await client.receive_until("101")
    finally:
        client.close()
    assert_like_capture(
        completed,
        captures.COMPLETED_ORDER,
        {
            1: str(es.con_id),
            4: es.last_trade_date,
            10: es.local_symbol,
            15: limit,
            19: ACCOUNT,
            23: INTEGER,  # permId
            81: "1.7976931348623157E308",  # trailStopPrice: TWS put 5801.0 on this LMT order
            94: IB_TIME,  # completedTime
        },
    )


async def test_contract_details_of_a_cme_future(gateway: PaperGateway) -> None:
    client = await _started(gateway)
    try:
        client.send(9, 8, -10, 0, "ES", "FUT", "202503", 0.0, "", "", "CME", "", "USD", "", "",
                    0, "", "", "")  # fmt: skip
        details = await client.receive_until("10")
    finally:
        client.close()
    ids = {12: INTEGER, 18: INTEGER}  # conId, underConId
    assert_like_capture(
        details,
        captures.CONTRACT_DETAILS_V176,
        {
            2: "ES",
            4: UTC_INSTANT,
            9: "ESH5",
            10: "ES",
            11: "ES",
            13: "0.25",
            14: "50",
            15: re.compile(r"^[A-Z,]+$"),  # orderTypes
            19: "E-mini S&P 500",
            21: "202503",
            26: HOURS,
            27: HOURS,
            32: "ES",
            34: "67",  # marketRuleIds
            35: DATE,
        }
        | ids,
    )


@pytest.mark.parametrize("what", ["TRADES", "BID"])
async def test_historical_daily_bars_in_utc_mode(gateway: PaperGateway, what: str) -> None:
    client = await _started(gateway)
    try:
        client.send(20, -11, 0, "ES", "FUT", "202503", 0.0, "", "", "CME", "", "USD", "", "", 0,
                    "", "1 day", "5 D", 0, what, 2, 0, "")  # fmt: skip
        bars = await client.receive_until("17")
    finally:
        client.close()
    per_bar = [DATE, NUMBER, NUMBER, NUMBER, NUMBER, INTEGER, NUMBER, INTEGER]
    differ: dict[int, re.Pattern[str] | str] = {2: UTC_INSTANT, 3: UTC_INSTANT}
    for bar in range(5):
        for offset, pattern in enumerate(per_bar):
            differ[5 + bar * 8 + offset] = pattern
    assert_like_capture(bars, captures.HISTORICAL_DATA_V176, differ)
