"""Every lifecycle operation of a shard, per SEMANTICS.md's generation table."""

from __future__ import annotations

import pytest
from conftest import rows

from impl import UnknownShardError


def test_first_write_creates_shard_at_generation_1_epoch_1(make_wal) -> None:
    wal = make_wal()
    assert wal.shards() == []
    ack = wal.shard("s").put(rows([1, 2]))
    assert (ack.shard, ack.generation, ack.append_index, ack.num_rows, ack.wal_position) == (
        "s", 1, 0, 2, 1,
    )
    st = wal.shard("s").stats()
    assert (st.writer_epoch, st.active_generation, st.active_committed, st.active_visible) == (
        1, 1, 1, 1,
    )
    assert wal.shards() == ["s"]


def test_operations_on_an_unwritten_shard_raise_unknown_shard(make_wal) -> None:
    wal = make_wal()
    with pytest.raises(UnknownShardError, match="'nope'"):
        wal.shard("nope").freeze()
    with pytest.raises(UnknownShardError):
        wal.shard("nope").stats()
    assert wal.shards() == []


def test_append_index_is_committed_count_and_wal_positions_are_shard_global(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    acks = [s.put(rows([i])) for i in range(3)]
    assert [a.append_index for a in acks] == [0, 1, 2]
    s.freeze()
    ack = s.delete([0])
    assert (ack.generation, ack.append_index, ack.wal_position) == (2, 0, 4)


def test_duplicate_pk_within_a_batch_last_row_wins(make_wal) -> None:
    wal = make_wal()
    wal.shard("s").put(rows([1, 1]).set_column(1, "v", [["first", "second"]]))
    assert wal.scan().table.to_pylist() == [{"id": 1, "v": "second"}]


def test_delete_is_a_tombstone_that_hides_base_and_counts_as_member(make_wal) -> None:
    wal = make_wal(base_ids=[1, 2])
    wal.shard("s").delete([1])
    assert wal.scan().table.column("id").to_pylist() == [2]
    assert wal.contains_pks([1, 2]).to_pylist() == [True, False]


def test_newer_generation_wins_then_append_index(make_wal) -> None:
    wal = make_wal(base_ids=[1])
    s = wal.shard("s")
    s.put(rows([1], "g1a"))
    s.put(rows([1], "g1b"))
    s.freeze()
    s.flush()
    s.put(rows([1], "g2"))
    assert wal.scan().table.to_pylist() == [{"id": 1, "v": "g21"}]
    s.delete([1])
    assert wal.scan().table.num_rows == 0


def test_freeze_of_empty_active_is_a_noop(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    assert s.freeze() == 2
    assert s.freeze() == 2
    assert s.stats().frozen == ((1, 1, 1),)


def test_flush_takes_oldest_frozen_and_advances_manifest(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.put(rows([2]))
    s.put(rows([3]))
    s.freeze()
    assert s.flush() == 1
    st = s.stats()
    assert st.frozen == ((2, 2, 2),)
    assert (st.sstables, st.current_generation, st.replay_after_wal_position) == ((1,), 2, 1)
    assert s.flush() == 2
    assert s.flush() is None
    st = s.stats()
    assert (st.sstables, st.current_generation, st.replay_after_wal_position) == ((1, 2), 3, 3)
    assert st.retained == ()  # release at flush (Lance's grace = 0)


def test_sstable_keeps_every_row_id_and_sidecar_lists_every_row(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1, 2]))
    s.put(rows([1]))
    s.delete([2])
    before = wal.scan().observation.to_pylist()
    s.freeze()
    s.flush()
    after = wal.scan()
    assert after.observation.to_pylist() == before  # row ids survive flush
    block = wal.fresh_tier_block_list()
    assert len(block) == 1 and not block[0].in_memory
    assert sorted(block[0].pks.to_pylist()) == [1, 1, 2, 2]  # superseded + tombstone kept
    assert after.table.to_pylist() == [{"id": 1, "v": "v1"}]


def test_explicit_release_keeps_flushed_memtable_in_memory_until_release(make_wal) -> None:
    wal = make_wal(release="explicit")
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()
    st = s.stats()
    assert (st.retained, st.sstables) == ((1,), (1,))
    block = wal.fresh_tier_block_list()
    assert [(m.generation, m.in_memory) for m in block] == [(1, True)]  # SSTable suppressed
    assert s.release() == [1]
    assert s.release() == []
    assert [(m.generation, m.in_memory) for m in wal.fresh_tier_block_list()] == [(1, False)]


def test_release_of_one_generation(make_wal) -> None:
    wal = make_wal(release="explicit")
    s = wal.shard("s")
    for i in (1, 2):
        s.put(rows([i]))
        s.freeze()
        s.flush()
    assert s.release(2) == [2]
    assert s.stats().retained == (1,)


def test_auto_freeze_when_committed_count_reaches_the_limit(make_wal) -> None:
    wal = make_wal(max_memtable_batches=2)
    s = wal.shard("s")
    assert s.put(rows([1])).generation == 1
    ack = s.put(rows([2]))
    assert (ack.generation, ack.append_index) == (1, 1)
    st = s.stats()
    assert (st.active_generation, st.frozen) == (2, ((1, 2, 2),))


def test_lagged_visibility_hides_until_publish(make_wal) -> None:
    wal = make_wal(visibility="lagged", base_ids=[1])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    st = s.stats()
    assert (st.active_committed, st.active_visible) == (1, 0)
    assert wal.scan().table.to_pylist() == [{"id": 1, "v": "b1"}]
    s.publish()
    assert wal.scan().table.to_pylist() == [{"id": 1, "v": "new1"}]


def test_publish_of_a_frozen_tail_after_freeze(make_wal) -> None:
    """H3's set-up: a frozen memtable whose tail becomes visible after the freeze."""
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.put(rows([2]))
    s.freeze()
    assert s.stats().frozen == ((1, 2, 1),)
    assert wal.scan().table.column("id").to_pylist() == [1]
    s.put(rows([3]))
    s.publish(1)
    st = s.stats()
    assert st.frozen == ((1, 2, 2),)
    assert (st.active_committed, st.active_visible) == (1, 0)
    assert wal.scan().table.column("id").to_pylist() == [1, 2]


def test_flush_publishes_the_tail_first(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()
    assert wal.scan().table.column("id").to_pylist() == [1]


def test_publish_is_a_noop_in_immediate_mode(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    before = s.stats()
    s.publish()
    assert s.stats() == before


def test_compaction_merges_sstables_ascending_into_base(make_wal) -> None:
    wal = make_wal(base_ids=[1, 2, 3])
    s = wal.shard("s")
    s.put(rows([1], "g1-"))
    s.delete([2])
    s.freeze()
    s.flush()
    s.put(rows([1], "g2-"))
    s.put(rows([4]))
    s.freeze()
    s.flush()
    s.put(rows([5]))  # active, not compacted
    assert wal.compact() == {"s": [1, 2]}
    assert wal.read_base().to_pylist() == [
        {"id": 1, "v": "g2-1"},
        {"id": 3, "v": "b3"},
        {"id": 4, "v": "v4"},
    ]
    st = s.stats()
    assert (st.sstables, st.compacted_through) == ((), 2)
    assert wal.scan().table.column("id").to_pylist() == [1, 3, 4, 5]
    # compacted rows are never candidates
    assert wal.contains_pks([1, 4, 5]).to_pylist() == [False, False, True]
    assert wal.compact() == {}


def test_compaction_drops_retained_in_memory_copies(make_wal) -> None:
    wal = make_wal(release="explicit")
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()
    assert wal.compact() == {"s": [1]}
    assert s.stats().retained == ()
    assert wal.contains_pks([1]).to_pylist() == [False]


def test_compaction_is_per_shard(make_wal) -> None:
    wal = make_wal()
    for shard, pk in (("a", 1), ("b", 2)):
        wal.shard(shard).put(rows([pk]))
        wal.shard(shard).freeze()
        wal.shard(shard).flush()
    wal.shard("b").put(rows([3]))
    wal.shard("b").freeze()
    wal.shard("b").flush()
    assert wal.compact() == {"a": [1], "b": [1, 2]}
    assert wal.read_base().column("id").to_pylist() == [1, 2, 3]
