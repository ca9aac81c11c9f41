"""Shortest counterexamples for the designs that fail with every assumption held.

``needs.*`` traces (``proofs.obligations.assumption_drops``) show what each
assumption protects in the sound designs; the unsound designs have no
assumption to drop — they fail in the verdict matrix's baseline column, with
every soundness assumption held (``BASELINE_HELD``).  This module gives each
of them its shortest baseline trace, so that SPEC.md can draw the failure the
as-of cut was introduced to fix.
A hazard column only lifts assumptions, so the baseline trace witnesses
every cell of an unsound design's row.

Run as a job of ``proofs.run`` (a fresh process per job: a solver's model,
hence the trace, depends on the z3 context's history).

:func:`cell_traces` does the same for single matrix cells that no
``needs.*`` or baseline trace witnesses (``asofcut.pictures`` asks for them):
the cell's own query, deepened to its shortest witness.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import z3

from model.designs import Capture, Design

from .encode import ALL, ASSUMPTIONS, CAP, Config, Knobs, State, Step, Variant
from .obligations import (
    UNSOUND,
    Goal,
    cell_goals,
    over_count,
    shortest,
)
from .obligations import cell_setup as cell_setup  # a cell's setup: the matrix verdict's own

#: the label a baseline trace carries where a ``needs.*`` trace names its dropped assumption
#: (the names are the set it holds, in the assumption table's order: never retyped as a range)
BASELINE_HELD = ALL - {"A5"}
BASELINE = f"nothing ({', '.join(a for a in ASSUMPTIONS if a in BASELINE_HELD)} all held)"


def baseline_trace(design: Design) -> dict[str, Any] | None:
    """The shortest over-count of ``design`` with every soundness assumption held."""
    if design not in UNSOUND:
        raise ValueError(f"{design.value} is not an unsound design: it has no baseline trace")
    trace, _ = shortest(Variant(design), BASELINE_HELD, over_count)
    if trace is not None:
        trace["assumption_dropped"] = BASELINE
    return trace


# --------------------------------------------------------------------------
# One violating matrix cell's own shortest trace
# --------------------------------------------------------------------------

Cell = tuple[str, str, str]  # (design, column, verdict)


def _cell_extra(cap: Capture | None, fresh_list: bool,
                ) -> Callable[[list[State], list[Step], Config], z3.BoolRef]:
    def extra(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        parts = [z3.BoolVal(True)]
        if cap is not None:
            parts.append(cfg.cap == CAP[cap])
        if fresh_list:
            parts.append(z3.Not(cfg.stale))
        return z3.And(parts)

    return extra


def cell_goal(design: Design, column: str, verdict: str,
              ) -> tuple[frozenset[str], Goal, Callable[..., z3.BoolRef], Knobs]:
    """The query whose witness shows the cell's verdict: an over-count for ``cex`` (a
    tombstone's where the column publishes puts at once), an under-count outside the
    column's exclusions for ``under-count``; and the knobs the column pins."""
    base, cap, fresh, excl, knobs = cell_setup(design, column)
    over, under = cell_goals(knobs, excl)
    goal: Goal = over if verdict == "cex" else under
    return base, goal, _cell_extra(cap, fresh), knobs


def cell_trace(cell: Cell) -> dict[str, Any] | None:
    """The shortest trace of one violating cell."""
    design, column, verdict = cell
    d = Design(design)
    base, goal, extra, knobs = cell_goal(d, column, verdict)
    trace, _ = shortest(Variant(d), base, goal, extra=extra, knobs=knobs)
    if trace is not None:
        trace["assumption_dropped"] = f"column {column}"
    return trace


def _job(cell: Cell) -> tuple[Cell, dict[str, Any] | None]:
    return cell, cell_trace(cell)


@functools.cache
def cell_traces(cells: tuple[Cell, ...], workers: int = 2) -> dict[Cell, dict[str, Any] | None]:
    """Each cell's shortest trace, one fresh process per cell (as ``proofs.run``, so a
    trace does not depend on what the process solved before)."""
    if not cells:
        return {}
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["proofs.obligations"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                             max_tasks_per_child=1) as pool:
        return dict(pool.map(_job, cells))
