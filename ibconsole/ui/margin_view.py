"""IB's what-if margin for the order being entered, asked once the trader pauses editing and
shown for each side; a late answer for an order since changed is dropped."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QLabel, QWidget

from ibconsole.broker.order_values import MarginImpact, OrderRefused
from ibconsole.domain.order_words import side_word
from ibconsole.domain.orders import OrderIntent, Side
from ibconsole.ui.blotter_models import money_text, tabular_font
from ibconsole.ui.context import UiContext

MARGIN_DEBOUNCE_MS = 400  # a what-if goes to IB once the trader pauses editing


def _shape(intent: OrderIntent) -> tuple[object, ...]:
    """What a margin estimate depends on: everything of the order but its key and time."""
    return (
        intent.contract.con_id,
        intent.side,
        intent.quantity,
        intent.order_type,
        intent.limit_price,
        intent.stop_price,
    )


class MarginView(QLabel):
    """The initial margin change (and fee) IB estimates for each side's order."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__("—", parent)
        self._ctx = ctx
        # The intents whose margin was last asked for, so a late answer for an older order
        # shape is dropped instead of shown.
        self._asked: dict[Side, OrderIntent] = {}
        self._pending: dict[Side, OrderIntent] = {}
        self._margins: dict[Side, str] = {}
        self.setFont(tabular_font())
        self.setWordWrap(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(MARGIN_DEBOUNCE_MS)
        self._timer.timeout.connect(self._ask)

    def follow(self, intents: dict[Side, OrderIntent]) -> None:
        """Estimate each valid side once the trader pauses; keys differ per build, so an order
        shape is compared without them."""
        shapes = {side: _shape(intent) for side, intent in intents.items()}
        if shapes == {side: _shape(i) for side, i in self._asked.items()}:
            return
        self._pending = intents
        if not intents:
            self._asked = {}
            self._margins = {}
            self.setText("—")
            return
        self._timer.start()

    @Slot()
    def _ask(self) -> None:
        broker = self._ctx.broker
        if broker.session.sync_info is None:
            self.setText("No estimate while not connected")
            return
        self._asked = dict(self._pending)
        self._margins = {}
        self.setText("Asking IB…")
        for side, intent in self._asked.items():
            self._ctx.runner.start(
                broker.entry.margin(intent),
                name=f"margin estimate {side.value}",
                done=partial(self._on_margin, side, intent),
                failed=partial(self._on_margin_failed, side, intent),
            )

    def _on_margin(self, side: Side, intent: OrderIntent, impact: MarginImpact) -> None:
        if self._asked.get(side) is not intent:
            return
        change = impact.init_margin_change
        if change is None:
            text = "IB gave no figure"
        else:
            sign = "+" if change >= 0 else "−"
            text = f"init {sign}{money_text(abs(change))} {impact.currency}"
            if impact.commission is not None:
                text += f", fee {money_text(impact.commission)}"
        self._show(side, text)

    def _on_margin_failed(self, side: Side, intent: OrderIntent, error: BaseException) -> None:
        if self._asked.get(side) is not intent:
            return
        self._show(side, error.reason if isinstance(error, OrderRefused) else str(error))

    def _show(self, side: Side, text: str) -> None:
        self._margins[side] = f"{side_word(side)}: {text}"
        self.setText(
            "   ·   ".join(self._margins[s] for s in (Side.BUY, Side.SELL) if s in self._margins)
        )
