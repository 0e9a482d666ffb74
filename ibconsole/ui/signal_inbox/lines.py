"""The inbox table's rows: one frozen line per signal with what the trader reads in each column."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor

from ibconsole.broker.signal_inbox import InboxEntry
from ibconsole.domain.order_words import quantity_text
from ibconsole.domain.signals import SignalOrder, SignalState
from ibconsole.ui.blotter_models import NO_VALUE, Column, SnapshotTableModel
from ibconsole.ui.months import contract_name
from ibconsole.ui.theme import Tone, tone_color

_STATE_TONES = {
    SignalState.NEW: Tone.WARN,
    SignalState.EXPIRED: Tone.NEUTRAL,
    SignalState.REFUSED: Tone.BAD,
    SignalState.SENT: Tone.GOOD,
    SignalState.FILLED: Tone.GOOD,
    SignalState.DISMISSED: Tone.NEUTRAL,
}


@dataclass(frozen=True, slots=True)
class SignalLine:
    """A signal as its row shows it; ``effect`` is what it would do to the position now."""

    entry: InboxEntry
    effect: str

    @property
    def key(self) -> str:
        return self.entry.key


def signal_line(entry: InboxEntry, order: SignalOrder | str) -> SignalLine:
    if isinstance(order, str):
        effect = order
    else:
        verb = "flatten" if order.flatten else order.side.value.lower()
        effect = f"{verb} {quantity_text(order.quantity)}: {order.effect}"
    return SignalLine(entry, effect)


def _quantity(line: SignalLine) -> str:
    quantity = line.entry.signal.quantity
    return quantity_text(quantity) if quantity is not None else "all"


def _contract(line: SignalLine) -> str:
    contract = line.entry.contract
    return contract_name(contract) if contract is not None else NO_VALUE


def _state(line: SignalLine) -> str:
    return line.entry.state.value


def _state_color(line: SignalLine) -> QColor:
    return tone_color(_STATE_TONES[line.entry.state])


def _tip(line: SignalLine) -> str:
    entry = line.entry
    parts = [entry.signal.summary, f"key {entry.key}"]
    if entry.note:
        parts.append(entry.note)
    return "\n".join(parts)


SIGNAL_COLUMNS: tuple[Column[SignalLine], ...] = (
    Column(
        "Time",
        lambda s: s.entry.signal.stamped_at.astimezone().strftime("%H:%M:%S"),
        sort=lambda s: s.entry.signal.stamped_at.timestamp(),
    ),
    Column("Source", lambda s: s.entry.signal.source),
    Column("Symbol", lambda s: s.entry.signal.symbol, tip=_tip),
    Column("Contract", _contract, header_tip="The listed month the signal resolves to"),
    Column("Action", lambda s: s.entry.signal.action.value),
    Column("Qty", _quantity, numeric=True),
    Column(
        "Type",
        lambda s: (
            f"limit {s.entry.signal.price}"
            if s.entry.signal.price is not None
            else s.entry.signal.order_type.value
        ),
    ),
    Column("Effect", lambda s: s.effect, header_tip="What it would do to your position now"),
    Column("State", _state, color=_state_color, tip=lambda s: s.entry.note),
)


def signals_model() -> SnapshotTableModel[SignalLine]:
    return SnapshotTableModel(SIGNAL_COLUMNS, lambda s: s.key)
