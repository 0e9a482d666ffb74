"""The options chain: which strikes are shown around the money."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OptionChainSettings:
    strikes_each_side: int = 10  # strikes shown above and below the money
