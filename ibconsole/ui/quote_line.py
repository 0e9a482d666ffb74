"""One contract's quote in a line: bid and ask (click one to use its price), last, and whether
the data is live, delayed, frozen or stale."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ibconsole.broker.order_entry import OrderEntry
from ibconsole.domain.clock import Clock
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.order_words import NO_VALUE, price_text
from ibconsole.domain.quotes import Quote
from ibconsole.ui.blotter_models import tabular_font
from ibconsole.ui.fixed_text import set_fixed_text
from ibconsole.ui.theme import Tone, set_toned_text

QUOTE_AGE_MS = 1000  # the quote's age label is re-read this often


class QuoteLine(QWidget):
    """Bid, ask, last and the feed's state of one contract.

    Signals:
        sig_price_picked(Decimal)   the trader clicked the bid or the ask: use that price
    """

    sig_price_picked = Signal(object)

    def __init__(self, clock: Clock, entry: OrderEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Opaque: a new quote repaints this line alone, not the ticket under it.
        self.setAutoFillBackground(True)
        self._clock = clock
        self._entry = entry  # its risk limits say when a quote is stale
        self._priced = False
        self._contract: ListedContract | None = None
        self._quote: Quote | None = None
        # What the line shows: repainting a quote re-formats only prices that moved, and
        # re-tones the feed's words only when they or their tone change.
        self._prices_shown: tuple[object, ...] = ()
        self._feed_shown: tuple[str, Tone] | None = None
        figures = tabular_font()
        self._bid_button = QPushButton("Bid —")
        self._bid_button.setObjectName("ticketBid")
        self._ask_button = QPushButton("Ask —")
        self._ask_button.setObjectName("ticketAsk")
        for button, tip in ((self._bid_button, "the bid"), (self._ask_button, "the ask")):
            button.setFlat(True)
            button.setFont(figures)
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(f"Click to put {tip} into the limit price")
        self._last = QLabel("Last —")
        self._last.setObjectName("ticketLast")
        self._last.setFont(figures)
        self._feed = QLabel()
        self._feed.setObjectName("ticketQuoteState")
        self._price_widgets: tuple[QLabel | QPushButton, ...] = (
            self._bid_button,
            self._ask_button,
            self._last,
        )

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        for widget in (self._bid_button, self._ask_button, self._last):
            row.addWidget(widget)
        row.addStretch(1)
        row.addWidget(self._feed)

        self._age_timer = QTimer(self)
        self._age_timer.setInterval(QUOTE_AGE_MS)
        self._age_timer.timeout.connect(self.repaint_quote)
        self._bid_button.clicked.connect(self._on_bid_button_clicked)
        self._ask_button.clicked.connect(self._on_ask_button_clicked)

    @property
    def quote(self) -> Quote | None:
        return self._quote

    @property
    def priced(self) -> bool:
        """True when a price of the contract is on screen."""
        return self._priced

    def follow(self, contract: ListedContract | None, quote: Quote | None) -> None:
        """Show ``contract`` with ``quote`` (None while none has arrived)."""
        self._contract = contract
        self._quote = quote
        if contract is None:
            self._age_timer.stop()
        else:
            self._age_timer.start()

    def set_quote(self, quote: Quote) -> None:
        self._quote = quote

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._feed_shown = None  # a tone's colour follows the theme

    @Slot()
    def repaint_quote(self) -> None:
        quote, contract = self._quote, self._contract
        self._priced = quote is not None and quote.last_good_price() is not None
        prices = (quote.bid, quote.ask, quote.last) if quote else (None, None, None)
        if (contract, *prices) != self._prices_shown:
            self._prices_shown = (contract, *prices)
            for label, word, value in zip(
                self._price_widgets, ("Bid", "Ask", "Last"), prices, strict=True
            ):
                text = price_text(value, contract) if contract else NO_VALUE
                set_fixed_text(label, f"{word} {text}")
        if contract is None:
            self._feed.setText("")
            self._feed_shown = None
            return
        if quote is None or quote.last_good_price() is None:
            state, tone = "No quote", Tone.BAD
        elif quote.data_type.is_delayed:
            state, tone = quote.data_type.label.capitalize(), Tone.WARN
        elif quote.data_type.is_frozen:
            state, tone = "Frozen", Tone.WARN
        else:
            now = self._clock.now()
            if quote.is_stale(now, self._entry.limits.max_quote_age):
                state, tone = f"Stale {int(quote.age(now).total_seconds())} s", Tone.WARN
            else:
                state, tone = "Live", Tone.GOOD
        if (state, tone) != self._feed_shown:
            self._feed_shown = (state, tone)
            set_toned_text(self._feed, f"● {state}", tone)

    @Slot()
    def _on_bid_button_clicked(self) -> None:
        self._pick(self._quote.bid if self._quote else None)

    @Slot()
    def _on_ask_button_clicked(self) -> None:
        self._pick(self._quote.ask if self._quote else None)

    def _pick(self, price: Decimal | None) -> None:
        if price is not None:
            self.sig_price_picked.emit(price)
