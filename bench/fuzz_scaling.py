"""Benchmark: does ``asofcut fuzz`` scale?  Examples per second, 1 worker vs 2.

Each measurement is one real campaign (``asofcut.fuzz.campaign``: worker
processes, a start barrier, a directory example database in a temporary
directory) on one sound cell, so no run shrinks or retires and every worker
does the same work all the time.  Its rate is the examples every worker ran
divided by the campaign's window, from the start barrier to the end of the
last run (worker start-up excluded, the last run's overrun included; short
runs keep that small).

1-worker and 2-worker campaigns alternate (1, 2, 1, 2, …) so a change in
the machine's load hits both alike; printed: each campaign's rate, the median
per worker count, the ratio of the medians (the goal: ≥ 1.7 on 2 cores) and
``uptime`` before and after.  ``--strict`` exits non-zero below the goal.

Run: ``python bench/fuzz_scaling.py [--reps 3] [--seconds 30] [--examples 10] [--strict]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asofcut import fuzz  # noqa: E402

GOAL = 1.7
CELL = ("exact_cut", "baseline")  # sound: nothing shrinks, nothing retires
COUNTS = (1, 2)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def rate(workers: int, seconds: float, examples: int, db: str, rep: int) -> float:
    """One campaign of ``workers`` workers on ``CELL``; its examples per second."""
    plan = fuzz.Plan(cells=(CELL,), workers=workers, seconds=seconds, db=db,
                     examples=examples, seed=rep)
    summary = fuzz.campaign(plan, out=lambda _: None)
    bad = [r for r in summary.runs if r.verdict != "sound"] or summary.ended
    if bad:
        raise SystemExit(f"the benchmark cell did not run clean: {bad}")
    return summary.rate


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--examples", type=int, default=10, help="test cases per run")
    p.add_argument("--strict", action="store_true")
    args = p.parse_args()
    print(f"before: {uptime()}")
    rates: dict[int, list[float]] = {n: [] for n in COUNTS}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for n in COUNTS:
                r = rate(n, args.seconds, args.examples, str(Path(tmp) / "db"), rep)
                rates[n].append(r)
                print(f"rep {rep}: {n} worker(s): {r:.1f} examples/s", flush=True)
    print(f"after:  {uptime()}")
    med = {n: statistics.median(v) for n, v in rates.items()}
    ratio = med[2] / med[1]
    print(f"median examples/s: 1 worker {med[1]:.1f}, 2 workers {med[2]:.1f}; "
          f"ratio {ratio:.2f} (goal ≥ {GOAL})")
    return 1 if args.strict and ratio < GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
