"""The SVG pictures of SPEC.md: drawn from the traces and the predicates, faithful, current.

Cheap tests read the committed ``proofs/traces.json`` (itself held current
against a fresh solver run by ``tests/test_proofs_obligations.py``); the
currency of the files under ``docs/img/`` is checked in
``tests/test_spec_current.py``.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from asofcut import pictures, rulegrid, timeline
from model import designs
from model.designs import Design, Rel, Source, Verdict
from proofs.cli import TRACES_PATH

TRACES: list[dict[str, Any]] = json.loads(TRACES_PATH.read_text(encoding="utf-8"))


def _check_event(trace: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in trace["events"] if e["op"] == "check")


@pytest.mark.parametrize("trace", TRACES, ids=[t["name"] for t in TRACES])
def test_every_trace_draws_as_well_formed_svg_with_every_event_numbered(
        trace: dict[str, Any]) -> None:
    svg = timeline.timeline_svg(trace)
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for e in trace["events"]:
        assert str(e["n"]) in texts, f"event {e['n']} has no numbered header"
        assert any(e["text"].startswith(t.split(". ", 1)[-1][:30]) for t in texts
                   if t.startswith(f"{e['n']}. ")), f"event {e['n']} is not listed"


@pytest.mark.parametrize("trace", TRACES, ids=[t["name"] for t in TRACES])
def test_the_replay_ends_where_the_solver_puts_the_row_under_test(
        trace: dict[str, Any]) -> None:
    last = timeline.frames(trace)[-1]
    row = _check_event(trace)["row"]
    (r,) = [b for b in last.batches if b.is_r]
    assert r.place in timeline.STATUS_PLACE[row["status"]]
    if row["status"] != "gone":
        assert (r.generation, r.index) == (row["generation"], row["append_index"])


def test_a_trace_whose_check_disagrees_with_the_replay_is_refused() -> None:
    """Planted: move the solver's row under test one generation up."""
    bad = copy.deepcopy(TRACES[0])
    _check_event(bad)["row"]["generation"] += 1
    with pytest.raises(timeline.TimelineError, match="solver has r at gen"):
        timeline.timeline_svg(bad)


def test_an_event_the_picture_does_not_know_is_refused_not_skipped() -> None:
    bad = copy.deepcopy(TRACES[0])
    bad["events"].insert(1, {"n": 99, "op": "teleport", "shard": "s", "text": "?"})
    with pytest.raises(timeline.TimelineError, match="teleport"):
        timeline.timeline_svg(bad)


@pytest.mark.parametrize("outcome,color", [("missing_row", timeline.MISSING_RED),
                                           ("duplicate", timeline.DUP_ORANGE)])
def test_the_row_under_test_is_highlighted_at_the_check(outcome: str, color: str) -> None:
    trace = next(t for t in TRACES if t["outcome"] == outcome)
    svg = timeline.timeline_svg(trace)
    # the fresh r and the base row it concerns, both outlined in the outcome's colour
    assert svg.count(f'stroke="{color}" stroke-width="3"') == 2
    assert ("MISSING ROW" if outcome == "missing_row" else "DUPLICATE") in svg


def test_the_cut_is_drawn_from_the_arm_on_and_not_before() -> None:
    trace = next(t for t in TRACES if t["events"][0]["op"] != "arm")
    arm_at = next(i for i, e in enumerate(trace["events"]) if e["op"] == "arm")
    svg = timeline.timeline_svg(trace)
    stairs = svg.count("<polyline")
    assert stairs == len(trace["events"]) - arm_at


def test_one_picture_per_trace_plus_the_grid_with_distinct_names() -> None:
    files = pictures.svg_files(TRACES)
    assert len(files) == len(TRACES) + 1
    assert f"{pictures.IMG}/{pictures.GRID_NAME}" in files


def test_the_rule_grid_is_the_predicates_evaluated() -> None:
    for d in Design:
        for in_mem, vis, _ in rulegrid.PANELS:
            for g in rulegrid.GENERATIONS:
                for i in rulegrid.INDICES:
                    row = designs.RowFacts(in_memory=in_mem, generation=g, append_index=i,
                                           visible=vis, epoch=rulegrid.EPOCH)
                    assert rulegrid.admitted(d, in_mem, vis, g, i) == designs.admits(
                        d, row, rulegrid.CUT)


def test_the_rule_grid_follows_the_rule_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted: exclude the sstable g < A cell; the grid must change (it is not retyped)."""
    before = rulegrid.rule_grid_svg()
    rules = dict(designs.GENERATION_RULES)
    rules[(Source.SSTABLE, Rel.BELOW)] = Verdict.NONE
    monkeypatch.setattr(designs, "GENERATION_RULES", rules)
    after = rulegrid.rule_grid_svg()
    assert after != before
    # as_of_cut and fresh_tier_watermark lose g1–g2 of the SSTable panel: 2 designs × 2 × 5 cells
    assert after.count(rulegrid.EXCLUDE) - before.count(rulegrid.EXCLUDE) == 2 * 2 * 5
