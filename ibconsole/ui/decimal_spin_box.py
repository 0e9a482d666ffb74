"""A number field over exact decimal text that steps along a tick grid: the ticket's quantity and
prices, and any entry point's price or size box."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QValidator, QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from ibconsole.domain.contracts import decimal_places
from ibconsole.domain.orders import SnapDirection, snap_to_tick, usable_number
from ibconsole.ui.blotter_models import tabular_font

_NUMBER = re.compile(r"^\s*-?[\d,]*\.?\d*\s*$")


class DecimalSpinBox(QAbstractSpinBox):
    """A number field over exact decimal text; empty means "no value".

    The arrows and PgUp/PgDn step by ``step`` along its grid (``snap_to_tick``), starting from
    the anchor (the market) when the field is empty. Typed or pasted text stays as typed: the
    ticket says when it is off the tick rather than changing it silently. The mouse wheel only
    steps a focused field, so scrolling the dock never moves a price.

    Signals:
        sig_edited()   the text changed (typed, pasted, stepped or set)
    """

    sig_edited = Signal()

    def __init__(
        self, step: Decimal, *, minimum: Decimal | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._step = step
        self._minimum = minimum
        self._anchor: Callable[[], Decimal | None] = lambda: None
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setAccelerated(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFont(tabular_font())
        self.lineEdit().textChanged.connect(self._on_line_text_changed)

    def set_step(self, step: Decimal) -> None:
        self._step = step

    def set_anchor(self, anchor: Callable[[], Decimal | None]) -> None:
        self._anchor = anchor

    def set_text(self, text: str) -> None:
        self.lineEdit().setText(text)

    def set_value(self, value: Decimal | None) -> None:
        self.set_text("" if value is None else f"{value:.{decimal_places(self._step)}f}")

    def value(self) -> Decimal | None:
        return usable_number(self.text())

    def clear(self) -> None:
        self.lineEdit().clear()

    def stepBy(self, steps: int) -> None:
        current = self.value()
        if current is None:
            anchor = self._anchor()
            if anchor is None:
                return
            target = snap_to_tick(anchor, self._step, SnapDirection.NEAREST)
        else:
            direction = SnapDirection.UP if steps > 0 else SnapDirection.DOWN
            grid = snap_to_tick(current, self._step, direction)
            if grid != current:
                steps -= 1 if steps > 0 else -1  # the first step lands on the grid
            target = grid + self._step * steps
        if self._minimum is not None and target < self._minimum:
            target = self._minimum
        self.set_value(target)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flags = QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        value = self.value()
        if self._minimum is None or value is None or value > self._minimum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        if not text.strip() or usable_number(text) is not None:
            state = QValidator.State.Acceptable
        elif _NUMBER.match(text):
            state = QValidator.State.Intermediate
        else:
            state = QValidator.State.Invalid
        return state, text, pos

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()

    @Slot(str)
    def _on_line_text_changed(self, text: str) -> None:
        self.sig_edited.emit()
