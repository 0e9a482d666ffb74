"""Text that changes with the market, shown without a layout pass for every change.

A label's or a button's new text asks its window to lay out again (``updateGeometry``), unless
the widget's size is fixed: then Qt repaints the widget alone. ``set_fixed_text`` keeps the
widget's size fixed at what its text needs and changes that size only when a new text needs
another, so a price moving within its width costs a repaint, not a pass over the window.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QLabel


def set_fixed_text(widget: QLabel | QAbstractButton, text: str) -> None:
    """Show ``text`` in ``widget``, sized to fit it, asking for a layout pass only when the size
    it needs changes."""
    if widget.text() == text:
        return
    widget.setText(text)
    needed = widget.sizeHint()
    if widget.minimumSize() != needed or widget.maximumSize() != needed:
        widget.setFixedSize(needed)
