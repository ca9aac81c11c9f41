"""Run every obligation, the verdict matrix and the planted bugs, on 2 cores.

The jobs are independent solver runs, so they are farmed out to a small
process pool (z3 contexts are per process).  :func:`run_all` is cached: the
CLI and the SPEC.md producers in ``proofs/docs.py`` share one run.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from model.designs import Design

from . import bv64
from .encode import Bug, Variant
from .obligations import (
    DESIGNS,
    HAZARDS,
    PLANTED,
    SOUND,
    Result,
    design_obligations,
    verdict,
)


@dataclass
class Report:
    """Everything ``asofcut prove`` prints."""

    obligations: dict[str, list[Result]]  # design value (and "u64") → results
    matrix: dict[str, dict[str, str]]  # design → hazard ("none" = baseline) → verdict
    bugs: dict[str, tuple[bool, list[str], float]]  # bug name → detected, failures, time
    wall: float

    @property
    def ok(self) -> bool:
        """Every obligation of every sound design holds and every bug is detected."""
        return all(r.ok for rs in self.obligations.values() for r in rs) and all(
            det for det, _, _ in self.bugs.values()
        )

    def traces(self) -> list[dict[str, Any]]:
        """Every shortest counterexample, as data."""
        out = []
        for design, results in self.obligations.items():
            for r in results:
                if r.trace is not None:
                    out.append({"name": f"{design}:{r.name}", **r.trace})
        return out


def _job(job: tuple[str, str]) -> tuple[tuple[str, str], Any]:
    kind, arg = job
    if kind == "design":
        return job, design_obligations(Variant(Design(arg))).results
    if kind == "u64":
        return job, bv64.obligations()
    if kind == "matrix":
        row = {}
        for h in (None, *HAZARDS):
            row[h or "none"] = verdict(Variant(Design(arg)), h)[0]
        return job, row
    from .obligations import planted

    return job, planted(Bug[arg])


def jobs() -> list[tuple[str, str]]:
    """Slowest first, so two workers finish together."""
    return (
        [("design", d.value) for d in SOUND]
        + [("matrix", d.value) for d in DESIGNS]
        + [("bug", b.name) for b in PLANTED]
        + [("u64", "")]
    )


@functools.lru_cache(maxsize=1)
def run_all(workers: int = 2) -> Report:
    """Run every job; ``workers=1`` runs in-process (for debugging)."""
    t0 = time.perf_counter()
    if workers <= 1:
        done = dict(_job(j) for j in jobs())
    else:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            done = dict(pool.map(_job, jobs()))
    obligations: dict[str, list[Result]] = {d.value: done[("design", d.value)] for d in SOUND}
    obligations["u64"] = done[("u64", "")]
    matrix = {d.value: done[("matrix", d.value)] for d in DESIGNS}
    bugs = {b.name: done[("bug", b.name)] for b in PLANTED}
    return Report(obligations, matrix, bugs, time.perf_counter() - t0)
