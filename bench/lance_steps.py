"""Steps per second of the state machine's steps on real Lance vs on impl, same run, same ops.

Why: the lead must know what a Hypothesis machine over real Lance costs next to the impl machine
(CI: 2 cores). Each run draws ONE seeded random op sequence (put, delete, settle, compact, crash +
reopen, read arm) and replays it through ``LanceHarness`` over ``LanceBackend`` (pylance 14.0.2)
and through the machine's own ``Harness`` over ``ImplBackend``, both with the model in lock step
and the machine's ``agree`` after every step (settled mode), exactly as the machine runs them.
Prints per-backend median steps/s over the runs, the median per-run ratio, per-op medians and
the per-example setup cost (new table + writers), so a budget is examples x (setup + steps/rate).

Usage: ``python bench/lance_steps.py [--runs 5] [--steps 200] [--b 2]``
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCE_LOG", "lance=off")

from lance_harness.driver import PYLANCE_VERSION  # noqa: E402
from lance_harness.machine import LanceHarness, lance_hazard  # noqa: E402
from model.designs import Design  # noqa: E402
from stateful_tests.machine import PKS, SHARDS, Harness, impl_backend  # noqa: E402

OPS = ("put", "put", "put", "delete", "delete", "settle", "arm", "compact", "crash")
Op = tuple[str, int]


def ops_for(seed: int, steps: int) -> list[Op]:
    rng = random.Random(seed)
    return [(rng.choice(OPS), rng.choice(PKS)) for _ in range(steps)]


def settle_model(h: Harness) -> None:
    """impl has no background flush: flush every frozen generation (what settle means there)."""
    for index in range(len(SHARDS)):
        while h.apply("flush", index):
            pass


def step(h: Harness, lance: bool, kind: str, pk: int) -> None:
    settle: Callable[[], None] = h.settle if lance else (lambda: settle_model(h))  # type: ignore[attr-defined]
    if kind == "settle":
        settle()
    elif kind == "arm":
        if lance:
            h.read_cut()  # type: ignore[attr-defined]
        else:
            h.arm()
            h.live.clear()
    elif kind in ("compact", "crash"):
        settle()
        h.apply(kind, 0)
    else:
        h.apply(kind, pk)
    h.agree()


def one_run(lance: bool, ops: list[Op], b: int) -> tuple[float, float, dict[str, list[float]]]:
    """(setup seconds, steps/s, per-op seconds) of one backend over ``ops``."""
    per_op: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    hazard = lance_hazard(b)
    h: Harness = (
        LanceHarness(hazard, strict=False)
        if lance
        else Harness(Design.AS_OF_CUT, hazard, impl_backend)
    )
    setup = time.perf_counter() - t0
    try:
        start = time.perf_counter()
        for kind, pk in ops:
            t = time.perf_counter()
            step(h, lance, kind, pk)
            per_op.setdefault(kind, []).append(time.perf_counter() - t)
        rate = len(ops) / (time.perf_counter() - start)
    finally:
        h.close()
    return setup, rate, per_op


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--b", type=int, default=2, help="max_memtable_batches")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"lance": [], "impl": []}
    setups: dict[str, list[float]] = {"lance": [], "impl": []}
    per: dict[str, dict[str, list[float]]] = {"lance": {}, "impl": {}}
    ratios = []
    for seed in range(args.runs):
        ops = ops_for(seed, args.steps)
        for name in ("impl", "lance"):  # alternate within a run: same load for both
            setup, rate, per_op = one_run(name == "lance", ops, args.b)
            setups[name].append(setup)
            rates[name].append(rate)
            for op, values in per_op.items():
                per[name].setdefault(op, []).extend(values)
        ratios.append(rates["impl"][-1] / rates["lance"][-1])
    print(
        f"pylance {PYLANCE_VERSION}, B={args.b}, {args.runs} runs x {args.steps} steps "
        "(same seeded ops on both; model + agree after every step, settled mode)"
    )
    for name in ("impl", "lance"):
        med = statistics.median(rates[name])
        print(
            f"{name:5s} median steps/s {med:7.0f}  runs {[round(r) for r in rates[name]]}  "
            f"setup {statistics.median(setups[name]) * 1e3:.1f} ms"
        )
    print(f"impl/lance speed ratio (median of per-run ratios): {statistics.median(ratios):.1f}x")
    for op in sorted(per["lance"]):
        cells = [
            f"{name} {statistics.median(per[name].get(op, [0.0])) * 1e3:6.2f} ms"
            for name in ("impl", "lance")
        ]
        print(f"  {op:8s} " + "  ".join(cells) + f"  n={len(per['lance'][op])}")


if __name__ == "__main__":
    main()
