"""The proofs hold for the sound designs, and fail under every planted bug."""

from __future__ import annotations

import json

import pytest
import z3

from model.designs import Design
from model.hazards import HAZARDS
from proofs import obligations as ob
from proofs.cli import TRACES_PATH, traces_json
from proofs.encode import DIVERGENCES, Bug, Config, State, Variant
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


_DIVERGENCES = sorted(DIVERGENCES, key=lambda b: b.name)


# one test per (divergence, design): each is a few seconds of z3, so pytest's workers
# share them instead of one worker running them all at the end
@pytest.mark.parametrize("design", ob.SOUND, ids=lambda d: d.value)
@pytest.mark.parametrize("bug", _DIVERGENCES, ids=[b.name for b in _DIVERGENCES])
def test_divergences_are_named_for_what_they_are(bug: Bug, design: Design) -> None:
    """No soundness or tightness obligation of any sound design sees a divergence:
    that is what the name claims, and why conformance is its only judge."""
    seen = [r.name for r in ob.soundness_and_tightness(Variant(design, frozenset({bug})))
            if not r.ok]
    assert seen == []


def test_divergences_plant_nothing_every_other_bug_plants_something() -> None:
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
    """design → hazard → one of the honest words, columns as the cross-check expects."""
    matrix = run_all().matrix
    assert list(matrix) == [d.value for d in Design]
    cols = [h.name for h in HAZARDS.values() if h.solver]
    assert cols[:1] == ["baseline"] and {"H5a", "H5b", "H8", "H9", "H13", "H14", "H15"} <= set(
        cols)
    for row in matrix.values():
        assert list(row) == cols
        assert set(row.values()) <= set(ob.WORDS)


def test_proved_means_the_induction_ran_and_covers_the_cell() -> None:
    """``proved (induction)`` exactly where the design's induction held and asks a
    question at least as wide as the cell's; every other UNSAT cell says ``no cex ≤ K``."""
    rep = run_all()
    for d in Design:
        for col, word in rep.matrix[d.value].items():
            assert (word == ob.PROVED) == ob.induction_covers(d, col), (d, col, word)
    for d in ob.SOUND:
        assert rep.matrix[d.value]["baseline"] == ob.PROVED
    # a capture of N the induction did not run (H2: len) is bounded evidence only
    assert rep.matrix["exact_cut"]["H2"] == ob.NO_CEX
    # H14 pins a knob the induction leaves free (a failed flush, skipped): covered
    assert rep.matrix["as_of_cut"]["H14"] == ob.PROVED


def test_an_induction_that_did_not_hold_proves_no_cell() -> None:
    """Planted: a failed ``sound.step`` in the report leaves every cell bounded."""
    from dataclasses import replace

    from proofs.run import honest_matrix

    rep = run_all()
    raw = {d: {c: ob.BY_INDUCTION if w == ob.PROVED else w for c, w in row.items()}
           for d, row in rep.matrix.items()}
    assert honest_matrix(raw, rep.obligations) == rep.matrix
    broken = {d: [replace(r, status="counterexample", ok=False) if r.name == "sound.step"
                  else r for r in rs] for d, rs in rep.obligations.items()}
    row = honest_matrix(raw, broken)["as_of_cut"]
    assert ob.PROVED not in row.values() and row["baseline"] == "unknown"


def test_h5_split() -> None:
    """H5a (manifest skew at the arm) over-counts the as-of designs; the exact cut
    records what its arm read.  H5b (compaction between arm and check, consistent
    arm snapshot) is an under-count for every sound design but the pinned one, as in
    the model."""
    matrix = run_all().matrix
    for d in ob.SOUND:
        assert matrix[d.value]["baseline"] == ob.PROVED
        assert matrix[d.value]["H5b"] == (ob.PROVED if d is Design.PINNED_CUT else "under-count")
    assert matrix["as_of_cut"]["H5a"] == "cex"
    assert matrix["fresh_tier_watermark"]["H5a"] == "cex"
    assert matrix["exact_cut"]["H5a"] == ob.PROVED


def test_pinned_cut_row_fails_only_where_positions_or_counts_move() -> None:
    """No over-count and no under-count outside no exclusion, whatever the hazard, but
    where a WAL position is reused (H9) or the cut's positions are read at a second
    instant (H15)."""
    row = run_all().matrix["pinned_cut"]
    assert {c for c, w in row.items() if w not in (ob.PROVED, ob.NO_CEX)} == {"H9", "H15"}
    assert row["H9"] == row["H15"] == "cex"


def test_h13_is_its_own_query_with_a_tombstone() -> None:
    """H13 is not H3's cached query: it pins ``pap`` (puts published at once) and asks
    for an over-count whose row under test is a delete.  Its witness is a tombstone;
    H3's query has a witness where R is a put, which H13's cannot have."""
    v = Variant(Design.AS_OF_CUT)
    h3, h13 = ob.cell_setup(v.design, "H3"), ob.cell_setup(v.design, "H13")
    assert h3 != h13 and dict(h13[4])["pap"] and not dict(h3[4])["pap"]
    base, cap, fresh, excl, knobs = h13
    trace, _ = ob.shortest(v, base, ob.tombstone_over_count, knobs=knobs)
    assert trace is not None and trace["row_under_test_is_tombstone"]
    assert any(e["op"] == "delete" and e["row_under_test"] for e in trace["events"])

    def put_over_count(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return z3.And(ob.over_count(vv, s, cfg, a), z3.Not(s.rt))

    assert ob.bmc(v, h3[0], put_over_count, ob.K, knobs=h3[4])[0] == z3.sat
    assert ob.bmc(v, base, put_over_count, ob.K, knobs=knobs)[0] == z3.unsat


@pytest.mark.parametrize(("column", "design", "events"), [
    ("H8", Design.AS_OF_CUT, ["put", "arm", "check"]),
    ("H15", Design.EXACT_CUT, ["put", "arm", "publish", "read_n", "check"]),
    ("H9", Design.PINNED_CUT, ["put", "arm", "crash", "put", "check"]),
], ids=lambda x: getattr(x, "value", str(x)))
def test_new_columns_have_their_shortest_counterexample(column: str, design: Design,
                                                        events: list[str]) -> None:
    """The solver's own witness of a new column, read from the row's fields."""
    base, cap, fresh, excl, knobs = ob.cell_setup(design, column)
    over, _ = ob.cell_goals(knobs, excl)
    trace, _ = ob.shortest(Variant(design), base, over, extra=ob._verdict_extra(cap, fresh),
                           knobs=knobs)
    assert trace is not None and trace["outcome"] == "missing_row"
    assert [e["op"] for e in trace["events"]] == events


@pytest.mark.parametrize(("bug", "outcome"), [
    (Bug.CRASH_REUSES_WAL, "missing_row"),
    (Bug.REPLAY_NEW_WAL, "duplicate"),
    (Bug.PIN_NO_MERGED, "duplicate"),
], ids=lambda x: getattr(x, "name", str(x)))
def test_planted_pinned_bug_has_a_concrete_trace(bug: Bug, outcome: str) -> None:
    """Not just a broken induction step: a reachable missing row or duplicate."""
    goal = ob.over_count if outcome == "missing_row" else ob.under_count_except(())
    asm = ob.SOUNDNESS_ASSUMPTIONS[Design.PINNED_CUT]  # A1: a one-instant arm
    trace, _ = ob.shortest(Variant(Design.PINNED_CUT, frozenset({bug})), asm, goal)
    assert trace is not None and trace["outcome"] == outcome
    assert ob.shortest(Variant(Design.PINNED_CUT), asm, goal, kmax=5)[0] is None


def test_a_stale_sstable_list_is_shown_in_the_trace() -> None:
    """A counterexample that needs the check's stale SSTable list says so at the check
    (the list is an input no event shows; without this line the trace would admit a
    compacted row for no visible reason)."""
    v = Variant(Design.AS_OF_CUT)
    asm = ob.SOUNDNESS_ASSUMPTIONS[Design.AS_OF_CUT] - {"A3-sstables"}

    def stale_only(states, steps, cfg):  # type: ignore[no-untyped-def]
        return z3.And(cfg.stale, *[st.op != ob.OP["manifest"] for st in steps])

    r, m, _, states, steps, cfg = ob.bmc(v, asm, ob.over_count, ob.K, extra=stale_only)
    assert r == z3.sat and m is not None
    trace = ob.render_trace(m, states, steps, cfg, v)
    check = trace["events"][-1]
    assert check["stale_sstable_list"] is True
    assert "with a stale SSTable list" in check["text"] and "merged into the base" in check["text"]
