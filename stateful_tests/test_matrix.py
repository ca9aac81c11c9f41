"""The meta-test: the harness can fail, and fails exactly where the model says.

One test per cell of the design × hazard matrix.  The expected verdict comes
from ``hazards.expectation_table`` (the model's verdict on each column's
hand-written scenario), never from this file.  Both directions are asserted:

* a cell the model calls VIOLATION must produce a ``SoundnessViolation``
  with a shrunk, numbered story — a harness that cannot fail, fails here;
* a cell the model calls sound or under-count must pass with no violation
  and no impl/model disagreement, *and* must have seen its column's
  interesting situation (the non-vacuity witness), so it cannot pass because
  nothing happened.
"""

from __future__ import annotations

import pytest

from stateful_tests.hazards import DESIGNS, HAZARDS, expectation_table
from stateful_tests.matrix import run_cell

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
        return
    assert cell.verdict == want, f"{design} × {hazard}: {cell.label}\n{cell.message}"
    witness = HAZARDS[hazard].witness
    assert cell.counters[witness] > 0, f"vacuous: {witness!r} never happened: {cell.counters}"
    assert cell.counters["check"] > 0


def test_every_column_has_a_violating_and_a_passing_design() -> None:
    """The matrix is informative: no column is all-red or all-green."""
    for h in HAZARDS:
        verdicts = {EXPECTED[(d.value, h)] for d in DESIGNS}
        assert "VIOLATION" in verdicts and verdicts - {"VIOLATION"}, h


def test_exact_cut_is_never_expected_to_violate() -> None:
    assert all(EXPECTED[("exact_cut", h)] != "VIOLATION" for h in HAZARDS)


def test_pinned_cut_is_expected_sound_in_every_column() -> None:
    """Neither a violation nor an under-count anywhere (the model's word, per column)."""
    assert all(EXPECTED[("pinned_cut", h)] == "sound" for h in HAZARDS)
