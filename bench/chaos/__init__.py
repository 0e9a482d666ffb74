"""The fault campaign: seeded trading sessions against the paper gateway, interleaved with faults,
each checked for what DESIGN.md section 7 promises.

    python -m bench.chaos                      # make chaos: 2,000 scenarios
    python -m bench.chaos --scenarios 20       # a short campaign (the test suite runs one)
    python -m bench.chaos --seed 1234 -v       # replay one scenario, printing its steps and log

A scenario is a plan drawn from its seed (``plan``): a kind, and steps of every order path mixed
with faults. Every kind mixes orders of every type, brackets, modifies, cancels, cancel all, rolls
(as two orders, or as one calendar-spread order left working, cancelled or legged), quote and bar
subscriptions and the gateway's faults (dropped and reset connections, a silent or slow gateway,
1100/1101/1102, farm flaps, a second client holding the clientId, rejects, pacing, partial
fills); its kind adds one path on top:

- ``ticket``: that mix alone (``ticket``, ``rolls``, ``market``, ``faults``);
- ``roll``: more rolls (``rolls``);
- ``ladder``: ladder clicks, drags and cancels during depth bursts (``ladder``);
- ``spread``: spread rolls with partial fills, rejects and a cut between submit and fill
  (``rolls``);
- ``option``: options on futures, limit, market and bracketed, during option-computation floods
  (``options``);
- ``signal``: webhook signals over HTTP into the inbox, sent from it by the trader's click
  (``signals``).

A silent gateway stays silent until the console has noticed. Scenarios run back to back in one
process, each on a fresh gateway, journal and broker; the market does not tick on its own, steps
of the plan move it. After each scenario the gateway heals, the console reconnects and
reconciles, whatever still works is cancelled through the console, and the journal is compared
with the simulator (``checks``): lost, duplicated, mismatches, and crashes (an exception nobody
handled, or anything that hung).

A failing scenario prints its seed, its kind, what went wrong and a command that replays it; a
line per kind follows the run, and its last line is always
``scenarios N faults N orders N lost N duplicated N mismatches N crashes N``.
"""
