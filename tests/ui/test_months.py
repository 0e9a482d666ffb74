"""Front, next and active months of a family as the window sees them: the chain from the
simulator through the broker, counted on the exchange calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ibconsole.broker.broker import Broker
from ibconsole.broker.session import Endpoint
from ibconsole.config import Settings
from ibconsole.domain.clock import OffsetClock
from ibconsole.domain.rollover import RollStatus, front_months
from ibconsole.journal import Journal
from ibconsole.sim import PaperGateway
from ibconsole.ui.months import chain_calendar, family_months, rollover_view


@pytest.fixture
async def broker(gateway: PaperGateway, as_of: datetime, tmp_path: Path) -> AsyncIterator[Broker]:
    settings = Settings()
    clock = OffsetClock(as_of)
    journal = Journal(tmp_path / "journal.sqlite3", clock)
    broker = Broker(
        Endpoint("127.0.0.1", gateway.port, 11),
        journal,
        clock,
        health=settings.health,
        limits=settings.risk,
    )
    await broker.start()
    yield broker
    await broker.stop()
    journal.close()


async def test_es_on_a_quiet_day_trades_the_front_month(broker: Broker, as_of: datetime) -> None:
    view = await rollover_view(broker, "ES", Settings().rollover, as_of)
    assert view.symbol == "ES"
    assert view.front.contract.local_symbol == "ESH5"
    assert view.next is not None
    assert view.next.contract.local_symbol == "ESM5"
    assert view.active == view.front.contract
    assert view.status is RollStatus.OK
    assert view.roll_date.isoformat() == "2025-03-13"  # 8 calendar days before 21 March


@pytest.mark.parametrize("as_of", [datetime(2025, 3, 17, 15, 0, tzinfo=UTC)])
async def test_inside_the_roll_window_new_orders_go_to_the_next_month(
    broker: Broker, as_of: datetime
) -> None:
    view = await rollover_view(broker, "MES", Settings().rollover, as_of)
    assert view.front.contract.local_symbol == "MESH5"
    assert view.status is RollStatus.ROLL_WINDOW
    assert view.active.local_symbol == "MESM5"


async def test_family_months_agree_with_the_domain_rules(broker: Broker, as_of: datetime) -> None:
    months = await family_months(broker, "CL", Settings().rollover, as_of)
    contracts = months.chain.contracts
    assert months.calendar == await chain_calendar(broker.calendars, "CL", contracts)
    assert months.view == front_months(contracts, as_of, months.calendar, Settings().rollover)
    assert months.view.front.contract.symbol == "CL"


async def test_a_calendar_needs_contracts(broker: Broker) -> None:
    with pytest.raises(ValueError, match="No listed ES contracts"):
        await chain_calendar(broker.calendars, "ES", ())
