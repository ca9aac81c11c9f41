"""z3 and the state machine agree on every cell they share, in the gating tests.

``asofcut verify`` puts the solver's verdict matrix beside the machine's run;
this test does the cheap half of that stitch on every run: the solver's
verdict of each cell (``proofs.obligations.verdict``, bounded queries) against
the machine's *expected* verdict of the same cell
(``hazards.expectation_table``, the model on the column's scenario), through
the one column/word mapping ``asofcut verify`` uses (``hazards``).  A cell where
they differ means the encoding and the model disagree about the tier.
"""

from __future__ import annotations

import copy

from model.designs import Design
from proofs.encode import Bug, Variant
from proofs.obligations import COLUMNS, verdict
from proofs.run import run_all
from stateful_tests.hazards import (
    HAZARDS,
    PROOF_TO_MACHINE_VERDICT,
    expectation_table,
)

Matrix = dict[str, dict[str, str]]  # design → solver column → solver verdict


def disagreements(matrix: Matrix) -> list[str]:
    """Cells where the solver's ``matrix`` and the machine's expectation differ."""
    out = []
    for (design, hazard), expected in expectation_table().items():
        if not HAZARDS[hazard].solver:
            continue  # membership by hash, index or key type: the solver has no such column
        raw = matrix[design][hazard]
        solver = PROOF_TO_MACHINE_VERDICT.get(raw, raw)
        if solver != expected:
            out.append(f"{design} × {hazard}: z3 {solver}, machine expects {expected}")
    return out


def test_the_solver_columns_are_the_table_rows_marked_solver() -> None:
    """One table: the solver's columns are exactly the hazard rows it models."""
    assert list(COLUMNS) == [h for h, row in HAZARDS.items() if row.solver]
    assert set(run_all().matrix["as_of_cut"]) == set(COLUMNS)


def test_solver_verdicts_match_the_machine_expectations() -> None:
    """The solver's matrix is the cached ``run_all`` (the proof tests share one run)."""
    assert disagreements(run_all().matrix) == []


def test_a_planted_rule_bug_shows_up_as_a_disagreement() -> None:
    """The comparison can fail: admitting the SSTable g = A cell makes the solver
    find an as_of_cut over-count at baseline, where the machine expects it sound."""
    matrix = copy.deepcopy(run_all().matrix)
    matrix["as_of_cut"]["baseline"], _ = verdict(
        Variant(Design.AS_OF_CUT, frozenset({Bug.SST_GT})))
    assert disagreements(matrix) == [
        "as_of_cut × baseline: z3 VIOLATION, machine expects sound"]
