"""The floor of the CPU benchmark: a bare client of the console's IB client library (ib_async, or
ib_insync where only that is installed) on plain asyncio that subscribes to the instruments and
only reads their stream (the library still decodes every message and updates its tickers;
nothing else happens).

    python -m bench.bare_client --port PORT --instruments 1234:ES,5678:NQ
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench.peer import Instrument
from ibconsole.broker.ib_client import IB, Contract, Ticker


async def subscribe(ib: IB, port: int, instruments: Sequence[Instrument]) -> list[Ticker]:
    """Connect as clientId 1, qualify the instruments by conId and request their quotes."""
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=10)
    contracts = [Contract(conId=instrument.con_id) for instrument in instruments]
    qualified = await ib.qualifyContractsAsync(*contracts)
    if len(qualified) != len(contracts):
        raise LookupError(f"only {len(qualified)} of {len(contracts)} instruments qualified")
    return [ib.reqMktData(contract) for contract in qualified]


async def serve(port: int, instruments: Sequence[Instrument]) -> None:
    ib = IB()
    await subscribe(ib, port, instruments)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    ib.disconnect()


def parse_instruments(text: str) -> list[Instrument]:
    """``conId:family,...`` as the CPU benchmark passes them."""
    picked = []
    for item in text.split(","):
        con_id, _, family = item.partition(":")
        picked.append(Instrument(int(con_id), family, ""))
    return picked


def format_instruments(instruments: Sequence[Instrument]) -> str:
    return ",".join(f"{i.con_id}:{i.family}" for i in instruments)


def arguments(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--instruments", required=True, help="conId:family,...")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv, "A bare ib_insync client that only reads quotes")
    asyncio.run(serve(args.port, parse_instruments(args.instruments)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
