"""Price alerts: a level on one contract that fires once when the market crosses it.

An alert remembers the price it was set at (``reference``). It fires when the market goes from
one side of the level to the other in its direction: for ``ABOVE``, from below the level to at
or above it; for ``BELOW``, from above to at or below. The watch starts from the reference, so a
market that crossed while the console was closed fires on the first price after the restart,
and an alert set on the far side waits for a real crossing instead of firing at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class CrossDirection(StrEnum):
    ABOVE = "above"
    BELOW = "below"


@dataclass(frozen=True, slots=True)
class PriceAlert:
    """One level on one contract; ``triggered_at`` is set once it has fired (it never re-arms)."""

    alert_id: str
    con_id: int
    symbol: str  # product key, "ES"
    local_symbol: str  # "ESZ6"
    level: Decimal
    direction: CrossDirection
    reference: Decimal  # the price when the alert was set
    created_at: datetime
    triggered_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.level.is_finite() or self.level <= 0:
            raise ValueError(f"an alert level must be a positive price, got {self.level}")
        if self.created_at.tzinfo is None:
            raise ValueError("an alert's creation time must carry its time zone")

    @property
    def armed(self) -> bool:
        return self.triggered_at is None

    def describe(self) -> str:
        """ "ESZ6 crosses above 5,931.75"."""
        return f"{self.local_symbol} crosses {self.direction.value} {self.level:,f}"


def direction_for(level: Decimal, price: Decimal) -> CrossDirection:
    """The direction an alert at ``level`` waits for while the market is at ``price``."""
    return CrossDirection.ABOVE if level >= price else CrossDirection.BELOW


def crossed(direction: CrossDirection, level: Decimal, before: Decimal, now: Decimal) -> bool:
    """Did the market cross ``level`` in ``direction`` going from ``before`` to ``now``?"""
    if direction is CrossDirection.ABOVE:
        return before < level <= now
    return before > level >= now


class PriceWatch:
    """The armed alerts and the last price each has seen; ``observe`` says which fire.

    An alert fires at most once: it is marked triggered in the answer and forgotten here, so a
    price seen again (after a reconnect, a repeated tick) cannot fire it twice.
    """

    def __init__(self, alerts: Iterable[PriceAlert] = ()) -> None:
        self._armed: dict[str, PriceAlert] = {}
        self._seen: dict[str, Decimal] = {}
        for alert in alerts:
            self.add(alert)

    def add(self, alert: PriceAlert) -> None:
        if not alert.armed:
            return
        self._armed[alert.alert_id] = alert
        self._seen[alert.alert_id] = alert.reference

    def remove(self, alert_id: str) -> None:
        self._armed.pop(alert_id, None)
        self._seen.pop(alert_id, None)

    def con_ids(self) -> frozenset[int]:
        """The contracts whose prices the armed alerts need."""
        return frozenset(alert.con_id for alert in self._armed.values())

    def armed(self) -> tuple[PriceAlert, ...]:
        return tuple(self._armed.values())

    def observe(self, prices: Mapping[int, Decimal], at: datetime) -> tuple[PriceAlert, ...]:
        """Feed the newest price of some contracts; the alerts that fired, marked triggered."""
        fired: list[PriceAlert] = []
        for alert_id, alert in list(self._armed.items()):
            price = prices.get(alert.con_id)
            if price is None:
                continue
            before = self._seen[alert_id]
            self._seen[alert_id] = price
            if crossed(alert.direction, alert.level, before, price):
                self.remove(alert_id)
                fired.append(replace(alert, triggered_at=at))
        return tuple(fired)
