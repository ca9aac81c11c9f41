"""Steps per second of a random put/delete/settle/scan loop on real Lance (pylance 14.0.2).

Why: the lead must decide whether a Hypothesis machine over ``stateful_tests.lance_driver`` fits
the CI budget (2 cores, <= 20 min for everything). This prints the median throughput over several
seeded runs, plus per-operation medians and the per-example setup cost (new dataset + writer),
so the budget can be computed as examples x (setup + steps / rate).

Usage: ``python bench/lance_steps.py [--runs 5] [--steps 200] [--b 2]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stateful_tests.lance_driver import PYLANCE_VERSION, LanceMemWalDriver  # noqa: E402

OPS = ("put", "put", "delete", "settle", "scan")
KEYS = 16


def one_run(seed: int, steps: int, b: int) -> tuple[float, float, dict[str, list[float]]]:
    """One seeded run; returns (setup seconds, steps/s, per-op durations in seconds)."""
    rng = random.Random(seed)
    per_op: dict[str, list[float]] = {op: [] for op in set(OPS)}
    t0 = time.perf_counter()
    driver = LanceMemWalDriver(max_memtable_batches=b, base={k: f"base{k}" for k in range(KEYS)})
    setup = time.perf_counter() - t0
    try:
        start = time.perf_counter()
        for step in range(steps):
            op = rng.choice(OPS)
            keys = sorted(rng.sample(range(KEYS), rng.randint(1, 3)))
            t = time.perf_counter()
            if op == "put":
                driver.put(keys, [f"v{step}_{i}" for i in range(len(keys))])
            elif op == "delete":
                driver.delete(keys)
            elif op == "settle":
                driver.settle()
            else:
                driver.settle()  # the harness only compares settled scans (14.0.2 frozen gap)
                driver.scan()
            per_op[op].append(time.perf_counter() - t)
        rate = steps / (time.perf_counter() - start)
    finally:
        driver.close()
    return setup, rate, per_op


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--b", type=int, default=2, help="max_memtable_batches")
    args = parser.parse_args()
    setups, rates = [], []
    merged: dict[str, list[float]] = {}
    for seed in range(args.runs):
        setup, rate, per_op = one_run(seed, args.steps, args.b)
        setups.append(setup)
        rates.append(rate)
        for op, values in per_op.items():
            merged.setdefault(op, []).extend(values)
    print(f"pylance {PYLANCE_VERSION}, B={args.b}, {args.runs} runs x {args.steps} steps")
    print(f"median steps/s: {statistics.median(rates):.0f}  (runs: {[round(r) for r in rates]})")
    print(f"median setup (new dataset + init + writer): {statistics.median(setups) * 1e3:.1f} ms")
    for op in sorted(merged):
        ms = statistics.median(merged[op]) * 1e3
        print(f"  {op:7s} median {ms:6.2f} ms  n={len(merged[op])}")


if __name__ == "__main__":
    main()
