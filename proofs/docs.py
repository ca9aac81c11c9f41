"""Markdown for SPEC.md's generated regions (``asofcut spec``).

Deterministic on purpose: statuses and traces, never timings, so a region is
stale only when the proofs' *results* change.
"""

from __future__ import annotations

from collections.abc import Callable

from model.designs import Capture

from .encode import BUG_TRANSITION, DIVERGENCES, Bug
from .obligations import COLUMNS, HAZARDS, KMAX, NO_CEX, PROVED, K, cell_knobs
from .run import run_all


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table (a ``|`` inside a cell is escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def obligations() -> str:
    """Every obligation with its solver status (BMC depth K, deepening bound KMAX)."""
    rep = run_all()
    rows = [[design, r.name, r.statement, r.status, "yes" if r.ok else "**NO**"]
            for design, results in rep.obligations.items() for r in results]
    head = (f"BMC depth K = {K} ({K_COUNTS}); shortest counterexamples by iterative "
            f"deepening up to {KMAX}. The assumptions named (`needs.*`) are the rows of the "
            "assumption table above, the one place they are stated.\n\n")
    return head + md_table(
        ["design", "obligation", "statement", "status", "as expected"], rows)


#: what the bound K counts (the encoding: ``proofs/encode.py``)
K_COUNTS = ("K counts events of the encoded transition system: one shard, one tracked row R "
            "(the row under test; the rest of the shard is counters), every tier event and the "
            "arm's own steps (the arm, an early SSTable-list read, a re-read of its counts) "
            "counted, `noop` allowed, the check after the last")

#: the matrix's words → what they mean; a word is matched by its start, so a word that
#: carries its bound ("no counterexample within K = 6") needs no entry per K
WORDS: dict[str, str] = {
    "cex": "an over-count (a missing row) in some trace of at most K events",
    "under-count": "no over-count within K, but an observed row the check misses outside the "
                   "exclusions the column keeps (a duplicate)",
    PROVED: "the design's inductive proof (every ordering, any number of events) ran, held, "
            "and covers the cell: the cell keeps every assumption the induction assumed and "
            "pins no capture or tier knob the induction did not allow",
    NO_CEX: "neither an over-count nor an under-count in any trace of at most K events "
            "(bounded model checking, and nothing more: not a proof for longer traces)",
}


def word_meaning(word: str) -> str:
    """The legend entry for one word of the matrix (longest matching start)."""
    hits = [w for w in WORDS if word == w or word.startswith(w + " ")]
    if not hits:
        raise ValueError(f"the verdict matrix prints {word!r}, which the legend does not define")
    return WORDS[max(hits, key=len)]


def verdict_matrix() -> str:
    """design × hazard, each cell computed by the solver, with a legend for every word."""
    rep = run_all()
    cols = list(COLUMNS)
    rows = [[d, *[row[c] for c in cols]] for d, row in rep.matrix.items()]
    legend = "".join(
        f"- **{h}** ({hz.title}): drops {hz.breaks or '—'}"
        + (f" (capture `{hz.capture.value}`)" if hz.capture is not Capture.VISIBLE_COUNT
           else "")
        + (" (arm-side manifest skew only; the check's SSTable list stays current)"
           if hz.fresh_list else "")
        + (f"; turns exclusion {hz.gap} into a gap" if hz.gap else "")
        + (f"; switches {', '.join(k for k, on in cell_knobs(h) if on)}"
           if any(on for _, on in cell_knobs(h)) else "") + "\n"
        for h, hz in HAZARDS.items() if h in COLUMNS
    )
    used = sorted({w for row in rep.matrix.values() for w in row.values()})
    words = (f"K = {K}: {K_COUNTS}.\n\n"
             + "".join(f"- `{w}`: {word_meaning(w)}\n" for w in used) + "\n")
    knobs = ("\nKnobs: `two` = the arm reads its counts at a second instant (H15); `dav` = "
             "rows visible before their WAL write is durable, a crash loses them and new "
             "writes reuse their positions (H9); `skip` = a failed flush leaves its generation "
             "in memory and later flushes pass it by, a crash then does not replay it (H14); "
             "`pap` = puts are published at once, so only a tombstone waits in a lagged tail, "
             "and the over-count asked for is a tombstone's (H13: its own query, not H3's).\n")
    return words + md_table(["design", *cols], rows) + "\n" + legend + knobs


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
    return md_table(["bug", "transition", "what it plants", "kind", "detected",
                    "first failure"], rows)


SECTIONS: dict[str, Callable[[], str]] = {
    "obligations": obligations,
    "verdict_matrix": verdict_matrix,
    "counterexamples": counterexamples,
    "planted_bugs": planted_bugs,
}
