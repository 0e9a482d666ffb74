"""The small pieces a form of the window is laid out with: captions beside values, section
headings and horizontal rules, so the ticket's panels look alike."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel

from ibconsole.ui.steady_label import SteadyLabel


def caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def captioned(*rows: tuple[str, QLabel | SteadyLabel]) -> QGridLayout:
    """Values under captions in a column to their left; a caption stays level with the first
    line of a value that may wrap onto several."""
    grid = QGridLayout()
    grid.setHorizontalSpacing(10)
    grid.setVerticalSpacing(3)
    for row, (text, value) in enumerate(rows):
        if value.wordWrap():
            grid.addWidget(caption(text), row, 0, Qt.AlignmentFlag.AlignTop)
        else:
            grid.addWidget(caption(text), row, 0)
        grid.addWidget(value, row, 1)
    grid.setColumnStretch(1, 1)
    return grid


def section(text: str) -> QLabel:
    label = QLabel(text.upper())
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    font.setBold(True)
    font.setLetterSpacing(font.SpacingType.PercentageSpacing, 108)
    label.setFont(font)
    label.setStyleSheet("color: palette(placeholder-text); padding-top: 6px;")
    return label


def rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Plain)
    line.setStyleSheet("color: palette(mid);")
    return line
