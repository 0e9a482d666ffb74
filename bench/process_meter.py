"""CPU seconds and resident memory of a running process, read from Linux's /proc (the
benchmarks' machine); a reading from the outside costs the measured process nothing."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of every thread of ``pid`` so far (10 ms resolution)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after it are plain numbers.
    fields = text[text.rindex(")") + 2 :].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / _TICKS_PER_SECOND


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` now."""
    resident = Path(f"/proc/{pid}/statm").read_text().split()[1]
    return int(resident) * _PAGE
