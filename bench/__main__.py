"""Run every benchmark against the simulator, print one table and write one JSON file.

    python -m bench                        # make bench: every benchmark, full size (~20 minutes)
    python -m bench --size smoke           # a tiny run of each, to see they still work
    python -m bench --only tick_latency    # some of them
    python -m bench --profile              # also record each benchmark process with py-spy
    python -m bench --compare OLD.json NEW.json
    python -m bench --markdown bench/results/results.json   # the table as README shows it

Each benchmark runs in a fresh process of its own with throw-away settings, data and log folders
(the trader's own are never touched, see ``bench.cli``), so one cannot skew the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.cli import SIZES

BENCHMARKS = (
    "sim_throughput",
    "cold_start",
    "connect_sync",
    "click_to_wire",
    "order_round_trip",
    "tick_latency",
    "ladder_latency",
    "cpu_per_tick",
    "memory_growth",
    "signal_latency",
    "chain_paint",
    "decode_share",
    "long_session",
)
RESULTS = Path(__file__).with_name("results") / "results.json"
_TIMEOUT = 300.0
_LONG_TIMEOUTS = {"long_session": 900.0}  # ten minutes of trading, and the start around them


def _profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed (pip install -e '.[bench]'); not profiling", file=sys.stderr)
        return None
    command = [spy, "record", "--idle", "--rate", "200", "--format", "speedscope"]
    return subprocess.Popen(
        [*command, "--subprocesses", "--pid", str(pid), "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_one(name: str, size: str, profile_dir: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"ibconsole-bench-{name}-") as folder:
        home = Path(folder)
        out = home / "result.json"
        command = [sys.executable, "-m", f"bench.{name}", "--size", size, "--json", str(out)]
        load = machine.load_average()
        started = time.monotonic()
        # A session of its own: on a timeout the whole group goes (the console, the simulator and
        # the peers a benchmark starts), not just its first process.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        spy = (
            _profiler(process.pid, profile_dir / f"{name}.speedscope.json") if profile_dir else None
        )
        try:
            _, stderr = process.communicate(timeout=_LONG_TIMEOUTS.get(name, _TIMEOUT))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
        finally:
            if spy is not None:
                spy.wait(30)
        elapsed = time.monotonic() - started
        if process.returncode != 0 or not out.is_file():
            tail = stderr.decode(errors="replace")[-3000:]
            return {"error": f"exit status {process.returncode}", "stderr": tail}
        result: dict[str, Any] = json.loads(out.read_text())
    result["bench_seconds"] = round(elapsed, 1)
    result["load_average_before"] = load
    result["load_average_after"] = machine.load_average()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME")
    parser.add_argument("--out", type=Path, help=f"results file (default {RESULTS})")
    parser.add_argument("--profile", action="store_true", help="py-spy each benchmark process")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    parser.add_argument("--markdown", type=Path, metavar="RESULTS", help="print a results table")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.markdown:
        print(report.render_markdown(report.rows(json.loads(args.markdown.read_text()))))
        return 0
    if args.compare:
        old, new = (json.loads(path.read_text()) for path in args.compare)
        print(report.compare(old, new))
        return 0
    out: Path = args.out or (RESULTS if args.size == "full" else RESULTS.with_name("smoke.json"))
    profile_dir = out.parent / "profiles" if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine.describe(), "size": args.size}
    results["command"] = (
        "make bench" if args.size == "full" else f"python -m bench --size {args.size}"
    )
    results["load_average_before"] = machine.load_average()
    started = time.monotonic()
    for name in args.only or BENCHMARKS:
        print(f"{name} …", file=sys.stderr, flush=True)
        results[name] = run_one(name, args.size, profile_dir)
        if "error" in results[name]:
            failure = results[name].get("stderr") or results[name]["error"]
            print(f"{name} failed:\n{failure}", file=sys.stderr)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["load_average_after"] = machine.load_average()
    table = report.rows(results)
    results["summary"] = report.as_dicts(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    machine_info = results["machine"]
    print(report.render(table))
    print(
        f"\n{machine_info['cpu_model']}, {machine_info['logical_cpus']} logical CPUs, "
        f"load average {results['load_average_before']} → {results['load_average_after']}; "
        f"{results['total_seconds']:g} s in all; written to {out}"
    )
    failed = [name for name in args.only or BENCHMARKS if "error" in results[name]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
