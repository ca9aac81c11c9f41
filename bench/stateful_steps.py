"""Benchmark: state-machine steps per second on impl, for the sound designs.

A "step" is one rule of ``stateful_tests.machine.FreshTierMachine`` together
with the two invariants that follow it (impl ≡ model on shards, stats and the
newest-row scan; every outstanding cut's membership ≡ model and sound).  So
steps/s is the harness's real throughput, example setup/teardown (a table
root on tmpfs per test case) and Hypothesis's own overhead included.

For each sound design of the baseline column (as_of_cut,
fresh_tier_watermark, exact_cut) the machine runs ``--examples`` test cases
of ``--steps`` steps, ``--reps`` times with different seeds; printed: the
median steps/s per design, the overall median, and the ratio to the goal
(300 steps/s on a 2-core machine).  ``--strict`` exits non-zero below it.

Run: ``python bench/stateful_steps.py [--reps 5] [--examples 40] [--steps 25] [--strict]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import seed, settings  # noqa: E402
from hypothesis.stateful import get_state_machine_test  # noqa: E402

from stateful_tests import profiles  # noqa: E402
from stateful_tests.machine import machine_for  # noqa: E402

GOAL = 300.0
SOUND = ("as_of_cut", "fresh_tier_watermark", "exact_cut")


def steps_per_second(design: str, examples: int, steps: int, rep: int) -> float:
    """Run one machine for ``examples`` test cases; return its steps per wall second."""
    cls = machine_for(design, "baseline")
    s = settings(
        cls.TestCase.settings,
        max_examples=examples,
        stateful_step_count=steps,
        derandomize=False,
        database=None,
    )
    test = seed(rep)(get_state_machine_test(cls, settings=s))
    start = time.perf_counter()
    test()
    return cls.COUNTERS["steps"] / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--examples", type=int, default=40)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--strict", action="store_true")
    args = p.parse_args()
    profiles.load("dev")
    medians = []
    for d in SOUND:
        runs = [steps_per_second(d, args.examples, args.steps, r) for r in range(args.reps)]
        m = statistics.median(runs)
        medians.append(m)
        print(f"{d:22s} median {m:7.0f} steps/s  (runs: {', '.join(f'{r:.0f}' for r in runs)})")
    overall = statistics.median(medians)
    ratio = overall / GOAL
    print(f"{'overall':22s} median {overall:7.0f} steps/s  = {ratio:.2f} x goal ({GOAL:g})")
    return 1 if args.strict and overall < GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
