"""The soak's paper gateway: ``PaperGateway`` in a process of its own, as IB Gateway is, started
again on the same port as a new day, taking faults, and telling its own count of what the clients
hold open there: market-data lines (futures and options), depth lines and bar series kept up to
date. A request the console forgot to cancel shows here, whatever the console believes it holds.

The process reads one command a line on its standard input and answers one line on its standard
output: ``fault TEXT`` (the simulator's fault commands) answers ``ok: what it did``, ``lines``
answers ``ok: {json}``; anything wrong answers ``error: why``. Its first line is
``listening on HOST:PORT``, as ``ibconsole-sim`` says it.

    python -m bench.soak_gateway PORT SEED TICK_RATE
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass

from bench.peer import AS_OF
from ibconsole.sim import PaperGateway

_START_TIMEOUT = 60.0
_ANSWER_TIMEOUT = 60.0  # generous: the machine may be loaded


@dataclass(frozen=True, slots=True)
class SimLines:
    """What the simulator serves, every client together."""

    market_data: int  # reqMktData lines (futures, options, their computations)
    depth: int  # reqMktDepth lines
    bar_series: int  # reqHistoricalData with keepUpToDate
    connections: int


# ------------------------------------------------------------------------- the gateway process
async def _serve(port: int, seed: int, tick_rate: float) -> None:
    gateway = PaperGateway(seed=seed, as_of=AS_OF, tick_rate=tick_rate)
    await gateway.start("127.0.0.1", port)
    print(f"listening on 127.0.0.1:{gateway.port}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = line.decode(errors="replace").strip()
            try:
                answer = f"ok: {_answer(gateway, command)}"
            except Exception as error:
                answer = f"error: {type(error).__name__}: {error}"
            print(answer, flush=True)
    finally:
        await gateway.stop()


def _answer(gateway: PaperGateway, command: str) -> str:
    verb, _, rest = command.partition(" ")
    if verb == "fault":
        return gateway.faults.command(rest)
    if verb == "lines":
        lines = SimLines(
            market_data=gateway.market_data.subscription_count(),
            depth=gateway.depth.subscription_count(),
            bar_series=gateway.history.subscription_count(),
            connections=len(gateway.connections),
        )
        return json.dumps(asdict(lines))
    raise ValueError(f"unknown command {command!r}")


# ------------------------------------------------------------------------- the soak's handle
class SoakGateway:
    """Handle on the gateway process, on the soak's event loop."""

    def __init__(self, tick_rate: float) -> None:
        self.tick_rate = tick_rate
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self, seed: int) -> None:
        """A new gateway process (a new day: none of the last one's orders), on the port of the
        last one once there was one."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.soak_gateway",
            str(self.port),
            str(seed),
            str(self.tick_rate),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT)).decode()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the gateway did not start: {line!r}")
        self._process = process
        self.port = int(line.rsplit(":", 1)[1])

    async def fault(self, command: str) -> str:
        return await self._ask(f"fault {command}")

    async def lines(self) -> SimLines:
        return SimLines(**json.loads(await self._ask("lines")))

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # end of commands: the gateway closes every socket and exits
        try:
            await asyncio.wait_for(process.wait(), _ANSWER_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _ask(self, command: str) -> str:
        process = self._process
        if process is None:
            raise RuntimeError("the gateway is not running")
        assert process.stdin is not None
        assert process.stdout is not None
        async with self._lock:
            process.stdin.write(command.encode() + b"\n")
            await process.stdin.drain()
            answer = (await asyncio.wait_for(process.stdout.readline(), _ANSWER_TIMEOUT)).decode()
        if not answer.startswith("ok: "):
            raise RuntimeError(f"the gateway refused {command!r}: {answer.strip()}")
        return answer.removeprefix("ok: ").strip()


def main(argv: list[str]) -> int:
    port, seed, tick_rate = int(argv[0]), int(argv[1]), float(argv[2])
    asyncio.run(_serve(port, seed, tick_rate))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
