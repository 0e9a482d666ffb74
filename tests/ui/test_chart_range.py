"""The price plot's settled vertical range, as a table: it keeps still while the bars in view fill
it well, and when it moves it leaves room on each side (never below a floor such as volume's 0)."""

from __future__ import annotations

import pytest

from ibconsole.ui.chart_range import HEADROOM, KEEP_FILL, Span, settled_range


@pytest.mark.parametrize(
    ("current", "wanted", "floor", "shown"),
    [
        # the bars in view fit and fill the range well: it keeps still
        ((100.0, 110.0), (101.0, 109.0), None, (100.0, 110.0)),
        ((100.0, 110.0), (100.0, 110.0), None, (100.0, 110.0)),
        ((100.0, 110.0), (102.0, 102.0 + 10 * KEEP_FILL), None, (100.0, 110.0)),
        # a new high or low outside it: the range moves, with room on both sides
        ((100.0, 110.0), (101.0, 111.0), None, (101.0 - 10 * HEADROOM, 111.0 + 10 * HEADROOM)),
        ((100.0, 110.0), (99.0, 109.0), None, (99.0 - 10 * HEADROOM, 109.0 + 10 * HEADROOM)),
        # the bars fill too little of it (a spike scrolled out of view): it closes in
        ((100.0, 110.0), (104.0, 106.0), None, (104.0 - 2 * HEADROOM, 106.0 + 2 * HEADROOM)),
        # a reversed span counts as its ends
        ((110.0, 100.0), (109.0, 101.0), None, (110.0, 100.0)),
        # volumes: padding below 0 does not count, and the room is never below 0
        ((0.0, 100.0), (-2.0, 90.0), 0.0, (0.0, 100.0)),
        ((0.0, 100.0), (-2.0, 120.0), 0.0, (0.0, 120.0 + 120 * HEADROOM)),
    ],
)
def test_the_range_moves_only_when_the_bars_leave_or_underfill_it(
    current: Span, wanted: Span, floor: float | None, shown: Span
) -> None:
    assert settled_range(current, wanted, floor) == pytest.approx(shown)
