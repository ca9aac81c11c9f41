"""``asofcut verify``: the main job. Proofs, the design × hazard matrix, the spec.

Three independent judges look at every cut design, and this command puts their
answers side by side:

1. **z3** (``proofs/``): every obligation of every sound design proved, every
   planted bug detected, and a verdict per design × hazard (``proved (induction)`` /
   ``no cex ≤ K`` /
   ``cex`` / ``under-count``) computed by the solver over the symbolic tier;
2. **the state machine** (``stateful_tests/``): the same design × hazard
   cells run on the real fresh tier (``impl/``) with the model as oracle, under
   the gate's step budget (seeded, the same on every machine), cells in
   parallel processes: ``sound`` / ``VIOLATION (n steps)`` / ``under-count``;
3. **the document**: ``docs/SPEC.md``'s generated regions are current.

The run passes only if each judge passes *and* the solver and the machine
agree on every cell they share: a cell where z3 finds a counterexample but the
machine does not (or the reverse) means one of the two is wrong about the
tier, which is exactly what a reviewer needs to hear.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stateful_tests.hazards import PROOF_TO_MACHINE_VERDICT


@dataclass(frozen=True)
class Agreement:
    """One design × hazard cell as both judges saw it."""

    design: str
    hazard: str
    proof: str | None  # solver's verdict in machine words; None: the solver has no such column
    machine: str  # sound / under-count / VIOLATION / MISMATCH / ERROR
    steps: int

    @property
    def agrees(self) -> bool:
        return self.proof is None or self.proof == self.machine

    @property
    def label(self) -> str:
        shown = f"VIOLATION ({self.steps})" if self.machine == "VIOLATION" else self.machine
        if self.agrees:
            return shown
        return f"{shown} ≠ z3 {self.proof}"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def render(cells: list[Agreement]) -> str:
    designs = list(dict.fromkeys(c.design for c in cells))
    hazards = list(dict.fromkeys(c.hazard for c in cells))
    at = {(c.design, c.hazard): c for c in cells}
    width = max(len(c.label) for c in cells) + 2
    lines = ["design".ljust(22) + "".join(h.ljust(width) for h in hazards)]
    for d in designs:
        lines.append(d.ljust(22) + "".join(at[(d, h)].label.ljust(width) for h in hazards))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asofcut verify", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the proofs and for the matrix (default: every core)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()

    from proofs.run import run_all

    _log("[1/3] proofs: obligations, planted bugs, solver verdict matrix …")
    report = run_all(args.workers)
    n_obl = sum(len(rs) for rs in report.obligations.values())
    bad_obl = [
        f"{d}:{r.name}" for d, rs in report.obligations.items() for r in rs if not r.ok
    ]
    missed = [name for name, (detected, _, _) in report.bugs.items() if not detected]
    _log(f"      {n_obl} obligations, {len(bad_obl)} off; {len(report.bugs)} planted bugs, "
         f"{len(missed)} missed ({time.perf_counter() - t0:.0f} s)")

    from stateful_tests import profiles
    from stateful_tests.hazards import DESIGNS, HAZARDS, expectation_table
    from stateful_tests.matrix import as_expected, run_cells

    profiles.load()
    want = expectation_table()
    found: dict[tuple[str, str], Agreement] = {}
    off_expectation: list[str] = []
    jobs = [(d.value, h, 0) for h in HAZARDS for d in DESIGNS]
    _log(f"[2/3] state machine on impl, gate budget ({profiles.GATE.steps} steps a cell, "
         f"seed 0): {len(jobs)} cells on {args.workers} processes …")
    left = Counter(h for _, h, _ in jobs)
    machine_cpu = 0.0
    from asofcut.spec import stale

    # SPEC.md's regions are rendered meanwhile, in this otherwise idle process: the
    # cells' processes hold every core, but not until the last cell ends (step 3
    # reports it, after the matrix, as before)
    spec_check = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spec")
    stale_regions_later = spec_check.submit(stale)
    spec_check.shutdown(wait=False)
    for cell in run_cells(jobs, workers=args.workers):
        d, h = cell.design, cell.hazard
        machine_cpu += cell.cpu
        if not as_expected(cell, want[(d, h)]):
            off_expectation.append(f"{d} × {h}: {cell.label} (expected {want[(d, h)]})")
        raw = report.matrix.get(d, {}).get(h)
        proof = PROOF_TO_MACHINE_VERDICT.get(raw) if raw is not None else None
        found[(d, h)] = Agreement(d, h, proof, cell.verdict, cell.steps)
        left[h] -= 1
        if not left[h]:
            done = sum(1 for n in left.values() if not n)
            _log(f"      {h:<9} done ({done}/{len(HAZARDS)}, {time.perf_counter() - t0:.0f} s)")
    cells = [found[(d, h)] for d, h, _ in jobs]

    _log("[3/3] docs/SPEC.md generated regions …")
    stale_regions = stale_regions_later.result()

    disagreements = [c for c in cells if not c.agrees]
    print("asofcut verify: design × hazard, the state machine on impl (gate budget);")
    print("a cell reads 'X ≠ z3 Y' where the solver's verdict differs from the machine's.\n")
    print(render(cells))
    print()
    checks = [
        ("proofs: obligations as expected", not bad_obl, ", ".join(bad_obl)),
        ("proofs: every planted bug detected", not missed, ", ".join(missed)),
        ("machine: every cell as expected", not off_expectation, "; ".join(off_expectation)),
        ("z3 and machine agree on every shared cell", not disagreements,
         "; ".join(f"{c.design} × {c.hazard}" for c in disagreements)),
        ("docs/SPEC.md current", not stale_regions, ", ".join(stale_regions)),
    ]
    for name, ok, detail in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}" + ("" if ok else f": {detail}"))
    ok = all(passed for _, passed, _ in checks)
    cpu = report.cpu + machine_cpu + time.process_time()
    print(f"\n{'VERIFIED' if ok else 'NOT VERIFIED'} in {time.perf_counter() - t0:.0f} s "
          f"(CPU {cpu:.0f} s: proofs {report.cpu:.0f}, matrix {machine_cpu:.0f})")
    return 0 if ok else 1
