"""The kinds of alert the console raises, and which of them notify or sound."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class AlertKind(StrEnum):
    FILL = "fill"
    REJECT = "reject"
    CONNECTION_LOST = "connection_lost"
    CONNECTION_RESTORED = "connection_restored"
    BREAKER_OPEN = "breaker_open"
    ROLL_WINDOW = "roll_window"
    MUST_ROLL = "must_roll"
    CLOSE_OUT = "close_out"
    PRICE = "price"
    SIGNAL = "signal"


# Kinds that ask for attention at once sound by default; the rest only notify.
_SOUNDING = frozenset(
    {
        AlertKind.FILL,
        AlertKind.REJECT,
        AlertKind.CONNECTION_LOST,
        AlertKind.BREAKER_OPEN,
        AlertKind.MUST_ROLL,
        AlertKind.CLOSE_OUT,
        AlertKind.PRICE,
    }
)


def _every_kind() -> Mapping[AlertKind, bool]:
    return MappingProxyType(dict.fromkeys(AlertKind, True))


def _sounding_kinds() -> Mapping[AlertKind, bool]:
    return MappingProxyType({kind: kind in _SOUNDING for kind in AlertKind})


@dataclass(frozen=True, slots=True)
class AlertSettings:
    notify: Mapping[AlertKind, bool] = field(default_factory=_every_kind)
    sound: Mapping[AlertKind, bool] = field(default_factory=_sounding_kinds)
    sound_enabled: bool = True  # the master switch for every sound

    def __post_init__(self) -> None:
        for name, chosen in (("notify", self.notify), ("sound", self.sound)):
            missing = [kind.value for kind in AlertKind if kind not in chosen]
            if missing:
                raise ValueError(f"alerts.{name} has no choice for {', '.join(missing)}")
            object.__setattr__(self, name, MappingProxyType(dict(chosen)))

    def wants_notification(self, kind: AlertKind) -> bool:
        return self.notify[kind]

    def wants_sound(self, kind: AlertKind) -> bool:
        return self.sound_enabled and self.sound[kind]
