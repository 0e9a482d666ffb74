"""``ibconsole-sim``: run the paper gateway from the command line until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from ibconsole.sim.server import PaperGateway

__all__ = ["main"]


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0 picks a free one), got {port}")
    return port


def _as_of(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--as-of must be an ISO date or date-time such as 2025-03-04T09:00:00-06:00, "
            f"got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _tick_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tick rate must be a number, got {text!r}") from None
    if not rate > 0 or rate == float("inf"):
        raise argparse.ArgumentTypeError(f"tick rate must be above 0 updates/s, got {text}")
    return rate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibconsole-sim",
        description="Paper gateway simulator: a TWS API server for TWS API clients.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=_port, default=7497, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the market")
    parser.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        help="simulated start instant, ISO 8601 (no offset means UTC); default now",
    )
    parser.add_argument(
        "--account",
        action="append",
        dest="accounts",
        metavar="ACCOUNT",
        help="account code (repeatable); default DU1234567",
    )
    parser.add_argument(
        "--tick-rate",
        type=_tick_rate,
        default=4.0,
        help="quote updates per second per subscribed instrument",
    )
    parser.add_argument(
        "--log-level", type=str.upper, choices=_LOG_LEVELS, default="WARNING", help="log level"
    )
    parser.add_argument(
        "--faults-from-stdin",
        action="store_true",
        help="read fault commands from standard input, one per line (drop, reset, stall, "
        "resume, delay S, lose [S] [lost], restore [lost], flap FARM [S], pace [100|162], "
        "delayed on|off, reject [REASON], burst RATE S [CONID])",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        gateway = PaperGateway(
            seed=args.seed,
            as_of=args.as_of,
            accounts=tuple(args.accounts or ("DU1234567",)),
            tick_rate=args.tick_rate,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_serve(gateway, args.host, args.port, args.faults_from_stdin))
    except OSError as exc:
        print(f"ibconsole-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(gateway: PaperGateway, host: str, port: int, faults_from_stdin: bool) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await gateway.start(host, port)
    print(f"listening on {gateway.host}:{gateway.port}", flush=True)
    reader = asyncio.create_task(_read_commands(gateway)) if faults_from_stdin else None
    try:
        await stop.wait()
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await gateway.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _read_commands(gateway: PaperGateway) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while line := await reader.readline():
            text = line.decode(errors="replace").strip()
            if not text:
                continue
            try:
                print(f"ok: {gateway.faults.command(text)}", flush=True)
            except (ValueError, IndexError) as exc:
                print(f"error: {exc}", flush=True)
    finally:
        transport.close()
