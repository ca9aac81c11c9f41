"""Crash, close and reopen: epochs, WAL replay into one memtable, torn tails."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import SCHEMA, rows

from impl import ClosedError, CorruptWalError, MemWal, MemWalOptions, NotATableError


def _listing(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_reopen_bumps_epoch_and_renumbers_frozen_and_active_into_one(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()  # generation 1 flushed: current_generation = 2
    s.put(rows([2]))
    s.put(rows([3]))
    s.freeze()  # frozen 2
    s.put(rows([4]))  # active 3
    before = wal.scan().table
    wal.crash()
    wal2 = MemWal.open(wal.root)
    st = wal2.shard("s").stats()
    assert st.writer_epoch == 2
    assert (st.active_generation, st.active_committed, st.active_visible) == (2, 3, 3)
    assert (st.frozen, st.sstables, st.last_wal_position) == ((), (1,), 4)
    assert wal2.scan().table.equals(before)
    # batch positions are renumbered: old (3, 0) is now (2, 2)
    ids = {(r["generation"], r["append_index"]) for r in wal2.scan().observation.to_pylist()}
    assert ids == {(1, 0), (2, 0), (2, 1), (2, 2)}


def test_close_then_open_keeps_every_acknowledged_batch(make_wal) -> None:
    wal = make_wal(base_ids=[9])
    wal.shard("a").put(rows([1]))
    wal.shard("b").delete([9])
    before = wal.scan().table
    wal.close()
    with pytest.raises(ClosedError):
        wal.shard("a").put(rows([2]))
    with pytest.raises(ClosedError):
        wal.scan()
    wal2 = MemWal.open(wal.root)
    assert wal2.shards() == ["a", "b"]
    assert wal2.scan().table.equals(before)


def test_crash_loses_nothing_acknowledged_and_replay_is_all_visible(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.put(rows([2]))
    assert wal.scan().table.num_rows == 0
    wal.crash()
    wal2 = MemWal.open(wal.root, MemWalOptions(visibility="lagged"))
    st = wal2.shard("s").stats()
    assert (st.active_committed, st.active_visible) == (2, 2)
    assert wal2.scan().table.column("id").to_pylist() == [1, 2]


def test_replay_never_auto_freezes_and_writes_continue_after_it(make_wal) -> None:
    wal = make_wal(max_memtable_batches=2)
    s = wal.shard("s")
    for i in range(5):
        s.put(rows([i]))
    wal.crash()
    wal2 = MemWal.open(wal.root, MemWalOptions(max_memtable_batches=2))
    s2 = wal2.shard("s")
    st = s2.stats()
    assert (st.active_generation, st.active_committed, st.frozen) == (1, 5, ())
    ack = s2.put(rows([10]))
    assert (ack.generation, ack.append_index, ack.wal_position) == (1, 5, 6)
    assert s2.stats().active_generation == 2  # the live path auto-freezes again


def test_flushed_generations_are_not_replayed_and_sstables_reload(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()
    wal.crash()
    wal2 = MemWal.open(wal.root)
    st = wal2.shard("s").stats()
    assert (st.active_generation, st.active_committed, st.sstables) == (2, 0, (1,))
    assert wal2.contains_pks([1]).to_pylist() == [True]
    assert wal2.scan().table.column("id").to_pylist() == [1]


def test_reopen_after_compaction(make_wal) -> None:
    wal = make_wal(base_ids=[5])
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()
    wal.compact()
    wal.close()
    wal2 = MemWal.open(wal.root)
    st = wal2.shard("s").stats()
    assert (st.sstables, st.compacted_through, st.writer_epoch) == ((), 1, 2)
    assert wal2.read_base().column("id").to_pylist() == [1, 5]


def test_torn_wal_tail_is_truncated_with_a_warning(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.put(rows([2]))
    wal.crash()
    tail = wal.root / "_mem_wal" / "s" / "wal" / f"{2:020d}.arrow"
    tail.write_bytes(tail.read_bytes()[:40])
    with pytest.warns(RuntimeWarning, match=str(tail.name)):
        wal2 = MemWal.open(wal.root)
    assert not tail.exists()
    assert wal2.scan().table.column("id").to_pylist() == [1]
    assert wal2.shard("s").put(rows([3])).wal_position == 2


def test_corruption_before_the_tail_raises_and_changes_nothing(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    for i in range(3):
        s.put(rows([i]))
    wal.crash()
    middle = wal.root / "_mem_wal" / "s" / "wal" / f"{2:020d}.arrow"
    middle.write_bytes(b"garbage")
    before = _listing(wal.root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CorruptWalError, match=middle.name):
            MemWal.open(wal.root)
    assert _listing(wal.root) == before


def test_open_of_a_directory_without_a_table(tmp_path: Path) -> None:
    with pytest.raises(NotATableError):
        MemWal.open(tmp_path)


def test_create_refuses_an_existing_table(make_wal) -> None:
    wal = make_wal()
    with pytest.raises(NotATableError):
        MemWal.create(wal.root, SCHEMA, "id")
