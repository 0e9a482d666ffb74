"""Fixtures for the journal tests: an ES contract, an intent factory, a clock and a journal file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ibconsole.domain.clock import ManualClock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.orders import Bracket, OrderIntent, OrderType, Purpose, Side, TimeInForce
from ibconsole.journal import Journal

START = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)

IntentFactory = Callable[..., OrderIntent]


@pytest.fixture(scope="session")
def contract() -> ListedContract:
    return ListedContract(
        symbol="ES",
        local_symbol="ESH5",
        con_id=620731015,
        contract_month="202503",
        last_trade=datetime(2025, 3, 21, 8, 30, tzinfo=ZoneInfo("America/Chicago")),
        exchange="CME",
        currency="USD",
        multiplier=Decimal(50),
        min_tick=Decimal("0.25"),
        trading_class="ES",
    )


@pytest.fixture(scope="session")
def make_intent(contract: ListedContract) -> IntentFactory:
    """Build an OrderIntent; keyword arguments override the defaults (a 2-lot ES limit buy)."""

    def make(
        key: str = "ibc-1",
        *,
        side: Side = Side.BUY,
        quantity: Decimal = Decimal(2),
        order_type: OrderType = OrderType.LIMIT,
        limit_price: Decimal | None = Decimal("5000.25"),
        stop_price: Decimal | None = None,
        tif: TimeInForce = TimeInForce.DAY,
        bracket: Bracket | None = None,
        created_at: datetime = START,
        purpose: Purpose = Purpose.MANUAL,
        account: str = "DU1234567",
        con: ListedContract = contract,
    ) -> OrderIntent:
        return OrderIntent(
            key=key,
            contract=con,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=limit_price,
            stop_price=stop_price,
            tif=tif,
            bracket=bracket,
            created_at=created_at,
            purpose=purpose,
            account=account,
        )

    return make


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


@pytest.fixture
def journal(journal_path: Path, clock: ManualClock) -> Iterator[Journal]:
    with Journal(journal_path, clock) as opened:
        yield opened
