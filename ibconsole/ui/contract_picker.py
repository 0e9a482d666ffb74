"""The contract picker of an entry point: futures family, then month, the active month chosen
by default (``domain.rollover.order_month``), with the family's description and loading notes."""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ibconsole.domain.contracts import ListedContract
from ibconsole.domain.products import PRODUCTS, product
from ibconsole.domain.rollover import RollStatus, order_month, trading_months
from ibconsole.ui.context import UiContext
from ibconsole.ui.months import FamilyMonths, family_months
from ibconsole.ui.theme import Tone, set_toned_text

log = logging.getLogger(__name__)

_ROLL_WORDS = {
    RollStatus.OK: "",
    RollStatus.ROLL_WINDOW: "roll window",
    RollStatus.MUST_ROLL: "must roll",
    RollStatus.EXPIRED: "expired",
}
_CONTRACT_ROLE = Qt.ItemDataRole.UserRole + 1


def _month_label(contract: ListedContract) -> str:
    year, month = int(contract.contract_month[:4]), int(contract.contract_month[4:])
    return f"{contract.local_symbol}  ·  {calendar.month_abbr[month]} {year}"


class ContractPicker(QWidget):
    """Family and month boxes; the months load from the broker once it is connected.

    Signals:
        sig_family_chosen(str)              the trader picked another family in the box
        sig_contract_changed(object)        the picked contract (a ListedContract), or None
                                            while the family's months are not loaded
    """

    sig_family_chosen = Signal(str)
    sig_contract_changed = Signal(object)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._family = ""
        self._months: FamilyMonths | None = None
        self._contract: ListedContract | None = None

        self._family_box = QComboBox()
        self._family_box.setObjectName("ticketSymbol")
        for item in PRODUCTS.values():
            self._family_box.addItem(item.symbol, item.symbol)
            self._family_box.setItemData(
                self._family_box.count() - 1, item.description, Qt.ItemDataRole.ToolTipRole
            )
        self._family_box.setToolTip("Futures family")
        self._month_box = QComboBox()
        self._month_box.setObjectName("ticketMonth")
        self._month_box.setToolTip("Contract month (the active month is chosen by default)")
        self._month_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._contract_label = QLabel()
        self._contract_label.setObjectName("ticketContract")
        self._contract_label.setToolTip("The contract an order from this ticket goes to")
        self._description = QLabel()
        self._description.setObjectName("ticketDescription")
        self._contract_note = QLabel()
        self._contract_note.setObjectName("ticketContractNote")
        self._contract_note.setWordWrap(True)

        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.setSpacing(6)
        boxes = QHBoxLayout()
        boxes.addWidget(self._family_box)
        boxes.addWidget(self._month_box, 1)
        boxes.addWidget(self._contract_label)
        root.addLayout(boxes)
        root.addWidget(self._description)
        root.addWidget(self._contract_note)

        self._family_box.currentIndexChanged.connect(self._on_family_box_changed)
        self._month_box.currentIndexChanged.connect(self._on_month_box_changed)
        ctx.bridge.sig_synced.connect(self._on_bridge_synced)

    @property
    def contract(self) -> ListedContract | None:
        return self._contract

    def show_option(self, option: ListedContract) -> None:
        """Make ``option`` (from the options chain) the picked contract; its family stays in the
        family box, and choosing a family or month again goes back to futures."""
        self._family_box.blockSignals(True)
        self._family_box.setCurrentIndex(self._family_box.findData(option.symbol))
        self._family_box.blockSignals(False)
        self._family = option.symbol
        self._description.setText(f"{product(option.symbol).description} option")
        self._month_box.blockSignals(True)
        self._month_box.clear()
        self._month_box.addItem(f"{option.local_symbol}  ·  option", option.con_id)
        self._month_box.setItemData(0, option, _CONTRACT_ROLE)
        if self._months is not None:
            listed = trading_months(self._months.chain.contracts, self._ctx.clock.now())
            for contract in listed:
                self._month_box.addItem(_month_label(contract), contract.con_id)
                self._month_box.setItemData(self._month_box.count() - 1, contract, _CONTRACT_ROLE)
        self._month_box.setCurrentIndex(0)
        self._month_box.blockSignals(False)
        self._note("", Tone.NEUTRAL)
        self._set_contract(option)

    def show_family(self, symbol: str, keep: ListedContract | None = None) -> None:
        """Pick ``symbol`` in the family box and load its months, choosing ``keep`` (a month of
        that family) while it trades, else the active month."""
        self._family_box.blockSignals(True)
        self._family_box.setCurrentIndex(self._family_box.findData(symbol))
        self._family_box.blockSignals(False)
        self._load_family(symbol, keep)

    @Slot(int)
    def _on_family_box_changed(self, index: int) -> None:
        symbol = self._family_box.itemData(index)
        if isinstance(symbol, str):
            self.sig_family_chosen.emit(symbol)
            self._load_family(symbol)

    @Slot(object)
    def _on_bridge_synced(self, info: object) -> None:
        if self._months is None and self._family:
            self._load_family(self._family, keep=self._contract)

    def _load_family(self, symbol: str, keep: ListedContract | None = None) -> None:
        self._family = symbol
        self._months = None
        if self._contract is not None and self._contract.symbol != symbol:
            # Until the new family's months arrive there is no contract: Buy must never send the
            # previous family's contract while the picker shows another.
            self._set_contract(None)
        self._description.setText(product(symbol).description)
        broker = self._ctx.broker
        if broker.session.sync_info is None:
            self._note(f"Connect to load the {symbol} contract months.", Tone.WARN)
            return
        self._note(f"Loading the {symbol} contract months…", Tone.NEUTRAL)
        self._ctx.runner.start(
            family_months(broker, symbol, self._ctx.settings.rollover, self._ctx.clock.now()),
            name=f"ticket: {symbol} months",
            done=lambda months: self._on_family_loaded(symbol, months, keep),
            failed=lambda error: self._on_family_failed(symbol, error),
        )

    def _on_family_loaded(
        self, symbol: str, months: FamilyMonths, keep: ListedContract | None
    ) -> None:
        if symbol != self._family:
            return
        self._months = months
        listed = trading_months(months.chain.contracts, self._ctx.clock.now())
        chosen = order_month(months.view, listed, keep)
        if chosen is None:
            self._note(f"No {symbol} contract month is trading now.", Tone.BAD)
            return
        self._fill_months(listed, chosen)
        self._note("", Tone.NEUTRAL)

    def _on_family_failed(self, symbol: str, error: BaseException) -> None:
        if symbol != self._family:
            return
        log.info("ticket: %s months not loaded: %s", symbol, error)
        self._note(f"The {symbol} contract months could not be loaded: {error}", Tone.BAD)

    def _fill_months(self, listed: Iterable[ListedContract], chosen: ListedContract) -> None:
        view = self._months.view if self._months is not None else None
        self._month_box.blockSignals(True)
        self._month_box.clear()
        for contract in listed:
            tags = []
            if view is not None and contract == view.active:
                tags.append("active")
            if (
                view is not None
                and contract == view.front.contract
                and view.front.contract != view.active
            ):
                status = _ROLL_WORDS[view.status]
                tags.append(f"front, {status}" if status else "front")
            label = _month_label(contract) + (f"  ·  {', '.join(tags)}" if tags else "")
            self._month_box.addItem(label, contract.con_id)
            self._month_box.setItemData(self._month_box.count() - 1, contract, _CONTRACT_ROLE)
        self._month_box.setCurrentIndex(max(0, self._month_box.findData(chosen.con_id)))
        self._month_box.blockSignals(False)
        self._set_contract(chosen)

    @Slot(int)
    def _on_month_box_changed(self, index: int) -> None:
        contract = self._month_box.itemData(index, _CONTRACT_ROLE)
        if isinstance(contract, ListedContract):
            self._set_contract(contract)

    def _set_contract(self, contract: ListedContract | None) -> None:
        if contract == self._contract:
            return
        self._contract = contract
        self._contract_label.setText(contract.local_symbol if contract is not None else "")
        if contract is None:
            self._month_box.blockSignals(True)
            self._month_box.clear()
            self._month_box.blockSignals(False)
        self.sig_contract_changed.emit(contract)

    def _note(self, text: str, tone: Tone) -> None:
        set_toned_text(self._contract_note, text, tone)
        self._contract_note.setVisible(bool(text))
