"""Each connection's live streaming subscriptions by request id, as every streaming service
keeps them: a duplicate id refused as TWS refuses it, a connection's all forgotten when it goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from ibconsole.sim.connection import Connection

__all__ = ["Subscriptions"]

_S = TypeVar("_S")


class Subscriptions(Generic[_S]):
    def __init__(self, request_code: str) -> None:
        # TWS names the request kind in its error text: 'bX' market data and depth, 'bR' bars.
        self._request_code = request_code
        self._by_link: dict[Connection, dict[int, _S]] = {}

    def refuse_duplicate(self, link: Connection, req_id: int) -> bool:
        """Send TWS's 322 and answer True when ``req_id`` is already streaming on ``link``."""
        if req_id not in self._by_link.get(link, {}):
            return False
        link.send_error(
            req_id,
            322,
            f"Error processing request.-'{self._request_code}' : cause - Duplicate ticker id",
        )
        return True

    def add(self, link: Connection, req_id: int, subscription: _S) -> None:
        self._by_link.setdefault(link, {})[req_id] = subscription

    def get(self, link: Connection, req_id: int) -> _S | None:
        return self._by_link.get(link, {}).get(req_id)

    def pop(self, link: Connection, req_id: int) -> _S | None:
        return self._by_link.get(link, {}).pop(req_id, None)

    def detach(self, link: Connection) -> list[_S]:
        """Forget and return every subscription of ``link``."""
        return list(self._by_link.pop(link, {}).values())

    def links(self) -> list[Connection]:
        return list(self._by_link)

    def count(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._by_link.values())

    def __iter__(self) -> Iterator[_S]:
        for subscriptions in self._by_link.values():
            yield from subscriptions.values()
