"""Run every obligation, the verdict matrix and the planted bugs, on 2 cores.

The jobs are independent solver runs, so they are farmed out to a small
process pool (z3 contexts are per process).  :func:`run_all` is cached: the
CLI and the SPEC.md producers in ``proofs/docs.py`` share one run.
"""

from __future__ import annotations

import fcntl
import functools
import multiprocessing
import os
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.designs import Design

from . import bv64
from .encode import Bug, Variant
from .obligations import (
    BY_INDUCTION,
    DESIGNS,
    PLANTED,
    PROVED,
    SOUND,
    UNSOUND,
    Result,
    design_obligations,
    induction_covers,
    matrix_row,
)

#: the induction's queries (``obligations.inductive``): a cell is ``proved (induction)``
#: only if every one of them ran for its design and held
INDUCTION = ("sound.init", "sound.step", "sound.check", "tight.init", "tight.step", "tight.check")


def honest_matrix(matrix: dict[str, dict[str, str]], obligations: dict[str, list[Result]],
                  ) -> dict[str, dict[str, str]]:
    """The matrix jobs' rows with each ``BY_INDUCTION`` cell resolved: ``proved
    (induction)`` iff the design's induction ran and held (and covers the cell),
    else ``unknown`` (nothing was established for it)."""
    out = {}
    for d, row in matrix.items():
        ran = {r.name: r for r in obligations.get(d, [])}
        held = all(n in ran and ran[n].status == "proved" and ran[n].ok for n in INDUCTION)
        out[d] = {c: (PROVED if held and induction_covers(Design(d), c) else "unknown")
                  if w == BY_INDUCTION else w for c, w in row.items()}
    return out


@dataclass
class Report:
    """Everything ``asofcut prove`` prints."""

    obligations: dict[str, list[Result]]  # design value (and "u64") → results
    matrix: dict[str, dict[str, str]]  # design → column (model.hazards) → verdict
    bugs: dict[str, tuple[bool, list[str], float]]  # bug name → detected, failures, time
    wall: float
    cpu: float = 0.0  # CPU seconds: the jobs' (in their workers) plus this process's
    job_cpu: dict[str, float] = field(default_factory=dict)  # "kind:arg" → CPU seconds
    #: unsound design → its shortest baseline over-count (``proofs.cells``); not in traces.json
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)

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

    def baseline_traces(self) -> list[dict[str, Any]]:
        """The unsound designs' shortest baseline counterexamples, as data."""
        return [{"name": f"{d}:baseline", **t} for d, t in self.baselines.items()]


def _job(job: tuple[str, str]) -> tuple[tuple[str, str], Any, float]:
    c0 = time.process_time()
    return job, _run_job(job), time.process_time() - c0


def _run_job(job: tuple[str, str]) -> Any:
    kind, arg = job
    if kind == "design":
        return design_obligations(Variant(Design(arg))).results
    if kind == "u64":
        return bv64.obligations()
    if kind == "baseline":
        from .cells import baseline_trace

        return baseline_trace(Design(arg))
    if kind == "matrix":
        return matrix_row(Design(arg))
    from .obligations import planted

    return planted(Bug[arg])


#: measured CPU seconds per job (a loaded 2-core machine, load ~3, 2026-12-02; the
#: jobs not listed take ~0.1-0.5 s); only the order matters: longest first, so two
#: workers finish together.
COST: dict[tuple[str, str], float] = {
    ("matrix", "as_of_cut"): 3.5, ("matrix", "fresh_tier_watermark"): 3.1,
    ("design", "fresh_tier_watermark"): 2.9, ("design", "as_of_cut"): 2.8,
    ("matrix", "exact_cut"): 2.4,
    ("design", "exact_cut"): 1.5, ("bug", "READ_N_ANY_GENERATION"): 1.5,
    ("bug", "NEVER_RELEASE"): 1.4, ("bug", "FAIL_FLUSH_FLUSHES"): 1.4,
    ("matrix", "wal_position_map"): 1.3, ("matrix", "live_tier"): 1.2,
    ("bug", "RECOUNT_KEEPS_EXACT"): 1.2, ("bug", "FLUSH_IGNORES_GRACE"): 1.2,
    ("matrix", "pinned_cut"): 1.2, ("bug", "SST_BELOW_NONE"): 1.0,
    ("design", "pinned_cut"): 0.9, ("bug", "EXACT_SHORT"): 0.7,
}


def jobs() -> list[tuple[str, str]]:
    """Every job, longest first (greedy LPT over the 2 workers)."""
    every = (
        [("design", d.value) for d in SOUND]
        + [("matrix", d.value) for d in DESIGNS]
        + [("bug", b.name) for b in PLANTED]
        + [("u64", "")]
        + [("baseline", d.value) for d in UNSOUND]
    )
    return sorted(every, key=lambda j: -COST.get(j, 0.05))


def run_all(workers: int = 2) -> Report:
    """Run every job; ``workers=1`` runs in-process (for debugging: its traces
    may differ from the pool's, which are the committed ones).

    Cached per worker count, however it is passed: ``run_all()`` and
    ``run_all(2)`` are one run (``asofcut verify`` asks for the report, then the
    SPEC producers ask again; ``lru_cache`` alone keys those two calls apart).
    """
    return _run_all(workers)


#: a directory the processes of one test run share (pytest-xdist's workers, set by
#: tests/conftest.py): the first to ask for the report computes it, under a lock, and the
#: others wait for it and read it, instead of each spending the solver's time again
SHARE_ENV = "ASOFCUT_PROOFS_SHARE"


@functools.lru_cache(maxsize=1)
def _run_all(workers: int) -> Report:
    share = os.environ.get(SHARE_ENV)
    return _compute(workers) if not share else _shared(Path(share), workers)


def _shared(directory: Path, workers: int) -> Report:
    """The report of ``directory``'s run: read if a process computed it, else computed
    and written (an exclusive lock on the directory serialises the processes)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"report-{workers}.pickle"
    with open(directory / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if path.exists():
            report: Report = pickle.loads(path.read_bytes())
            return report
        report = _compute(workers)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(report))
        os.replace(tmp, path)
        return report


def _compute(workers: int) -> Report:
    t0 = time.perf_counter()
    c0 = time.process_time()
    if workers <= 1:
        ran = [_job(j) for j in jobs()]
    else:
        # One fresh process per job, forked from a server that has imported
        # z3 and the encoding but built no term: a solver's model (hence every
        # rendered trace) depends on the z3 context's history, so a worker that
        # ran other jobs first, or a parent that built terms before forking,
        # would make traces.json depend on scheduling.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["proofs.obligations", "proofs.bv64"])
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 max_tasks_per_child=1) as pool:
            ran = list(pool.map(_job, jobs()))
    done = {j: res for j, res, _ in ran}
    job_cpu = {f"{k}:{a}" if a else k: cpu for (k, a), _, cpu in ran}
    obligations: dict[str, list[Result]] = {d.value: done[("design", d.value)] for d in SOUND}
    obligations["u64"] = done[("u64", "")]
    matrix = honest_matrix({d.value: done[("matrix", d.value)] for d in DESIGNS}, obligations)
    bugs = {b.name: done[("bug", b.name)] for b in PLANTED}
    baselines = {d.value: t for d in UNSOUND if (t := done[("baseline", d.value)]) is not None}
    own = 0.0 if workers <= 1 else time.process_time() - c0
    return Report(obligations, matrix, bugs, time.perf_counter() - t0,
                  sum(job_cpu.values()) + own, job_cpu, baselines)
