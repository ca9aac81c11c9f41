"""The meta-test: the harness can fail, and fails exactly where the model says.

One test per cell of the design × hazard matrix, each under the gate's
budget (``profiles.GATE``: seeded, counted in steps), so the verdict is the
same under every Hypothesis profile and on every machine.  The expected
verdict comes from ``hazards.expectation_table`` (the model's verdict on each
column's hand-written scenario), never from this file.  Both directions are
asserted:

* a cell the model calls VIOLATION must produce a ``SoundnessViolation``
  with a shrunk, numbered story that is 1-minimal (no single step of its
  script can go) — a harness that cannot fail, fails here;
* a cell the model calls sound or under-count must pass with no violation
  and no impl/model disagreement, *and* must have seen its column's
  interesting situation (the non-vacuity witness), so it cannot pass because
  nothing happened.
"""

from __future__ import annotations

import pytest

from model.designs import Design
from stateful_tests import profiles
from stateful_tests.hazards import DESIGNS, HAZARDS, expectation_table
from stateful_tests.machine import SoundnessViolation
from stateful_tests.matrix import Cell, render, run_cell
from stateful_tests.shrink import fails, without

EXPECTED = expectation_table()
CELLS = [(d.value, h) for h in HAZARDS for d in DESIGNS]
MAX_SHRUNK_STORY = 12


@pytest.mark.parametrize(("design", "hazard"), CELLS, ids=[f"{d}-{h}" for d, h in CELLS])
def test_cell_verdict_matches_the_model(design: str, hazard: str) -> None:
    want = EXPECTED[(design, hazard)]
    cell = run_cell(design, hazard)
    assert cell.verdict not in ("MISMATCH", "ERROR"), cell.message
    if want == "VIOLATION":
        assert cell.verdict == "VIOLATION", (
            f"{design} × {hazard}: the model predicts a violation the machine never found "
            f"({dict(cell.counters)})"
        )
        assert "✗" in cell.message and "never observed" in cell.message
        assert 1 <= cell.steps <= MAX_SHRUNK_STORY, cell.message
        for i in range(len(cell.script)):
            shorter = without(cell.script, {i})
            assert not fails(Design(design), HAZARDS[hazard], shorter, SoundnessViolation), (
                f"not 1-minimal: step {i + 1} of {cell.script} can go")
        return
    assert cell.verdict == want, f"{design} × {hazard}: {cell.label}\n{cell.message}"
    witness = HAZARDS[hazard].witness
    assert cell.counters[witness] > 0, f"vacuous: {witness!r} never happened: {cell.counters}"
    assert cell.counters["check"] > 0


def test_every_column_has_a_violating_design_and_only_h15_has_no_passing_one() -> None:
    """The matrix is informative: no column is all-green, and the one all-red column is
    the arm that reads visibility at two instants (no cut survives an arm whose counts
    are not what it scanned)."""
    all_red = set()
    for h in HAZARDS:
        verdicts = {EXPECTED[(d.value, h)] for d in DESIGNS}
        assert "VIOLATION" in verdicts, h
        if verdicts == {"VIOLATION"}:
            all_red.add(h)
    assert all_red == {"H15"}


def test_exact_cut_violates_only_under_an_inconsistent_arm() -> None:
    assert {h for h in HAZARDS if EXPECTED[("exact_cut", h)] == "VIOLATION"} == {"H15"}


def test_a_cell_is_the_same_under_every_profile() -> None:
    """The gate does not read the loaded profile: dev and ci give the same run, step for step."""
    runs = []
    for name in ("dev", "ci"):
        profiles.load(name)
        try:
            runs.append(run_cell("fresh_tier_watermark", "H7"))
        finally:
            profiles.load()
    a, b = runs
    assert (a.verdict, a.script, a.counters["steps"], a.cases_to_failure) == (
        b.verdict, b.script, b.counters["steps"], b.cases_to_failure)
    assert a.verdict == "VIOLATION"


def test_pinned_cut_is_expected_sound_except_where_its_own_premises_break() -> None:
    """The model's word, per column: sound everywhere but where the WAL positions it
    records are reused (H9), its probes match nothing (H12) or its arm is inconsistent
    (H15)."""
    row = {h: EXPECTED[("pinned_cut", h)] for h in HAZARDS}
    off = {h: v for h, v in row.items() if v != "sound"}
    assert off == {"H9": "VIOLATION", "H12": "under-count", "H15": "VIOLATION"}


def test_the_seeds_table_keeps_its_columns_apart_whatever_the_labels() -> None:
    """A median of two shrunk lengths can be fractional ("2.5 steps"); the label is then
    longer, and the table once ran it into the next column ("10/10VIOLATION")."""
    runs = {(d, "H2"): [Cell(d, "H2", "VIOLATION", steps=n) for n in (2, 3) * 5]
            for d in ("live_tier", "wal_position_map")}
    header, row = render(runs).splitlines()[:2]
    assert row.split() == ["H2", *["VIOLATION", "(2.5", "steps)", "10/10"] * 2]
    assert header.split() == ["hazard", "live_tier", "wal_position_map"]
    assert row.index("VIOLATION", 10) == header.index("wal_position_map")
