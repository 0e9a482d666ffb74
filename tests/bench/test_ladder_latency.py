"""The ladder benchmark's matching: a depth row written at the simulator is painted by the first
paint after the first model refresh that follows the batch it arrived in."""

from __future__ import annotations

import pytest

from bench.ladder_latency import depth_to_paint

A = (1, 1, 0, 100.0, 5.0)
B = (1, 1, 1, 99.75, 7.0)
C = (0, 0, 0, 100.25, 3.0)


def test_each_row_runs_from_its_write_to_the_paint_after_the_refresh_after_it_arrived() -> None:
    written = [(1.0, A), (1.5, B), (2.0, C)]
    batches = [(2.1, [(A, True), (B, True)]), (3.0, [(C, True)])]
    refreshes = [2.05, 2.2, 3.1]  # the first refresh came before the batch: it cannot show it
    paints = [2.15, 2.3, 3.2]
    latencies, unseen = depth_to_paint(written, batches, refreshes, paints)
    assert latencies == pytest.approx([2.3 - 1.0, 2.3 - 1.5, 3.2 - 2.0])
    assert unseen == 0


def test_rows_written_before_the_log_or_never_received_are_told_apart() -> None:
    written = [(1.0, A), (1.2, C)]
    batches = [(1.1, [(B, True), (A, True)])]  # B was written before the log started
    latencies, unseen = depth_to_paint(written, batches, [1.3], [1.4])
    assert latencies == pytest.approx([0.4])
    assert unseen == 1  # C never arrived


def test_a_batch_without_a_later_paint_is_not_counted() -> None:
    latencies, unseen = depth_to_paint([(1.0, A)], [(1.1, [(A, True)])], [1.2], [])
    assert latencies == []
    assert unseen == 1


def test_a_row_outside_the_window_is_seen_but_has_no_latency() -> None:
    latencies, unseen = depth_to_paint(
        [(1.0, A), (1.1, B)], [(1.2, [(A, False), (B, True)])], [1.3], [1.4]
    )
    assert latencies == pytest.approx([0.3])
    assert unseen == 0
