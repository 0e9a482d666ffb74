"""reqHistogramData (88 -> 89) and its cancel (89): how much traded at each price over a recent
period ("1 day", "3 days", "1 week"...), read off the same history the bars come from."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal

from ibconsole.sim.clock import SimClock
from ibconsole.sim.contract_details import RequestError, resolve_contract
from ibconsole.sim.history import HistoryService
from ibconsole.sim.instruments import Catalogue
from ibconsole.sim.link import ClientLink

__all__ = ["HistogramService"]

Handler = Callable[[ClientLink, list[str]], None]

_PERIOD = re.compile(r"^(\d+)\s*(day|days|week|weeks|month|months)$")
_PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}
_BAR_SECONDS = 60


class HistogramService:
    def __init__(self, catalogue: Catalogue, history: HistoryService, clock: SimClock) -> None:
        self._catalogue = catalogue
        self._history = history
        self._clock = clock

    def handlers(self) -> Mapping[int, Handler]:
        return {88: self._on_request, 89: self._on_cancel}

    def _on_request(self, link: ClientLink, fields: list[str]) -> None:
        # 88, reqId, contract(12), includeExpired, useRTH, timePeriod
        req_id = int(fields[1])
        try:
            instrument = resolve_contract(self._catalogue, fields[2:14], fields[14] == "1")
            days = _period_days(fields[16])
            end = self._clock.now()
            span = int(timedelta(days=days).total_seconds())
            bars = self._history.bars(instrument, end, span, _BAR_SECONDS, fields[15] == "1")
        except RequestError as exc:
            link.send_error(req_id, exc.code, exc.message)
            return
        sizes: dict[Decimal, int] = {}
        for bar in bars:
            if bar.volume > 0:  # a price nothing traded at has no place in the histogram
                sizes[bar.wap] = sizes.get(bar.wap, 0) + bar.volume
        flat = [item for price in sorted(sizes) for item in (price, sizes[price])]
        link.send(89, req_id, len(sizes), *flat)

    def _on_cancel(self, link: ClientLink, fields: list[str]) -> None:
        """The answer went out whole at once: nothing is left to stop."""


def _period_days(text: str) -> int:
    match = _PERIOD.match(" ".join(text.lower().split()))
    if match is None or int(match.group(1)) <= 0:
        raise RequestError(
            321, f"Error validating request.-'bN' : cause - Invalid time period {text!r}"
        )
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * _PERIOD_DAYS[unit]
