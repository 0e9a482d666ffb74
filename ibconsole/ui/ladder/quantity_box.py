"""The size of a ladder click: a spin box (``ladderQuantity``) with a button per preset from the
settings (``[ladder] quantity_presets``). The ladder's Ctrl+1 … Ctrl+8 pick the presets from
the keyboard; the arrow keys and typing change the box."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from ibconsole.ui.blotter_models import tabular_font

MAX_CLICK_QUANTITY = 9999  # the pre-trade checks hold the real limit; this bounds typing


class LadderQuantityBox(QWidget):
    def __init__(self, presets: tuple[int, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ladderQuantityBox")
        self._spin = QSpinBox()
        self._spin.setObjectName("ladderQuantity")
        self._spin.setRange(1, MAX_CLICK_QUANTITY)
        self._spin.setValue(presets[0] if presets else 1)
        self._spin.setFont(tabular_font())
        self._spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self._spin.setToolTip("Contracts per click; Ctrl+1 … Ctrl+8 pick a preset")
        self._spin.setAccessibleName("Ladder click quantity")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        caption = QLabel("Qty")
        caption.setBuddy(self._spin)
        layout.addWidget(caption)
        layout.addWidget(self._spin)
        layout.addStretch(1)
        self._layout = layout
        self._buttons: list[QPushButton] = []
        self._presets: tuple[int, ...] = ()
        self.set_presets(presets)

    def set_presets(self, presets: tuple[int, ...]) -> None:
        """Show ``presets`` as the preset buttons (the settings changed them)."""
        for button in self._buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self._buttons = []
        self._presets = presets
        for number, preset in enumerate(presets, start=1):
            button = QPushButton(str(preset))
            button.setObjectName(f"ladderPreset{preset}")
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setFixedWidth(34)
            button.setToolTip(f"Click size {preset} (Ctrl+{number})")
            button.clicked.connect(partial(self.choose, preset))
            self._layout.insertWidget(2 + len(self._buttons), button)
            self._buttons.append(button)

    @property
    def presets(self) -> tuple[int, ...]:
        return self._presets

    @property
    def quantity(self) -> int:
        return self._spin.value()

    @Slot(int)
    def choose(self, quantity: int) -> None:
        self._spin.setValue(quantity)
