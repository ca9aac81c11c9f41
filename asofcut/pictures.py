"""The SVG files under docs/img/ and the SPEC.md regions that embed them.

``docs/img/`` is wholly generated: one timeline per counterexample trace
(:mod:`asofcut.timeline`, from the same ``proofs.run`` report that renders the
counterexamples region and ``proofs/traces.json``) and one rule grid
(:mod:`asofcut.rulegrid`, from ``model.designs``).  ``asofcut spec`` writes
them next to the document's regions; ``asofcut spec --check`` compares every
file byte for byte and also fails on an SVG in ``docs/img/`` that nothing
produces, so a stale, hand-edited or orphaned picture fails CI like a stale
table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import rulegrid, timeline

DOCS = Path(__file__).resolve().parent.parent / "docs"
IMG = "img"  # relative to docs/, as SPEC.md links it
GRID_NAME = "rule-grid.svg"


def file_name(trace: Mapping[str, Any]) -> str:
    """``as_of_cut:needs.A1 (len)`` → ``cex-as_of_cut-A1-len.svg``;
    ``live_tier:baseline`` → ``cex-live_tier-baseline.svg``."""
    design, _, obligation = str(trace["name"]).partition(":")
    label = obligation.removeprefix("needs.")  # "cell H5a" stays: cex-as_of_cut-cell-H5a
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    return f"cex-{design}-{slug}.svg"


def svg_traces() -> list[dict[str, Any]]:
    """Every trace drawn (public: tests hold the cell index to it)."""
    return _traces()


def _traces() -> list[dict[str, Any]]:
    """Every trace drawn: the unsound designs' baselines, each dropped assumption's, then
    the matrix cells no other trace witnesses."""
    return _drawn()[0]


def cell_pictures() -> list[tuple[str, str, str, str, str]]:
    """(design, column, verdict, picture, why) for every violating cell of the matrix."""
    return _drawn()[1]


@functools.cache
def _drawn() -> tuple[list[dict[str, Any]], list[tuple[str, str, str, str, str]]]:
    """The traces and the cell index, from one proofs run.

    A cell's picture is a trace that satisfies what the column keeps: an
    unsound design's baseline (every assumption held, so it fits every
    column), or the sound design's ``needs.*`` trace for the assumption the
    column drops, with the capture the column pins and no stale SSTable list
    where the column keeps the check's list current.  A cell no such trace
    fits gets its own shortest trace (``proofs.cells.cell_traces``).
    """
    from model.hazards import HAZARDS
    from proofs.cells import cell_traces
    from proofs.run import run_all

    rep = run_all()
    traces = rep.baseline_traces() + rep.traces()
    by_name = {t["name"]: t for t in traces}
    rows: list[tuple[str, str, str, str, str]] = []
    own: list[tuple[str, str, str]] = []
    for design, row in rep.matrix.items():
        for col, verdict in row.items():
            if verdict not in ("cex", "under-count"):
                continue
            base = by_name.get(f"{design}:baseline")
            hz = HAZARDS.get(col)
            fit = None
            if base is not None:
                rows.append((design, col, verdict, file_name(base),
                             "fails with every assumption held"))
                continue
            if hz is not None and hz.breaks is not None:
                label = hz.breaks + (f" ({hz.capture.value})" if hz.breaks == "A1" else "")
                t = by_name.get(f"{design}:needs.{label}")
                stale = t is not None and any(e.get("stale_sstable_list") for e in t["events"])
                if t is not None and not (hz.fresh_list and stale):
                    fit = t
                    rows.append((design, col, verdict, file_name(t), f"drops {label}"))
            if fit is None:
                own.append((design, col, verdict))
                rows.append((design, col, verdict, "", ""))
    extra = cell_traces(tuple(own))
    for cell, t in extra.items():
        if t is not None:
            named = {"name": f"{cell[0]}:cell {cell[1]}", **t}
            traces.append(named)
            i = rows.index((*cell, "", ""))
            rows[i] = (*cell, file_name(named), "its own shortest trace (no other fits)")
    return traces, rows


def svg_files(traces: Sequence[Mapping[str, Any]] | None = None) -> dict[str, str]:
    """Every generated picture: path relative to docs/ → SVG text."""
    ts = _traces() if traces is None else traces
    out = {f"{IMG}/{GRID_NAME}": rulegrid.rule_grid_svg()}
    for t in ts:
        name = f"{IMG}/{file_name(t)}"
        if name in out:
            raise timeline.TimelineError(f"two traces draw to {name}")
        out[name] = timeline.timeline_svg(dict(t))
    return out


def stale_files(files: Mapping[str, str], docs: Path = DOCS) -> list[str]:
    """Pictures under ``docs`` that differ from ``files``, are missing, or are orphans."""
    bad = []
    for rel, text in files.items():
        p = docs / rel
        if not p.is_file() or p.read_text(encoding="utf-8") != text:
            bad.append(rel)
    img = docs / IMG
    if img.is_dir():
        bad += [f"{IMG}/{p.name}" for p in img.glob("*.svg") if f"{IMG}/{p.name}" not in files]
    return sorted(bad)


def write_files(files: Mapping[str, str], docs: Path = DOCS) -> list[str]:
    """Write every stale picture and delete orphans; returns what changed."""
    changed = stale_files(files, docs)
    (docs / IMG).mkdir(parents=True, exist_ok=True)
    for rel in changed:
        if rel in files:
            (docs / rel).write_text(files[rel], encoding="utf-8")
        else:
            (docs / rel).unlink()
    return changed


# --------------------------------------------------------------------------
# SPEC.md regions
# --------------------------------------------------------------------------


def rule_grid_region() -> str:
    """The rule grid, embedded."""
    return (f"![Which row positions each design admits under one cut]({IMG}/{GRID_NAME})\n\n"
            f"Each cell is `model.designs.admits` evaluated for one (generation, append "
            f"index) under the cut A = {rulegrid.CUT_A}, N = {rulegrid.CUT_N}; the red "
            f"staircase is the cut.\n")


def timelines_region() -> str:
    """One timeline per counterexample, in the order of the counterexamples region."""
    out = ["How to read them: columns are the numbered events, lanes the base table and the "
           "shard's generations, boxes the batches (key, append index); dashed = committed, "
           "not yet visible; blue = visible in memory; grey = SSTable only. The red staircase "
           "is the arm's cut; at the check the row under test is outlined red (admitted, "
           "never read: a missing row) or orange (read, not admitted: a duplicate).", ""]
    for t in _traces():
        out.append(f"**{t['name']}** (dropped {t.get('assumption_dropped', '?')}, "
                   f"{str(t['outcome']).replace('_', ' ')})")
        out.append("")
        out.append(f"![{t['name']}]({IMG}/{file_name(t)})")
        out.append("")
    out.append("Every violating cell of the verdict matrix and the picture that shows it:")
    out.append("")
    out.append("| design | column | verdict | picture | why this picture |")
    out.append("|---|---|---|---|---|")
    for design, col, verdict, pic, note in cell_pictures():
        shown = f"[{pic}]({IMG}/{pic})" if pic else "—"
        out.append(f"| {design} | {col} | {verdict} | {shown} | {note} |")
    return "\n".join(out) + "\n"


SECTIONS: dict[str, Callable[[], str]] = {
    "rule_grid": rule_grid_region,
    "timelines": timelines_region,
}
