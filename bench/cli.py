"""The command line every benchmark module shares: ``--size full|smoke`` and ``--json PATH``.

``full`` is what ``make bench`` measures; ``smoke`` is a tiny run that only proves the benchmark
still works (the test suite runs it), its figures mean nothing. Every run gets throw-away
settings, data, log and cache folders and no ``IBCONSOLE_*`` overrides from the caller, so the
trader's own files are never touched and one machine's settings cannot skew a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SIZES = ("full", "smoke")

Measure = Callable[[str], dict[str, Any]]


def isolate(home: Path) -> None:
    """Point this process (and every process it starts) at folders under ``home``."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        folder = home / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)
    for name in [name for name in os.environ if name.startswith("IBCONSOLE_")]:
        del os.environ[name]
    os.environ.update(QT_QPA_PLATFORM="offscreen", QT_API="pyside6")


def main(description: str, measure: Measure, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=SIZES, default="full", help="run length (default full)")
    parser.add_argument("--json", type=Path, help="write the results to this file as well")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="ibconsole-bench-") as home:
        isolate(Path(home))
        results = measure(args.size)
    text = json.dumps(results, indent=2)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    else:
        print(text)
    return 0
