"""The proofs hold for the sound designs, and fail under every planted bug."""

from __future__ import annotations

import json

import pytest

from model.designs import Design
from model.hazards import HAZARDS
from proofs import obligations as ob
from proofs.cli import TRACES_PATH, traces_json
from proofs.encode import DIVERGENCES, Bug, Variant
from proofs.run import run_all


@pytest.mark.parametrize("design", ob.SOUND, ids=lambda d: d.value)
def test_inductive_soundness_and_tightness(design: Design) -> None:
    """Unbounded: soundness, and tightness with exactly the design's named exclusions."""
    results = ob.inductive(Variant(design), ob.SOUNDNESS_ASSUMPTIONS[design])
    names = ["sound.init", "sound.step", "sound.check", "tight.init", "tight.step", "tight.check"]
    assert [r.name for r in results] == names
    assert [r.status for r in results] == ["proved"] * 6
    excl = ob.DESIGN_EXCLUSIONS[design]
    assert results[-1].statement.endswith(f"except {', '.join(excl)}" if excl else "no exclusion")


@pytest.mark.parametrize(("bug", "design", "first"), [
    (Bug.REPLAY_NEW_WAL, Design.PINNED_CUT, "tight.step"),
    (Bug.PIN_NO_MERGED, Design.PINNED_CUT, "tight.check"),
    (Bug.SST_BELOW_NONE, Design.AS_OF_CUT, "tight.check"),
    (Bug.EXACT_SHORT, Design.EXACT_CUT, "tight.check"),
], ids=lambda x: getattr(x, "name", str(x)))
def test_planted_tightness_bug_breaks_the_tightness_induction_only(
        bug: Bug, design: Design, first: str) -> None:
    results = ob.inductive(Variant(design, frozenset({bug})), ob.SOUNDNESS_ASSUMPTIONS[design])
    assert [r.name for r in results if not r.ok] == [first]


@pytest.mark.parametrize("design", ob.UNSOUND, ids=lambda d: d.value)
def test_unsound_designs_have_counterexamples(design: Design) -> None:
    trace, _ = ob.shortest(Variant(design), ob.ALL - {"A5"}, ob.over_count)
    assert trace is not None and trace["outcome"] == "missing_row"


@pytest.mark.parametrize("bug", list(ob.PLANTED), ids=lambda b: b.name)
def test_planted_bug_is_detected(bug: Bug) -> None:
    """A proof bug breaks a soundness or tightness obligation; a divergence, conformance."""
    detected, failed, _ = ob.planted(bug)
    assert detected, failed
    if bug in DIVERGENCES:
        assert failed[0].startswith("conformance: ")
    else:
        assert failed[0].split(":")[1].startswith(("sound.", "tight.")), failed


def test_divergences_are_named_for_what_they_are() -> None:
    """No soundness or tightness obligation of any sound design sees a divergence:
    that is what the name claims, and why conformance is its only judge."""
    seen = {f"{bug.name}:{d.value}:{r.name}"
            for bug in DIVERGENCES for d in ob.SOUND
            for r in ob.soundness_and_tightness(Variant(d, frozenset({bug}))) if not r.ok}
    assert seen == set()
    assert all(ob.PLANTED[bug] == () for bug in DIVERGENCES)
    assert all(ob.PLANTED[bug] for bug in Bug if bug not in DIVERGENCES)


def test_shortest_trace_for_dropped_a2_is_readable() -> None:
    asm = ob.SOUNDNESS_ASSUMPTIONS[Design.AS_OF_CUT] - {"A2"}
    trace, _ = ob.shortest(Variant(Design.AS_OF_CUT), asm, ob.over_count)
    assert trace is not None
    ops = [e["op"] for e in trace["events"]]
    assert ops == ["put", "freeze", "arm", "check"]
    assert trace["cut"] == {"kind": "AsOfCut", "active_generation": 2, "active_batch_count": 0}


def test_committed_traces_are_well_formed() -> None:
    traces = json.loads(TRACES_PATH.read_text())
    assert traces, "run `asofcut prove --write-traces`"
    for t in traces:
        assert t["events"][-1]["op"] == "check"
        assert [e["n"] for e in t["events"]] == list(range(1, len(t["events"]) + 1))
        assert t["outcome"] in ("missing_row", "duplicate")


def test_committed_traces_are_current() -> None:
    """proofs/traces.json is exactly what a fresh run writes (it cannot go stale)."""
    assert json.loads(TRACES_PATH.read_text()) == json.loads(traces_json()), (
        "stale: run `python -m asofcut prove --write-traces`")


def test_matrix_shape_and_vocabulary() -> None:
    """design → hazard → proved | cex | under-count, columns as the cross-check expects."""
    matrix = run_all().matrix
    assert list(matrix) == [d.value for d in Design]
    cols = [h.name for h in HAZARDS.values() if h.solver]
    assert cols[:1] == ["baseline"] and {"H5a", "H5b", "H13"} <= set(cols)
    for row in matrix.values():
        assert list(row) == cols
        assert set(row.values()) <= {"proved", "cex", "under-count"}


def test_h5_split() -> None:
    """H5a (manifest skew at the arm) over-counts the as-of designs; the exact cut
    records what its arm read.  H5b (compaction between arm and check, consistent
    arm snapshot) is an under-count for every sound design but the pinned one, as in
    the model."""
    matrix = run_all().matrix
    for d in ob.SOUND:
        assert matrix[d.value]["baseline"] == "proved"
        assert matrix[d.value]["H5b"] == ("proved" if d is Design.PINNED_CUT else "under-count")
    assert matrix["as_of_cut"]["H5a"] == "cex"
    assert matrix["fresh_tier_watermark"]["H5a"] == "cex"
    assert matrix["exact_cut"]["H5a"] == "proved"


def test_pinned_cut_row_is_proved_in_every_column() -> None:
    """No over-count and no under-count outside no exclusion, whatever the hazard."""
    assert set(run_all().matrix["pinned_cut"].values()) == {"proved"}


@pytest.mark.parametrize(("bug", "outcome"), [
    (Bug.CRASH_REUSES_WAL, "missing_row"),
    (Bug.REPLAY_NEW_WAL, "duplicate"),
    (Bug.PIN_NO_MERGED, "duplicate"),
], ids=lambda x: getattr(x, "name", str(x)))
def test_planted_pinned_bug_has_a_concrete_trace(bug: Bug, outcome: str) -> None:
    """Not just a broken induction step: a reachable missing row or duplicate."""
    goal = ob.over_count if outcome == "missing_row" else ob.under_count_except(())
    trace, _ = ob.shortest(Variant(Design.PINNED_CUT, frozenset({bug})), frozenset(), goal)
    assert trace is not None and trace["outcome"] == outcome
    assert ob.shortest(Variant(Design.PINNED_CUT), frozenset(), goal, kmax=5)[0] is None
