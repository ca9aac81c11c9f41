"""Lance's own block-list tests (docs/LANCE.md "Lance's own tests"), replayed against the model.

Each builds the tier Lance's test builds, then asks ``membership`` under the
cut Lance's test passes.  Both PR designs (``as_of_cut``, V-AsOf; and
``fresh_tier_watermark``, V-FTW) must give Lance's answer.
"""

from __future__ import annotations

import pytest

from model.designs import Design, ShardCut
from model.events import run
from model.read import Cut, membership
from model.state import initial

U64_MAX = 2**64 - 1
PR_DESIGNS = [Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK]


def puts(*pks: int) -> list[tuple[str, dict[str, object]]]:
    """One single-row batch per PK, as Lance's tests write them."""
    return [("put", {"shard": "s", "batch": ((pk, "v"),)}) for pk in pks]


FREEZE = ("freeze", {"shard": "s"})
FLUSH = ("flush", {"shard": "s"})


def cut(generation: int, count: int) -> Cut:
    return Cut((("s", ShardCut(generation, count)),))


@pytest.mark.parametrize("design", PR_DESIGNS)
def test_bounds_active_memtable_by_batch_count(design: Design) -> None:
    st = run(initial(), puts(1, 2, 3))
    assert membership(design, cut(1, 2), st, [1, 2, 3]) == {1, 2}
    assert membership(design, Cut(), st, [1, 2, 3]) == {1, 2, 3}


@pytest.mark.parametrize("design", PR_DESIGNS)
def test_excludes_newer_gen_includes_lower_gen(design: Design) -> None:
    st = run(initial(), [*puts(1, 2), FREEZE, *puts(20, 21), FREEZE, *puts(100)])
    assert membership(design, cut(2, 1), st, [1, 2, 20, 21, 100]) == {1, 2, 20}


@pytest.mark.parametrize("design", PR_DESIGNS)
def test_excludes_sstables_at_or_above_active(design: Design) -> None:
    st = run(initial(), [*puts(0), FREEZE, FLUSH, *puts(5), FREEZE, FLUSH])
    assert membership(design, cut(2, U64_MAX), st, [5]) == set()
    assert membership(design, cut(3, U64_MAX), st, [5]) == {5}


def test_contains_pks_reports_fresh_tier_membership() -> None:
    st = run(initial(), [*puts(3), FREEZE, *puts(1, 2)])
    assert membership(Design.LIVE_TIER, Cut(), st, [1, 4, 3]) == {1, 3}


@pytest.mark.parametrize("design", PR_DESIGNS)
def test_contains_pks_at_batched_probe_respects_watermark(design: Design) -> None:
    st = run(initial(), [*puts(3, 4), FREEZE, *puts(1, 2)])
    probe = [4, 1, 9, 3, 2, 1]
    assert membership(design, Cut(), st, probe) == {1, 2, 3, 4}
    assert membership(design, cut(1, U64_MAX), st, probe) == {3, 4}


def test_fresh_tier_block_list_one_set_per_in_memory_gen() -> None:
    st = run(initial(), [*puts(3), FREEZE, ("put", {"shard": "s", "batch": ((1, "v"), (2, "v"))})])
    assert membership(Design.LIVE_TIER, Cut(), st, [1, 2, 3, 4]) == {1, 2, 3}
