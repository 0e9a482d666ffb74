"""Python's cyclic garbage is collected on the GUI thread only, whichever thread made it: a cycle
holding a Qt object collected on another thread would destroy it there, which Qt forbids."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from ibconsole.ui.gui_gc import GuiThreadCollector, collect_on_gui_thread


class _Cycle:
    """An object in a reference cycle that says on which thread it was collected."""

    def __init__(self, seen: list[str]) -> None:
        self.itself = self
        self._seen = seen

    def __del__(self) -> None:
        self._seen.append(threading.current_thread().name)


@pytest.fixture
def low_thresholds() -> Iterator[None]:
    """A collection due after every few allocations, as under a busy market."""
    before = gc.get_threshold()
    gc.set_threshold(50, 2, 2)
    try:
        yield
    finally:
        gc.set_threshold(*before)


async def test_cycles_made_on_another_thread_are_collected_on_the_gui_thread(
    qapp: QApplication, low_thresholds: None, wait_for: Any
) -> None:
    collector = collect_on_gui_thread(qapp)
    assert not gc.isenabled()
    seen: list[str] = []

    def churn() -> None:
        for _ in range(5_000):  # a hundred times the threshold: CPython would collect here
            _Cycle(seen)

    worker = threading.Thread(target=churn, name="worker")
    worker.start()
    worker.join()
    await wait_for(lambda: len(seen) == 5_000, what="every cycle collected")

    assert set(seen) == {threading.main_thread().name}
    assert collect_on_gui_thread(qapp) is collector
    assert qapp.findChildren(GuiThreadCollector) == [collector]


def test_the_oldest_generation_past_its_threshold_is_collected(low_thresholds: None) -> None:
    collector = GuiThreadCollector()
    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        assert collector.collect_due() is None  # nothing allocated since
        garbage = [[] for _ in range(60)]
        assert gc.get_count()[0] > 50
        assert collector.collect_due() == 0
        assert gc.get_count()[0] < 50
        for _ in range(2):  # three young collections make the middle generation due (> 2)
            garbage += [[] for _ in range(60)]
            collector.collect_due()
        assert gc.get_count()[1] > 2
        garbage += [[] for _ in range(60)]
        assert collector.collect_due() == 1
        assert gc.get_count()[1] == 0
        del garbage
    finally:
        if collecting:
            gc.enable()
