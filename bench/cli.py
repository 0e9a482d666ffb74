"""The command line every benchmark module shares: ``--size full|smoke`` and ``--json PATH``.

``full`` is what ``make bench`` measures; ``smoke`` is a tiny run that only proves the benchmark
still works (the test suite runs it), its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SIZES = ("full", "smoke")

Measure = Callable[[str], dict[str, Any]]


def main(description: str, measure: Measure, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=SIZES, default="full", help="run length (default full)")
    parser.add_argument("--json", type=Path, help="write the results to this file as well")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    results = measure(args.size)
    text = json.dumps(results, indent=2)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    else:
        print(text)
    return 0
