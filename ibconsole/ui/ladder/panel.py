"""The price ladder dock's content: the ticket's contract as a vertical ladder of prices with
its depth, the trader's own orders and the volume at each price, traded by clicking.

Every click goes through the broker's order-entry model (``broker.entry``) exactly as the
ticket's buttons do: the same checks, duplicate guard, journal and confirmation dialog; what
was sent, or why nothing was, is said under the ladder. What a click means is the domain's
(``ladder_clicks``); this widget only turns events into calls and repaints on a coalescing
timer: the depth batches of a frame are kept as they arrive and applied to the ladder together
when the timer fires, so a burst of depth updates costs one model update and one repaint per
frame and never delays a click.

Keys (while the ladder has the focus): Space re-centres, Shift+F flattens the position (asks
first), Shift+X cancels every working order on the contract, Ctrl+1 … Ctrl+8 pick a quantity
preset.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from functools import partial

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ibconsole.broker.market_depth import DepthUpdate
from ibconsole.broker.volume_profile import VolumeProfile
from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.depth import DepthStatus
from ibconsole.domain.ladder import AIM_HOLD_SECONDS, Ladder, LadderColumn, LadderSettings
from ibconsole.domain.ladder_clicks import (
    ClickKind,
    LadderClick,
    click_action,
    drag_changes,
    marketable_confirmation,
)
from ibconsole.domain.order_entry import (
    EntryFields,
    EntryOutcome,
    NeedsConfirmation,
    Refusal,
    Refused,
    Sent,
)
from ibconsole.domain.orders import OrderType, OrderValidationError, Side
from ibconsole.domain.quotes import Quote
from ibconsole.ui.confirm_dialog import ConfirmDialog, open_confirmation
from ibconsole.ui.context import UiContext
from ibconsole.ui.frame_timer import FRAME_MS, FrameTimer
from ibconsole.ui.ladder.quantity_box import LadderQuantityBox
from ibconsole.ui.ladder.summary import LadderSummary
from ibconsole.ui.ladder.table_model import LadderTableModel
from ibconsole.ui.ladder.view import LadderView
from ibconsole.ui.theme import Tone, set_toned_text

log = logging.getLogger(__name__)

_PLACEHOLDER_TICK = Decimal("0.25")  # the empty ladder shown before a contract is chosen
_REFUSAL_TONES = {
    Refusal.INVALID: Tone.BAD,
    Refusal.BLOCKED: Tone.BAD,
    Refusal.UNKNOWN: Tone.WARN,
    Refusal.NOTHING: Tone.NEUTRAL,
}


class PriceLadder(QWidget):
    """A click-trading ladder that follows the ticket's contract (``follow``)."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("priceLadderPanel")
        self._broker = ctx.broker
        self._runner = ctx.runner
        self._entry = ctx.broker.entry
        self._settings = ctx.settings.ladder
        self._contract: ListedContract | None = None
        self._ladder = Ladder(_PLACEHOLDER_TICK)
        self._fit_rows = self._ladder.rows
        self._orders_dirty = True
        self._depth: list[DepthUpdate] = []  # received since the last frame, in order
        self._confirmation: ConfirmDialog | None = None

        self._model = LadderTableModel(self._ladder, self)
        self.view = LadderView()
        self.view.setModel(self._model)
        self.view.apply_column_widths()
        self._quantity = LadderQuantityBox(self._settings.quantity_presets)
        self._summary = LadderSummary()
        self._status = QLabel()
        self._status.setObjectName("ladderStatus")
        self._status.setWordWrap(True)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._centre = self._button(
            "ladderCentreButton", "Centre", "Re-centre on the market (Space)"
        )
        self._cancel_all = self._button(
            "ladderCancelAllButton",
            "Cancel all",
            "Cancel every working order on this contract (Shift+X)",
        )
        self._flatten = self._button(
            "ladderFlattenButton", "Flatten", "Close the position at market, after asking (Shift+F)"
        )
        # Depth, quotes and orders repaint on the next loop turn, at most once a frame: a lone
        # depth batch is shown at once instead of after a fixed wait.
        self._repaint_timer = FrameTimer(self, self._repaint)
        # After the trader stops aiming, look again whether the market left the window.
        self._aim_timer = QTimer(self)
        self._aim_timer.setSingleShot(True)
        self._aim_timer.setInterval(int(AIM_HOLD_SECONDS * 1000) + FRAME_MS)
        self._aim_timer.timeout.connect(self._repaint_timer.request)
        self._lay_out()
        self._connect(ctx)
        self._shortcuts()

    def _button(self, name: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.setToolTip(tip)
        return button

    def _lay_out(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 8, 8)
        root.setSpacing(6)
        root.addWidget(self._summary)
        root.addWidget(self._quantity)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        for button in (self._centre, self._cancel_all, self._flatten):
            actions.addWidget(button)
        root.addLayout(actions)
        root.addWidget(self.view, 1)
        root.addWidget(self._status)

    def _connect(self, ctx: UiContext) -> None:
        view = self.view
        view.sig_clicked.connect(self._on_view_clicked)
        view.sig_dragged.connect(self._on_view_dragged)
        view.sig_scrolled.connect(self._on_view_scrolled)
        view.sig_aimed.connect(self._on_view_aimed)
        view.sig_rows_fit.connect(self._on_view_rows_fit)
        self._centre.clicked.connect(self.recentre)
        self._cancel_all.clicked.connect(self.cancel_all)
        self._flatten.clicked.connect(self.flatten)
        bridge = ctx.bridge
        bridge.sig_depth_updated.connect(self._on_bridge_depth_updated)
        bridge.sig_depth_status.connect(self._on_bridge_depth_status)
        bridge.sig_quotes_updated.connect(self._on_bridge_quotes_updated)
        bridge.sig_order_changed.connect(self._on_bridge_state_changed)
        bridge.sig_portfolio_changed.connect(self._on_bridge_state_changed)
        bridge.sig_synced.connect(self._on_bridge_state_changed)
        bridge.sig_ended.connect(self._on_bridge_ended)

    def _shortcuts(self) -> None:
        keys = [("Space", self.recentre), ("Shift+F", self.flatten), ("Shift+X", self.cancel_all)]
        keys += [(f"Ctrl+{n}", partial(self._choose_preset, n - 1)) for n in range(1, 9)]
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def _choose_preset(self, index: int) -> None:
        presets = self._quantity.presets
        if index < len(presets):
            self._quantity.choose(presets[index])

    # ------------------------------------------------------------------ public
    def apply_settings(self, settings: LadderSettings) -> None:
        """Use new ``[ladder]`` settings from the next click on."""
        self._settings = settings
        self._quantity.set_presets(settings.quantity_presets)

    @property
    def contract(self) -> ListedContract | None:
        return self._contract

    @property
    def ladder(self) -> Ladder:
        return self._ladder

    @property
    def model(self) -> LadderTableModel:
        return self._model

    @property
    def confirmation(self) -> ConfirmDialog | None:
        """The confirmation dialog while it is open."""
        return self._confirmation

    @property
    def status_text(self) -> str:
        """What happened to the last click (sent, cancelled, declined, not sent and why)."""
        return self._status.text()

    @property
    def depth_text(self) -> str:
        """Whether depth is live, or why not, in words."""
        return self._summary.depth_label.text()

    @Slot(object)
    def follow(self, contract: ListedContract | None) -> None:
        """Show the ladder of ``contract`` (the ticket's), releasing the previous one's data."""
        if contract == self._contract:
            return
        self._release()
        self._contract = contract
        self._depth.clear()
        self._ladder = Ladder(contract.min_tick if contract else _PLACEHOLDER_TICK, self._fit_rows)
        if contract is not None:
            self._broker.market.subscribe(contract)
            status = self._broker.depth.subscribe(contract)
            self._summary.show_depth(status)
            quote = self._broker.market.quote(contract.con_id)
            if quote is not None:
                self._ladder.set_quote(quote.bid, quote.ask, quote.last)
            self._runner.start(
                self._broker.volume.today(contract),
                name=f"volume today {contract.local_symbol}",
                done=partial(self._on_volume_loaded, contract),
            )
        else:
            self._summary.show_depth(None)
        self._orders_dirty = True
        self._load_orders()
        self._ladder.recentre()
        self._model.show_ladder(self._ladder, contract)
        self._status.setText("")
        self._paint_summary()

    def _release(self) -> None:
        contract = self._contract
        if contract is None:
            return
        self._broker.market.unsubscribe(contract.con_id)
        self._broker.depth.unsubscribe(contract.con_id)

    @Slot()
    def recentre(self) -> None:
        self._apply_depth()
        self._ladder.recentre()
        self._model.relayout()

    @Slot()
    def flatten(self) -> None:
        if not self._busy():
            self._show(self._entry.flatten(self._contract))

    @Slot()
    def cancel_all(self) -> None:
        """Cancel every working order on the ladder's contract."""
        if self._contract is None or self._busy():
            return
        working = self._entry.working_orders(self._contract)
        if working is None:
            self._say("Working orders are not synced: nothing was cancelled.", Tone.WARN)
            return
        if not working:
            self._say(f"No working order on {self._contract.local_symbol}.", Tone.NEUTRAL)
            return
        self._cancel(tuple(order.order_id for order in working))

    # ----------------------------------------------------------------- broker events
    @Slot(object)
    def _on_bridge_depth_updated(self, update: DepthUpdate) -> None:
        contract = self._contract
        if contract is None or update.con_id != contract.con_id:
            return
        if update.reset:
            self._depth.clear()  # what came before the reset is emptied anyway
        self._depth.append(update)
        self._repaint_timer.request()

    @Slot(object)
    def _on_bridge_depth_status(self, status: DepthStatus) -> None:
        if self._contract is not None and status.con_id == self._contract.con_id:
            self._summary.show_depth(status)

    @Slot(object)
    def _on_bridge_quotes_updated(self, quotes: tuple[Quote, ...]) -> None:
        contract = self._contract
        if contract is None:
            return
        for quote in quotes:
            if quote.con_id == contract.con_id:
                self._ladder.set_quote(quote.bid, quote.ask, quote.last)
                if self._ladder.changed:  # not for a size or a time alone: the rows show neither
                    self._repaint_timer.request()
                return

    @Slot(object)
    def _on_bridge_state_changed(self, payload: object) -> None:
        self._orders_dirty = True
        self._repaint_timer.request()

    @Slot(str)
    def _on_bridge_ended(self, reason: str) -> None:
        self._orders_dirty = True
        self._repaint_timer.request()

    def _on_volume_loaded(self, contract: ListedContract, profile: VolumeProfile) -> None:
        if contract != self._contract:
            return  # the ladder moved on to another contract meanwhile
        if profile.problem:
            log.info("volume at price of %s: %s", contract.local_symbol, profile.problem)
            return
        self._ladder.set_volume(profile.volumes)
        self._repaint_timer.request()

    # ----------------------------------------------------------------- painting
    def _apply_depth(self) -> None:
        """Bring the ladder up to the depth received so far, batch by batch in IB's order."""
        if not self._depth:
            return
        pending, self._depth = self._depth, []
        ladder = self._ladder
        for update in pending:
            if update.reset:
                ladder.reset_depth()
            if update.changes:
                ladder.apply_depth(update.changes)
            if update.trades:
                ladder.record_trades(update.trades)

    def _load_orders(self) -> None:
        contract = self._contract
        if not self._orders_dirty or contract is None:
            return
        self._orders_dirty = False
        self._ladder.set_orders(self._entry.working_orders(contract) or ())
        position = self._entry.position(contract)
        if position is None or not position.quantity:
            self._ladder.set_position(Decimal(0), None)
        else:
            self._ladder.set_position(position.quantity, position.avg_cost / contract.multiplier)

    @Slot()
    def _repaint(self) -> None:
        self._apply_depth()
        self._load_orders()
        if self._ladder.auto_recentre(time.monotonic()):
            self._model.relayout()
        else:
            self._model.refresh()
        self._paint_summary()

    def _paint_summary(self) -> None:
        contract = self._contract
        known = contract is not None and self._entry.position(contract) is not None
        self._summary.show_ladder(contract, self._ladder, known)

    # ----------------------------------------------------------------- the view
    @Slot(int)
    def _on_view_rows_fit(self, rows: int) -> None:
        self._fit_rows = rows
        if rows != self._ladder.rows:
            self._ladder.resize(rows)
            self._model.relayout()

    @Slot(int)
    def _on_view_scrolled(self, rows: int) -> None:
        self._ladder.scroll(rows, time.monotonic())
        self._model.relayout()
        self._aim_timer.start()

    @Slot()
    def _on_view_aimed(self) -> None:
        self._ladder.aim(time.monotonic())
        self._aim_timer.start()

    @Slot(int, int)
    def _on_view_clicked(self, row: int, column: int) -> None:
        if self._contract is None or self._busy():
            return
        self._ladder.aim(time.monotonic())
        self._apply_depth()  # the click is judged against the market as it stands now
        action = click_action(
            self._ladder, row, LadderColumn(column), self._settings.far_side_click
        )
        if action.kind is ClickKind.REFUSED:
            self._say(action.reason, Tone.BAD)
        elif action.kind is ClickKind.CANCEL:
            self._cancel(action.order_ids)
        elif action.kind is ClickKind.PLACE:
            self._place(action)

    @Slot(int, int, int)
    def _on_view_dragged(self, from_row: int, column: int, to_row: int) -> None:
        if self._contract is None or self._busy():
            return
        self._apply_depth()
        outcome: EntryOutcome | None = None
        for change in drag_changes(self._ladder, from_row, LadderColumn(column), to_row):
            outcome = self._entry.modify(change)
            if not isinstance(outcome, Sent):
                break  # ask, or say why, before moving any more of them
        if outcome is not None:
            self._show(outcome)

    # ------------------------------------------------------------------ sending
    def _busy(self) -> bool:
        if self._confirmation is not None:
            self._confirmation.raise_()
            self._confirmation.activateWindow()
            return True
        return False

    def _place(self, action: LadderClick) -> None:
        side, order_type, price = action.side, action.order_type, action.price
        if side is None or order_type is None or price is None:
            raise ValueError(f"a ladder order needs a side, a type and a price: {action}")
        fields = EntryFields(
            self._contract,
            self._quantity.quantity,
            order_type,
            limit_price=price if order_type is OrderType.LIMIT else None,
            stop_price=price if order_type is OrderType.STOP else None,
        )
        if not action.marketable:
            self._show(self._entry.place(side, fields))
            return
        try:
            intent = self._entry.intent(side, fields)
        except OrderValidationError as error:
            self._say(f"Not sent: {error.message}.", Tone.BAD)
            return
        report = self._entry.check(intent)
        far = self._ladder.best_ask if side is Side.BUY else self._ladder.best_bid
        if report.blocked or far is None:
            self._show(self._entry.send(intent))  # journalled as blocked, and says why
            return
        self._ask(marketable_confirmation(intent, report, far))

    def _cancel(self, order_ids: tuple[int, ...]) -> None:
        outcomes = [self._entry.cancel(order_id) for order_id in order_ids]
        refused = next((o for o in outcomes if isinstance(o, Refused)), None)
        if refused is not None:
            self._show(refused)
        else:
            ids = ", ".join(str(order_id) for order_id in order_ids)
            self._say(f"Cancel sent: order{'s' if len(order_ids) > 1 else ''} {ids}.", Tone.GOOD)
        self._orders_dirty = True
        self._repaint_timer.request()

    def _say(self, text: str, tone: Tone) -> None:
        set_toned_text(self._status, text, tone)

    def _show(self, outcome: EntryOutcome) -> None:
        """Say what the order-entry model did, or ask the trader what it needs confirmed."""
        if isinstance(outcome, NeedsConfirmation):
            self._ask(outcome)
            return
        if isinstance(outcome, Sent):
            self._say(outcome.message, Tone.GOOD)
        else:
            self._say(outcome.message, _REFUSAL_TONES[outcome.kind])
        self._orders_dirty = True
        self._repaint_timer.request()

    def _ask(self, asked: NeedsConfirmation) -> None:
        self._say("Waiting for your confirmation…", Tone.WARN)
        self._confirmation = open_confirmation(asked, self, partial(self._on_decided, asked))

    def _on_decided(self, asked: NeedsConfirmation, confirmed: bool) -> None:
        self._confirmation = None
        if confirmed:
            self._show(self._entry.confirm(asked))
        else:
            self._say(self._entry.decline(asked), Tone.NEUTRAL)
