"""Signals from TradingView or scripts, waiting in the inbox for a trader's click."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType


def _no_mapping() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SignalSettings:
    """The endpoint listens on loopback only; its secret lives in the keyring, never here."""

    enabled: bool = False
    port: int = 8787  # 0: any free port
    max_age: timedelta = timedelta(seconds=60)  # older signals are shown expired, cannot be sent
    max_per_minute: int = 60
    max_body_bytes: int = 8192
    symbols: Mapping[str, str] = field(default_factory=_no_mapping)  # ES -> MES: trade MES

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", MappingProxyType(dict(self.symbols)))
