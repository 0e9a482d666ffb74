"""``ibconsole-signal``: post one test signal to a console's signal inbox, as TradingView would.

The secret comes from the environment variable ``IBCONSOLE_SIGNAL_SECRET`` only, never from the
command line (where other users of the machine could read it in the process list)::

    IBCONSOLE_SIGNAL_SECRET=… ibconsole-signal --port 8787 --symbol MES1! --action buy --quantity 1

Prints the console's answer (202 queued, or the code and the reason) and exits 0 only for 202.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime

from ibconsole.config import SIGNAL_SECRET_VARIABLE

_TIMEOUT = 5.0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ibconsole-signal",
        description="Post a test signal to the console's signal inbox (it waits there for a "
        f"trader's click). The secret is read from {SIGNAL_SECRET_VARIABLE}.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="the endpoint (default: http://127.0.0.1:PORT/signals)")
    where.add_argument("--port", type=int, default=8787, help="the console's signal port")
    parser.add_argument("--symbol", default="MES1!", help="e.g. MES1!, ES1!, CL1!, MESZ2026")
    parser.add_argument(
        "--action", default="buy", choices=("buy", "sell", "exit", "reverse"), help="what to do"
    )
    parser.add_argument("--quantity", type=int, help="contracts (not for exit)")
    parser.add_argument("--order-type", default="market", choices=("market", "limit"))
    parser.add_argument("--price", help="the limit price, for --order-type limit")
    parser.add_argument("--id", help="the signal's id (a repeat of an id is refused, 409)")
    parser.add_argument("--source", default="ibconsole-signal", help="shown in the inbox")
    return parser.parse_args(list(argv))


def signal_body(args: argparse.Namespace, secret: str, now: datetime) -> dict[str, object]:
    body: dict[str, object] = {
        "secret": secret,
        "symbol": args.symbol,
        "action": args.action,
        "order_type": args.order_type,
        "time": now.isoformat().replace("+00:00", "Z"),
        "source": args.source,
    }
    if args.quantity is not None:
        body["quantity"] = args.quantity
    elif args.action in ("buy", "sell"):
        body["quantity"] = 1
    if args.price is not None:
        body["price"] = args.price
    if args.id is not None:
        body["id"] = args.id
    return body


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    secret = os.environ.get(SIGNAL_SECRET_VARIABLE)
    if not secret:
        print(
            f"ibconsole-signal: set {SIGNAL_SECRET_VARIABLE} to the inbox's secret (it is never "
            "taken from the command line)",
            file=sys.stderr,
        )
        return 2
    url = args.url or f"http://127.0.0.1:{args.port}/signals"
    data = json.dumps(signal_body(args, secret, datetime.now(UTC))).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        status, text = refused.code, refused.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"ibconsole-signal: cannot reach {url}: {reason}", file=sys.stderr)
        return 1
    try:
        reason = json.loads(text).get("reason", "")
    except (ValueError, AttributeError):
        reason = text.decode("utf-8", "replace")[:200]
    print(f"{status} {reason}")
    return 0 if status == 202 else 1


if __name__ == "__main__":
    sys.exit(main())
