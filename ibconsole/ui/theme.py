"""Light and dark themes that follow the system colour scheme (Qt 6 ``QStyleHints.colorScheme``).

Fusion with an explicit palette looks the same on every desktop; the scheme is re-applied when
the system switches. ``Tone`` colours give every status its colour in both schemes (always shown
together with words, never alone).
"""

from __future__ import annotations

import logging
from enum import StrEnum

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QStyleFactory, QWidget

log = logging.getLogger(__name__)


class Tone(StrEnum):
    GOOD = "good"
    WARN = "warn"
    BAD = "bad"
    NEUTRAL = "neutral"


_TONES_LIGHT = {
    Tone.GOOD: "#1b7f3b",
    Tone.WARN: "#a35c00",
    Tone.BAD: "#c62828",
    Tone.NEUTRAL: "#5f6368",
}
_TONES_DARK = {
    Tone.GOOD: "#4cc173",
    Tone.WARN: "#f0a330",
    Tone.BAD: "#ff6b6b",
    Tone.NEUTRAL: "#a0a4a8",
}


def is_dark() -> bool:
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def tone_color(tone: Tone) -> QColor:
    """The text colour of a status tone, readable on the current theme's background."""
    return QColor((_TONES_DARK if is_dark() else _TONES_LIGHT)[tone])


def tone_style(tone: Tone) -> str:
    """A style sheet fragment for a status label of ``tone``: coloured text, bold."""
    return f"color: {tone_color(tone).name()}; font-weight: 600;"


def set_toned_text(label: QLabel, text: str, tone: Tone) -> None:
    """Show ``text`` in a status label, coloured by ``tone`` (plain when neutral). The style sheet
    is set only when the tone changes: setting one, even the same, re-polishes the label and asks
    its window for a layout pass, and views repaint these labels every frame."""
    label.setText(text)
    restyle(label, tone_style(tone) if tone is not Tone.NEUTRAL else "")


def restyle(widget: QWidget, style: str) -> None:
    """Give ``widget`` the style sheet ``style`` unless it has it: setting one, even the same,
    re-polishes the widget and asks its window for a layout pass."""
    if widget.styleSheet() != style:
        widget.setStyleSheet(style)


# Every palette role the themes set, as (light, dark); the disabled text colour below likewise.
_ROLE_COLORS: dict[QPalette.ColorRole, tuple[str, str]] = {
    QPalette.ColorRole.Window: ("#f3f4f6", "#1e2126"),
    QPalette.ColorRole.WindowText: ("#1f2328", "#e6e8eb"),
    QPalette.ColorRole.Base: ("#ffffff", "#16181c"),
    QPalette.ColorRole.AlternateBase: ("#f6f8fa", "#1c1f24"),
    QPalette.ColorRole.ToolTipBase: ("#ffffff", "#2a2e35"),
    QPalette.ColorRole.ToolTipText: ("#1f2328", "#e6e8eb"),
    QPalette.ColorRole.PlaceholderText: ("#8c959f", "#7d848d"),
    QPalette.ColorRole.Text: ("#1f2328", "#e6e8eb"),
    QPalette.ColorRole.Button: ("#eaedf0", "#2a2e35"),
    QPalette.ColorRole.ButtonText: ("#1f2328", "#e6e8eb"),
    QPalette.ColorRole.BrightText: ("#c62828", "#ff6b6b"),
    QPalette.ColorRole.Highlight: ("#2f6fde", "#3d7ae6"),
    QPalette.ColorRole.HighlightedText: ("#ffffff", "#ffffff"),
    QPalette.ColorRole.Link: ("#1f5fbf", "#6ea8ff"),
    QPalette.ColorRole.Mid: ("#c8ccd1", "#3a3f47"),
    QPalette.ColorRole.Dark: ("#a0a6ad", "#121417"),
    QPalette.ColorRole.Light: ("#ffffff", "#3a3f47"),
}
_DISABLED_TEXT = ("#8c959f", "#6b717a")
_DISABLED_ROLES = (
    QPalette.ColorRole.WindowText,
    QPalette.ColorRole.Text,
    QPalette.ColorRole.ButtonText,
)


def light_palette() -> QPalette:
    return _palette(dark=False)


def dark_palette() -> QPalette:
    return _palette(dark=True)


def _palette(*, dark: bool) -> QPalette:
    scheme = 1 if dark else 0  # the index into the (light, dark) pairs
    palette = QPalette()
    for role, colors in _ROLE_COLORS.items():
        palette.setColor(role, QColor(colors[scheme]))
    for role in _DISABLED_ROLES:
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(_DISABLED_TEXT[scheme]))
    return palette


def apply_theme(app: QApplication, scheme: Qt.ColorScheme) -> None:
    """Dark palette for a dark system scheme; light for light or unknown."""
    app.setPalette(dark_palette() if scheme is Qt.ColorScheme.Dark else light_palette())
    log.debug("theme %s", "dark" if scheme is Qt.ColorScheme.Dark else "light")


def follow_system_theme(app: QApplication) -> None:
    """Use Fusion with the palette of the system scheme, now and whenever the system switches."""
    style = QStyleFactory.create("Fusion")
    if style is not None:
        app.setStyle(style)
    hints = app.styleHints()
    apply_theme(app, hints.colorScheme())
    if not app.property("ibconsoleFollowsScheme"):
        hints.colorSchemeChanged.connect(lambda scheme: apply_theme(app, scheme))
        app.setProperty("ibconsoleFollowsScheme", True)
