"""Markdown for SPEC.md's generated regions (``asofcut spec``).

Deterministic on purpose: statuses and traces, never timings, so a region is
stale only when the proofs' *results* change.
"""

from __future__ import annotations

from collections.abc import Callable

from .encode import ASSUMPTIONS, BUG_TRANSITION, DIVERGENCES, Bug
from .obligations import COLUMNS, HAZARDS, KMAX, K
from .run import run_all


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def obligations() -> str:
    """Every obligation with its solver status (BMC depth K, deepening bound KMAX)."""
    rep = run_all()
    rows = [[design, r.name, r.statement, r.status, "yes" if r.ok else "**NO**"]
            for design, results in rep.obligations.items() for r in results]
    head = (f"BMC depth K = {K} events; shortest counterexamples by iterative deepening "
            f"up to {KMAX}.\n\n")
    asm = "".join(f"- **{k}**: {v}\n" for k, v in ASSUMPTIONS.items())
    return head + asm + "\n" + _table(
        ["design", "obligation", "statement", "status", "as expected"], rows)


def verdict_matrix() -> str:
    """design × hazard, each cell computed by the solver."""
    rep = run_all()
    cols = list(COLUMNS)
    rows = [[d, *[row[c] for c in cols]] for d, row in rep.matrix.items()]
    legend = "".join(
        f"- **{h}** ({hz.title}): drops {hz.breaks or '—'}"
        + (" (arm-side manifest skew only; the check's SSTable list stays current)"
           if hz.fresh_list else "")
        + (f"; turns exclusion {hz.gap} into a gap" if hz.gap else "") + "\n"
        for h, hz in HAZARDS.items() if h in COLUMNS
    )
    words = (f"Each cell: `cex` = an over-count (missing row) within K = {K} events; "
             f"`under-count` = no over-count, but an observed row the check misses "
             f"outside the exclusions the column keeps; `proved` = both UNSAT at K = {K}.\n\n")
    return words + _table(["design", *cols], rows) + "\n" + legend


def counterexamples() -> str:
    """Each dropped assumption's shortest trace, numbered."""
    out = []
    for t in run_all().traces():
        out.append(f"**{t['name']}** — dropped {t['assumption_dropped']}, cut "
                   f"`{t['cut']}`, outcome {t['outcome']} (PK `{t['missing_pk']}`)\n")
        out += [f"{e['n']}. {e['text']}" for e in t["events"]]
        out.append("")
    return "\n".join(out)


def planted_bugs() -> str:
    """Each planted bug and the first obligation it breaks."""
    rep = run_all()
    rows = [[f"`{name}`", BUG_TRANSITION[Bug[name]], Bug[name].value,
             "divergence" if Bug[name] in DIVERGENCES else "proof",
             "yes" if det else "**NO**", ", ".join(failed) or "—"]
            for name, (det, failed, _) in rep.bugs.items()]
    return _table(["bug", "transition", "what it plants", "kind", "detected",
                   "first failure"], rows)


SECTIONS: dict[str, Callable[[], str]] = {
    "obligations": obligations,
    "verdict_matrix": verdict_matrix,
    "counterexamples": counterexamples,
    "planted_bugs": planted_bugs,
}
