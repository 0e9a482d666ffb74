"""The rollover watch list against the simulator: months, dates, statuses and sessions as the
domain rules compute them, shown with colour and words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableView

from ibconsole.domain.orders import OrderType, Side, build_intent
from ibconsole.domain.rollover import RollStatus
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import exchange_day, exchange_time, rollover_view
from ibconsole.ui.rollover_panel import Column, RolloverPanel
from ibconsole.ui.theme import Tone, tone_color

FOREGROUND = Qt.ItemDataRole.ForegroundRole


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
    for symbol in ("ES", "CL"):
        view = await rollover_view(ui_context.broker, symbol, ui_context.settings.rollover, as_of)
        front = view.front.contract
        assert cell(panel, symbol, Column.FRONT) == front.local_symbol
        assert view.next is not None
        assert cell(panel, symbol, Column.NEXT) == view.next.contract.local_symbol
        assert cell(panel, symbol, Column.LAST_TRADE) == exchange_time(
            front.last_trade, front, year=False
        )
        assert cell(panel, symbol, Column.ROLL_DATE) == exchange_day(view.roll_date, year=False)
        assert cell(panel, symbol, Column.DAYS) == str(view.days_to_expiry)
    assert cell(panel, "ES", Column.FRONT) == "ESH5"
    assert cell(panel, "ES", Column.STATUS) == "OK"
    assert cell(panel, "ES", Column.SESSION).startswith("Open · closes 16:00 C")


@pytest.mark.parametrize("as_of", [datetime(2025, 3, 17, 15, 0, tzinfo=UTC)])
async def test_statuses_read_in_words_and_colour_inside_the_roll_window(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    panel = await loaded_panel(ui_context, qtbot, wait_for)
    model = panel.model
    assert cell(panel, "ES", Column.STATUS) == "Roll window → ESM5"
    assert cell(panel, "MCL", Column.STATUS) == "Must roll → MCLK5"
    assert cell(panel, "GC", Column.STATUS) == "OK"
    assert cell(panel, "MES", Column.ROLL_DATE) == cell(panel, "ES", Column.ROLL_DATE)

    def colour(symbol: str) -> QColor:
        value = model.data(model.index(model.row_of(symbol), Column.STATUS), FOREGROUND)
        assert isinstance(value, QColor)
        return value

    assert colour("ES") == tone_color(Tone.WARN)
    assert colour("MCL") == tone_color(Tone.BAD)
    assert colour("GC") == tone_color(Tone.GOOD)
    es = model.rows[model.row_of("ES")].months
    assert es is not None
    assert es.view.status is RollStatus.ROLL_WINDOW


# Saturday 8 March 2025, noon in Chicago: Globex is shut until Sunday 17:00, which is already
# daylight time (US clocks go forward early that Sunday).
@pytest.mark.parametrize("as_of", [datetime(2025, 3, 8, 18, 0, tzinfo=UTC)])
async def test_the_weekend_shows_the_market_closed_with_its_next_open(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    panel = await loaded_panel(ui_context, qtbot, wait_for)
    assert cell(panel, "ES", Column.SESSION) == "Closed · opens Sun 17:00 CDT"
    model = panel.model
    row = model.rows[model.row_of("ES")]
    assert row.session is not None
    assert row.session.source == "IB tradingHours"
    assert row.session.disagreement == ""


async def test_an_unknown_family_is_refused_by_name(ui_context: UiContext) -> None:
    with pytest.raises(ValueError, match="XX"):
        RolloverPanel(ui_context, families=("ES", "XX"))


async def test_a_new_position_widens_its_column_to_fit_and_leaves_the_others_as_they_were(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    panel = await loaded_panel(ui_context, qtbot, wait_for)
    table = panel.findChild(QTableView, "rolloverTable")
    assert table is not None
    header = table.horizontalHeader()
    before = [header.sectionSize(column) for column in range(header.count())]
    view = await rollover_view(
        ui_context.broker, "ES", ui_context.settings.rollover, ui_context.clock.now()
    )
    market = ui_context.broker.market
    market.subscribe(view.active)
    await wait_for(lambda: market.quote(view.active.con_id) is not None, what="an ES quote")
    intent = build_intent(
        contract=view.active,
        side=Side.BUY,
        quantity=2,
        order_type=OrderType.MARKET,
        clock=ui_context.clock,
        account=ui_context.broker.account.account,
        key_factory=ui_context.broker.orders.new_key,
    )
    ui_context.broker.orders.submit(intent, confirmed=True)

    await wait_for(lambda: cell(panel, "ES", Column.POSITION) != "", what="the ES position shown")
    position = panel.model.index(panel.model.row_of("ES"), Column.POSITION)
    await wait_for(
        lambda: header.sectionSize(Column.POSITION) >= table.sizeHintForIndex(position).width(),
        what="the Position column as wide as the position",
    )
    after = [header.sectionSize(column) for column in range(header.count())]
    assert after[Column.POSITION] > before[Column.POSITION]
    others = [c for c in range(header.count() - 1) if c != Column.POSITION]
    assert [after[c] for c in others] == [before[c] for c in others]
