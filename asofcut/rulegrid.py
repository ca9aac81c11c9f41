"""Generation × append index, shaded by each design's rule (one SVG, stdlib only).

Every cell is one row position (generation g, append index i) of one shard
under one fixed cut; its shade is what ``model.designs.admits`` answers for
that design, so the picture is the predicates evaluated, not retyped.  One
panel per (design, where the row lives at the check): in memory and visible,
in memory but not yet visible, and SSTable only.  The red staircase is the
cut (A, N) drawn the same way as in the timelines.

The fixed cut: ``A = 3, N = 2``, writer epoch 1; the arm read generations 1
and 2 whole (``GEN_SIZE`` batches each) and the first N batches of
generation 3, which is what ``exact_cut`` records; ``wal_position_map`` is
shown as production runs it (an empty WAL map: no batch is mapped).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from model.designs import Design, RowFacts, ShardCut, admits

from .timeline import CUT_RED, FONT

GENERATIONS = (1, 2, 3, 4, 5)
INDICES = (0, 1, 2, 3, 4)
CUT_A, CUT_N, EPOCH = 3, 2, 1
GEN_SIZE = len(INDICES)
CUT = ShardCut(CUT_A, CUT_N, epoch=EPOCH,
               observed=tuple((g, GEN_SIZE if g < CUT_A else CUT_N)
                              for g in GENERATIONS if g <= CUT_A))

#: panel → (row in memory, row visible, words)
PANELS: tuple[tuple[bool, bool, str], ...] = (
    (True, True, "memtable, visible"),
    (True, False, "memtable, not yet visible"),
    (False, True, "SSTable only"),
)

CELL = 24
PANEL_GAP = 70
LEFT = 200
TOP = 150
ROW_GAP = 40
ADMIT, EXCLUDE = "#2b6cb0", "#f1f1f1"


def admitted(design: Design, in_memory: bool, visible: bool, g: int, i: int) -> bool:
    """The design's predicate for one cell of the grid."""
    row = RowFacts(in_memory=in_memory, generation=g, append_index=i, visible=visible,
                   epoch=EPOCH)
    return admits(design, row, CUT)


def _text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "start",
          weight: str = "normal", fill: str = "#222222") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}" {FONT}>{escape(s)}</text>')


def rule_grid_svg() -> str:
    """The grid: one row of panels per design."""
    pw = len(INDICES) * CELL
    ph = len(GENERATIONS) * CELL
    width = max(LEFT + len(PANELS) * (pw + PANEL_GAP) + 40, 760)
    height = TOP + len(Design) * (ph + ROW_GAP) + 50
    out = [_text(12, 24, f"Which row positions each design's check admits, under the cut "
                         f"A = {CUT_A}, N = {CUT_N}", size=16, weight="bold"),
           _text(12, 46, "rows: the row's generation g (1 at top); columns: its append index i",
                 size=12, fill="#444444"),
           _text(12, 64, "blue = admitted (model.designs.admits, evaluated), grey = excluded; "
                         "red staircase = the cut", size=12, fill="#444444"),
           _text(12, 82, f"exact_cut: the arm recorded gens 1–{CUT_A - 1} whole and {CUT_N} "
                         f"batches of gen {CUT_A}, same writer epoch", size=12, fill="#444444"),
           _text(12, 100, "wal_position_map: as in production, an empty WAL map (no batch "
                          "mapped)", size=12, fill="#444444")]
    for p, (_, _, words) in enumerate(PANELS):
        x = LEFT + p * (pw + PANEL_GAP)
        out.append(_text(x + pw / 2, TOP - 14, words, size=12, anchor="middle", weight="bold"))
    for k, design in enumerate(Design):
        y0 = TOP + k * (ph + ROW_GAP)
        out.append(_text(12, y0 + ph / 2 + 4, design.value, size=13, weight="bold"))
        for p, (in_mem, vis, _) in enumerate(PANELS):
            x0 = LEFT + p * (pw + PANEL_GAP)
            for gi, g in enumerate(GENERATIONS):
                if p == 0:
                    out.append(_text(x0 - 6, y0 + gi * CELL + 15, f"g{g}", size=10,
                                     anchor="end", fill="#555555"))
                for ii, i in enumerate(INDICES):
                    fill = ADMIT if admitted(design, in_mem, vis, g, i) else EXCLUDE
                    out.append(f'<rect x="{x0 + ii * CELL}" y="{y0 + gi * CELL}" '
                               f'width="{CELL - 2}" height="{CELL - 2}" fill="{fill}" '
                               f'stroke="#bbbbbb" stroke-width="0.5"/>')
            for ii, i in enumerate(INDICES):
                out.append(_text(x0 + ii * CELL + CELL / 2 - 1, y0 + ph + 12, str(i), size=9,
                                 anchor="middle", fill="#555555"))
            # the cut (A, N): a staircase between g < A (whole) and g = A (prefix)
            a_top = y0 + (CUT_A - GENERATIONS[0]) * CELL - 1
            a_bot = a_top + CELL
            xn = x0 + CUT_N * CELL - 1
            out.append(f'<polyline points="{x0 - 3},{a_bot} {xn},{a_bot} {xn},{a_top} '
                       f'{x0 + pw + 2},{a_top}" fill="none" stroke="{CUT_RED}" '
                       f'stroke-width="2.5"/>')
    body = "\n".join(out)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">\n'
            f"<title>Rule grid: generation × append index per design</title>\n"
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>\n{body}\n</svg>\n')
