"""docs/SPEC.md's verdict page and hazard table, computed from the tables and the proofs' results.

Nothing here is typed per design or per column: every sentence is read off

* ``model.hazards.ASSUMPTIONS`` (statement, what it protects, who must make it
  true, the requirement) and ``model.hazards.HAZARDS`` (the columns);
* ``proofs.obligations.SOUNDNESS_ASSUMPTIONS`` — the set each design's
  soundness rests on: the induction proves soundness under exactly that set
  and the ``needs.*`` obligations show each member is needed (their shortest
  counterexamples are linked) — and ``DESIGN_EXCLUSIONS`` (where tightness
  has named gaps);
* the solver's matrix (``proofs.run.run_all().matrix``) and the model's
  (``stateful_tests.hazards.expectation_table``), whichever columns they have;
* ``asofcut.lance_map.SHIPPED`` (what Lance does by default).

A design whose solver baseline (every assumption held) is a counterexample is
"unsound, whatever holds"; otherwise it is sound under its
``SOUNDNESS_ASSUMPTIONS``, and a column breaks it when either judge finds a
missing row (an over-count) or a duplicate (an under-count) there.
``tests/test_spec_claims.py`` parses what SPEC.md says back and holds it to
the same sources.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asofcut.specdoc import table
from model import designs as d
from model.designs import Design
from model.hazards import ASSUMPTIONS, HAZARDS, Hazard, broken_by

#: the design Lance ships (the merged successor of PR #7215)
LANCE_DESIGN = Design.FRESH_TIER_WATERMARK
#: the heading the hazard table sits under (linked from the verdict)
HAZARD_ANCHOR = "#hazard-columns"
MISSING, DUPLICATE = "missing rows", "duplicates"


def _report() -> Any:
    from proofs.run import run_all

    return run_all()


def ordered(names: frozenset[str] | set[str]) -> list[str]:
    """Assumption names in the table's order."""
    return [a for a in ASSUMPTIONS if a in names]


def sound_under(design: Design) -> frozenset[str] | None:
    """The assumptions ``design``'s soundness rests on; None: unsound even with all of them."""
    from proofs.obligations import CEX, SOUNDNESS_ASSUMPTIONS

    if _report().matrix[design.value]["baseline"] == CEX:
        return None
    return SOUNDNESS_ASSUMPTIONS[design]


def sound_under_text(design: Design) -> str:
    """The "sound under" words SPEC.md prints (and ``tests/test_spec_claims.py`` parses)."""
    asm = sound_under(design)
    if asm is None:
        return "unsound: no assumption suffices"
    return ", ".join(ordered(asm)) or "no assumption"


@functools.cache
def _model_matrix() -> dict[tuple[str, str], str]:
    from stateful_tests.hazards import expectation_table

    return expectation_table()


def _bad_words() -> tuple[dict[str, str], dict[str, str]]:
    """Solver word → kind, model word → kind (the two judges' words, not retyped)."""
    from proofs.obligations import CEX, UNDER
    from stateful_tests.hazards import PROOF_TO_MACHINE_VERDICT as TO_MODEL

    return ({CEX: MISSING, UNDER: DUPLICATE},
            {TO_MODEL[CEX]: MISSING, TO_MODEL[UNDER]: DUPLICATE})


def cells(design: Design) -> list[tuple[str, str | None, str | None, str | None]]:
    """(column, solver word, model word, kind) for every column of the hazard table."""
    solver_bad, model_bad = _bad_words()
    srow = _report().matrix[design.value]
    out = []
    for h in HAZARDS:
        s, m = srow.get(h), _model_matrix().get((design.value, h))
        kinds = {solver_bad.get(s or ""), model_bad.get(m or "")} - {None}
        kind = MISSING if MISSING in kinds else (DUPLICATE if kinds else None)
        out.append((h, s, m, kind))
    return out


@functools.cache
def _cell_pictures() -> dict[tuple[str, str], str]:
    from asofcut.pictures import IMG, cell_pictures

    return {(dz, col): f"{IMG}/{pic}" for dz, col, _, pic, _ in cell_pictures() if pic}


def _needs_picture(design: Design, assumption: str) -> str | None:
    from asofcut.pictures import IMG, file_name

    for t in _report().traces():
        label = str(t["name"]).partition(":needs.")[2]
        if t["name"].startswith(f"{design.value}:") and label.split(" (")[0] == assumption:
            return f"{IMG}/{file_name(t)}"
    return None


def _cell_link(design: Design, column: str, solver: str | None, model: str | None) -> str:
    pic = _cell_pictures().get((design.value, column))
    judged = []
    if solver is not None:
        judged.append(f"z3: {solver}")
    if model is not None:
        judged.append(f"model: {model}")
    what = "; ".join(judged)
    if pic:
        return f"[{column}]({pic}) ({what})"
    return f"[{column}]({HAZARD_ANCHOR}) ({what})"


def _requirement(a: str) -> str:
    x = ASSUMPTIONS[a]
    return f"**{a}** — the {x.owner}: {x.requirement}"


def _exclusion(design: Design, e: str) -> str:
    cols = [h.name for h in HAZARDS.values() if h.gap == e]
    name = f"{e} ({HAZARDS[e].title})" if e in HAZARDS else f"{e} changed ({', '.join(cols)})"
    closing = []
    results = {r.name: r for r in _report().obligations.get(design.value, [])}
    for a, x in ASSUMPTIONS.items():
        if x.protects != "tightness" or not any(HAZARDS[h].gap == e for h in broken_by(a)):
            continue
        proof = results.get(f"tight.{a}")
        status = f" (`tight.{a}`: {proof.status})" if proof is not None else ""
        closing.append(f"closed under {a} (the {x.owner}: {x.requirement}){status}")
    return name + (f", {'; '.join(closing)}" if closing else "")


def _design_block(design: Design) -> list[str]:
    what = (d.PREDICATES[design].__doc__ or "").strip().splitlines()[0]
    asm = sound_under(design)
    rows = cells(design)
    bad = {k: [r for r in rows if r[3] == k] for k in (MISSING, DUPLICATE)}
    head = f"**`{design.value}`** — {what}"
    if asm is None:
        base = _cell_pictures().get((design.value, "baseline"))
        every = len(bad[MISSING]) == len(rows)
        where = "in every column" if every else ", ".join(r[0] for r in bad[MISSING])
        return [f"{head} **Unsound: no assumption suffices**: missing rows with every assumption "
                f"held ([shortest trace]({base})), {where}.", ""]
    out = [head, ""]
    # columns that lose rows although they break none of the assumptions listed: the
    # "sound if" below does not cover them, and says so
    uncovered = [r[0] for r in bad[MISSING] if HAZARDS[r[0]].breaks not in asm]
    but = (f" — **except** {', '.join(uncovered)}: missing rows with every listed assumption "
           "held (see below)" if uncovered else "")
    if asm:
        out.append(f"- sound (never a missing row) if every one of these holds{but}:")
        for a in ordered(asm):
            pic = _needs_picture(design, a)
            out.append(f"    - {_requirement(a)}" + (f" ([without it]({pic}))" if pic else ""))
    else:
        out.append(f"- sound (never a missing row) under **no assumption** of the table{but}")
    excl = _exclusions(design)
    out.append("- tight (never a duplicate) except: "
               + ("; ".join(_exclusion(design, e) for e in excl) if excl else "**no exclusion**"))
    for k in (MISSING, DUPLICATE):
        if bad[k]:
            out.append(f"- {k} under: " + ", ".join(_cell_link(design, *r[:3]) for r in bad[k]))
    return [*out, ""]


def _exclusions(design: Design) -> tuple[str, ...]:
    from proofs.obligations import DESIGN_EXCLUSIONS

    return DESIGN_EXCLUSIONS.get(design, ())


def _shipped_rows() -> list[list[str]]:
    from asofcut.lance_map import SHIPPED

    rows = []
    by_col = {c[0]: c for c in cells(LANCE_DESIGN)}
    for s in SHIPPED.values():
        a = ASSUMPTIONS[s.assumption]
        shown = []
        for col in s.columns:
            _, sv, mv, kind = by_col[col]
            shown.append(f"{_cell_link(LANCE_DESIGN, col, sv, mv)}: {kind or 'none found'}")
        rows.append([s.setting, f"{s.default} ({', '.join(s.read_at)})",
                     f"{s.assumption} ({a.protects}): {s.holds}",
                     f"the {a.owner}: {a.requirement}", "; ".join(shown)])
    return rows


def verdict() -> str:
    """The one-page verdict: per design, then Lance as shipped."""
    lines = [
        "Computed, not typed: \"sound if\" is the set of assumptions the induction proves "
        "soundness under (`proofs.obligations.SOUNDNESS_ASSUMPTIONS`; dropping any one gives "
        "the linked counterexample), stated as the requirement on whoever owns it "
        "(`model.hazards.ASSUMPTIONS`); \"tight except\" is the design's named exclusions "
        "(`DESIGN_EXCLUSIONS`); a column is listed when the solver's matrix (z3) or the "
        "model's (model) finds a missing row or a duplicate there (links: the counterexample's "
        "timeline, or the hazard table when the column has no trace).",
        "",
    ]
    for design in Design:
        lines += _design_block(design)
    lines += [
        f"**Lance as shipped** (`{LANCE_DESIGN.value}`, the merged successor; facts from "
        "`asofcut.lance_map.SHIPPED`, each read in Lance's source at the version named, see "
        "docs/LANCE_MAP.md):",
        "",
        table(["Lance", "default (read at)", "so the assumption", "requirement to make it hold",
               f"what `{LANCE_DESIGN.value}` then does"], _shipped_rows()),
    ]
    return "\n".join(lines)


def _lifts(h: Hazard) -> str:
    parts = []
    if h.breaks:
        parts.append(f"drops {h.breaks}")
    if h.capture.value != "visible_count":
        parts.append(f"capture `{h.capture.value}`")
    if h.fresh_list:
        parts.append("keeps the check's SSTable list current")
    if h.gap:
        parts.append(f"turns exclusion {h.gap} into a gap")
    return "; ".join(parts) or "—"


def hazards() -> str:
    """Every row of the hazard table, then the model's matrix over all of them."""
    body = [[h.name, h.title, h.lance, _lifts(h), "z3 and model" if h.solver else "model"]
            for h in HAZARDS.values()]
    designs = [dz.value for dz in Design]
    # one row per column (17 and growing), one column per design: it stays a page wide
    matrix = [[h, *[_model_matrix()[(dz, h)] for dz in designs]] for h in HAZARDS]
    return (
        "Generated from `model.hazards.HAZARDS`, one row per matrix column; \"lifts\" is "
        "everything the column changes against the baseline (the solver's column is built from "
        "these fields alone).\n\n"
        + table(["column", "what", "in Lance", "lifts", "judged by"], body)
        + "\nThe model's verdict per cell (`stateful_tests.hazards.expectation_table`: the "
        "worse of the baseline's and the column's shortest model scenario; the machine must "
        "agree):\n\n"
        + table(["column", *designs], matrix)
    )


SECTIONS: dict[str, Callable[[], str]] = {
    "verdict": verdict,
    "hazards": hazards,
}
