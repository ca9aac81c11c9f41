"""One counterexample trace as an SVG timeline (stdlib only).

A trace (``proofs.run.Report.traces``, committed as ``proofs/traces.json``)
is a list of numbered events over one shard ``s``.  This module replays it on
a small picture state — every batch with its key, generation, append index,
visibility and where it lives — and draws that state after every event:

* **columns** are the events, numbered as in the trace (the arm's and the
  check's columns are tinted);
* **lanes** are the base table (top) and the shard's generations, one each;
* **boxes** are batches with their key and append index: dashed = committed,
  not yet visible; blue = visible in memory; blue with a grey rim = flushed
  but still in memory; grey = SSTable only; in the base lane, the original
  base rows and whatever compaction merged in;
* **the cut** is a red staircase from the arm onwards: every generation above
  it (lower generations) and, in the cut's generation A, the first N append
  positions lie inside it (the memtable rule; an SSTable of generation A is
  excluded, see the rule grid);
* **the row under test** ``r`` is bold; at the check it is outlined in red
  (admitted, never read: a missing row) or orange (read, not admitted: a
  duplicate), and the base row the check drops or keeps is marked.

The replay is checked against the solver: the check event carries where the
solver's model has ``r`` at the end (generation, append index, status), and
a picture that disagrees raises :class:`TimelineError` instead of drawing a
wrong state.  Rendering is deterministic (no timestamps, fixed number
formatting), so ``asofcut spec --check`` can compare the files byte for byte.
"""

from __future__ import annotations

import copy
import textwrap
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

# --------------------------------------------------------------------------
# Geometry and styles (one place)
# --------------------------------------------------------------------------

LABEL_W = 118  # left column: lane names
HEAD_H = 80  # column headers (event number, op, epoch, note, cut)
TITLE_H = 46
LANE_H = 66
BOX_W, BOX_H, BOX_GAP = 40, 30, 8
CELL_PAD = 10
MIN_COL_W = 160
FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""

#: where a batch lives → (fill, stroke, dash, legend words)
PLACES: dict[str, tuple[str, str, str, str]] = {
    "invisible": ("#ffffff", "#555555", "4 3", "in memory, committed, not yet visible"),
    "mem": ("#cfe2ff", "#2b5797", "", "in memory, visible"),
    "ret": ("#cfe2ff", "#8c8c8c", "", "flushed, still in memory"),
    "sst": ("#d9d9d9", "#595959", "", "SSTable only"),
    "base": ("#f3ead2", "#8a6d1f", "", "base table row"),
}
MISSING_RED, DUP_ORANGE, CUT_RED, OK_GREEN = "#d62728", "#e67e00", "#c00000", "#1a7f37"

#: designs whose check ignores the cut's (A, N): no staircase is drawn for them
CUTLESS = frozenset({"live_tier", "wal_position_map"})

#: the solver's row status (proofs/encode.py) → the picture's place of a batch
STATUS_PLACE = {"mem": ("mem", "invisible"), "ret": ("ret",), "sst": ("sst",), "gone": ("base",)}


class TimelineError(Exception):
    """The trace cannot be drawn faithfully (an unknown event, or a replay that
    disagrees with where the solver put the row under test)."""


# --------------------------------------------------------------------------
# Replaying a trace on the picture state
# --------------------------------------------------------------------------


@dataclass
class Batch:
    """One batch of the picture: a key at a row position."""

    pk: str
    generation: int  # 0 in the base table
    index: int
    place: str  # a key of PLACES
    is_r: bool = False
    original_base: bool = False
    tombstone: bool = False
    durable: bool = True  # False: visible, but its WAL write has not landed (H9)

    def label(self) -> str:
        """Key, then where it came from: ``#i`` in a generation, ``base`` or ``g.i``."""
        if self.original_base:
            return "base"
        if self.place == "base":
            return f"g{self.generation}.{self.index}"
        return f"#{self.index}"


@dataclass
class Frame:
    """The picture state after one event."""

    batches: list[Batch]
    status: dict[int, str]  # generation → lifecycle word shown in its lane
    epoch: int
    cut: dict[str, Any] | None  # None until the arm has run
    reads_r: bool | None = None
    manifest: list[int] | None = None  # the arm's early SSTable list (H5a)
    note: str = ""


@dataclass
class _State:
    batches: list[Batch] = field(default_factory=list)
    status: dict[int, str] = field(default_factory=dict)
    current: int = 1
    epoch: int = 1
    cut: dict[str, Any] | None = None
    reads_r: bool | None = None
    manifest: list[int] | None = None


def _check_row(trace: dict[str, Any], st: _State, ev: dict[str, Any]) -> None:
    """The replay must put ``r`` where the solver's model has it."""
    row = ev.get("row")
    if row is None:
        return
    rs = [b for b in st.batches if b.is_r]
    where = f"{trace['name']}, event {ev['n']}"
    if len(rs) != 1:
        raise TimelineError(f"{where}: the replay holds {len(rs)} copies of the row under test")
    r = rs[0]
    places = STATUS_PLACE.get(row["status"])
    if places is None or r.place not in places:
        raise TimelineError(f"{where}: solver has r {row['status']!r}, replay has {r.place!r}")
    if row["status"] != "gone" and (r.generation, r.index) != (row["generation"],
                                                               row["append_index"]):
        raise TimelineError(
            f"{where}: solver has r at gen {row['generation']} idx {row['append_index']}, "
            f"replay at gen {r.generation} idx {r.index}")
    if row.get("epoch", st.epoch) != st.epoch:
        raise TimelineError(f"{where}: solver epoch {row['epoch']}, replay epoch {st.epoch}")


def _in_memory(st: _State) -> list[Batch]:
    return [b for b in st.batches if b.place in ("mem", "invisible", "ret")]


def _apply(trace: dict[str, Any], st: _State, ev: dict[str, Any]) -> str:
    """Apply one event; returns a short note drawn under the column header."""
    op = ev["op"]
    dav = trace.get("durability") == "after_visible"  # H9: visible at once, durable at sync
    lagged = (trace.get("visibility", "lagged") == "lagged" and not dav
              and not trace.get("publish_after_put"))
    if op in ("put", "delete"):
        if ev.get("creates_shard"):
            st.current, st.status = 1, {1: "active"}
        if ev["generation"] != st.current:
            raise TimelineError(f"{trace['name']}, event {ev['n']}: {op} into gen "
                                f"{ev['generation']}, replay's active gen is {st.current}")
        st.batches.append(Batch(ev["pk"], ev["generation"], ev["append_index"],
                                "invisible" if lagged else "mem",
                                is_r=bool(ev.get("row_under_test")),
                                tombstone=op == "delete", durable=not dav))
        return "not yet durable" if dav else ""
    if op == "sync":
        for b in st.batches:
            b.durable = True
        return "WAL writes land: durable"
    if op == "fail_flush":
        g = ev.get("generation")
        if g is not None:
            st.status[g] = "flush failed"
        return "flush fails: stays in memory"
    if op == "publish":
        for b in st.batches:
            if b.place == "invisible":
                b.place = "mem"
        return ""
    if op == "freeze":
        g = ev["generation"]
        st.status[g] = "frozen"
        st.current = g + 1
        st.status[st.current] = "active"
        return ""
    if op == "flush":
        g = ev["generation"]
        for b in st.batches:  # an SSTable makes rows durable: the WAL lands first
            b.durable = True
        at_flush = trace.get("release") == "at_flush"
        for b in st.batches:
            if b.generation == g and b.place in ("mem", "invisible"):
                b.place = "sst" if at_flush else "ret"
        st.status[g] = "SSTable" if at_flush else "flushed"
        return "released at flush" if at_flush else "kept in memory"
    if op == "release":
        for b in st.batches:
            if b.place == "ret":
                b.place = "sst"
        for g, s in st.status.items():
            if s == "flushed":
                st.status[g] = "SSTable"
        return ""
    if op == "compact":
        # merged into the base table in ascending generation order: a key's
        # newer version replaces the base row it supersedes
        for b in sorted((b for b in st.batches if b.place in ("sst", "ret")),
                        key=lambda b: (b.generation, b.index)):
            st.status[b.generation] = "compacted"
            st.batches = [o for o in st.batches if not (o.place == "base" and o.pk == b.pk)]
            b.place = "base"
            st.batches.append(st.batches.pop(st.batches.index(b)))
        return ""
    if op == "crash":
        lost = [b for b in _in_memory(st) if not b.durable]
        st.batches = [b for b in st.batches if b not in lost]
        for b in st.batches:
            if b.place == "ret":
                b.place = "sst"
        target = ev["generation"]
        unflushed = sorted(_in_memory(st), key=lambda b: (b.generation, b.index))
        for g in {b.generation for b in unflushed}:
            st.status[g] = "replayed"
        for i, b in enumerate(unflushed):
            b.generation, b.index, b.place = target, i, "mem"
        st.status[target] = "active"
        st.current, st.epoch = target, ev["epoch"]
        if lost:  # the WAL writes that never landed (H9): their positions are free again
            return f"lost: {', '.join(b.pk for b in lost)} (not durable)"
        return f"replayed into gen {target}"
    if op == "manifest":
        st.manifest = sorted({b.generation for b in st.batches if b.place in ("sst", "ret")})
        return "arm's SSTable list: " + (", ".join(f"g{g}" for g in st.manifest) or "empty")
    if op == "arm":
        st.cut = dict(ev["cut"])
        st.reads_r = bool(ev.get("reads_r"))
        return f"capture: {ev.get('capture', '?')}"
    if op == "read_n":
        if st.cut is None:
            raise TimelineError(f"{trace['name']}, event {ev['n']}: N re-read before the arm")
        st.cut["active_batch_count"] = ev["active_batch_count"]
        return f"N := {ev['active_batch_count']}"
    if op == "check":
        _check_row(trace, st, ev)
        return "stale SSTable list" if ev.get("stale_sstable_list") else ""
    raise TimelineError(f"{trace['name']}, event {ev['n']}: no picture for op {op!r}")


def frames(trace: dict[str, Any]) -> list[Frame]:
    """The picture state after each event of ``trace``."""
    st = _State(batches=[Batch(pk, 0, i, "base", original_base=True)
                         for i, pk in enumerate(trace.get("base_pks", []))])
    out = []
    for ev in trace["events"]:
        note = _apply(trace, st, ev)
        out.append(Frame(copy.deepcopy(st.batches), dict(st.status), st.epoch,
                         None if st.cut is None else dict(st.cut), st.reads_r,
                         st.manifest, note))
    return out


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------

_OP_WORDS = {
    "put": "put", "delete": "delete", "publish": "publish", "freeze": "freeze",
    "flush": "flush", "release": "release", "compact": "compact", "crash": "crash + replay",
    "manifest": "manifest read", "arm": "read arm", "read_n": "arm re-reads N",
    "sync": "sync WAL", "fail_flush": "flush fails",
    "check": "check",
}


def _op_label(ev: dict[str, Any]) -> str:
    word = _OP_WORDS.get(ev["op"], ev["op"])
    if ev["op"] in ("put", "delete"):
        return f"{word} {ev['pk']}"
    if ev["op"] in ("freeze", "flush"):
        return f"{word} g{ev['generation']}"
    return word


def _cut_words(cut: dict[str, Any] | None) -> str:
    if cut is None:
        return ""
    if cut.get("kind") == "AsOfCut":
        return f"cut A={cut['active_generation']}, N={cut['active_batch_count']}"
    if cut.get("kind") == "ExactCut":
        a, n = cut["active"]
        return f"cut: epoch {cut['epoch']}, ({a}, {n})"
    if cut.get("kind") == "PinnedCut":
        return f"cut: WAL read < {cut['horizon']}"
    return "no cut entry for s"


def _cut_position(cut: dict[str, Any] | None) -> tuple[int, int] | None:
    """(generation, count) the staircase is drawn at, if the cut has one."""
    if cut is None:
        return None
    if cut.get("kind") == "AsOfCut":
        return cut["active_generation"], cut["active_batch_count"]
    if cut.get("kind") == "ExactCut":
        a, n = cut["active"]
        return int(a), int(n)
    return None


def _text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "start",
          weight: str = "normal", fill: str = "#222222", italic: bool = False) -> str:
    style = ' font-style="italic"' if italic else ""
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}"{style} {FONT}>{escape(s)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: str, *,
          width: float = 1.2, dash: str = "", rx: int = 3) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="{rx}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{d}/>')


def _box(x: float, y: float, b: Batch, *, outline: str = "", width: float = 1.2) -> list[str]:
    fill, stroke, dash, _ = PLACES[b.place]
    out = [_rect(x, y, BOX_W, BOX_H, fill, outline or stroke,
                 width=3 if outline else (2.5 if b.place == "ret" else width), dash=dash)]
    key = ("✕" if b.tombstone else "") + b.pk
    out.append(_text(x + BOX_W / 2, y + 13, key, size=12, anchor="middle",
                     weight="bold" if b.is_r else "normal"))
    out.append(_text(x + BOX_W / 2, y + 25, b.label(), size=9, anchor="middle", fill="#444444"))
    return out


@dataclass(frozen=True)
class _Layout:
    lanes: tuple[int, ...]  # 0 = base, then generations ascending
    col_w: int
    width: int
    legend_y: int

    def col_x(self, i: int) -> int:
        return LABEL_W + i * self.col_w

    def lane_y(self, g: int) -> int:
        return TITLE_H + HEAD_H + self.lanes.index(g) * LANE_H


def _slot(b: Batch, cell: list[Batch]) -> int:
    """Where a batch sits in its cell: by append index in a generation, in order in the base."""
    if b.place == "base":
        return cell.index(b)
    return b.index


def _cells(frame: Frame) -> dict[int, list[Batch]]:
    cells: dict[int, list[Batch]] = {}
    for b in frame.batches:
        cells.setdefault(0 if b.place == "base" else b.generation, []).append(b)
    return cells


def _layout(fs: list[Frame]) -> _Layout:
    gens: set[int] = set()
    widest = 1
    for f in fs:
        gens |= {g for g in f.status}
        for g, cell in _cells(f).items():
            gens.add(g)
            widest = max(widest, 1 + max(_slot(b, cell) for b in cell))
        pos = _cut_position(f.cut)
        if pos is not None:
            gens.add(pos[0])
            widest = max(widest, pos[1])
    gens.discard(0)
    lanes = (0, *sorted(gens))
    col_w = max(MIN_COL_W, 2 * CELL_PAD + widest * (BOX_W + BOX_GAP) + 40)
    width = LABEL_W + len(fs) * col_w + 20
    legend_y = TITLE_H + HEAD_H + len(lanes) * LANE_H + 28
    return _Layout(lanes, col_w, width, legend_y)


def _wrap(s: str, width_px: int) -> list[str]:
    return textwrap.wrap(s, max(40, width_px // 7)) or [""]


def timeline_svg(trace: dict[str, Any]) -> str:
    """The SVG timeline of one counterexample trace."""
    fs = frames(trace)
    events = trace["events"]
    # numbered event list under the lanes: wrapped once, to size the picture
    lay = _layout(fs)
    listing = [(e["n"], _wrap(e["text"], lay.width - 60)) for e in events]
    n_lines = sum(len(ls) for _, ls in listing)
    legend_h = 22 * len(_legend_rows(lay.width))
    height = lay.legend_y + legend_h + 18 + n_lines * 17 + 20
    out: list[str] = []
    dropped = str(trace.get("assumption_dropped", "?"))
    if dropped.startswith("nothing ("):  # "nothing (A1, …, A4 all held)": the set, as held
        cond = "with " + dropped.removeprefix("nothing (").removesuffix(")")
    elif dropped.startswith("column "):
        cond = f"the matrix's {dropped.removeprefix('column ')} column"
    else:
        cond = f"without {dropped}"
    title = (f"{trace['design']}: {cond} — "
             f"{trace['outcome'].replace('_', ' ')} of key {trace['missing_pk']!r}")
    out.append(_text(12, 22, title, size=16, weight="bold"))
    sub = (f"capture {trace.get('capture', '?')}, release {trace.get('release', '?')}, "
           f"visibility {trace.get('visibility', '?')}; one shard s; base table holds "
           f"{', '.join(repr(p) for p in trace.get('base_pks', []))}")
    out.append(_text(12, 39, sub, size=12, fill="#444444"))

    lanes_top = TITLE_H + HEAD_H
    lanes_bottom = lanes_top + len(lay.lanes) * LANE_H
    # lane backgrounds and names
    for k, g in enumerate(lay.lanes):
        y = lay.lane_y(g)
        bg = "#fbf7ea" if g == 0 else ("#ffffff" if k % 2 else "#f6f8fa")
        out.append(f'<rect x="0" y="{y}" width="{lay.width}" height="{LANE_H}" fill="{bg}"/>')
        out.append(_text(10, y + LANE_H / 2 + 4, "base table" if g == 0 else f"shard s, gen {g}",
                         size=12, weight="bold"))
    # columns: header, tint for arm/check, cells
    for i, (ev, f) in enumerate(zip(events, fs, strict=True)):
        x = lay.col_x(i)
        tint = {"arm": "#e8f5e9", "check": "#fdecea", "read_n": "#e8f5e9",
                "manifest": "#e8f5e9"}.get(ev["op"])
        if tint:
            out.append(f'<rect x="{x}" y="{TITLE_H}" width="{lay.col_w}" '
                       f'height="{lanes_bottom - TITLE_H}" fill="{tint}" fill-opacity="0.55"/>')
        out.append(f'<line x1="{x}" y1="{TITLE_H}" x2="{x}" y2="{lanes_bottom}" '
                   f'stroke="#c8c8c8" stroke-width="1"/>')
        cx = x + 22
        out.append(f'<circle cx="{cx}" cy="{TITLE_H + 16}" r="11" fill="#333333"/>')
        out.append(_text(cx, TITLE_H + 20, str(ev["n"]), size=12, anchor="middle",
                         weight="bold", fill="#ffffff"))
        out.append(_text(cx + 16, TITLE_H + 20, _op_label(ev), size=12, weight="bold"))
        out.append(_text(x + 8, TITLE_H + 40, f"epoch {f.epoch}", size=10, fill="#555555"))
        if f.note:
            out.append(_text(x + 8, TITLE_H + 55, f.note, size=10, fill="#555555",
                             italic=True))
        if ev["op"] in ("arm", "read_n", "check"):
            words = ("the check uses no cut" if trace["design"] in CUTLESS
                     else _cut_words(f.cut))
            out.append(_text(x + 8, TITLE_H + 71, words, size=11, fill=CUT_RED, weight="bold"))
        cells = _cells(f)
        for g in lay.lanes:
            y = lay.lane_y(g)
            word = f.status.get(g, "") if g else ""
            if word:
                out.append(_text(x + lay.col_w - 6, y + 12, word, size=9, anchor="end",
                                 fill="#666666", italic=True))
            for b in cells.get(g, []):
                bx = x + CELL_PAD + _slot(b, cells[g]) * (BOX_W + BOX_GAP)
                out += _box(bx, y + 18, b, outline=_outline(ev, f, b, trace))
        if trace["design"] not in CUTLESS:
            out += _cut_marks(lay, i, ev, f)
        out += _check_marks(lay, i, ev, f, trace)
    out.append(f'<line x1="{lay.col_x(len(events))}" y1="{TITLE_H}" '
               f'x2="{lay.col_x(len(events))}" y2="{lanes_bottom}" stroke="#c8c8c8"/>')
    out.append(f'<line x1="0" y1="{lanes_top}" x2="{lay.width}" y2="{lanes_top}" '
               f'stroke="#888888"/>')
    out += _legend(lay, lay.legend_y)
    y = lay.legend_y + legend_h + 18
    for n, lines in listing:
        for j, line in enumerate(lines):
            out.append(_text(30 if j else 12, y, (f"{n}. " if j == 0 else "") + line, size=12))
            y += 17
    body = "\n".join(out)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width}" height="{height}" '
            f'viewBox="0 0 {lay.width} {height}">\n'
            f'<title>{escape(title)}</title>\n'
            f'<rect width="{lay.width}" height="{height}" fill="#ffffff"/>\n{body}\n</svg>\n')


def _outline(ev: dict[str, Any], f: Frame, b: Batch, trace: dict[str, Any]) -> str:
    """The row under test at the check: red if claimed unread, orange if read unclaimed."""
    if ev["op"] != "check":
        return ""
    missing = trace["outcome"] == "missing_row"
    if b.is_r:
        return MISSING_RED if missing else DUP_ORANGE
    if b.place == "base" and b.pk == trace["missing_pk"]:
        return MISSING_RED if missing else DUP_ORANGE
    return ""


def _cut_marks(lay: _Layout, i: int, ev: dict[str, Any], f: Frame) -> list[str]:
    """The arm's cut as a red staircase; its words in the arm's column."""
    out: list[str] = []
    if f.cut is None:
        return out
    x0, x1 = lay.col_x(i), lay.col_x(i) + lay.col_w
    pos = _cut_position(f.cut)
    if pos is None:
        y = lay.lane_y(lay.lanes[1]) if len(lay.lanes) > 1 else lay.lane_y(0)
        out.append(f'<line x1="{x0 + 4}" y1="{y + 3}" x2="{x1 - 4}" y2="{y + 3}" '
                   f'stroke="{CUT_RED}" stroke-width="2.5" stroke-dasharray="2 4"/>')
        return out
    g, n = pos
    top, bot = lay.lane_y(g), lay.lane_y(g) + LANE_H
    xn = x0 + CELL_PAD + n * (BOX_W + BOX_GAP) - BOX_GAP / 2
    out.append(f'<polyline points="{x0:.0f},{bot} {xn:.0f},{bot} {xn:.0f},{top} {x1:.0f},{top}" '
               f'fill="none" stroke="{CUT_RED}" stroke-width="3"/>')
    return out


def _check_marks(lay: _Layout, i: int, ev: dict[str, Any], f: Frame,
                 trace: dict[str, Any]) -> list[str]:
    """What the arm read (at the arm) and what the check decided (at the check)."""
    out: list[str] = []
    x = lay.col_x(i)
    rs = [b for b in f.batches if b.is_r]
    if ev["op"] == "arm" and rs:
        r = rs[0]
        lane = 0 if r.place == "base" else r.generation
        words, color = ("arm read r", OK_GREEN) if f.reads_r else ("arm did NOT read r",
                                                                   MISSING_RED)
        out.append(_text(x + 8, lay.lane_y(lane) + LANE_H - 4, words, size=10, fill=color,
                         weight="bold"))
    if ev["op"] != "check":
        return out
    missing = trace["outcome"] == "missing_row"
    color = MISSING_RED if missing else DUP_ORANGE
    base_words = "dropped: MISSING ROW" if missing else "kept: DUPLICATE"
    out.append(_text(x + 8, lay.lane_y(0) + LANE_H - 4, base_words, size=10, fill=color,
                     weight="bold"))
    row = ev.get("row") or {}
    if ev.get("stale_sstable_list") and row:
        # the check's stale SSTable list still names r's generation: draw the ghost
        g = row["generation"]
        if g in lay.lanes:
            y = lay.lane_y(g)
            bx = x + CELL_PAD + row["append_index"] * (BOX_W + BOX_GAP)
            out.append(_rect(bx, y + 18, BOX_W, BOX_H, "#ffffff", MISSING_RED, width=2,
                             dash="3 3"))
            out.append(_text(bx + BOX_W / 2, y + 37, "r", size=12, anchor="middle",
                             weight="bold", fill=MISSING_RED))
            out.append(_text(bx + BOX_W + 4, y + 30, "stale list", size=10, fill=MISSING_RED,
                             weight="bold"))
    elif rs:
        r = rs[0]
        lane = 0 if r.place == "base" else r.generation
        words = "admitted, never read" if missing else "read, not admitted"
        out.append(_text(x + 8, lay.lane_y(lane) + LANE_H - 4, words, size=10, fill=color,
                         weight="bold"))
    return out


def _legend_entries() -> list[tuple[str, str]]:
    return [(place, words) for place, (*_, words) in PLACES.items()] + [
        ("cut", "the arm's cut: lanes above it, and gen A left of it "
                "(memtable rule; an SSTable of gen A is outside)")]


def _legend_rows(width: int) -> list[list[tuple[int, str, str]]]:
    """Legend entries placed left to right, wrapped to ``width``: (x, kind, words)."""
    rows: list[list[tuple[int, str, str]]] = [[]]
    x = 12
    for kind, words in _legend_entries():
        w = 34 + 6 * len(words) + 18
        if x + w > width and rows[-1]:
            rows.append([])
            x = 12
        rows[-1].append((x, kind, words))
        x += w
    return rows


def _legend(lay: _Layout, y: int) -> list[str]:
    out: list[str] = []
    for k, row in enumerate(_legend_rows(lay.width)):
        yy = y + 22 * k
        for x, kind, words in row:
            if kind == "cut":
                out.append(f'<line x1="{x}" y1="{yy - 4}" x2="{x + 22}" y2="{yy - 4}" '
                           f'stroke="{CUT_RED}" stroke-width="3"/>')
            else:
                fill, stroke, dash, _ = PLACES[kind]
                out.append(_rect(x, yy - 12, 22, 16, fill, stroke,
                                 width=2.5 if kind == "ret" else 1.2, dash=dash))
            out.append(_text(x + 28, yy + 1, words, size=11))
    return out
