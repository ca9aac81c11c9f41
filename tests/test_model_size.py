"""The model stays a small specification: its code fits the budget, counted one stated way.

``asofcut.loc`` counts physical lines of code (not blank lines, comments,
docstrings or pure data tables); ``python -m asofcut.loc`` prints the count.
The counter itself is held to its rules on planted sources, so the budget
cannot pass by counting nothing.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import pytest

from asofcut.loc import MODEL_BUDGET, MODEL_FILES, ROOT, code_lines, count
from model.designs import Design, RowFacts, ShardCut, admits


def test_the_budget_covers_every_module_of_the_model() -> None:
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "model").glob("*.py")}
    assert modules - {"model/__init__.py"} == set(MODEL_FILES)


def test_model_code_is_within_budget() -> None:
    counts = count(MODEL_FILES)
    assert sum(counts.values()) <= MODEL_BUDGET, counts


def _count(source: str) -> int:
    return code_lines(textwrap.dedent(source))


def test_code_counts_once_per_line() -> None:
    assert _count("""
        import os

        def f(x: int) -> int:
            y = (x +
                 1)
            return y
    """) == 5


def test_docstrings_comments_and_blank_lines_do_not_count() -> None:
    assert _count('''
        """Module docstring,
        two lines."""

        # a comment

        def f() -> int:
            """A docstring."""
            return 1  # code with a comment counts
    ''') == 2


def test_a_pure_data_table_does_not_count() -> None:
    assert _count("""
        RULES: dict[str, int] = {
            "a": 1,
            "b": Verdict.WHOLE,
        }
        ROWS = {r.name: r for r in (Row("x", f), Row("y", g))}
    """) == 0


@pytest.mark.parametrize("table", [
    'RULES = {"a": lambda x: x}',  # behaviour inside: counts
    "WANTS = {k: f(v) for k, v in RULES.items()}",  # a comprehension over something computed
    "rules = {'a': 1}",  # not a module-level constant
])
def test_a_table_with_behaviour_counts(table: str) -> None:
    assert _count(table) == 1


def test_admits_reads_no_signature_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Predicates' argument names are read once at import, not for every row checked."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("inspect.signature called per row")

    monkeypatch.setattr(inspect, "signature", forbidden)
    row = RowFacts(in_memory=True, generation=1, append_index=0, visible=True, epoch=1,
                   wal_position=1)
    cut = ShardCut(active_generation=1, active_batch_count=1, epoch=1, observed=((1, 1),),
                   wal_ranges=((1, 2),))
    assert all(admits(d, row, cut) for d in Design)
    assert not admits(Design.AS_OF_CUT, row, ShardCut(1, 0))


def test_rendering_is_not_in_the_model() -> None:
    assert not (ROOT / "model" / "docs.py").exists()
    for path in MODEL_FILES:
        assert "def _table(" not in Path(ROOT / path).read_text(encoding="utf-8"), path
