"""The design × hazard matrix: the harness's proof that it can fail.

Every cell runs the one machine (``machine.machine_for(design, hazard)``) and
classifies the outcome:

* ``VIOLATION (n steps)`` — a ``SoundnessViolation`` was found and shrunk to a
  story of n rule steps;
* ``under-count (k)`` — no violation, k checks left a base row the arm had
  superseded (a duplicate, tolerable and counted);
* ``sound`` — neither;
* ``MISMATCH`` / ``ERROR`` — impl and model disagreed, or something crashed:
  never expected, always a bug.

The expected verdict of each cell comes from ``hazards.expectation_table``
(the model's verdict on the column's hand-written scenario).  The meta-test
(``test_matrix.py``) asserts observed == expected in both directions, plus
the column's non-vacuity witness for every cell that passes.

Every cell searches under a **step budget** (``profiles.Budget``): seeded
chunks of test cases until the first failure or until the budget's rule steps
have run.  The verdict is then a function of the code and the seed alone —
not of the loaded profile, the machine's speed or the environment — which is
what lets the gate assert it; cells run in parallel processes.

``asofcut matrix [--seeds N] [--budget STEPS] [--workers W] [--design D] [--hazard H]``
prints the table; with ``--seeds N`` every cell runs N times (seeds 0..N-1,
the gate runs seed 0) and reports the median time to first failure and shrunk
length per violating cell.  ``--db URL`` (or ``ASOFCUT_DB``) first replays
what a shared example database holds for each cell (``exampledb``; ``asofcut
fuzz`` fills it), then searches under the budget as usual.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

from hypothesis import Phase, settings
from hypothesis import seed as hseed
from hypothesis.database import ExampleDatabase
from hypothesis.stateful import get_state_machine_test

from model.designs import Design
from stateful_tests import exampledb, profiles
from stateful_tests.hazards import DESIGNS, HAZARDS, Hazard, expectation_table, expected
from stateful_tests.machine import (
    COLUMN_EXAMPLES,
    Disagreement,
    FreshTierMachine,
    SoundnessViolation,
    Step,
    machine_for,
)
from stateful_tests.shrink import shrink


@dataclass
class Cell:
    """One run of one cell."""

    design: str
    hazard: str
    verdict: str  # sound / under-count / VIOLATION / MISMATCH / ERROR
    steps: int = 0  # shrunk rule steps of the failing example
    first_failure: float | None = None  # seconds from start to the first failing example
    total: float = 0.0
    undercounts: int = 0
    counters: Counter[str] = field(default_factory=Counter)
    message: str = ""
    cases_to_failure: int = 0  # test cases run up to and including the first failing one
    script: tuple[Step, ...] = ()  # the shrunk failing script, in ``machine.replay``'s vocabulary
    cpu: float = 0.0  # CPU seconds the cell took in its process (search and shrink)

    @property
    def label(self) -> str:
        if self.verdict == "VIOLATION":
            return f"VIOLATION ({self.steps} steps)"
        if self.verdict == "under-count":
            return f"under-count ({self.undercounts})"
        return self.verdict


def run_cell(
    design: str,
    hazard: str,
    *,
    budget: profiles.Budget | None = None,
    seed: int | None = 0,
    run_settings: settings | None = None,
    database: ExampleDatabase | None = None,
) -> Cell:
    """Run one cell's machine and classify the outcome.

    By default under a step budget (``budget``, default ``profiles.GATE``; the
    column's ``COLUMN_EXAMPLES`` factor scales it): seeded chunks of test cases
    until the first failure or the budget is spent, a failure shrunk by
    replaying its script.  Deterministic for a given ``seed``, whatever profile
    is loaded.  A shared example database (``database``, else ``ASOFCUT_DB``)
    is replayed first, under the cell's own key (``exampledb.cell_key``).

    ``run_settings`` instead runs one Hypothesis test under exactly those
    settings, saving to ``database`` (Hypothesis shrinks): how ``asofcut fuzz``
    explores; ``seed`` None is a random one.
    """
    cls = machine_for(design, hazard)
    start, cpu = time.perf_counter(), time.process_time()
    verdict, message = "sound", ""
    script: tuple[Step, ...] = ()
    steps = 0
    try:
        if run_settings is not None:
            _run_shared(cls, run_settings, seed, database)
        else:
            db = database if database is not None else exampledb.from_env()
            if db is not None and exampledb.saved(db, design, hazard):
                _run_shared(cls, settings(profiles.COMMON, phases=[Phase.reuse]), None, db)
            _run_budgeted(cls, budget or profiles.GATE, seed or 0)
    except (SoundnessViolation, Disagreement) as e:
        verdict = "VIOLATION" if isinstance(e, SoundnessViolation) else "MISMATCH"
        message, steps, script = str(e), cls.last_failure_steps, tuple(cls.last_failure_script)
        if run_settings is None:  # the budgeted search does not shrink: the replays do
            done = shrink(cls.design, cls.hazard, script, type(e))
            message, script = done.story, done.script
            steps = message.count("\n")  # the numbered story lines, then the ✗ line
    except Exception as e:  # noqa: BLE001 - a cell must report, not abort the matrix
        verdict, message = "ERROR", f"{type(e).__name__}: {e}"
    total = time.perf_counter() - start
    k = cls.COUNTERS["under-count"]
    if verdict == "sound" and k:
        verdict = "under-count"
    first = cls.first_failure - start if cls.first_failure is not None else None
    return Cell(design, hazard, verdict, steps, first, total, k,
                Counter(cls.COUNTERS), message, cls.first_failure_case, script,
                time.process_time() - cpu)


def _run_shared(cls: type[FreshTierMachine], run_settings: settings, seed: int | None,
                database: ExampleDatabase | None) -> None:
    """One Hypothesis test of the cell under ``run_settings``, on a shared ``database``."""
    if seed is not None:
        # on the class (Hypothesis's documented form for machines): unlike @seed on the
        # test, it leaves the database alone, so a seeded fuzz run still shares one
        hseed(seed)(cls)
    s = run_settings
    if database is not None:
        s = settings(s, derandomize=False, database=database)
    test = get_state_machine_test(cls, settings=s)
    # one key per cell in every process: the digest Hypothesis would use rests on a class
    # built at run time (exampledb); this attribute is the one Hypothesis's `find` sets
    test._hypothesis_internal_database_key = exampledb.cell_key(  # type: ignore[attr-defined]
        cls.design.value, cls.hazard.name)
    test()


def search_factor(design: Design, hazard: Hazard) -> float:
    """How many budgets a cell searches: the column's ``COLUMN_EXAMPLES`` factor where the
    model expects a violation (a longer pattern to find), one budget everywhere else.

    A sound cell gets the same budget in every column: the factor exists so that a
    violation needing a long pattern is found on every seed, not to search sound
    cells longer in some columns than in others.
    """
    if expected(design, hazard) != "VIOLATION":
        return 1.0
    return COLUMN_EXAMPLES.get(hazard.name, 1.0)


def _run_budgeted(cls: type[FreshTierMachine], budget: profiles.Budget, seed: int) -> None:
    """Seeded chunks of ``budget.chunk_examples`` test cases until a failure or the budget."""
    steps = round(budget.steps * search_factor(cls.design, cls.hazard))
    s = settings(
        profiles.COMMON,  # not the loaded profile: the budget alone decides the search
        max_examples=budget.chunk_examples,
        stateful_step_count=budget.step_count,
        phases=[p for p in profiles.PHASES if p is not Phase.shrink],
        derandomize=False,
        database=None,
    )
    # one test for every chunk, reseeded: building it hashes the machine's source (an
    # ast parse of its module), which costs as much as a few test cases
    test = get_state_machine_test(cls, settings=s)
    chunk = 0
    while cls.COUNTERS["steps"] < steps:
        # seeds of different base seeds never meet: chunk i of seed k is k * 10**6 + i
        hseed(seed * 1_000_000 + chunk)(test)()
        chunk += 1


Job = tuple[str, str, int]  # (design, hazard, seed)


def _job(job: Job, budget: profiles.Budget | None, db: str | None) -> Cell:
    database = exampledb.open_database(db) if db else None
    return run_cell(job[0], job[1], seed=job[2], budget=budget, database=database)


def run_cells(jobs: Sequence[Job], *, budget: profiles.Budget | None = None,
              workers: int | None = None, db: str | None = None) -> Iterator[Cell]:
    """Run every job, ``workers`` processes at a time (default: every core), as they finish.

    Cells share nothing (each builds its own machine class and table root), so
    they run in separate processes; a cell's verdict does not depend on which
    process ran it or on what ran before it there.
    """
    n = min(len(jobs), workers or os.cpu_count() or 1)
    if n <= 1:
        yield from (_job(j, budget, db) for j in jobs)
        return
    ctx = multiprocessing.get_context("forkserver")
    # longest first (a cell expected to pass pays its whole budget; a violating one
    # stops at its first failure, which a long-pattern column finds late), so no long
    # cell starts last and leaves the other cores idle
    want = expectation_table()

    def cost(j: Job) -> float:
        if want[(j[0], j[1])] != "VIOLATION":
            return 1.0
        return 0.25 * COLUMN_EXAMPLES.get(j[1], 1.0)

    with ProcessPoolExecutor(n, mp_context=ctx) as pool:
        pending = {pool.submit(_job, j, budget, db) for j in sorted(jobs, key=cost, reverse=True)}
        for done in as_completed(pending):
            yield done.result()


def witness_ok(cell: Cell) -> bool:
    """A passing cell saw its column's interesting situation (non-vacuity)."""
    return cell.counters[HAZARDS[cell.hazard].witness] > 0


def as_expected(cell: Cell, expected: str) -> bool:
    """The cell reached ``expected``, and, unless it failed, saw its witness."""
    return cell.verdict.startswith(expected) and (cell.verdict == "VIOLATION" or witness_ok(cell))


def render(cells: dict[tuple[str, str], list[Cell]]) -> str:
    """The table: one row per hazard, one column per design; expectation marks."""
    want = expectation_table()
    hazards = list(dict.fromkeys(h for _, h in cells))
    designs = [d.value for d in DESIGNS if any(k[0] == d.value for k in cells)]
    labels: dict[tuple[str, str], str] = {}
    for (d, h), runs in cells.items():
        ok = all(r.verdict.startswith(want[(d, h)].split()[0]) for r in runs)
        labels[(d, h)] = _summary(runs) + ("" if ok else " ≠exp")
    # wide enough for the longest label and name, so columns never run together
    width = 2 + max(len(text) for text in [*labels.values(), *designs])
    lines = ["hazard".ljust(9) + "".join(d.ljust(width) for d in designs)]
    for h in hazards:
        lines.append(h.ljust(9) + "".join(labels.get((d, h), "").ljust(width) for d in designs))
    lines.append("")
    lines.append("violating cells: median time to first failure / shrunk steps (runs)")
    for (d, h), runs in cells.items():
        fails = [r for r in runs if r.verdict == "VIOLATION"]
        if fails:
            t = statistics.median(r.first_failure or 0.0 for r in fails)
            n = statistics.median(r.steps for r in fails)
            lines.append(f"  {d} × {h}: {t:.2f} s, {n:g} steps ({len(fails)}/{len(runs)})")
    return "\n".join(lines)


def _summary(runs: list[Cell]) -> str:
    if len(runs) == 1:
        return runs[0].label
    kinds = Counter(r.verdict for r in runs)
    top = kinds.most_common(1)[0][0]
    if top == "VIOLATION":
        n = statistics.median(r.steps for r in runs if r.verdict == top)
        return f"VIOLATION ({n:g} steps) {kinds[top]}/{len(runs)}"
    return f"{top} {kinds[top]}/{len(runs)}"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="asofcut matrix", description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=1,
                   help="run each cell with seeds 0..N-1 (the gate runs seed 0)")
    p.add_argument("--budget", type=int, default=profiles.GATE.steps,
                   help=f"rule steps per cell (default: the gate's, {profiles.GATE.steps})")
    p.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
    p.add_argument("--design", action="append", choices=[d.value for d in Design])
    p.add_argument("--hazard", action="append", choices=list(HAZARDS))
    p.add_argument("--expected", choices=("VIOLATION", "under-count", "sound"),
                   help="only the cells the model expects to give this verdict")
    p.add_argument("-v", "--verbose", action="store_true", help="print each failing story")
    p.add_argument("--db", default=os.environ.get(exampledb.ENV),
                   help=f"shared example database to replay first (default: ${exampledb.ENV})")
    args = p.parse_args(list(argv or []))
    profiles.load()
    budget = replace(profiles.GATE, steps=args.budget)
    try:
        db = exampledb.open_database(args.db, check=True) if args.db else None
    except exampledb.DatabaseError as e:
        p.error(str(e))
    designs = args.design or [d.value for d in DESIGNS]
    hazards = args.hazard or list(HAZARDS)
    want = expectation_table()
    jobs = [(d, h, s) for h in hazards for d in designs for s in range(args.seeds)
            if args.expected is None or want[(d, h)] == args.expected]
    cells: dict[tuple[str, str], list[Cell]] = {(d, h): [] for d, h, _ in jobs}
    bad = 0
    t0 = time.perf_counter()
    for i, r in enumerate(run_cells(jobs, budget=budget, workers=args.workers,
                                    db=args.db if db is not None else None), 1):
        cells[(r.design, r.hazard)].append(r)
        if not as_expected(r, want[(r.design, r.hazard)]):
            bad += 1
        print(f"  [{i}/{len(jobs)}, {time.perf_counter() - t0:.0f} s] {r.design} × {r.hazard}: "
              f"{r.label}", file=sys.stderr, flush=True)
        if args.verbose and r.message:
            print(f"--- {r.design} × {r.hazard}\n{r.message}\n")
    where = f", database {exampledb.shown(args.db)}" if db is not None else ""
    print(f"budget {budget.steps} steps per cell, seeds 0..{args.seeds - 1}, "
          f"{time.perf_counter() - t0:.0f} s{where}")
    print(render(cells))
    print(f"\n{bad} run(s) off expectation" if bad else "\nevery cell as expected")
    return 1 if bad else 0
