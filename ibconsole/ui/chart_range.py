"""The price plot's vertical range, settled: it follows the bars in view but does not move for
every new high or low.

pyqtgraph's auto-range fits the bars in view exactly, so in a fast market nearly every tick of the
forming bar moved the range, and each move drew the axis, its labels and the grid again over the
whole plot (about 4 ms of the GUI thread each time, several times a second). A settled range
keeps still while what it must show fits it well, and when it has to move it leaves some room on
each side, so the next small new high or low fits too.
"""

from __future__ import annotations

# The range moves when the bars in view fill less than this share of it (the view is left with
# too much empty space, e.g. after a spike scrolled out of view) ...
KEEP_FILL = 0.6
# ... or reach outside it; it then leaves this share of the bars' span free on each side.
HEADROOM = 0.15

Span = tuple[float, float]


def settled_range(current: Span, wanted: Span, floor: float | None = None) -> Span:
    """The range to show where ``current`` is shown and ``wanted`` fits the bars in view, never
    below ``floor`` (volumes: 0) where one is given."""
    low, high = min(wanted), max(wanted)
    if floor is not None:
        low = max(low, floor)
    shown_low, shown_high = min(current), max(current)
    shown = shown_high - shown_low
    if shown_low <= low and high <= shown_high and high - low >= KEEP_FILL * shown:
        return current
    room = (high - low) * HEADROOM
    return low - room if floor is None else max(low - room, floor), high + room
