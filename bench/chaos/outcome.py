"""What a scenario found, and the campaign's tally of them, in all and by kind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.chaos.plan import KINDS


@dataclass
class Outcome:
    seed: int
    kind: str
    faults: int = 0
    orders: int = 0
    signals: int = 0  # signals the endpoint acknowledged
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.mismatches or self.crashes)

    @property
    def problems(self) -> int:
        return len(self.lost) + len(self.duplicated) + len(self.mismatches) + len(self.crashes)

    def describe(self) -> list[str]:
        lines = []
        for name in ("lost", "duplicated", "mismatches", "crashes"):
            lines += [f"  {name}: {item}" for item in getattr(self, name)]
        return lines


@dataclass
class Tally:
    scenarios: int = 0
    faults: int = 0
    orders: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatches: int = 0
    crashes: int = 0
    failed_seeds: list[int] = field(default_factory=list)
    # kind -> scenarios, faults, orders, signals, failed scenarios
    by_kind: dict[str, Counter[str]] = field(
        default_factory=lambda: {kind: Counter() for kind in KINDS}
    )

    def add(self, outcome: Outcome) -> None:
        self.scenarios += 1
        self.faults += outcome.faults
        self.orders += outcome.orders
        self.lost += len(outcome.lost)
        self.duplicated += len(outcome.duplicated)
        self.mismatches += len(outcome.mismatches)
        self.crashes += len(outcome.crashes)
        kind = self.by_kind[outcome.kind]
        kind.update(
            scenarios=1,
            faults=outcome.faults,
            orders=outcome.orders,
            signals=outcome.signals,
            failed=int(outcome.failed),
        )
        if outcome.failed:
            self.failed_seeds.append(outcome.seed)

    def kind_lines(self) -> list[str]:
        """One line per kind: ``kind ladder scenarios N faults N orders N signals N failed N``."""
        return [
            f"kind {kind} scenarios {c['scenarios']} faults {c['faults']} orders {c['orders']} "
            f"signals {c['signals']} failed {c['failed']}"
            for kind, c in self.by_kind.items()
        ]

    def line(self) -> str:
        return (
            f"scenarios {self.scenarios} faults {self.faults} orders {self.orders} "
            f"lost {self.lost} duplicated {self.duplicated} mismatches {self.mismatches} "
            f"crashes {self.crashes}"
        )
