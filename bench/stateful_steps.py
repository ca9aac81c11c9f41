"""Benchmark: state-machine steps per second on impl, and where a step's time goes.

A "step" is one rule of ``stateful_tests.machine.FreshTierMachine`` together
with the two invariants that follow it (impl ≡ model on shards, stats and the
newest-row scan; every outstanding cut's membership ≡ model and sound).  So
steps/s is the harness's real throughput, example setup/teardown (a table
root on tmpfs per test case) and Hypothesis's own overhead included.

For each sound design of the baseline column (as_of_cut,
fresh_tier_watermark, exact_cut) the machine runs ``--examples`` test cases
of ``--steps`` steps, ``--reps`` times with different seeds; printed: the
median steps/s per design (wall clock and CPU), the overall median, the ratio
to the goal (2,000 steps/s on a 2-core machine), the machine's load average,
and a breakdown of one run's time:

* **backend** — every call into the fresh tier under test (``impl``: writes,
  scans, arms, checks, setup and teardown of its table root);
* **model** — every call into the executable specification (``model.events``,
  ``model.read``, ``model.invariants``);
* **harness** — the machine's own comparisons and bookkeeping (the rest of
  every rule and invariant);
* **hypothesis** — generation, shrinking and the engine (the rest of the run).

The breakdown wraps the functions it times, so it runs as a separate,
instrumented pass after the timed runs; its shares, not its absolute time,
are what it reports.

Then **both cores**: the same runs (every design and seed), ``--workers``
processes at once (default: every core), as ``asofcut matrix`` and ``asofcut
verify`` use the machine: total steps per wall second of the pass, process
start-up included.  It is printed beside the one-process median, not instead
of it: the goal is read against the one-process figure.

Last, **Hypothesis's ceiling**: the same machine with every harness move,
check and invariant a no-op (no backend, no model), median steps/s over the
same runs.  No change to impl, the model or the harness can take the machine
past it, so it says what the goal leaves them: at ceiling C, 2,000 steps/s
leaves ``1/2000 - 1/C`` seconds per step; and impl, model and harness alone
(the step's time minus Hypothesis's) bound the rate an engine that cost
nothing could reach.  It is a slight over-estimate of
Hypothesis's share: with no moves the tier stays empty, so the rules that need
a shard (freeze, flush, compact, crash...) are never enabled.

Last of all, **a trivial machine** on the same Hypothesis, in the same
process: three rules with the argument shapes ours use most (a PK; a PK and a
shard; none), one invariant, every body a no-op.  Its median steps/s is the
floor of Hypothesis's stateful engine on this machine at this minute: no
machine with real moves can run faster, however cheap its moves.  The VM's
speed drifts by a quarter within minutes and by half from day to day, and the
trivial machine drifts with it, so the ratio of our rate to its rate is the
figure to compare across runs; and the goal, read as a fraction of it, says
whether 2,000 steps/s is reachable at all on this machine with this engine.

Run: ``python bench/stateful_steps.py [--reps 5] [--examples 40] [--steps 25]
[--workers N] [--strict]``
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import (  # noqa: E402
    RuleBasedStateMachine,
    get_state_machine_test,
    invariant,
    rule,
)

from stateful_tests import machine, profiles  # noqa: E402
from stateful_tests.backend import RULE_MOVES  # noqa: E402
from stateful_tests.machine import machine_for  # noqa: E402

GOAL = 2000.0
SOUND = ("as_of_cut", "fresh_tier_watermark", "exact_cut")
#: Harness methods a rule or invariant enters through (their time is harness + backend + model)
HARNESS_ENTRIES = ("apply", "arm", "check", "check_all_live", "agree", "two_phase", "window")


def run(design: str, examples: int, steps: int, rep: int,
        backend: machine.BackendFactory = machine.impl_backend) -> tuple[int, float, float]:
    """Run one machine for ``examples`` test cases: (steps, wall seconds, CPU seconds)."""
    cls = machine_for(design, "baseline", backend)
    s = settings(
        cls.TestCase.settings,
        max_examples=examples,
        stateful_step_count=steps,
        derandomize=False,
        database=None,
    )
    test = seed(rep)(get_state_machine_test(cls, settings=s))
    wall, cpu = time.perf_counter(), time.process_time()
    test()
    return cls.COUNTERS["steps"], time.perf_counter() - wall, time.process_time() - cpu


def _job(job: tuple[str, int, int, int]) -> int:
    """One timed run in a worker process: its steps."""
    design, examples, steps, rep = job
    return run(design, examples, steps, rep)[0]


def both_cores(examples: int, steps: int, reps: int, workers: int) -> float:
    """Steps per wall second of every design's runs, ``workers`` processes at once
    (process start-up included, as ``asofcut matrix`` pays it)."""
    jobs = [(d, examples, steps, r) for d in SOUND for r in range(reps)]
    ctx = multiprocessing.get_context("forkserver")  # as the matrix starts its workers
    t = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=profiles.load,
                             initargs=("dev",)) as pool:
        total = sum(pool.map(_job, jobs))
    return total / (time.perf_counter() - t)


class Clock:
    """Seconds spent per category, with nested calls counted once (outermost wins)."""

    def __init__(self) -> None:
        self.spent: defaultdict[str, float] = defaultdict(float)
        self._inside: str | None = None

    def wrap(self, category: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._inside is not None and self._inside != "harness":
                return fn(*args, **kwargs)
            outer, self._inside = self._inside, category
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t
                self.spent[category] += dt
                if outer is not None:
                    self.spent[outer] -= dt  # the enclosing harness time excludes it
                self._inside = outer

        return timed


def breakdown(design: str, examples: int, steps: int) -> dict[str, float]:
    """One instrumented run: seconds in backend, model, harness and Hypothesis."""
    clock = Clock()

    class TimedBackend:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            value = getattr(self._inner, name)
            return clock.wrap("backend", value) if callable(value) else value

    def backend(h: Any) -> Any:
        return TimedBackend(clock.wrap("backend", machine.impl_backend)(h))

    patched: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, category: str) -> None:
        patched.append((owner, name, getattr(owner, name)))
        setattr(owner, name, clock.wrap(category, getattr(owner, name)))

    for name in HARNESS_ENTRIES:
        patch(machine.Harness, name, "harness")
    patch(machine, "step", "model")
    patch(machine, "tightness", "model")
    for name in ("observe", "capture", "membership", "two_phase", "scan", "newest"):
        patch(machine.mread, name, "model")
    try:
        _, wall, _ = run(design, examples, steps, 0, backend)
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)
    clock.spent["hypothesis"] = wall - sum(clock.spent.values())
    return clock.spent


class _NoBackend:
    """A backend that is never called (every harness move is stubbed in ``ceiling``)."""

    capabilities = RULE_MOVES


def _no_backend(_: Any) -> machine.Backend:
    return cast(machine.Backend, _NoBackend())


def ceiling(design: str, examples: int, steps: int, reps: int) -> float:
    """Median steps/s of the machine with every move, check and invariant a no-op."""
    h = machine.Harness

    def arm(self: Any, write_pk: int | None = None) -> int:
        self.arms += 1
        self.live[self.arms] = None
        return int(self.arms)

    def check(self: Any, number: int, consume: bool, wide: bool = False) -> None:
        if consume:
            del self.live[number]

    stubs: dict[str, Callable[..., Any]] = {
        "apply": lambda self, kind, keys, outstanding=None: True,
        "arm": arm,
        "check": check,
        # a window tells one event per move, its arm and its check
        "window": lambda self, anchor, before, after, write: len(before) + len(after) + 2,
        "two_phase": lambda self, ops: None,
        "agree": lambda self, full=True: None,
        "check_all_live": lambda self: None,
        "close": lambda self: None,
    }
    saved = {name: getattr(h, name) for name in stubs}
    try:
        for name, fn in stubs.items():
            setattr(h, name, fn)
        rates = [n / w for n, w, _ in (run(design, examples, steps, r, _no_backend)
                                       for r in range(reps))]
    finally:
        for name, fn in saved.items():
            setattr(h, name, fn)
    return statistics.median(rates)


class TrivialMachine(RuleBasedStateMachine):
    """Three rules shaped like ours (a PK; a PK and a shard; none), one invariant, no work
    but counting its steps."""

    steps = 0

    @rule(pk=st.integers(0, 5))
    def write(self, pk: int) -> None:
        TrivialMachine.steps += 1

    @rule(pk=st.integers(0, 5), shard=st.integers(0, 2))
    def move(self, pk: int, shard: int) -> None:
        TrivialMachine.steps += 1

    @rule()
    def tick(self) -> None:
        TrivialMachine.steps += 1

    @invariant()
    def holds(self) -> None:
        pass


def trivial(examples: int, steps: int, reps: int) -> float:
    """Median steps/s of ``TrivialMachine``, with ``run``'s budget and seeds."""
    rates = []
    for rep in range(reps):
        s = settings(max_examples=examples, stateful_step_count=steps, derandomize=False,
                     database=None, deadline=None)
        test = seed(rep)(get_state_machine_test(TrivialMachine, settings=s))
        TrivialMachine.steps = 0
        wall = time.perf_counter()
        test()
        rates.append(TrivialMachine.steps / (time.perf_counter() - wall))
    return statistics.median(rates)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--examples", type=int, default=40)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes of the both-cores pass (default: every core)")
    p.add_argument("--strict", action="store_true", help="exit 1 below the goal (one process)")
    args = p.parse_args()
    profiles.load("dev")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    medians = []
    for d in SOUND:
        runs = [run(d, args.examples, args.steps, r) for r in range(args.reps)]
        wall = statistics.median(n / w for n, w, _ in runs)
        cpu = statistics.median(n / c for n, _, c in runs)
        medians.append(wall)
        print(f"{d:22s} median {wall:7.0f} steps/s wall, {cpu:7.0f} steps/CPU-s  "
              f"(runs: {', '.join(f'{n / w:.0f}' for n, w, _ in runs)})")
    overall = statistics.median(medians)
    print(f"{'overall':22s} median {overall:7.0f} steps/s  "
          f"= {overall / GOAL:.2f} x goal ({GOAL:g}), one process")
    if args.workers > 1:
        machine_rate = both_cores(args.examples, args.steps, args.reps, args.workers)
        print(f"{'both cores':22s} {machine_rate:14.0f} steps/s  "
              f"({args.workers} processes, the same runs; {machine_rate / overall:.2f} x "
              "one process)")
    spent = breakdown("as_of_cut", args.examples, args.steps)
    total = sum(spent.values())
    print("where a step's time goes (as_of_cut, one instrumented run): " + ", ".join(
        f"{k} {100 * v / total:.0f}%" for k, v in sorted(spent.items(), key=lambda kv: -kv[1])))
    top = ceiling("as_of_cut", args.examples, args.steps, args.reps)
    print(f"Hypothesis's ceiling (as_of_cut, every move a no-op): median {top:.0f} steps/s; "
          f"the goal leaves impl, model and harness {1e6 * (1 / GOAL - 1 / top):.0f} us "
          f"per step (they take {1e6 * (1 / overall - 1 / top):.0f} us now)")
    alone = 1 / (1 / overall - 1 / top)
    print(f"impl, model and harness alone (Hypothesis's share removed): {alone:.0f} steps/s "
          f"= {alone / GOAL:.2f} x goal, the bound with an engine that cost nothing")
    floor = trivial(args.examples, args.steps, args.reps)
    print(f"a trivial machine (3 no-op rules, Hypothesis alone): median {floor:.0f} steps/s; "
          f"ours runs at {overall / floor:.2f} x it, and the goal is {GOAL / floor:.2f} x it")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if args.strict and overall < GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
