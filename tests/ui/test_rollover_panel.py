"""The rollover watch list against the simulator: months, dates, statuses and sessions as the
domain rules compute them, shown with colour and words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ibconsole.ui.context import UiContext
from ibconsole.ui.months import exchange_day, exchange_time, rollover_view
from ibconsole.ui.rollover_panel import Column, RolloverPanel


def cell(panel: RolloverPanel, symbol: str, column: Column) -> str:
    model = panel.model
    return str(model.data(model.index(model.row_of(symbol), column)))


async def loaded_panel(ctx: UiContext, qtbot: Any, wait_for: Any) -> RolloverPanel:
    panel = RolloverPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1100, 460)
    await wait_for(
        lambda: panel.is_populated and all(r.months for r in panel.model.rows),
        what="every family of the watch list loaded",
    )
    return panel


async def test_watch_list_shows_front_next_and_roll_dates_by_the_rules(
    ui_context: UiContext, qtbot: Any, wait_for: Any, as_of: datetime
) -> None:
    panel = await loaded_panel(ui_context, qtbot, wait_for)
    panel.grab().save("/tmp/ui3/rollover.png")
    for symbol in ("ES", "CL"):
        view = await rollover_view(ui_context.broker, symbol, ui_context.settings.rollover, as_of)
        front = view.front.contract
        assert cell(panel, symbol, Column.FRONT) == front.local_symbol
        assert view.next is not None
        assert cell(panel, symbol, Column.NEXT) == view.next.contract.local_symbol
        assert cell(panel, symbol, Column.LAST_TRADE) == exchange_time(front.last_trade, front)
        assert cell(panel, symbol, Column.ROLL_DATE) == exchange_day(view.roll_date)
        assert cell(panel, symbol, Column.DAYS) == str(view.days_to_expiry)
    assert cell(panel, "ES", Column.FRONT) == "ESH5"
    assert cell(panel, "ES", Column.STATUS) == "OK"
    assert cell(panel, "ES", Column.SESSION).startswith("Open · closes 16:00 C")
