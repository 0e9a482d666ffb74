"""The status bar's count of market-data lines in use against the budget, always in view: IB
refuses quotes beyond an account's lines, and the console refuses them before IB must."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QWidget

from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, set_toned_text

_NEARLY_FULL = 0.9  # share of the budget in use from which the count is shown as a warning


class LineBudgetLabel(QLabel):
    """ "Lines 43 / 100", in the warning tone once the budget is nearly used up.

    Signals: none.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("marketDataLines")
        self.setToolTip(
            "Market-data lines the console holds (quotes of the ticket, charts, positions and the "
            "options chain), of its budget: [market_data] line_budget"
        )
        market = ctx.broker.market
        ctx.bridge.sig_lines_changed.connect(self._on_bridge_lines_changed)
        self._on_bridge_lines_changed(market.lines_in_use, market.line_budget)

    @Slot(int, int)
    def _on_bridge_lines_changed(self, used: int, budget: int) -> None:
        tone = Tone.WARN if used >= budget * _NEARLY_FULL else Tone.NEUTRAL
        set_toned_text(self, f"Lines {used} / {budget}", tone)
