"""The price ladder: what a click on each column means, and how it is drawn."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FarSideClick(StrEnum):
    """What a click on the far side of the market does (a buy above the ask, a sell below the bid)."""

    CONFIRM = "confirm"  # ask before sending the marketable limit
    STOP = "stop"  # place a stop at that price


@dataclass(frozen=True, slots=True)
class LadderSettings:
    far_side_click: FarSideClick = FarSideClick.CONFIRM
    quantity_presets: tuple[int, ...] = (1, 2, 5, 10)
