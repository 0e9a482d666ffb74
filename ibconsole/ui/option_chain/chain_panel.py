"""The options chain dock: the options on the ticket's futures month (and the month after), one
expiry at a time, a window of strikes centred at the money that fits the market-data line budget
and follows the underlying, IB's greeks, and a click on a bid or ask to load the ticket.

The chain takes its lines through the broker's reference-counted quotes, so a contract the ticket
or a chart already watches costs no extra line; it gives every line back when the expiry, the
window or the family changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from PySide6.QtCore import QModelIndex, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ibconsole.broker.market_data import LineBudgetExceeded
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.ib_codes import IbMessage
from ibconsole.domain.option_chain import (
    ChainTable,
    Greeks,
    OptionExpiry,
    days_to_expiry,
    fitting_each_side,
    needs_recentre,
    strike_window,
)
from ibconsole.domain.order_words import price_text
from ibconsole.domain.quotes import Quote
from ibconsole.ui.blotter_models import tabular_font
from ibconsole.ui.coalescing import CoalescingTimer
from ibconsole.ui.context import UiContext
from ibconsole.ui.fixed_text import set_fixed_text
from ibconsole.ui.option_chain.chain_model import REPAINT_MS, ChainTableModel
from ibconsole.ui.theme import Tone, set_toned_text

log = logging.getLogger(__name__)

_MONTHS_LISTED = 2  # the ticket's month and the next: their options' expiries are offered


def _expiry_day(expiry: OptionExpiry, zone_of: ListedContract) -> datetime:
    text = expiry.expiry
    return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), tzinfo=zone_of.last_trade.tzinfo)


class OptionChainPanel(QWidget):
    """Expiry box, underlying and budget line, and the chain table.

    Signals:
        sig_option_picked(ListedContract, Decimal)   a bid or ask was clicked: load the ticket
    """

    sig_option_picked = Signal(object, object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("optionChainPanel")
        self._ctx = ctx
        self._market = ctx.broker.market
        self._generation = 0  # bumped by every family or expiry change; stale answers are dropped
        self._future: ListedContract | None = None
        self._months: dict[int, ListedContract] = {}
        self._expiries: tuple[OptionExpiry, ...] = ()
        self._expiry: OptionExpiry | None = None
        self._underlying: ListedContract | None = None
        self._window: tuple[Decimal, ...] = ()
        self._loading_window = False
        self._underlying_seen: Decimal | None = None  # the price the underlying's label is to show
        # The underlying's price, window and table that the last quote left standing: a quote at
        # that price again (most quotes move sizes, not the price) has nothing to move.
        self._settled: tuple[Decimal, tuple[Decimal, ...], ChainTable | None] | None = None
        self._held: list[int] = []  # conIds of the lines this chain holds, underlying included

        self._build()
        # The underlying's price is shown once a frame at most: it moves with nearly every
        # network batch, and a label's new text costs more than the rest of the quote's handling.
        self._underlying_timer = CoalescingTimer(
            self, REPAINT_MS, self._on_underlying_timer_timeout
        )
        bridge = ctx.bridge
        bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)
        bridge.sig_greeks_updated.connect(self._on_bridge_greeks_updated)
        bridge.sig_lines_changed.connect(self._on_bridge_lines_changed)
        bridge.sig_line_refused.connect(self._on_bridge_line_refused)
        bridge.sig_synced.connect(self._on_bridge_synced)
        self._show_lines()

    @property
    def _each_side(self) -> int:
        """Strikes wanted each side of the money, as the settings say now (Settings dialog)."""
        return self._ctx.settings.option_chain.strikes_each_side

    def _build(self) -> None:
        figures = tabular_font()
        self._expiry_box = QComboBox()
        self._expiry_box.setObjectName("optionExpiry")
        self._expiry_box.setToolTip("Option expiry: date, trading class, days to expiry")
        self._expiry_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._expiry_box.currentIndexChanged.connect(self._on_expiry_box_changed)
        self._underlying_label = QLabel("—")
        self._underlying_label.setObjectName("optionUnderlying")
        self._underlying_label.setFont(figures)
        self._expiry_label = QLabel()
        self._expiry_label.setObjectName("optionExpiryTime")
        self._lines_label = QLabel()
        self._lines_label.setObjectName("optionLines")
        self._lines_label.setFont(figures)
        self._lines_label.setToolTip(
            "Market-data lines in use by the whole console, of the budget ([market_data] "
            "line_budget); the chain's window shrinks to fit"
        )
        self._status = QLabel()
        self._status.setObjectName("optionStatus")
        self._status.setWordWrap(True)

        self.model = ChainTableModel(self)
        self.view = QTableView()
        self.view.setObjectName("optionTable")
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setMinimumSectionSize(48)
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(False)
        self.view.clicked.connect(self._on_view_clicked)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(QLabel("Expiry"))
        top.addWidget(self._expiry_box)
        top.addWidget(self._expiry_label, 1)
        top.addWidget(self._lines_label)
        sides = QHBoxLayout()
        calls, puts = QLabel("CALLS"), QLabel("PUTS")
        for label in (calls, puts):
            label.setStyleSheet("font-weight: 600; letter-spacing: 1px;")
        sides.addWidget(calls)
        sides.addStretch(1)
        sides.addWidget(self._underlying_label)
        sides.addStretch(1)
        sides.addWidget(puts)
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 8, 6)
        root.setSpacing(6)
        root.addLayout(top)
        root.addLayout(sides)
        root.addWidget(self.view, 1)
        root.addWidget(self._status)

    # ------------------------------------------------------------------ public
    @property
    def table(self) -> ChainTable | None:
        return self.model.table

    @property
    def status_text(self) -> str:
        return self._status.text()

    @property
    def held_lines(self) -> int:
        """Market-data lines this chain holds (its options and their underlying)."""
        return len(self._held)

    @Slot(object)
    def follow(self, contract: ListedContract) -> None:
        """Show the options on ``contract``'s month (the ticket's futures contract)."""
        if contract.is_option or (self._future is not None and contract == self._future):
            return
        self._future = contract
        self._load_expiries()

    # ---------------------------------------------------------------- loading
    def _load_expiries(self) -> None:
        future = self._future
        if future is None:
            return
        self._generation += 1
        generation = self._generation
        self._release()
        self._expiries = ()
        self._fill_expiries()
        broker = self._ctx.broker
        if broker.session.sync_info is None:
            self._say(f"Connect to list the options on {future.local_symbol}.", Tone.WARN)
            return
        self._say(f"Loading the options on {future.local_symbol}…", Tone.NEUTRAL)

        async def load() -> tuple[Sequence[ListedContract], tuple[OptionExpiry, ...]]:
            chain = await broker.contracts.chain(future.symbol)
            months = [c for c in chain.contracts if c.last_trade >= future.last_trade]
            months = months[:_MONTHS_LISTED] or [future]
            return months, await broker.options.expiries(months)

        self._ctx.runner.start(
            load(),
            name=f"option chain: {future.local_symbol} expiries",
            done=lambda found: self._on_expiries_loaded(generation, *found),
            failed=lambda error: self._on_failed(generation, error),
        )

    def _on_expiries_loaded(
        self, generation: int, months: Sequence[ListedContract], expiries: tuple[OptionExpiry, ...]
    ) -> None:
        if generation != self._generation:
            return
        self._months = {m.con_id: m for m in months}
        self._expiries = tuple(e for e in expiries if e.underlying_con_id in self._months)
        self._fill_expiries()
        self._say("", Tone.NEUTRAL)
        self._on_expiry_box_changed(self._expiry_box.currentIndex())

    def _fill_expiries(self) -> None:
        now = self._ctx.clock.now()
        self._expiry_box.blockSignals(True)
        self._expiry_box.clear()
        for expiry in self._expiries:
            month = self._months[expiry.underlying_con_id]
            day = _expiry_day(expiry, month)
            days = days_to_expiry(day, now)
            self._expiry_box.addItem(
                f"{day:%d %b %Y}  ·  {expiry.trading_class}  ·  {days} d", expiry.key
            )
        self._expiry_box.blockSignals(False)

    @Slot(int)
    def _on_expiry_box_changed(self, index: int) -> None:
        if not 0 <= index < len(self._expiries):
            return
        self._generation += 1
        self._release()
        expiry = self._expiries[index]
        self._expiry = expiry
        self._underlying = self._months[expiry.underlying_con_id]
        self._window = ()
        self._expiry_label.setText(
            f"exercises into {self._underlying.local_symbol}  ·  ×{expiry.multiplier.normalize():f}"
        )
        if not self._take(self._underlying):
            return
        price = self._underlying_seen = self._underlying_price()
        self._show_underlying(price)
        if price is not None:
            self._load_window(price)
        else:
            self._say(f"Waiting for a {self._underlying.local_symbol} price…", Tone.NEUTRAL)

    def _load_window(self, price: Decimal) -> None:
        expiry, underlying = self._expiry, self._underlying
        if expiry is None or underlying is None or not expiry.strikes:
            return
        table = self.model.table
        own = len(table.contracts) if table is not None else 0
        each_side = fitting_each_side(self._each_side, self._market.lines_free + own)
        if each_side < 0:
            self._say(
                f"All {self._market.line_budget} market-data lines are in use: the chain needs "
                "two for a strike. Close a chart or another subscription, or raise "
                "[market_data] line_budget.",
                Tone.BAD,
            )
            return
        window = strike_window(expiry.strikes, price, each_side)
        self._window = window
        self._loading_window = True
        generation = self._generation
        self._ctx.runner.start(
            self._ctx.broker.options.options(expiry, underlying, window),
            name=f"option chain: {expiry.trading_class} {expiry.expiry} strikes",
            done=lambda options: self._on_window_loaded(generation, options, each_side),
            failed=lambda error: self._on_failed(generation, error),
        )

    def _on_window_loaded(
        self, generation: int, options: tuple[ListedContract, ...], each_side: int
    ) -> None:
        if generation != self._generation:
            return
        self._loading_window = False
        old = self.model.table
        table = ChainTable(options)
        table.set_underlying(self._underlying_price())
        # Lines of strikes that leave the window go first, so a window as wide as the free lines
        # plus the old window's fits; strikes in both keep their line throughout.
        staying = {c.con_id for c in table.contracts}
        if old is not None:
            self._drop([c.con_id for c in old.contracts if c.con_id not in staying])
        taken: list[int] = []
        refused = ""
        for contract in table.contracts:
            try:
                self._market.subscribe(contract)
            except LineBudgetExceeded as error:
                refused = str(error)
                break
            taken.append(contract.con_id)
            quote = self._market.quote(contract.con_id)
            if quote is not None:
                table.set_quote(quote)
                table.set_greeks(contract.con_id, self._market.greeks(contract.con_id))
        if old is not None:
            self._drop([c.con_id for c in old.contracts if c.con_id in staying])
        self._held.extend(taken)
        self._show_lines()
        self.model.set_table(table)
        if refused:
            self._say(refused, Tone.BAD)
        elif each_side < self._each_side:
            self._say(
                f"{each_side} strikes each side (not {self._each_side}): the market-data line "
                "budget is nearly used up.",
                Tone.WARN,
            )
        elif not options:
            self._say("IB lists no options at these strikes for this expiry.", Tone.WARN)
        else:
            self._say("", Tone.NEUTRAL)
        self._show_expiry_time(table)

    def _on_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self._loading_window = False
        log.info("option chain: %s", error)
        self._say(str(error), Tone.BAD)

    # ------------------------------------------------------------------ lines
    def _take(self, contract: ListedContract) -> bool:
        try:
            self._market.subscribe(contract)
        except LineBudgetExceeded as error:
            self._say(str(error), Tone.BAD)
            return False
        self._held.append(contract.con_id)
        self._show_lines()
        return True

    def _drop(self, con_ids: Sequence[int]) -> None:
        for con_id in con_ids:
            if con_id in self._held:
                self._held.remove(con_id)
                self._market.unsubscribe(con_id)
        self._show_lines()

    def _release(self) -> None:
        """Give back every line of the chain (options and underlying)."""
        self.model.set_table(None)
        held, self._held = self._held, []
        for con_id in held:
            self._market.unsubscribe(con_id)
        self._loading_window = False
        self._show_lines()

    # ---------------------------------------------------------------- painting
    def _say(self, text: str, tone: Tone) -> None:
        set_toned_text(self._status, text, tone)
        self._status.setVisible(bool(text))

    def _show_lines(self) -> None:
        market = self._market
        self._lines_label.setText(
            f"Lines {market.lines_in_use} / {market.line_budget}  ·  chain {len(self._held)}"
        )

    def _underlying_price(self) -> Decimal | None:
        underlying = self._underlying
        quote = self._market.quote(underlying.con_id) if underlying is not None else None
        return quote.last_good_price() if quote is not None else None

    def _show_underlying(self, price: Decimal | None) -> None:
        underlying = self._underlying
        if underlying is None:
            set_fixed_text(self._underlying_label, "—")
            return
        shown = price_text(price, underlying) if price is not None else "no price yet"
        set_fixed_text(self._underlying_label, f"{underlying.local_symbol}  {shown}")

    def _show_expiry_time(self, table: ChainTable) -> None:
        expiry, underlying = self._expiry, self._underlying
        if expiry is None or underlying is None or not table.contracts:
            return
        last_trade = table.contracts[0].last_trade
        days = days_to_expiry(last_trade, self._ctx.clock.now())
        self._expiry_label.setText(
            f"expires {last_trade:%a %d %b %Y %H:%M %Z}  ·  {days} days  ·  exercises into "
            f"{underlying.local_symbol}  ·  ×{expiry.multiplier.normalize():f}"
        )

    # ------------------------------------------------------------ broker events
    @Slot(object)
    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        table = self.model.table
        underlying = self._underlying
        for quote in quotes:
            if underlying is not None and quote.con_id == underlying.con_id:
                self._on_underlying(quote)
            elif table is not None:
                row = table.set_quote(quote)
                if row is not None:
                    self.model.row_changed(row)

    def _on_underlying(self, quote: Quote) -> None:
        price = quote.last_good_price()
        table = self.model.table
        settled = self._settled
        if (
            settled is not None
            and settled[0] == price
            and settled[1] is self._window
            and settled[2] is table
        ):
            return
        self._settled = None
        self._underlying_seen = price
        self._underlying_timer.request()
        if price is None or self._expiry is None:
            return
        if table is not None and table.set_underlying(price):
            self.model.all_changed()
        if self._loading_window:
            return
        if not self._window or needs_recentre(self._window, self._expiry.strikes, price):
            self._load_window(price)
        else:
            self._settled = (price, self._window, table)

    @Slot()
    def _on_underlying_timer_timeout(self) -> None:
        self._show_underlying(self._underlying_seen)

    @Slot(object)
    def _on_bridge_greeks_updated(self, computed: tuple[tuple[int, Greeks], ...]) -> None:
        table = self.model.table
        if table is None:
            return
        for con_id, greeks in computed:
            row = table.set_greeks(con_id, greeks)
            if row is not None:
                self.model.row_changed(row)

    @Slot(int, int)
    def _on_bridge_lines_changed(self, used: int, budget: int) -> None:
        self._show_lines()

    @Slot(int, object)
    def _on_bridge_line_refused(self, con_id: int, message: IbMessage) -> None:
        table = self.model.table
        mine = table is not None and table.row_of(con_id) is not None
        if mine or (self._underlying is not None and con_id == self._underlying.con_id):
            self._say(f"Options quotes: {message.sentence}", Tone.WARN)

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        if self._future is not None and not self._expiries:
            self._load_expiries()

    # ------------------------------------------------------------------ clicks
    @Slot(QModelIndex)
    def _on_view_clicked(self, index: QModelIndex) -> None:
        picked = self.model.clicked_price(index)
        if picked is None:
            return
        contract, price = picked
        if price is None:
            _right, column = self.model.cell(index)
            word = column.value.lower() if column is not None else "price"
            self._say(f"{contract.local_symbol} has no {word} now: nothing loaded.", Tone.WARN)
            return
        self.sig_option_picked.emit(contract, price)
