"""Lance's own as-of-cut tests (docs/LANCE.md "Lance's own tests"), restated in our API.

Generations are built with freeze/flush exactly as the Lance tests stage them.
"""

from __future__ import annotations

import pyarrow as pa
from conftest import rows

from impl import AsOfCut, Cut

U64_MAX = 2**64 - 1


def members(result: pa.BooleanArray) -> list[bool]:
    return result.to_pylist()


def test_as_of_cut_bounds_active_memtable_by_batch_count(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    for pk in (1, 2, 3):
        s.put(rows([pk]))
    probe = [1, 2, 3]
    assert members(wal.contains_pks_as_of(probe, {"s": AsOfCut(1, 2)})) == [True, True, False]
    assert members(wal.contains_pks(probe)) == [True, True, True]


def test_as_of_cut_excludes_newer_gen_includes_lower_gen(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.put(rows([2]))
    assert s.freeze() == 2
    s.put(rows([20]))
    s.put(rows([21]))
    assert s.freeze() == 3
    s.put(rows([100]))
    assert [m.generation for m in s.memtables()] == [1, 2, 3]
    got = members(wal.contains_pks_as_of([1, 2, 20, 21, 100], {"s": AsOfCut(2, 1)}))
    assert got == [True, True, True, False, False]


def test_as_of_cut_excludes_flushed_at_or_above_active(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([9]))
    s.freeze()
    assert s.flush() == 1
    s.put(rows([5]))
    s.freeze()
    assert s.flush() == 2
    assert s.stats().sstables == (1, 2)
    assert members(wal.contains_pks_as_of([5], {"s": AsOfCut(2, U64_MAX)})) == [False]
    assert members(wal.contains_pks_as_of([5], {"s": AsOfCut(3, U64_MAX)})) == [True]


def test_contains_pks_reports_fresh_tier_membership(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([3]))
    s.freeze()
    s.put(rows([1, 2]))
    assert s.stats().active_generation == 2
    assert members(wal.contains_pks([1, 4, 3])) == [True, False, True]


def test_contains_pks_at_batched_probe_respects_watermark(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([3, 4]))
    s.freeze()
    s.put(rows([1, 2]))
    probe = [4, 1, 9, 3, 2, 1]
    assert members(wal.contains_pks(probe)) == [True, True, False, True, True, True]
    cut = Cut("fresh_tier_watermark", {"s": AsOfCut(1, U64_MAX)})
    assert members(wal.contains_pks_as_of(probe, cut)) == [True, False, False, True, False, False]


def test_fresh_tier_block_list_one_membership_per_in_memory_gen(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([3]))
    s.freeze()
    s.put(rows([1, 2]))
    block = wal.fresh_tier_block_list()
    assert [(m.generation, m.in_memory, sorted(m.pks.to_pylist())) for m in block] == [
        (1, True, [3]),
        (2, True, [1, 2]),
    ]
    assert block[1].row_ids.to_pylist() == [
        {"shard": "s", "generation": 2, "append_index": 0, "row": 0},
        {"shard": "s", "generation": 2, "append_index": 0, "row": 1},
    ]


def test_block_lists_are_keyed_per_shard(make_wal) -> None:
    wal = make_wal()
    wal.shard("a").put(rows([1]))
    wal.shard("b").put(rows([2]))
    # a's cut excludes its own generation 1; b is absent from the cut: live tier
    assert members(wal.contains_pks_as_of([1, 2], {"a": AsOfCut(1, 0)})) == [False, True]
    # the H6 mitigation: an explicit {0, 0} excludes the shard entirely
    cut = {"a": AsOfCut(1, 0), "b": AsOfCut(0, 0)}
    assert members(wal.contains_pks_as_of([1, 2], cut)) == [False, False]
