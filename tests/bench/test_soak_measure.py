"""The soak's heap snapshots: each one goes to a file, written by a forked copy of the process,
and none stays in memory (one held from a measure to the next is read as RSS growth of tens of
MiB); the growth between two of them is told from those files."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak_measure import top_growth, write_heap_snapshot


@pytest.fixture
def tracing() -> Iterator[None]:
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(4)
    yield
    if started:
        tracemalloc.stop()


def _snapshots_in_memory() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, tracemalloc.Snapshot))


def _grow() -> list[bytes]:
    return [bytes(1000) for _ in range(2000)]


@pytest.mark.usefixtures("tracing")
def test_snapshots_go_to_files_and_none_stays_in_memory(tmp_path: Path) -> None:
    before = _snapshots_in_memory()
    write_heap_snapshot(tmp_path / "first")
    kept = _grow()
    for day in range(3):
        write_heap_snapshot(tmp_path / "last")
        assert _snapshots_in_memory() == before, f"day {day}"

    growth = top_growth(tmp_path / "first", tmp_path / "last")

    assert len(kept) == 2000
    assert growth, "the growth between the two files is told"
    assert "test_soak_measure.py" in growth[0], growth
    assert _snapshots_in_memory() == before


@pytest.fixture
def untraced() -> Iterator[None]:
    tracing, frames = tracemalloc.is_tracing(), tracemalloc.get_traceback_limit()
    tracemalloc.stop()
    yield
    if tracing:
        tracemalloc.start(frames)


@pytest.mark.usefixtures("untraced")
def test_a_snapshot_not_written_is_said(tmp_path: Path) -> None:
    """The snapshot is taken in a forked copy of the process; its failure (here: nothing is
    traced) reaches the soak as an error, not as a missing file found later."""
    with pytest.raises(RuntimeError, match="the heap snapshot was not written"):
        write_heap_snapshot(tmp_path / "none")

    assert not (tmp_path / "none").exists()
