"""Scenarios back to back in one process, each on a fresh gateway, journal and broker, and the
command line (``python -m bench.chaos``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bench.chaos import checks
from bench.chaos.faults import FaultSteps
from bench.chaos.ladder import LadderSteps
from bench.chaos.market import MarketSteps
from bench.chaos.options import OptionSteps
from bench.chaos.outcome import Outcome, Tally
from bench.chaos.plan import Plan, Step, plan
from bench.chaos.rolls import RollSteps
from bench.chaos.scene import EXPECTED, Scene
from bench.chaos.signals import SignalSteps
from bench.chaos.ticket import TicketSteps
from bench.stress_rig import CrashWatch, StressRig, close_rig, log_to_stderr, open_rig

log = logging.getLogger("bench.chaos")

FIRST_SEED = 1
QUIET = 0.01  # quote updates per second of the simulated market: in effect none but the steps
STEP_TIMEOUT = 10.0


class Scenario:
    """One plan carried out against a fresh rig by its parts, then healed and checked."""

    def __init__(self, rig: StressRig, outcome: Outcome) -> None:
        self.scene = Scene(rig, outcome)
        self.faults = FaultSteps(self.scene)
        self.signals = SignalSteps(self.scene)
        self.ladder = LadderSteps(self.scene)
        self._parts: tuple[Any, ...] = (
            TicketSteps(self.scene),
            RollSteps(self.scene),
            MarketSteps(self.scene),
            self.faults,
            self.ladder,
            OptionSteps(self.scene),
            self.signals,
        )
        self._actions: dict[str, Callable[..., Awaitable[None]]] = {
            verb: getattr(part, verb) for part in self._parts for verb in part.VERBS
        }
        self._closed = False

    async def run(self, steps: Sequence[Step]) -> None:
        outcome = self.scene.outcome
        for step in steps:
            log.info("step: %s", step)
            if step.is_fault:
                outcome.faults += 1
            try:
                await asyncio.wait_for(self._actions[step.verb](*step.args), STEP_TIMEOUT)
            except EXPECTED as refused:
                log.info("refused: %s", refused)
            except TimeoutError:
                outcome.crashes.append(f"step {step} did not return in {STEP_TIMEOUT:g} s")

    async def finish(self) -> None:
        """Heal the gateway, let the console recover, end every order, then compare."""
        self.faults.heal()
        await self.faults.release_id()
        scene = self.scene
        if not await checks.recover(scene):
            return
        checks.check_orders(scene)
        checks.check_signals(scene, self.signals)
        await checks.check_positions(scene)
        await checks.check_streams(scene)
        await self.ladder.check()

    async def close(self) -> None:
        """Let go of what the plan subscribed and opened (once; again is a no-op)."""
        if self._closed:
            return
        self._closed = True
        for part in self._parts:
            await part.close()


async def run_scenario(seed: int, folder: Path, watch: CrashWatch) -> Outcome:
    scenario_plan = plan(seed)
    outcome = Outcome(seed, scenario_plan.kind)
    before = asyncio.all_tasks()
    watch.take()
    try:
        rig = await open_rig(seed, folder / f"journal-{seed}.sqlite3", tick_rate=QUIET)
    except Exception as error:
        outcome.crashes.append(f"the console did not start: {type(error).__name__}: {error}")
        return outcome
    scenario = Scenario(rig, outcome)
    quotes = rig.broker.market.subscriptions()
    try:
        await scenario.run(scenario_plan.steps)
        await scenario.finish()
        await scenario.close()
        await checks.check_unsubscribed(scenario.scene, quotes)
    except Exception as error:
        log.exception("scenario %d", seed)
        outcome.crashes.append(f"{type(error).__name__}: {error}")
    finally:
        await scenario.close()
        await close_rig(rig)
    gc.collect()
    await asyncio.sleep(0)
    leaked = asyncio.all_tasks() - before
    outcome.mismatches += [f"task left running: {task.get_name()}" for task in leaked]
    for task in leaked:
        task.cancel()
    outcome.crashes += watch.take()
    return outcome


async def campaign(seeds: Sequence[int], verbose: bool) -> Tally:
    tally = Tally()
    watch = CrashWatch()
    watch.install(asyncio.get_running_loop())
    try:
        with tempfile.TemporaryDirectory(prefix="ibconsole-chaos-") as folder:
            for seed in seeds:
                scenario_plan: Plan = plan(seed)
                if verbose:
                    print(f"seed {seed}: {scenario_plan}", file=sys.stderr)
                outcome = await run_scenario(seed, Path(folder), watch)
                tally.add(outcome)
                if outcome.failed:
                    print(f"seed {seed} ({outcome.kind}) FAILED", flush=True)
                    print("\n".join(outcome.describe()), flush=True)
                    print(f"  replay: {_replay(seed)}", flush=True)
    finally:
        watch.uninstall()
    return tally


def _replay(seed: int) -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return f"{python} -m bench.chaos --seed {seed} --verbose"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description="The fault campaign: seeded trading sessions against the paper gateway.",
    )
    parser.add_argument("--scenarios", type=int, default=2000, help="how many (default 2000)")
    parser.add_argument("--first", type=int, default=FIRST_SEED, help="seed of the first scenario")
    parser.add_argument("--seed", type=int, help="run this one scenario only")
    parser.add_argument("--verbose", "-v", action="store_true", help="print plans and the log")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.scenarios)
    log_to_stderr(args.verbose)
    started = time.perf_counter()
    tally = asyncio.run(campaign(list(seeds), args.verbose))
    print(f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    print("\n".join(tally.kind_lines()), flush=True)
    print(tally.line(), flush=True)
    return 1 if tally.failed_seeds else 0
