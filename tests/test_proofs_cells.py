"""proofs/cells.py: the baseline and per-cell traces ask exactly the matrix's questions."""

from __future__ import annotations

from typing import Any

import pytest

from model.designs import Design
from proofs import cells, obligations
from proofs.encode import Variant

COLUMNS = list(obligations.COLUMNS)


@pytest.mark.parametrize("design", list(Design), ids=lambda d: d.value)
def test_cell_setup_is_what_the_matrix_verdict_asks(design: Design,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Record the arguments ``verdict`` hands its solver query; cell_setup must give the same."""
    seen: list[tuple[Any, ...]] = []

    def record(v: Variant, base: frozenset[str], cap: Any, fresh: bool,
               excl: tuple[str, ...], knobs: Any) -> tuple[str, float]:
        seen.append((base, cap, fresh, excl, knobs))
        return "recorded", 0.0

    monkeypatch.setattr(obligations, "_verdict_query", record)
    for col in COLUMNS:
        seen.clear()
        obligations.verdict(Variant(design), col)
        assert seen == [cells.cell_setup(design, col)], col


def test_a_drifted_cell_setup_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted: forget that exact_cut records its own counts (A1 stays assumed)."""
    original = cells.cell_setup

    def drifted(design: Design, column: str) -> Any:
        base, cap, fresh, excl, knobs = original(design, column)
        return (base | {"A1"}, cap, fresh, excl, knobs)

    seen: list[tuple[Any, ...]] = []
    def record(v: Any, *a: Any) -> tuple[str, float]:
        seen.append(a)
        return ("recorded", 0.0)

    monkeypatch.setattr(obligations, "_verdict_query", record)
    obligations.verdict(Variant(Design.EXACT_CUT), "H1")
    assert seen[0] != drifted(Design.EXACT_CUT, "H1")


def test_sound_designs_have_no_baseline() -> None:
    with pytest.raises(ValueError, match="no baseline"):
        cells.baseline_trace(Design.AS_OF_CUT)


@pytest.mark.parametrize("design", obligations.UNSOUND, ids=lambda d: d.value)
def test_unsound_designs_lose_a_row_with_every_assumption_held(design: Design) -> None:
    trace = cells.baseline_trace(design)
    assert trace is not None and trace["outcome"] == "missing_row"
    assert trace["assumption_dropped"] == cells.BASELINE
