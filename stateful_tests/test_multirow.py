"""Multi-row batches: a cut counts batches, the check must turn them into rows exactly.

An as-of cut bounds a memtable by a *batch* count N; the check reads the PKs of
"the first N batches" as a row slice (``MemTable.pk_slice`` over
``BatchStore.row_offset``).  With one-row batches a batch count and a row count
are the same number, so a machine that only writes one-row batches cannot tell
them apart.  Two bugs that an audit planted survived every test for exactly
that reason; each is planted again here, against

* a pinned story (``replay``) that shows it in four steps, and
* the matrix cell ``as_of_cut × baseline`` under the gate's budget, which must
  now find it on its own (multi-row puts and deletes are in its alphabet).

Without the plant, the same story is clean and the cell is ``sound``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from impl.memtable import MemTable
from model.designs import Design
from stateful_tests.hazards import HAZARDS
from stateful_tests.machine import Disagreement, Finding, replay
from stateful_tests.matrix import run_cell

ORIGINAL = MemTable.pk_slice


def rows_not_batches(self: MemTable, start: int, stop: int) -> Any:
    """Planted: a batch-count bound used as a row count (``[start, stop)`` rows)."""
    stop = min(stop, self.store.committed)
    if stop <= start:
        return self._columns(0)[1].slice(0, 0)
    _, pk, _, _ = self._columns(self.store.committed)
    return pk.slice(start, stop - start)


def into_next_batch(self: MemTable, start: int, stop: int) -> Any:
    """Planted: the bound runs on to the last row but one of the next batch."""
    committed = self.store.committed
    stop = min(stop, committed)
    if stop <= start:
        return self._columns(0)[1].slice(0, 0)
    _, pk, _, _ = self._columns(committed)
    lo = self.store.row_offset(start)
    hi = self.store.row_offset(stop)
    if stop < committed:
        hi = max(hi, self.store.row_offset(stop + 1) - 1)
    return pk.slice(lo, hi - lo)


PLANTS: dict[str, Callable[..., Any]] = {
    "rows_not_batches": rows_not_batches,
    "into_next_batch": into_next_batch,
}

#: each plant's pinned story: (steps, the finding it must raise)
STORIES: dict[str, tuple[list[tuple[Any, ...]], type[Finding]]] = {
    # 1. put s0 [0, 3] (one batch, two rows)  2. arm → AsOfCut(1, 1)  3. check: both 0 and
    # 3 are in batch 0; a row bound of 1 admits only PK 0, and base row 3 comes back twice
    "rows_not_batches": ([("put", (0, 3)), ("arm", None), ("check", 1, True)], Disagreement),
    # PR #7215's own story, with a two-row concurrent batch: 1. put s0 [0]  2. arm →
    # AsOfCut(1, 1)  3. put s0 [3, 0]: impl now claims PK 3 from the batch after the cut
    # (the model does not: the differential fires before the soundness check would)
    "into_next_batch": ([("put", 0), ("arm", None), ("put", (3, 0))], Disagreement),
}


@pytest.fixture
def plant(request: pytest.FixtureRequest) -> Iterator[str]:
    name: str = request.param
    MemTable.pk_slice = PLANTS[name]  # type: ignore[method-assign]
    try:
        yield name
    finally:
        MemTable.pk_slice = ORIGINAL  # type: ignore[method-assign]


@pytest.mark.parametrize("name", list(STORIES))
def test_pinned_story_is_clean_without_the_plant(name: str) -> None:
    steps, _ = STORIES[name]
    h = replay(Design.AS_OF_CUT, HAZARDS["baseline"], steps)
    assert h.counters["violation"] == 0


@pytest.mark.parametrize("plant", list(PLANTS), indirect=True)
def test_pinned_story_catches_the_plant(plant: str) -> None:
    steps, kind = STORIES[plant]
    with pytest.raises(kind):
        replay(Design.AS_OF_CUT, HAZARDS["baseline"], steps)


@pytest.mark.parametrize("plant", list(PLANTS), indirect=True)
def test_the_matrix_finds_the_plant_on_its_own(plant: str) -> None:
    cell = run_cell("as_of_cut", "baseline")
    assert cell.verdict in ("VIOLATION", "MISMATCH"), (plant, cell.label)
    assert "✗" in cell.message


def test_batches_of_several_rows_are_written_and_cut_inside() -> None:
    """Non-vacuity: the gate's baseline run writes multi-row batches and cuts inside them."""
    cell = run_cell("as_of_cut", "baseline")
    assert cell.verdict == "sound", cell.message
    assert cell.counters["multi-row batch"] > 0
    assert cell.counters["cut inside a memtable"] > 0
