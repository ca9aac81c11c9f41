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

``python -m asofcut matrix [--profile ci] [--seeds N] [--design D] [--hazard H]``
prints the table; with ``--seeds N`` every cell runs N times (random seeds
0..N-1) and reports the median time to first failure and shrunk length.
``--db URL`` (or ``ASOFCUT_DB``) replays first what a shared example database
holds for each cell (``exampledb``; ``asofcut fuzz`` fills it); a derandomized
profile then runs randomized, as Hypothesis allows no database with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import seed as hseed
from hypothesis import settings
from hypothesis.database import ExampleDatabase
from hypothesis.stateful import get_state_machine_test

from model.designs import Design
from stateful_tests import exampledb, profiles
from stateful_tests.hazards import DESIGNS, HAZARDS, expectation_table
from stateful_tests.machine import Disagreement, SoundnessViolation, machine_for


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
    run_settings: settings | None = None,
    seed: int | None = None,
    database: ExampleDatabase | None = None,
) -> Cell:
    """Run one cell's machine under ``run_settings`` (default: the loaded profile).

    A ``seed`` runs without the profile's database, unless ``database`` names
    one: then the cell replays that database's examples first and saves its
    failures there, under the cell's own key (``exampledb.cell_key``).
    """
    cls = machine_for(design, hazard)
    if seed is not None:
        # on the class (Hypothesis's documented form for machines): unlike @seed on the
        # test, it leaves the database alone, so a seeded fuzz run still shares one
        hseed(seed)(cls)
    s = run_settings or cls.TestCase.settings
    if seed is not None or database is not None:
        s = settings(s, derandomize=False, database=database)
    test = get_state_machine_test(cls, settings=s)
    # one key per cell in every process: the digest Hypothesis would use rests on a class
    # built at run time (exampledb); this attribute is the one Hypothesis's `find` sets
    test._hypothesis_internal_database_key = exampledb.cell_key(  # type: ignore[attr-defined]
        design, hazard)
    start = time.perf_counter()
    verdict, message = "sound", ""
    try:
        test()
    except SoundnessViolation as e:
        verdict, message = "VIOLATION", str(e)
    except Disagreement as e:
        verdict, message = "MISMATCH", str(e)
    except Exception as e:  # noqa: BLE001 - a cell must report, not abort the matrix
        verdict, message = "ERROR", f"{type(e).__name__}: {e}"
    total = time.perf_counter() - start
    k = cls.COUNTERS["under-count"]
    if verdict == "sound" and k:
        verdict = "under-count"
    first = cls.first_failure - start if cls.first_failure is not None else None
    return Cell(design, hazard, verdict, cls.last_failure_steps, first, total, k,
                Counter(cls.COUNTERS), message, cls.first_failure_case)


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
    width = 26
    lines = ["hazard".ljust(9) + "".join(d.ljust(width) for d in designs)]
    for h in hazards:
        row = h.ljust(9)
        for d in designs:
            runs = cells.get((d, h))
            if not runs:
                row += "".ljust(width)
                continue
            label = _summary(runs)
            ok = all(r.verdict.startswith(want[(d, h)].split()[0]) for r in runs)
            row += (label + ("" if ok else " ≠exp")).ljust(width)
        lines.append(row)
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
    p.add_argument("--profile", default=None, help="dev / ci / nightly (default: selected)")
    p.add_argument("--seeds", type=int, default=0, help="run each cell with seeds 0..N-1")
    p.add_argument("--design", action="append", choices=[d.value for d in Design])
    p.add_argument("--hazard", action="append", choices=list(HAZARDS))
    p.add_argument("-v", "--verbose", action="store_true", help="print each failing story")
    p.add_argument("--db", default=os.environ.get(exampledb.ENV),
                   help=f"shared example database to replay first (default: ${exampledb.ENV})")
    args = p.parse_args(list(argv or []))
    name = profiles.load(args.profile)
    try:
        db = exampledb.open_database(args.db, check=True) if args.db else None
    except exampledb.DatabaseError as e:
        p.error(str(e))
    designs = args.design or [d.value for d in DESIGNS]
    hazards = args.hazard or list(HAZARDS)
    want = expectation_table()
    cells: dict[tuple[str, str], list[Cell]] = {}
    bad = 0
    t0 = time.perf_counter()
    for h in hazards:
        for d in designs:
            seeds: list[int | None] = list(range(args.seeds)) if args.seeds else [None]
            runs = [run_cell(d, h, seed=s, database=db) for s in seeds]
            cells[(d, h)] = runs
            for r in runs:
                if not as_expected(r, want[(d, h)]):
                    bad += 1
                if args.verbose and r.message:
                    print(f"--- {d} × {h}\n{r.message}\n")
    where = f", database {exampledb.shown(args.db)}" if db else ""
    print(f"profile {name}, {time.perf_counter() - t0:.0f} s{where}")
    print(render(cells))
    print(f"\n{bad} run(s) off expectation" if bad else "\nevery cell as expected")
    return 1 if bad else 0
