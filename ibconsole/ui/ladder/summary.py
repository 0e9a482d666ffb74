"""The ladder's header: the contract, the position and its average price, the open P&L at the
last trade, the working orders on the contract, and whether depth is live or why not."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import DepthState, DepthStatus
from ibconsole.domain.ladder import Ladder
from ibconsole.domain.order_words import position_words, price_text
from ibconsole.domain.orders import Side
from ibconsole.ui.blotter_models import money_text, tabular_font
from ibconsole.ui.theme import Tone, set_toned_text

_DEPTH_WORDS = {
    DepthState.REQUESTED: ("Depth: requested…", Tone.NEUTRAL),
    DepthState.LIVE: ("Depth: live", Tone.GOOD),
    DepthState.WAITING: ("Depth: waiting for the connection", Tone.WARN),
}


class LadderSummary(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ladderSummary")
        figures = tabular_font()
        self.contract_label = self._label("ladderContract")
        self.position_label = self._label("ladderPosition")
        self.pnl_label = self._label("ladderPnl")
        self.working_label = self._label("ladderWorking")
        self.depth_label = self._label("ladderDepthState")
        self.depth_label.setWordWrap(True)
        for label in (self.position_label, self.pnl_label, self.working_label):
            label.setFont(figures)
        bold = self.contract_label.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.15)
        self.contract_label.setFont(bold)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.contract_label, 0, 0)
        grid.addWidget(self.position_label, 0, 1)
        grid.addWidget(self.pnl_label, 1, 0)
        grid.addWidget(self.working_label, 1, 1)
        grid.addWidget(self.depth_label, 2, 0, 1, 2)
        grid.setColumnStretch(1, 1)

    @staticmethod
    def _label(name: str) -> QLabel:
        label = QLabel("—")
        label.setObjectName(name)
        return label

    def show_ladder(self, contract: ListedContract | None, ladder: Ladder, known: bool) -> None:
        """Paint the figures; ``known`` is False while the position is not synced."""
        if contract is None:
            for label in (
                self.contract_label,
                self.position_label,
                self.pnl_label,
                self.working_label,
            ):
                label.setText("—")
            return
        self.contract_label.setText(contract.local_symbol)
        if not known:
            set_toned_text(self.position_label, "Position unknown (not synced)", Tone.WARN)
            self.pnl_label.setText("Open P&L —")
            self.working_label.setText("Working —")
            return
        position = ladder.position
        average = ladder.average_price
        at = f" @ {price_text(average, contract)}" if average is not None else ""
        self.position_label.setText(f"{position_words(position).capitalize()}{at}")
        pnl = ladder.open_pnl(contract.multiplier)
        tone = Tone.NEUTRAL if not pnl else Tone.GOOD if pnl > 0 else Tone.BAD
        set_toned_text(
            self.pnl_label, f"Open P&L {money_text(pnl, signed=True)} {contract.currency}", tone
        )
        buys = sum(1 for order in ladder.working if order.side is Side.BUY)
        sells = len(ladder.working) - buys
        self.working_label.setText(f"Working: {buys} buy · {sells} sell")

    def show_depth(self, status: DepthStatus | None) -> None:
        if status is None:
            self.depth_label.setText("")
            return
        if status.state is DepthState.REFUSED:
            set_toned_text(self.depth_label, status.sentence, Tone.WARN)
            return
        text, tone = _DEPTH_WORDS[status.state]
        set_toned_text(self.depth_label, text, tone)
