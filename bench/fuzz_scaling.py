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

On a shared machine the wall ratio says as much about the other tenants as
about the workers, so each campaign also reports the *cores it got* (its
workers' CPU seconds per wall second) and its *examples per CPU second*:

    wall ratio = (cores got, 2 vs 1) × (examples per CPU second, 2 vs 1)

The second factor is the fuzzer's own scaling (≈ 1: the workers share
nothing but the database); the first is what the machine had to give.

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


def measure(workers: int, seconds: float, examples: int, db: str, rep: int) -> fuzz.Summary:
    """One campaign of ``workers`` workers on ``CELL``."""
    plan = fuzz.Plan(cells=(CELL,), workers=workers, seconds=seconds, db=db,
                     examples=examples, seed=rep)
    summary = fuzz.campaign(plan, out=lambda _: None)
    bad = [r for r in summary.runs if r.verdict != "sound"] or summary.ended
    if bad:
        raise SystemExit(f"the benchmark cell did not run clean: {bad}")
    return summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--examples", type=int, default=10, help="test cases per run")
    p.add_argument("--strict", action="store_true")
    args = p.parse_args()
    print(f"before: {uptime()}")
    runs: dict[int, list[fuzz.Summary]] = {n: [] for n in COUNTS}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for n in COUNTS:
                s = measure(n, args.seconds, args.examples, str(Path(tmp) / "db"), rep)
                runs[n].append(s)
                print(f"rep {rep}: {n} worker(s): {s.rate:.2f} examples/s, "
                      f"{s.cores:.2f} cores got, {s.examples / s.cpu:.2f} examples/CPU-s "
                      f"({s.examples} examples in {s.seconds:.1f} s)", flush=True)
    print(f"after:  {uptime()}")

    def med(n: int, f: str) -> float:
        return statistics.median(getattr(s, f) if f != "per_cpu" else s.examples / s.cpu
                                 for s in runs[n])

    ratio = med(2, "rate") / med(1, "rate")
    print(f"median examples/s: 1 worker {med(1, 'rate'):.2f}, 2 workers {med(2, 'rate'):.2f}; "
          f"ratio {ratio:.2f} (goal ≥ {GOAL})")
    print(f"  = cores got {med(1, 'cores'):.2f} → {med(2, 'cores'):.2f} "
          f"(×{med(2, 'cores') / med(1, 'cores'):.2f}), examples per CPU second "
          f"{med(1, 'per_cpu'):.2f} → {med(2, 'per_cpu'):.2f} "
          f"(×{med(2, 'per_cpu') / med(1, 'per_cpu'):.2f})")
    return 1 if args.strict and ratio < GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
