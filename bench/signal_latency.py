"""Signal POST → 202 and POST → shown in the inbox, and a flood of bad secrets, with the console
under 5,000 ticks/s over 20 instruments (DESIGN.md section 6).

A client process of its own (as TradingView or a reverse proxy would be) posts signals to the
console's endpoint one after the other, 50 ms apart, over one keep-alive connection, stamping each
request as it starts writing it and as the 202 arrives (``time.perf_counter``, CLOCK_MONOTONIC:
one clock for every process). In the console the inbox dock is raised, and a signal counts as
shown at the first paint of its table after the row was inserted.

Then a 2 ms precise Qt timer measures the loop's stalls for 3 s as they are, and again while
the client floods the endpoint with 1,000 POSTs a second whose secrets are wrong (same length as
the right one) for 3 s: the flood must keep the loop within its stall target (16 ms), and every
request must be answered 401. The same signals are posted once more with the market quiet (80
ticks/s), for what the endpoint and the inbox cost apart from the ticks.

Beside each span the CPU each thread of the console used in it (its thread CPU clock, ms), the
GUI thread's among them, and the CPU of the endpoint's own process (all its threads, from
/proc, under the endpoint thread's name). On a shared machine the latencies wander with the
load; these do not.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from bench import cli, machine
from bench.console_rig import close_console, in_fresh_process, open_console, run_qasync, watch
from bench.peer import INSTRUMENTS, Peer, in_executor
from bench.probes import LoopProbe, PaintProbe
from bench.summary import summarize
from ibconsole.broker.signal_endpoint import THREAD_NAME as ENDPOINT

SECRET = "bench-signal-secret-4f9Kx2Lq"
QUIET_TICKS = 4 * INSTRUMENTS
WRONG = "bench-signal-secret-4f9Kx2Lz"  # same length, last character differs


@dataclass(frozen=True, slots=True)
class Size:
    ticks_per_s: int
    signals: int
    spacing: float  # seconds between two signals
    flood_rate: int  # bad POSTs a second
    flood_seconds: float
    warmup: float


SIZES = {
    "full": Size(5_000, signals=200, spacing=0.05, flood_rate=1_000, flood_seconds=3.0, warmup=2.0),
    "smoke": Size(500, signals=10, spacing=0.05, flood_rate=100, flood_seconds=0.5, warmup=0.2),
}


# --- the client, in a process of its own ------------------------------------------------------


def _post_signals(url: str, count: int, spacing: float) -> list[tuple[str, float, float, int]]:
    """(key, started, answered, status) of ``count`` good signals over one connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    done = []
    for _ in range(count):
        ident = f"bench-{uuid.uuid4().hex}"
        body = json.dumps(
            {"secret": SECRET, "id": ident, "symbol": "MES1!", "action": "buy", "quantity": 1}
        ).encode()
        started = time.perf_counter()
        connection.request("POST", parts.path, body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        answered = time.perf_counter()
        done.append((f"id:{ident}", started, answered, answer.status))
        time.sleep(max(0.0, spacing - (answered - started)))
    connection.close()
    return done


async def _flood(url: str, rate: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    body = json.dumps(
        {"secret": WRONG, "id": "flood", "symbol": "MES1!", "action": "buy", "quantity": 1}
    ).encode()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    limit = asyncio.Semaphore(200)
    connector = aiohttp.TCPConnector(limit=200)

    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with limit:
                started = time.perf_counter()
                try:
                    async with session.post(
                        url, data=body, headers={"Content-Type": "application/json"}
                    ) as answer:
                        await answer.read()
                    status = answer.status
                except (aiohttp.ClientError, OSError, TimeoutError):
                    status = 0  # no answer: the connection failed (counted, never hidden)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1

        tasks = []
        started = time.perf_counter()
        total = int(rate * seconds)
        for number in range(total):
            due = started + number / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {
        "requests": total,
        "seconds": round(elapsed, 2),
        "posts_per_s": round(total / elapsed),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "answer_ms": summarize(latencies, 1000),
    }


def _client(pipe: Connection) -> None:
    while True:
        command, argument = pipe.recv()
        try:
            if command == "signals":
                answer: object = _post_signals(*argument)
            elif command == "flood":
                answer = asyncio.run(_flood(*argument))
            else:
                return
        except Exception as error:  # reported to the console side, which fails the run
            pipe.send(("error", f"{type(error).__name__}: {error}"))
        else:
            pipe.send(("ok", answer))


class Client:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=_client, args=(theirs,), daemon=True)
        self._process.start()

    def ask(self, command: str, *argument: object) -> Any:
        self._pipe.send((command, argument))
        status, answer = self._pipe.recv()
        if status != "ok":
            raise RuntimeError(f"the client process failed on {command}: {answer}")
        return answer

    def stop(self) -> None:
        if self._process.is_alive():
            self._pipe.send(("stop", ()))
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


# --- the console ---------------------------------------------------------------------------------


class ThreadClocks:
    """CPU seconds of the GUI thread (the caller's), of every other thread of the console and of
    the endpoint's process (``endpoint_pid``): on a shared machine wall-clock latencies wander
    with the load, the CPU each thread spent does not."""

    def __init__(self, endpoint_pid: int | None) -> None:
        self._wall = time.perf_counter()
        self._gui = time.thread_time()
        self._others = self._other_threads()
        self._pid = endpoint_pid
        self._endpoint = _process_cpu(endpoint_pid)

    @staticmethod
    def _other_threads() -> dict[str, float]:
        clocks = {}
        for thread in threading.enumerate():
            if thread is threading.current_thread() or thread.ident is None:
                continue
            try:
                clock = time.pthread_getcpuclockid(thread.ident)
                clocks[thread.name] = time.clock_gettime(clock)
            except OSError:  # it ended meanwhile
                continue
        return clocks

    def spent_ms(self) -> dict[str, float]:
        """Milliseconds since this was made: ``wall`` clock, CPU of the ``gui`` thread and of
        each other thread by name."""
        spent = {
            "wall": round((time.perf_counter() - self._wall) * 1000, 1),
            "gui": round((time.thread_time() - self._gui) * 1000, 1),
        }
        for name, now in self._other_threads().items():
            used = now - self._others.get(name, 0.0)
            if used >= 0.0005:
                spent[name] = round(used * 1000, 1)
        endpoint = _process_cpu(self._pid)
        if endpoint is not None and self._endpoint is not None:
            spent[ENDPOINT] = round((endpoint - self._endpoint) * 1000, 1)
        return spent


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds process ``pid`` has used, all its threads (clock-tick resolution); None when
    there is none."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def _run(size: Size) -> dict[str, Any]:
    os.environ.update(
        IBCONSOLE_SIGNAL_SECRET=SECRET,
        IBCONSOLE_SIGNALS__ENABLED="true",
        IBCONSOLE_SIGNALS__PORT="0",
        IBCONSOLE_SIGNALS__MAX_PER_MINUTE="1000000",
    )
    peer = Peer.start(tick_rate=size.ticks_per_s / INSTRUMENTS)
    client = Client()
    try:
        console = await open_console(peer.port)
        try:
            await watch(console, await in_executor(lambda: peer.instruments(INSTRUMENTS)))
            url = console.signals_url
            if url is None:
                raise RuntimeError("the signal endpoint did not start")
            endpoint_pid = console.signals.pid if console.signals else None
            window = console.window
            window.docks["signalInbox"].show()
            window.docks["signalInbox"].raise_()
            panel = window.signal_inbox
            inserted: dict[str, float] = {}

            def on_rows(parent: object, first: int, last: int) -> None:
                now = time.perf_counter()
                for row in range(first, last + 1):
                    inserted[panel.model.line(row).key] = now

            panel.model.rowsInserted.connect(on_rows)
            paints = PaintProbe(panel.table.viewport())
            await asyncio.sleep(size.warmup)

            paints.start()
            clocks = ThreadClocks(endpoint_pid)
            posted = await in_executor(
                lambda: client.ask("signals", url, size.signals, size.spacing)
            )
            signals_cpu = clocks.spent_ms()
            deadline = time.monotonic() + 10
            while len(inserted) < len(posted) or (
                paints.paints and paints.paints[-1] < max(inserted.values())
            ):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.01)
            paints.stop()

            # The same span without the flood first: the stalls the ticks alone cause.
            baseline = LoopProbe()
            baseline.start()
            clocks = ThreadClocks(endpoint_pid)
            await asyncio.sleep(size.flood_seconds)
            baseline_cpu = clocks.spent_ms()
            baseline.stop()
            loop_probe = LoopProbe()
            loop_probe.start()
            cpu_before = time.process_time()
            clocks = ThreadClocks(endpoint_pid)
            flood = (
                await in_executor(
                    lambda: client.ask("flood", url, size.flood_rate, size.flood_seconds)
                )
                if size.flood_rate
                else {"requests": 0, "seconds": 0.0, "posts_per_s": 0, "statuses": {}}
            )
            cpu = time.process_time() - cpu_before
            flood_cpu = clocks.spent_ms()
            loop_probe.stop()
            refusals = dict(await console.signals.refusals()) if console.signals else {}
        finally:
            await close_console(console)
    finally:
        client.stop()
        peer.stop()

    to_202 = [answered - started for _, started, answered, status in posted if status == 202]
    to_shown = []
    for key, started, _, _ in posted:
        at = inserted.get(key)
        if at is None:
            continue
        painted = next((p for p in paints.paints if p >= at), None)
        if painted is not None:
            to_shown.append(painted - started)
    flood["console_cpu_share"] = round(cpu / max(flood["seconds"], 1e-9), 3)
    # CPU by thread (ms) over the 200 signals, the span without the flood and the flood.
    flood["thread_cpu_ms"] = flood_cpu
    return {
        "ticks_per_s": size.ticks_per_s,
        "signals_posted": len(posted),
        "signals_accepted": len(to_202),
        "signals_shown": len(to_shown),
        "post_to_202_ms": summarize(to_202, 1000),
        "post_to_shown_ms": summarize(to_shown, 1000),
        "flood": flood,
        "flood_refusals_counted": {str(k): v for k, v in sorted(refusals.items())},
        "signals_thread_cpu_ms": signals_cpu,
        "without_flood_thread_cpu_ms": baseline_cpu,
        "loop_stall_without_flood_ms": summarize(baseline.stalls(), 1000),
        "flood_loop_stall_ms": summarize(loop_probe.stalls(), 1000),
        "flood_loop_stall_cpu_ms": summarize(loop_probe.stall_cpu(), 1000),
        "load_average": machine.load_average(),
    }


def _measure(size: Size) -> dict[str, Any]:
    return run_qasync(lambda: _run(size))


def measure(size_name: str) -> dict[str, Any]:
    size = SIZES[size_name]
    results = in_fresh_process(_measure, size)
    # The same signals with the market quiet (the demo's 4 quotes a second per instrument): what
    # the endpoint and the inbox cost apart from the ticks the loop is busy with.
    quiet = in_fresh_process(_measure, replace(size, ticks_per_s=QUIET_TICKS, flood_rate=0))
    results["quiet"] = {
        key: quiet[key]
        for key in (
            "ticks_per_s",
            "post_to_202_ms",
            "post_to_shown_ms",
            "signals_thread_cpu_ms",
            "without_flood_thread_cpu_ms",
        )
    }
    return results


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], measure))
