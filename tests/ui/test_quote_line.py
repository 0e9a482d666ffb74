"""The ticket's quote line re-formats only what moved, and its feed's words follow the theme: a
tone's colour is read again when the palette changes, not only when the words do."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from ibconsole.ui.context import UiContext
from ibconsole.ui.quote_line import QuoteLine
from ibconsole.ui.theme import Tone, apply_theme, tone_style


async def test_the_feed_keeps_its_words_and_takes_the_new_theme_colour(
    ui_context: UiContext, qtbot: Any, wait_for: Any
) -> None:
    broker = ui_context.broker
    contract = (await broker.contracts.chain("ES")).months[0].contract
    broker.market.subscribe(contract)
    await wait_for(lambda: broker.market.quote(contract.con_id) is not None, what="a quote")
    line = QuoteLine(ui_context.clock, broker.entry)
    qtbot.addWidget(line)
    line.show()
    line.follow(contract, broker.market.quote(contract.con_id))
    feed = line.findChild(QLabel, "ticketQuoteState")
    last = line.findChild(QLabel, "ticketLast")

    def live() -> bool:
        line.repaint_quote()
        return feed.text() == "● Live"

    await wait_for(live, what="a live quote")
    assert last.text().startswith("Last ")
    assert last.text() != "Last —"
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light = tone_style(Tone.GOOD)
    assert feed.styleSheet() == light
    original = app.palette()
    try:
        apply_theme(app, Qt.ColorScheme.Dark)
        dark = tone_style(Tone.GOOD)
        assert dark != light
        await wait_for(lambda: line.palette() == app.palette(), what="the line's palette")
        line.repaint_quote()
        assert (feed.text(), feed.styleSheet()) == ("● Live", dark)
    finally:
        app.setPalette(original)
    await wait_for(lambda: line.palette() == app.palette(), what="the line's palette")
    line.repaint_quote()
    assert feed.styleSheet() == light
