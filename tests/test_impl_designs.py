"""Each design and capture variant on small scenarios (SEMANTICS.md "Reading")."""

from __future__ import annotations

import pyarrow as pa
import pytest
from conftest import rows

from impl import AsOfCut, Cut, ExactCut, MemWal, PinnedCut, WalPositionCut
from impl.scanner import ScanResult


def soundness_gap(wal: MemWal, design: str, arm_obs: pa.Table, cut: Cut) -> set[tuple]:
    """Row ids the check admits under ``cut`` that the arm did not observe."""
    observed = {tuple(r.values()) for r in arm_obs.to_pylist()}
    admitted = set()
    for gm in wal.scanner(design).fresh_tier_block_list(cut):
        admitted |= {tuple(r.values()) for r in gm.row_ids.to_pylist()}
    return admitted - observed


def test_as_of_cut_capture_visible_count(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.put(rows([2]))  # committed, not visible
    arm = wal.scanner("as_of_cut", "visible_count").scan()
    assert arm.cut == Cut("as_of_cut", {"s": AsOfCut(1, 1)})
    assert wal.contains_pks_as_of([1, 2], arm.cut).to_pylist() == [True, False]
    assert soundness_gap(wal, "as_of_cut", arm.observation, arm.cut) == set()


def test_capture_len_over_counts_h2(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.put(rows([2]))
    arm = wal.scanner("as_of_cut", "len").scan()
    assert arm.cut.shards["s"] == AsOfCut(1, 2)
    assert arm.table.column("id").to_pylist() == [1]
    assert wal.contains_pks_as_of([2], arm.cut).to_pylist() == [True]  # over-count
    assert soundness_gap(wal, "as_of_cut", arm.observation, arm.cut) == {("s", 1, 1, 0)}


def test_capture_after_scan_over_counts_h1(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    arm = wal.scanner("as_of_cut", "after_scan").scan(
        between_scan_and_capture=lambda: s.put(rows([2]))
    )
    assert arm.table.column("id").to_pylist() == [1]
    assert arm.cut.shards["s"] == AsOfCut(1, 2)
    assert wal.contains_pks_as_of([2], arm.cut).to_pylist() == [True]


def test_as_of_cut_reads_committed_but_watermark_reads_visible(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.freeze()
    s.put(rows([2]))
    s.publish()
    s.put(rows([3]))  # active gen 2: batch 1 committed, invisible
    cut = {"s": AsOfCut(3, 0)}  # both generations below A: whole
    assert wal.contains_pks_as_of([1, 2, 3], Cut("as_of_cut", cut)).to_pylist() == [
        True, True, True,
    ]
    ftw = Cut("fresh_tier_watermark", cut)
    assert wal.contains_pks_as_of([1, 2, 3], ftw).to_pylist() == [True, True, False]


@pytest.mark.parametrize("design", ["as_of_cut", "fresh_tier_watermark"])
def test_frozen_tail_published_after_the_arm_over_counts_h3(make_wal, design: str) -> None:
    wal = make_wal(visibility="lagged", base_ids=[2])
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.put(rows([2]))
    s.freeze()
    arm = wal.scanner(design).scan(with_base=False)
    assert arm.cut.shards["s"] == AsOfCut(2, 0)
    s.publish(1)
    assert wal.contains_pks_as_of([2], arm.cut).to_pylist() == [True]
    assert soundness_gap(wal, design, arm.observation, arm.cut) == {("s", 1, 1, 0)}


def test_exact_cut_admits_exactly_the_observation(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.put(rows([2]))
    s.freeze()
    s.put(rows([3]))
    s.publish(2)
    arm = wal.scanner("exact_cut").scan()
    assert arm.cut.shards["s"] == ExactCut(1, ((1, 1), (2, 1)))
    s.publish()
    s.put(rows([4]))
    s.flush()  # generation 1 moves to disk: row ids survive
    wal.shard("t").put(rows([5]))  # a shard the arm never saw: excluded
    got = wal.contains_pks_as_of([1, 2, 3, 4, 5], arm.cut).to_pylist()
    assert got == [True, False, True, False, False]
    assert soundness_gap(wal, "exact_cut", arm.observation, arm.cut) == set()


def test_exact_cut_is_void_after_an_epoch_change(make_wal) -> None:
    wal = make_wal()
    wal.shard("s").put(rows([1]))
    arm = wal.scanner("exact_cut").scan()
    wal.crash()
    wal2 = MemWal.open(wal.root)
    assert wal2.contains_pks_as_of([1], arm.cut).to_pylist() == [False]


def test_wal_position_map_is_live_tier_without_the_map(make_wal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    arm = wal.scanner("wal_position_map").scan()
    assert arm.cut.shards["s"] == WalPositionCut(2)
    s.put(rows([2]))
    assert wal.contains_pks_as_of([1, 2], arm.cut).to_pylist() == [True, True]  # over-count
    s.mark_wal_flushed()  # test-only: fill wal_batch_mapping
    assert s.memtables()[0].wal_batch_mapping == {0: 1, 1: 2}
    assert wal.contains_pks_as_of([1, 2], arm.cut).to_pylist() == [True, False]
    s.freeze()
    s.flush()  # SSTables carry no map: admitted whole again
    assert wal.contains_pks_as_of([1, 2], arm.cut).to_pylist() == [True, True]


def test_live_tier_has_an_empty_cut_and_two_phase_uses_the_live_check(make_wal) -> None:
    wal = make_wal(base_ids=[1, 2])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    res = wal.two_phase_read("live_tier", between=lambda: s.put(rows([2], "late")))
    assert res.cut == Cut("live_tier", {})
    # the original transient missing row: base row 2 dropped, arm never delivered it
    assert res.table.to_pylist() == [{"id": 1, "v": "new1"}]
    assert res.superseded.to_pylist() == [True, True]


@pytest.mark.parametrize("design", ["as_of_cut", "fresh_tier_watermark", "exact_cut",
                                    "pinned_cut"])
def test_sound_designs_keep_the_base_row_in_the_two_phase_read(make_wal, design: str) -> None:
    wal = make_wal(base_ids=[1, 2])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    res = wal.two_phase_read(design, between=lambda: s.put(rows([2], "late")))
    assert res.table.to_pylist() == [{"id": 1, "v": "new1"}, {"id": 2, "v": "b2"}]


def test_active_flushed_and_released_between_arm_and_check_under_counts_h4(make_wal) -> None:
    wal = make_wal(base_ids=[1])
    s = wal.shard("s")
    s.put(rows([1], "new"))

    def flush_active() -> None:
        s.freeze()
        s.flush()

    res = wal.two_phase_read("as_of_cut", between=flush_active)
    # duplicate: the arm delivered PK 1 and its base row survived
    assert res.table.column("id").to_pylist() == [1, 1]


def test_explicit_release_keeps_the_check_exact_h4_mitigation(make_wal) -> None:
    wal = make_wal(base_ids=[1], release="explicit")
    s = wal.shard("s")
    s.put(rows([1], "new"))

    def flush_active() -> None:
        s.freeze()
        s.flush()

    res = wal.two_phase_read("as_of_cut", between=flush_active)
    assert res.table.to_pylist() == [{"id": 1, "v": "new1"}]


def test_compaction_between_arm_and_check(make_wal) -> None:
    wal = make_wal(base_ids=[1])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    s.freeze()
    s.flush()
    res = wal.two_phase_read("as_of_cut", between=wal.compact)
    # H5b: generation 1 left the fresh tier; the base now holds its row: duplicate
    assert res.table.to_pylist() == [{"id": 1, "v": "new1"}, {"id": 1, "v": "new1"}]


def test_shard_created_after_the_arm_is_live_unless_zeroed_h6(make_wal) -> None:
    wal = make_wal(base_ids=[7])
    wal.shard("a").put(rows([1]))
    arm = wal.scanner("as_of_cut").scan(with_base=False)
    wal.shard("b").put(rows([7]))
    assert wal.contains_pks_as_of([7], arm.cut).to_pylist() == [True]  # over-count
    zeroed = Cut("as_of_cut", {**arm.cut.shards, "b": AsOfCut(0, 0)})
    assert wal.contains_pks_as_of([7], zeroed).to_pylist() == [False]


# ---------------------------------------------------------------- pinned_cut


def _compacted_window(wal: MemWal) -> None:
    """Between arm and check: a new write, a delete of a base row, everything compacted."""
    s = wal.shard("s")
    s.put(rows([3], "late"))
    s.delete([2])
    s.freeze()
    while s.flush() is not None:
        pass
    wal.compact()


def _observed_flushed(make_wal) -> MemWal:  # type: ignore[no-untyped-def]
    wal = make_wal(base_ids=[1, 2, 3])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    s.freeze()
    s.flush()  # SSTable 1 (observed by the arm), compacted in the window
    s.put(rows([4], "act"))  # active generation 2 (observed), flushed and compacted too
    return wal


def _arm_over_a_hole(wal: MemWal) -> ScanResult:
    """A pinned arm that reads WAL positions 1 and 3 of shard s but not 2 (lagged)."""
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    s.put(rows([2]))  # position 2: committed, not visible
    s.freeze()
    s.put(rows([3]))
    s.publish(2)  # position 3 visible, position 2 still not: a hole
    return wal.scanner("pinned_cut").scan(with_base=False)


def test_pinned_cut_records_wal_runs_and_the_base_version(make_wal) -> None:
    wal = make_wal(base_ids=[1], visibility="lagged")
    s = wal.shard("s")
    arm = _arm_over_a_hole(wal)
    assert arm.cut == Cut("pinned_cut", {"s": PinnedCut(1, 0, ((1, 2), (3, 4)))})
    assert wal.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == [True, False, True]
    s.publish()  # the frozen tail becomes visible after the arm (H3): still excluded
    assert wal.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == [True, False, True]
    assert soundness_gap(wal, "pinned_cut", arm.observation, arm.cut) == set()


def test_pinned_two_phase_read_is_the_arms_snapshot_across_compaction(make_wal) -> None:
    wal = _observed_flushed(make_wal)
    snapshot = wal.scan().table.to_pylist()
    res = wal.two_phase_read("pinned_cut", between=lambda: _compacted_window(wal))
    assert res.table.to_pylist() == snapshot  # no duplicate, no missing row, no mix of times
    exact = _observed_flushed(make_wal)
    dup = exact.two_phase_read("exact_cut", between=lambda: _compacted_window(exact))
    # H5b: current base (1 and 4 merged, 2 deleted, 3 'late') + the arm's 1 and 4
    assert dup.table.column("id").to_pylist() == [1, 1, 3, 4, 4]


def test_planted_check_without_merged_generations_duplicates(make_wal, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Plant: the pinned check ignores generations merged after the pin (no ``since``)."""
    import impl.scanner

    monkeypatch.setattr(impl.scanner, "_since", lambda cut: None)
    wal = _observed_flushed(make_wal)
    res = wal.two_phase_read("pinned_cut", between=lambda: _compacted_window(wal))
    assert res.table.column("id").to_pylist() == [1, 1, 2, 3, 4]  # base row 1 kept: duplicate


def test_planted_unpinned_base_is_not_the_snapshot(make_wal, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Plant: the reader reads the current base instead of the pinned version."""
    from impl.tier import Tier

    monkeypatch.setattr(Tier, "base_at", lambda self, version: self.base)
    wal = _observed_flushed(make_wal)
    snapshot = wal.scan().table.to_pylist()
    res = wal.two_phase_read("pinned_cut", between=lambda: _compacted_window(wal))
    assert res.table.to_pylist() != snapshot  # base row 2 deleted, row 3 'late' leak in


def test_pinned_cut_survives_crash_replay_and_a_later_compaction(make_wal) -> None:
    wal = make_wal(base_ids=[1, 2, 3])
    s = wal.shard("s")
    s.put(rows([1], "a"))
    s.freeze()
    s.put(rows([2], "b"))  # gen 2 active; gen 1 frozen
    arm = wal.scanner("pinned_cut").scan(with_base=False)
    s.put(rows([3], "c"))  # after the arm
    wal.crash()
    again = MemWal.open(wal.root, wal.options)  # replay: gen 1 holds a, b, c (renumbered)
    assert again.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == [True, True, False]
    t = again.shard("s")
    t.freeze()
    t.flush()
    again.compact()  # the replayed generation is merged after the pin: still probed
    assert again.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == [True, True, False]
    exact = again.scanner("exact_cut")
    assert exact.scan(with_base=False).cut.shards["s"].writer_epoch == 2


def test_pinned_cut_with_a_hole_inside_one_replayed_generation(make_wal) -> None:
    """Two WAL runs of the cut land in one generation (a replay merges generations), so
    the check places both runs in it: in memory, flushed to an SSTable, then compacted."""
    wal = make_wal(base_ids=[1, 2, 3], visibility="lagged")
    arm = _arm_over_a_hole(wal)
    assert arm.cut.shards["s"].wal_ranges == ((1, 2), (3, 4))
    wal.crash()
    again = MemWal.open(wal.root, wal.options)  # one generation holds positions 1, 2, 3
    members = [True, False, True]  # the hole (position 2) is not the arm's
    assert again.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == members
    t = again.shard("s")
    t.freeze()
    t.flush()  # both runs inside one SSTable: two append-index ranges of its sidecar
    assert again.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == members
    again.compact()
    assert again.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == members


def test_pinned_cut_taken_after_a_compaction_pins_what_the_base_holds(make_wal) -> None:
    """The cut records the base's ``compacted_through`` for its shard: the check probes only
    generations merged *after* the pin, never the ones the pinned base already holds."""
    wal = make_wal(base_ids=[1, 2, 3])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    s.freeze()
    s.flush()
    wal.compact()  # generation 1 is in the base now
    s.put(rows([4], "act"))
    arm = wal.scanner("pinned_cut").scan(with_base=False)
    assert arm.cut.shards["s"].pinned_through == 1
    assert wal.contains_pks_as_of([1, 2, 3, 4], arm.cut).to_pylist() == [False, False, False, True]


def test_pinned_cut_spans_a_merged_generation_and_one_still_in_memory(make_wal) -> None:
    wal = make_wal(base_ids=[1, 2, 3])
    s = wal.shard("s")
    s.put(rows([1], "a"))
    s.freeze()
    s.put(rows([2], "b"))  # generation 2, active
    arm = wal.scanner("pinned_cut").scan(with_base=False)
    s.flush()
    wal.compact()  # generation 1 merged after the pin; generation 2 still in memory
    s.put(rows([3], "c"))  # after the arm
    assert wal.contains_pks_as_of([1, 2, 3], arm.cut).to_pylist() == [True, True, False]
    blocks = wal.fresh_tier_block_list(arm.cut)
    assert [(b.shard, b.generation, b.in_memory) for b in blocks] == [
        ("s", 1, False), ("s", 2, True)]


def test_capture_visible_count_is_the_snapshot_count_not_a_later_one(make_wal) -> None:
    """A write between the scan and the capture changes nothing under visible_count (A1)."""
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    arm = wal.scanner("as_of_cut", "visible_count").scan(
        between_scan_and_capture=lambda: s.put(rows([2])))
    assert arm.cut.shards["s"] == AsOfCut(1, 1)


def test_wal_position_cut_is_one_past_the_highest_visible_position_read(make_wal) -> None:
    wal = make_wal(visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))  # committed, invisible: nothing read from memory
    assert wal.scanner("wal_position_map").scan().cut.shards["s"] == WalPositionCut(0)
    s.publish()
    s.put(rows([2]))
    s.publish()
    s.put(rows([3]))  # WAL position 3, invisible
    assert wal.scanner("wal_position_map").scan().cut.shards["s"] == WalPositionCut(3)


def test_two_phase_result_carries_every_piece_it_was_judged_on(make_wal) -> None:
    wal = make_wal(base_ids=[1, 2])
    s = wal.shard("s")
    s.put(rows([1], "new"))
    res = wal.two_phase_read("as_of_cut", between=lambda: s.put(rows([3], "late")))
    assert res.arm.table.column("id").to_pylist() == [1]
    assert res.base.column("id").to_pylist() == [1, 2]
    assert res.superseded.to_pylist() == [True, False]
    # the check's own snapshot, later than the arm's: it holds the late write
    assert res.check.shards["s"].active.committed == 2


def test_cuts_are_hashable_values() -> None:
    a = Cut("as_of_cut", {"s": AsOfCut(1, 2), "t": AsOfCut(3, 0)})
    b = Cut("as_of_cut", {"t": AsOfCut(3, 0), "s": AsOfCut(1, 2)})
    assert hash(a) == hash(b) and len({a, b, Cut("as_of_cut", {"s": AsOfCut(1, 3)})}) == 2
    assert hash(Cut("exact_cut", {"s": ExactCut(1, ((1, 2),))})) == hash(
        Cut("exact_cut", {"s": ExactCut(1, {1: 2})}))  # type: ignore[arg-type]  # a mapping is normalised


def test_an_empty_prefix_has_the_pk_columns_type() -> None:
    from impl.memtable import MemTable

    empty = MemTable(1, "id")
    assert empty.pk_slice(0, 0).type == pa.null()  # no batch yet: no type to know
    m = MemTable(1, "id")
    m.store.append(rows([1, 2]).to_batches()[0], 1, visible=True)
    assert m.pk_slice(1, 1).type == pa.int64() and len(m.pk_slice(1, 1)) == 0
    assert m.pk_slice(0, 1).to_pylist() == [1, 2]


def test_the_arm_reports_every_pk_it_delivered_a_version_of(make_wal) -> None:
    """observed_pks holds tombstoned keys too (a deleted key was delivered: as a delete)."""
    wal = make_wal(base_ids=[1, 2, 3])
    empty = wal.scanner("as_of_cut").scan(with_base=False)
    assert empty.table.num_rows == 0 and empty.table.schema == wal.schema
    assert empty.observed_pks.type == pa.int64() and len(empty.observed_pks) == 0
    s = wal.shard("s")
    s.put(rows([1, 4], "new"))
    s.delete([2])
    arm = wal.scanner("as_of_cut").scan()  # with the base by default
    assert sorted(arm.observed_pks.to_pylist()) == [1, 2, 4]
    assert arm.table.column("id").to_pylist() == [1, 3, 4]
    assert wal.scanner("as_of_cut").scan(with_base=False).table.column("id").to_pylist() == [1, 4]


def test_a_plain_read_returns_the_arms_rows_without_its_bookkeeping(make_wal) -> None:  # type: ignore[no-untyped-def]
    """``scan(observe=False)``: the same newest rows, no observation, no observed PKs."""
    wal = make_wal(base_ids=[1, 2, 3])
    s = wal.shard("s")
    s.put(rows([1, 4], "new"))
    s.delete([2])
    arm = wal.scanner().scan()
    plain = wal.scanner().scan(observe=False)
    assert plain.table.to_pylist() == arm.table.to_pylist()
    assert arm.observation.num_rows == 3 and sorted(arm.observed_pks.to_pylist()) == [1, 2, 4]
    assert plain.observation.num_rows == 0 and plain.observed_pks.to_pylist() == []
