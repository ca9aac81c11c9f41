"""MemTable prefixes and the collector's snapshot, at the unit level.

A batch-count bound must become the right row-position bound for any prefix
[start, stop), before and after the cached columns are extended, and empty
ranges keep their column types.  The collector labels each in-memory
generation and source with its shard and role.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from conftest import SCHEMA, rows

from impl import AsOfCut, Cut, MemWal, MemWalOptions, PinnedCut
from impl.collector import collect
from impl.memtable import MAX_CHUNKS, MemTable

BATCHES = [[1, 2], [3], [4, 5, 6]]


def memtable(batches: list[list[int]] = BATCHES) -> MemTable:
    m = MemTable(3, "id")
    for i, ids in enumerate(batches):
        m.store.append(rows(ids).to_batches()[0], 10 + i, visible=True)
    return m


@pytest.mark.parametrize(
    ("start", "stop", "pks", "ai", "row"),
    [
        (0, 1, [1, 2], [0, 0], [0, 1]),
        (1, 2, [3], [1], [0]),
        (1, 3, [3, 4, 5, 6], [1, 2, 2, 2], [0, 0, 1, 2]),
        (2, 3, [4, 5, 6], [2, 2, 2], [0, 1, 2]),
        (0, 9, [1, 2, 3, 4, 5, 6], [0, 0, 1, 2, 2, 2], [0, 1, 0, 0, 1, 2]),
        (1, 1, [], [], []),
        (2, 1, [], [], []),
    ],
)
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm cache"])
def test_a_batch_prefix_is_the_right_row_slice(start: int, stop: int, pks: list[int],
                                               ai: list[int], row: list[int], warm: bool) -> None:
    m = memtable()
    if warm:
        m.pk_slice(0, 3)
    got_ai, got_row = m.id_slice(start, stop)
    assert m.pk_slice(start, stop).to_pylist() == pks
    assert (got_ai.to_pylist(), got_row.to_pylist()) == (ai, row)
    assert got_ai.type == got_row.type == pa.int64()
    assert m.pk_slice(start, stop).type == pa.int64()


def test_the_cached_columns_extend_with_later_batches() -> None:
    m = memtable(BATCHES[:2])
    assert m.id_slice(0, 2)[0].to_pylist() == [0, 0, 1]  # cache covers 2 batches
    m.store.append(rows([4, 5, 6]).to_batches()[0], 12, visible=True)
    ai, row = m.id_slice(0, 3)
    assert ai.to_pylist() == [0, 0, 1, 2, 2, 2] and row.to_pylist() == [0, 1, 0, 0, 1, 2]
    assert m.pk_slice(1, 3).to_pylist() == [3, 4, 5, 6]


def test_a_prefix_of_rows_is_the_same_in_any_order_of_requests() -> None:
    # rows(n) is built incrementally from the last prefix asked for; whatever was asked
    # before (a longer prefix, a shorter one, the same one, more batches than one table
    # keeps as chunks), it must equal the prefix built from nothing
    batches = [[i, i + 100] if i % 3 else [i] for i in range(MAX_CHUNKS + 4)]
    warm = memtable(batches)
    for count in (3, 1, 5, 5, 2, len(batches), 7, len(batches), 4):
        cold = memtable(batches).rows(count)
        got = warm.rows(count)
        assert got is not None and cold is not None
        assert got.to_pydict() == cold.to_pydict(), f"rows({count})"
    assert memtable([]).rows(3) is None


def test_a_longer_prefix_of_rows_extends_the_last_one_and_a_repeat_is_the_same_table() -> None:
    # the incremental design, not a timing: a reader after each write pays for that write's
    # rows (one chunk more), and past MAX_CHUNKS chunks one copy makes the table one chunk again
    m = memtable([[i] for i in range(MAX_CHUNKS + 2)])
    first = m.rows(1)
    assert m.rows(1) is first  # asked again: nothing rebuilt
    chunks = [m.rows(n).column(0).num_chunks for n in range(2, MAX_CHUNKS + 3)]  # type: ignore[union-attr]
    assert chunks == [*range(2, MAX_CHUNKS + 1), 1, 2]


def test_the_pk_column_is_built_once_and_sliced() -> None:
    m = memtable()
    whole, prefix = m.pk_slice(0, 3), m.pk_slice(0, 2)  # zero-copy slices of one column
    assert whole.buffers()[1].address == prefix.buffers()[1].address
    assert m.pk_slice(0, 3).buffers()[1].address == whole.buffers()[1].address


def test_the_base_part_is_laid_out_once_per_base_version() -> None:
    from impl.scanner import _base_part
    from impl.schema import TableSchema

    internal = TableSchema.build(SCHEMA, "id").internal
    base, other = rows([1, 2]), rows([1, 2])
    part = _base_part(base, internal)
    assert part.column("id").to_pylist() == [1, 2]
    assert _base_part(base, internal) is part  # every scan between two compactions
    assert _base_part(other, internal) is not part  # another base version: laid out anew
    assert _base_part(other, internal).equals(part)


def test_a_wal_bound_counts_only_among_the_first_batches_asked_for() -> None:
    store = memtable().store  # WAL positions 10, 11, 12
    assert [store.bisect_wal(99, count) for count in range(5)] == [0, 1, 2, 3, 3]
    assert [store.bisect_wal(11, count) for count in range(4)] == [0, 1, 1, 1]
    assert store.bisect_wal(10, 3) == 0 and store.bisect_wal(99, -1) == 0


def test_wal_positions_and_the_test_only_map() -> None:
    assert MemTable(1, "id").max_wal_position() == 0
    m = memtable()
    assert m.max_wal_position() == 12 and m.wal_positions(2) == [10, 11]
    assert m.mapped_count == 0 and m.wal_batch_mapping == {}  # nothing mapped until marked


def test_the_collector_labels_sources_with_shard_and_role(tmp_path: Path) -> None:
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", MemWalOptions(release="explicit"))
    s = wal.shard("s")
    for ids in ([1], [2], [3]):
        s.put(rows(ids))
        s.freeze()
    s.flush()  # generation 1: retained
    s.flush()  # generation 2: retained
    s.release(1)  # generation 1: SSTable only
    sources = collect(wal._tier).shards["s"]
    assert [(m.generation, m.role) for m in sources.memtables] == [
        (2, "retained"), (3, "frozen"), (4, "active")]
    assert [sst.generation for sst in sources.sstables] == [1]
    assert {m.shard for m in sources.memtables} | {x.shard for x in sources.sstables} == {"s"}
    assert sources.active.generation == 4
    s.flush()  # generation 3: retained, SSTable 3 written
    s.release()
    wal.compact()  # SSTables 1..3 merged into the base: no longer fresh-tier sources
    assert collect(wal._tier).shards["s"].sstables == ()


def test_a_cut_keeps_its_own_immutable_copy_of_the_entries() -> None:
    entries = {"s": AsOfCut(1, 1)}
    cut = Cut("as_of_cut", entries)
    entries["t"] = AsOfCut(2, 0)
    assert dict(cut.shards) == {"s": AsOfCut(1, 1)}
    with pytest.raises(TypeError):
        cut.shards["u"] = AsOfCut(0, 0)  # type: ignore[index]


def test_a_pinned_cut_keeps_its_runs_as_a_tuple_of_pairs() -> None:
    # runs given as lists are stored as tuples: the cut stays immutable, and equal to (and
    # hashed as) the same cut built from tuples
    cut = PinnedCut(2, 1, [[1, 3], [5, 7]])  # type: ignore[arg-type]
    assert cut.wal_ranges == ((1, 3), (5, 7))
    assert cut == PinnedCut(2, 1, ((1, 3), (5, 7)))
    assert hash(cut) == hash(PinnedCut(2, 1, ((1, 3), (5, 7))))
