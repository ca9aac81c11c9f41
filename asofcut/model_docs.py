"""docs/SPEC.md's model-generated regions, rendered from the tables the model runs on.

Rendering lives here, not in ``model/``: the model is only the specification.

``SECTIONS`` maps a region name to its producer; producers are pure (no I/O),
so ``asofcut spec`` can merge them with proofs/' producers and splice them
into the document (``asofcut spec --check`` fails CI when SPEC.md no longer
matches the model).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from asofcut.specdoc import table
from model import designs as d
from model.designs import GENERATION_RULES, Capture, Design, Rel, Source
from model.events import EVENTS
from model.hazards import ASSUMPTIONS, broken_by
from model.invariants import HOLDS

#: What each design's cut carries and what a shard absent from it means.  What its
#: soundness rests on is the proofs' result (``asofcut.verdict.sound_under``), not typed here.
DESIGN_NOTES: dict[Design, tuple[str, str]] = {
    # design: (cut carried, shard absent from the cut)
    Design.LIVE_TIER: ("nothing", "live tier"),
    Design.WAL_POSITION_MAP: ("one past the highest WAL position read", "live tier"),
    Design.AS_OF_CUT: ("`AsOfCut(active_generation A, active_batch_count N)`", "live tier"),
    Design.FRESH_TIER_WATERMARK: ("`AsOfCut(A, N)`", "live tier, visible rows only"),
    Design.EXACT_CUT: ("writer epoch + batches read per generation", "excluded"),
    Design.PINNED_CUT: ("WAL-position ranges read + the base version pinned", "excluded"),
}  # fmt: skip


def _first_line(fn: Callable[..., object]) -> str:
    return (inspect.getdoc(fn) or "").splitlines()[0]


def lifecycle() -> str:
    """The event table (model/events.py), one row per event."""
    body = []
    for e in EVENTS.values():
        moves = " / ".join(s.value for s in e.source) or "—"
        arrow = f"{moves} → {e.target.value}" if e.target else "—"
        body.append([f"`{e.name}`", arrow, e.precondition, e.effect, e.hazard])
    return (
        "Generated from `model.events.EVENTS`; the functions it names are the model.\n\n"
        + table(["event", "from → to", "precondition", "effect", "hazard it enables"], body)
    )


def designs() -> str:
    """PR #7215's rule table, then one line per design."""
    from asofcut.verdict import sound_under_text  # runs the proofs: imported when rendered

    rules = [
        [f"{src.value}", rel.value, GENERATION_RULES[(src, rel)].value]
        for src in Source
        for rel in Rel
    ]
    per = [
        [f"`{k.value}`", *DESIGN_NOTES[k], _first_line(d.PREDICATES[k]), sound_under_text(k)]
        for k in Design
    ]
    variants = ", ".join(f"`{c.value}`" for c in Capture)
    return (
        "Generation rules of `as_of_cut` and `fresh_tier_watermark` "
        "(`model.designs.GENERATION_RULES`; g = row's generation, A = cut's active generation, "
        "prefix = append index < N):\n\n"
        + table(["source at check", "g vs A", "admitted"], rules)
        + "\nThe designs (`model.designs.admit_*`):\n\n"
        + table(["design", "cut carries", "shard absent", "admits",
                 "sound under (computed by the proofs)"], per)
        + f"\nCapture variants for every count a cut carries: {variants}.\n"
    )


def assumptions() -> str:
    """The assumption table (model/hazards.py), with the hazards that break each
    (computed from the hazard table) and the model predicate that checks it."""
    body = [
        [a.name, a.statement, a.protects, a.owner, a.requirement,
         ", ".join(broken_by(a.name)) or "—", f"`{HOLDS[a.name].__name__}`"]
        for a in ASSUMPTIONS.values()
    ]
    return table(["", "assumption", "protects", "who must make it true", "requirement",
                  "broken by (hazard columns)", "model predicate"], body)


SECTIONS: dict[str, Callable[[], str]] = {
    "lifecycle": lifecycle,
    "designs": designs,
    "assumptions": assumptions,
}
