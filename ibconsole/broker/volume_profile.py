"""Volume traded at each price today, from IB's histogram (reqHistogramData over "1 day"), for
the price ladder's Volume column; the ladder adds the trades it sees after that.

Failures are answered, never raised: IB refusing the request (no data permission, a contract
without history) or not answering in time gives an empty profile and a sentence, and the ladder
counts from its own trades alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ibconsole.broker.ib_client import RequestError
from ibconsole.broker.mapping import decimal_or_none, ib_contract
from ibconsole.broker.session import Session
from ibconsole.domain.contracts import ListedContract

log = logging.getLogger(__name__)

_PERIOD = "1 day"


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    """Contracts traded at each price (on the tick grid); ``problem`` says why it is empty."""

    volumes: Mapping[Decimal, Decimal] = field(default_factory=dict)
    problem: str = ""


class VolumeProfileService:
    def __init__(self, session: Session, request_timeout: float) -> None:
        self._session = session
        self._timeout = request_timeout

    async def today(self, contract: ListedContract) -> VolumeProfile:
        """The volume at each price of ``contract`` over IB's last trading day."""
        ib = self._session.ib
        if not ib.isConnected():
            return VolumeProfile(problem="not connected")
        try:
            async with asyncio.timeout(self._timeout):
                rows = await ib.reqHistogramDataAsync(
                    ib_contract(contract), useRTH=False, period=_PERIOD
                )
        except TimeoutError:
            return VolumeProfile(problem=f"IB sent no histogram within {self._timeout:g} s")
        except (RequestError, ConnectionError) as error:
            return VolumeProfile(problem=f"IB refused the histogram: {error}")
        volumes: dict[Decimal, Decimal] = {}
        for row in rows or ():
            price = decimal_or_none(row.price, contract.min_tick)
            if price is not None and row.count > 0:
                volumes[price] = volumes.get(price, Decimal(0)) + Decimal(row.count)
        return VolumeProfile(volumes)
