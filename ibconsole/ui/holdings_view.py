"""What an entry point's contract already has: the position, the working orders and what its
family (other months, the mini/micro sibling) holds and works elsewhere."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import position_text, working_text
from ibconsole.domain.products import siblings
from ibconsole.ui.blotter_models import tabular_font
from ibconsole.ui.captions import captioned
from ibconsole.ui.context import UiContext
from ibconsole.ui.theme import Tone, tone_style

log = logging.getLogger(__name__)

_LISTED_WORKING = 3
_UNSYNCED = "Unknown until synced"


class HoldingsView(QWidget):
    """Position, working orders and family exposure of one contract, from the order-entry model.

    The family's sibling chains are loaded once, so their months can be named.
    """

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._entry = ctx.broker.entry
        self._contract: ListedContract | None = None
        self._fetching: set[str] = set()
        self._position = QLabel()
        self._position.setObjectName("ticketPosition")
        self._position.setFont(tabular_font())
        self._working = QLabel()
        self._working.setObjectName("ticketWorking")
        self._working.setWordWrap(True)
        self._family = QLabel()
        self._family.setObjectName("ticketFamily")
        self._family.setWordWrap(True)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addLayout(
            captioned(
                ("Position", self._position),
                ("Working", self._working),
                ("Family", self._family),
            )
        )

    def follow(self, contract: ListedContract | None) -> None:
        """Show ``contract``'s holdings from now on, and load its siblings' chains."""
        self._contract = contract
        if contract is not None:
            for sibling in siblings(contract.symbol):
                self._fetch_chain(sibling.symbol)
        self.repaint_holdings()

    def repaint_holdings(self) -> None:
        contract = self._contract
        if contract is None:
            for label in (self._position, self._working, self._family):
                label.setText("—")
            return
        position = self._entry.position(contract)
        self._position.setText(position_text(position, contract))
        self._position.setStyleSheet(tone_style(Tone.WARN) if position is None else "")
        working = self._entry.working_orders(contract)
        self._working.setText(
            _UNSYNCED if working is None else working_text(working, contract, _LISTED_WORKING)
        )
        family = self._entry.family(contract)
        self._family.setText(_UNSYNCED if family is None else family.sentence)

    def _fetch_chain(self, symbol: str) -> None:
        """Load a sibling's chain once, so its positions and working orders can be named."""
        contracts = self._ctx.broker.contracts
        if symbol in self._fetching or contracts.cached(symbol) is not None:
            return
        self._fetching.add(symbol)

        def settled(_: object) -> None:
            self._fetching.discard(symbol)
            self.repaint_holdings()

        def failed(error: BaseException) -> None:
            self._fetching.discard(symbol)
            log.info("ticket: %s chain not loaded: %s", symbol, error)

        self._ctx.runner.start(
            contracts.chain(symbol), name=f"ticket: {symbol} chain", done=settled, failed=failed
        )
