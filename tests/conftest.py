"""Suite-wide strictness: an unexpected WARNING (or worse) from ibconsole's own loggers fails a test.

Tests that provoke such records on purpose (fault injection, bad input) say so with
``@pytest.mark.expect_log_warnings``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _fail_on_unexpected_warning_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    collector = _Collector()
    logger = logging.getLogger("ibconsole")
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
    if request.node.get_closest_marker("expect_log_warnings") is None and collector.records:
        lines = "\n".join(f"{r.name} {r.levelname}: {r.getMessage()}" for r in collector.records)
        pytest.fail(f"unexpected WARNING-or-worse log records:\n{lines}")
