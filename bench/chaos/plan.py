"""The plan of a scenario: its kind and its steps, drawn from its seed alone.

Every scenario mixes the steps of the ticket, the two-order roll, the market and the faults;
its kind adds the steps of one order path on top (and opens that path first):

- ``ticket``: the old mix alone (orders of every type, brackets, modifies, cancels, bad input);
- ``roll``: more rolls, as two orders and as one calendar-spread order;
- ``ladder``: clicks, drags and cancels on the price ladder during depth bursts;
- ``spread``: calendar-spread rolls with partial fills, a reject, or a cut between submit and fill;
- ``option``: options on futures, limit, market and bracketed, during option-computation floods;
- ``signal``: webhook signals over HTTP (valid, duplicate, expired, bad secret, malformed,
  floods, replays after a restart), sent from the inbox by the trader's click.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

KINDS = ("ticket", "roll", "ladder", "spread", "option", "signal")

# verb -> weight when a plan draws its next step, in every kind
_COMMON: dict[str, int] = {
    "order": 22,
    "bracket": 6,
    "bad": 3,
    "burst": 2,
    "modify": 6,
    "cancel": 5,
    "cancel_all": 2,
    "roll": 4,
    "spread": 4,
    "sub": 3,
    "unsub": 2,
    "bars": 3,
    "unbars": 2,
    "step": 12,
    "pause": 8,
    "settle": 6,
    "drop": 3,
    "reset": 3,
    "stall": 3,
    "delay": 3,
    "lose": 3,
    "flap": 3,
    "steal_id": 2,
    "reject": 3,
    "pace": 2,
    "partial": 3,
    "delayed": 1,
}
# kind -> the steps it adds (or weighs more), and the step that opens its path first
_KIND_WEIGHTS: dict[str, dict[str, int]] = {
    "ticket": {},
    "roll": {"roll": 12, "spread": 12},
    "ladder": {"ladder_click": 24, "ladder_drag": 10, "ladder_cancel": 6, "depth_burst": 8},
    "spread": {"spread_roll": 20, "spread": 6},
    "option": {"option": 22, "option_bracket": 6, "option_modify": 5, "option_flood": 10},
    "signal": {"signal": 24, "signal_flood": 4, "signal_restart": 4, "signal_send": 18},
}
_OPENING = {
    "ladder": "ladder_open",
    "option": "option_open",
    "signal": "signal_open",
}

FAULTS = frozenset(
    {"drop", "reset", "stall", "delay", "lose", "flap", "steal_id", "reject", "pace", "partial"}
    | {"delayed", "depth_burst", "option_flood", "signal_flood", "signal_restart"}
)
# a fault that lasts until a later step ends it: verb -> the step that ends it
_UNDO = {"stall": "resume", "delay": "undelay", "steal_id": "release_id", "delayed": "live"}
_ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT")
_SIGNALS = ("valid", "valid", "valid", "duplicate", "expired", "bad_secret", "malformed")


@dataclass(frozen=True, slots=True)
class Step:
    verb: str
    args: tuple[Any, ...] = ()

    def __str__(self) -> str:
        return " ".join([self.verb, *(str(a) for a in self.args)])

    @property
    def is_fault(self) -> bool:
        """A fault the step injects (a spread roll's reject, partial fill or cut counts too)."""
        return self.verb in FAULTS or (self.verb == "spread_roll" and self.args[2] != "none")


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str
    steps: tuple[Step, ...]

    def __str__(self) -> str:
        return f"{self.kind}: " + "; ".join(str(s) for s in self.steps)


def plan(seed: int) -> Plan:
    """The plan of scenario ``seed``: the same seed always gives the same kind and steps."""
    rng = random.Random(seed)
    kind = KINDS[rng.randrange(len(KINDS))]
    weights = {**_COMMON, **_KIND_WEIGHTS[kind]}
    verbs, chances = list(weights), list(weights.values())
    steps: list[Step] = []
    if kind in _OPENING:
        steps.append(_draw(_OPENING[kind], rng))
    endings: list[tuple[int, Step]] = []  # (index after which it is due, step)
    for index in range(rng.randint(8, 18)):
        for due, ending in [e for e in endings if e[0] <= index]:
            endings.remove((due, ending))
            steps.append(ending)
        verb = rng.choices(verbs, chances)[0]
        if verb in _UNDO and any(e.verb == _UNDO[verb] for _, e in endings):
            verb = "step"  # that fault is on already
        steps.append(_draw(verb, rng))
        if verb in _UNDO:
            endings.append((index + rng.randint(1, 4), Step(_UNDO[verb])))
        elif verb == "lose" and steps[-1].args[1] < 0:
            endings.append((index + rng.randint(1, 4), Step("restore", (steps[-1].args[0],))))
    steps.extend(ending for _, ending in endings)
    return Plan(kind, tuple(steps))


def _draw(verb: str, rng: random.Random) -> Step:
    side = rng.choice(("BUY", "SELL"))
    how = rng.choice(("confirm", "confirm", "ask", "decline"))
    match verb:
        case "order":
            kind = rng.choice(_ORDER_TYPES)
            return Step(verb, (kind, side, rng.randint(1, 3), rng.randint(-6, 3), how))
        case "bracket":
            entry = rng.choice(("MKT", "LMT"))
            ticks = (rng.randint(-4, 2), rng.randint(2, 12), rng.randint(2, 12))
            return Step(verb, (entry, side, rng.randint(1, 3), *ticks, how))
        case "bad":
            return Step(verb, (rng.choice(("tick", "zero", "fraction", "text", "huge")),))
        case "burst":
            return Step(verb, (rng.randint(20, 60),))
        case "modify" | "option_modify":
            return Step(verb, (rng.random(), rng.randint(-1, 2), rng.randint(-3, 3), how))
        case "cancel" | "unsub" | "unbars" | "ladder_cancel":
            return Step(verb, (rng.random(),))
        case "roll":
            return Step(verb, (rng.choice((True, False)),))
        case "spread":
            then = rng.choice(("leave", "cancel", "leg"))
            kind = rng.choice(("MKT", "LMT"))
            return Step(verb, (kind, rng.randint(-3, 2), then, side, rng.randint(1, 3)))
        case "spread_roll":
            fault = rng.choice(("partial", "partial", "stalled", "reject", "cut", "none"))
            then = rng.choice(("leave", "cancel", "leg"))
            kind = rng.choice(("MKT", "LMT"))
            cut = rng.choice(("drop", "reset", "lose"))
            return Step(verb, (kind, rng.randint(0, 2), fault, then, side, rng.randint(2, 4), cut))
        case "sub" | "bars":
            return Step(verb, (rng.randint(0, 1),))
        case "step":
            return Step(verb, (rng.randint(0, 1), rng.randint(1, 40)))
        case "pause":
            return Step(verb, (rng.randint(1, 60),))
        case "delay":
            return Step(verb, (round(rng.uniform(0.01, 0.4), 3),))
        case "lose":
            restore = rng.choice((-1.0, round(rng.uniform(0.0, 0.3), 3)))
            return Step(verb, (rng.choice((True, False)), restore))
        case "flap":
            farm = rng.choice(("market", "hmds", "secdef"))
            return Step(verb, (farm, round(rng.uniform(0.0, 0.3), 3)))
        case "partial":
            return Step(verb, (rng.randint(2, 4), rng.choice((True, False))))
        case "ladder_open":
            return Step(verb, (rng.choice(("confirm", "stop")),))
        case "ladder_click":
            column = rng.choice(("bid", "ask"))
            return Step(verb, (column, rng.randint(-3, 8), rng.randint(1, 3), how))
        case "ladder_drag":
            return Step(verb, (rng.random(), rng.randint(-4, 4)))
        case "depth_burst":
            return Step(verb, (rng.choice((200, 500, 1000, 2000)), round(rng.uniform(0.1, 0.5), 2)))
        case "option_open":
            return Step(verb, (rng.randint(2, 4),))
        case "option" | "option_bracket":
            kind = rng.choice(("LMT", "LMT", "MKT"))
            ticks = (rng.randint(-5, 2), rng.randint(2, 10), rng.randint(2, 10))
            return Step(verb, (rng.random(), kind, side, rng.randint(1, 3), *ticks, how))
        case "option_flood":
            return Step(verb, (rng.randint(50, 300),))
        case "signal":
            what = rng.choice(_SIGNALS)
            return Step(verb, (what, side, rng.randint(1, 3), rng.choice(("market", "limit"))))
        case "signal_flood":
            return Step(verb, (rng.randint(20, 120), round(rng.uniform(0.1, 0.5), 2)))
        case "signal_send":
            return Step(verb, (rng.random(), how))
        case _:
            return Step(verb)
