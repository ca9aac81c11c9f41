"""The impl's hazard knobs H5a and H8–H15 (docs/SEMANTICS.md "Hazard knobs").

Per knob: its default keeps the behaviour every other test relies on (shown on
the same scenario), its other value reproduces the hazard in the shortest
hand-written scenario on a real MemWal, and where it is cheap a planted bug
(the knob's code path patched away) makes the effect disappear, so the effect
test can fail.  Bad option values are typed errors naming the value.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import SCHEMA, rows

import impl.block_list
import impl.scanner
from impl import (
    AsOfCut,
    Cut,
    ExactCut,
    FlushFailedError,
    InvalidOptionError,
    MemWal,
    MemWalOptions,
    NullPrimaryKeyError,
    PinnedCut,
    PrimaryKeyTypeError,
    ScanResult,
    ShardWriter,
    SimulatedCrash,
    pk_hash,
)
from impl.faults import CrashingDisk
from impl.schema import TableSchema

MakeWal = Callable[..., MemWal]


def ids(table: pa.Table) -> list[int]:
    return [int(v) for v in table.column("id").to_pylist()]


def member(wal: MemWal, pks: object, cut: object) -> list[bool]:
    return [bool(v) for v in wal.contains_pks_as_of(pks, cut).to_pylist()]


def reopen(wal: MemWal) -> MemWal:
    return MemWal.open(wal.root, wal.options)


# ------------------------------------------------------------------ options


def test_defaults_are_the_first_value_of_each_knob_and_todays_behaviour() -> None:
    o = MemWalOptions()
    assert (o.capture, o.durability, o.pk_hash_bits, o.memtable_pk_index) == (
        "visible_count", "before_visible", None, True,
    )
    assert (o.probe_key_types, o.flush_failure, o.arm_visibility, o.arm_sources) == (
        "strict", "retry", "one_instant", "snapshot",
    )


BAD_OPTIONS: list[tuple[str, object]] = [
    ("capture", "inclusive"),
    ("durability", "sometimes"),
    ("durability", None),
    ("pk_hash_bits", 0),
    ("pk_hash_bits", 65),
    ("pk_hash_bits", True),
    ("pk_hash_bits", 2.0),
    ("memtable_pk_index", 1),
    ("memtable_pk_index", "no"),
    ("probe_key_types", "coerce"),
    ("flush_failure", "ignore"),
    ("arm_visibility", ["two_instants"]),
    ("arm_sources", "manifest"),
]


@pytest.mark.parametrize(("name", "bad"), BAD_OPTIONS)
def test_a_bad_knob_value_is_a_typed_error_naming_it_and_changes_nothing(
    make_wal: MakeWal, name: str, bad: object
) -> None:
    wal = make_wal()
    wal.shard("s").put(rows([1]))
    before = wal.options
    with pytest.raises(InvalidOptionError, match=name) as err:
        dataclasses.replace(before, **{name: bad})  # type: ignore[arg-type]
    assert repr(bad) in str(err.value)
    assert wal.options is before and wal.options == MemWalOptions()
    assert ids(wal.scan().table) == [1]


@pytest.mark.parametrize("sources", ["snapshot", "manifest_first"])
def test_a_non_callable_between_reads_is_a_typed_error(make_wal: MakeWal, sources: str) -> None:
    wal = make_wal(arm_sources=sources)
    with pytest.raises(InvalidOptionError, match="'soon'"):
        wal.scan(between_reads="soon")  # type: ignore[arg-type]


def test_every_good_knob_value_is_accepted() -> None:
    for name, good in [("capture", "inclusive_position"), ("durability", "after_visible"),
                       ("pk_hash_bits", 1), ("pk_hash_bits", 64), ("memtable_pk_index", False),
                       ("probe_key_types", "lance"), ("flush_failure", "skip"),
                       ("arm_visibility", "two_instants"), ("arm_sources", "manifest_first")]:
        assert getattr(MemWalOptions(**{name: good}), name) == good  # type: ignore[arg-type]


# ------------------------------------------------ H8: inclusive position 0


def h8_scenario(make_wal: MakeWal, capture: str, design: str = "as_of_cut") -> tuple[Cut, bool]:
    """Freeze, arm on the empty active generation, put: does the check claim the put?"""
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    arm = wal.scanner(design, capture).scan(with_base=False)
    s.put(rows([2]))  # generation 2, append index 0: after the arm
    return arm.cut, member(wal, [2], arm.cut)[0]


@pytest.mark.parametrize("design", ["as_of_cut", "fresh_tier_watermark"])
def test_h8_inclusive_position_claims_batch_0_of_an_empty_active(
    make_wal: MakeWal, design: str
) -> None:
    cut, claimed = h8_scenario(make_wal, "inclusive_position", design)
    assert cut.shards["s"] == AsOfCut(2, 1)  # nothing visible, N = 0 + 1
    assert claimed  # over-count: the arm never read row 2


@pytest.mark.parametrize("design", ["as_of_cut", "fresh_tier_watermark"])
def test_h8_default_visible_count_claims_nothing(make_wal: MakeWal, design: str) -> None:
    cut, claimed = h8_scenario(make_wal, "visible_count", design)
    assert cut.shards["s"] == AsOfCut(2, 0)
    assert not claimed


def test_h8_inclusive_position_equals_visible_count_once_something_is_visible(
    make_wal: MakeWal,
) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.put(rows([2]))
    cuts = [wal.scanner("as_of_cut", c).scan().cut for c in ("inclusive_position", "visible_count")]
    assert cuts[0] == cuts[1] == Cut("as_of_cut", {"s": AsOfCut(1, 2)})


def test_h8_planted_bug_capture_read_as_visible_count(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = impl.scanner.check_capture
    monkeypatch.setattr(impl.scanner, "check_capture", lambda c: real(c) and "visible_count")
    assert h8_scenario(make_wal, "inclusive_position") == (
        Cut("as_of_cut", {"s": AsOfCut(2, 0)}), False,
    )


@pytest.mark.parametrize("design", ["exact_cut", "pinned_cut", "wal_position_map"])
def test_h8_other_designs_ignore_the_capture(make_wal: MakeWal, design: str) -> None:
    assert h8_scenario(make_wal, "inclusive_position", design) == h8_scenario(
        make_wal, "visible_count", design
    )


# ---------------------------------------------------- H9: visible before durable


def h9_scenario(make_wal: MakeWal, durability: str) -> dict[str, object]:
    """Put (visible), arm, crash, reopen, put again: where does the new put land?"""
    wal = make_wal(base_ids=[1], durability=durability)
    s = wal.shard("s")
    first = s.put(rows([1], "x"))
    pending = s.stats().pending
    arm = wal.scanner("as_of_cut").scan(with_base=False)
    wal.crash()
    wal2 = reopen(wal)
    after = wal2.scan().table.to_pylist()
    second = wal2.shard("s").put(rows([2]))
    return {
        "arm_rows": arm.table.to_pylist(),
        "pending": pending,
        "first": first.wal_position,
        "second": (second.generation, second.append_index, second.wal_position),
        "after_reopen": after,
        "check": member(wal2, [1, 2], arm.cut),
    }


def test_h9_a_crash_loses_a_visible_pending_put_and_its_position_is_reused(
    make_wal: MakeWal,
) -> None:
    got = h9_scenario(make_wal, "after_visible")
    assert got["arm_rows"] == [{"id": 1, "v": "x1"}]  # the arm read the pending row
    assert got["pending"] == 1
    assert got["after_reopen"] == [{"id": 1, "v": "b1"}]  # lost: the base row is back
    assert got["second"] == (1, 0, got["first"])  # same generation, index and position
    # the arm's cut now claims row 2 it never read (over-count) and not row 1 it did read
    assert got["check"] == [False, True]


def test_h9_default_put_is_durable_before_visible(make_wal: MakeWal) -> None:
    got = h9_scenario(make_wal, "before_visible")
    assert got["pending"] == 0
    assert got["after_reopen"] == [{"id": 1, "v": "x1"}]
    assert got["second"] == (1, 1, 2)
    assert got["check"] == [True, False]


def test_h9_planted_bug_a_crash_that_keeps_pending_entries_hides_the_hazard(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MemWal, "crash", MemWal.close)  # close writes pending entries
    got = h9_scenario(make_wal, "after_visible")
    assert got["second"] != (1, 0, got["first"]) and got["check"] == [True, False]


def test_h9_sync_writes_pending_entries_in_order_and_acknowledges_them(
    make_wal: MakeWal,
) -> None:
    wal = make_wal(durability="after_visible")
    s = wal.shard("s")
    acks = [s.put(rows([i])) for i in (1, 2)]
    assert [a.wal_position for a in acks] == [1, 2]
    st = s.stats()
    assert (st.pending, st.last_wal_position, st.active_visible) == (2, 2, 2)
    assert s.sync() == 2 and s.stats().pending == 0
    assert s.sync() == 0
    wal.crash()
    wal2 = reopen(wal)
    assert ids(wal2.scan().table) == [1, 2]
    assert wal2.shard("s").put(rows([3])).wal_position == 3


def test_h9_flush_syncs_the_whole_shard_first(make_wal: MakeWal) -> None:
    wal = make_wal(durability="after_visible")
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.put(rows([2]))  # active generation: synced too
    assert s.flush() == 1
    assert s.stats().pending == 0
    wal.crash()
    assert ids(reopen(wal).scan().table) == [1, 2]


def test_h9_close_syncs_pending_entries(make_wal: MakeWal) -> None:
    wal = make_wal(durability="after_visible")
    wal.shard("s").put(rows([1]))
    wal.close()
    assert ids(reopen(wal).scan().table) == [1]


def test_h9_default_sync_writes_nothing(make_wal: MakeWal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    writes = wal.disk.writes
    assert s.sync() == 0 and wal.disk.writes == writes


def test_h9_a_crash_mid_sync_keeps_the_written_prefix_without_a_gap(tmp_path: Path) -> None:
    root = tmp_path / "t"
    opts = MemWalOptions(durability="after_visible")
    disk = CrashingDisk(root)
    wal = MemWal.create(root, SCHEMA, "id", opts, disk=disk)
    s = wal.shard("s")
    s.put(rows([1]))
    s.put(rows([2]))
    disk.crash_at = disk.writes + 1  # the second WAL write of the sync
    with pytest.raises(SimulatedCrash):
        s.sync()
    assert s.stats().pending == 1
    wal2 = MemWal.open(root, opts)
    assert ids(wal2.scan().table) == [1]
    assert wal2.shard("s").put(rows([3])).wal_position == 2


# --------------------------------------------------------- H10: PK hash collisions


def colliding(bits: int, pk: int) -> int:
    """The smallest key > ``pk`` whose ``bits``-bit hash equals ``pk``'s."""
    k = pk + 1
    while pk_hash(k, bits) != pk_hash(pk, bits):
        k += 1
    return k


def test_pk_hash_is_the_documented_formula() -> None:
    for value in (0, 1, -1, 2**63 - 1, -(2**63)):
        digest = hashlib.blake2b(value.to_bytes(8, "little", signed=True), digest_size=8)
        assert pk_hash(value, 64) == int.from_bytes(digest.digest(), "big")
    for text in ("", "a", "ключ"):
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8)
        assert pk_hash(text, 64) == int.from_bytes(digest.digest(), "big")
    for bits in (1, 2, 17, 63):  # w bits = the top w bits of the 64-bit hash
        assert pk_hash(12345, bits) == pk_hash(12345, 64) >> (64 - bits)
        assert 0 <= pk_hash("k", bits) < 2**bits
    assert pk_hash(2**64 - 1, 64) == pk_hash(-1, 64)  # uint64: the same 8 bytes


def h10_scenario(make_wal: MakeWal, bits: int | None, design: str = "as_of_cut") -> dict:
    other = colliding(2, 1)
    wal = make_wal(base_ids=[1, other], pk_hash_bits=bits)
    wal.shard("s").put(rows([1], "x"))
    read = wal.two_phase_read(design)
    blocked = [ids(pa.table({"id": gm.pks})) for gm in wal.fresh_tier_block_list(read.cut)]
    return {
        "other": other,
        "check": member(wal, [1, other], read.cut),
        "live": wal.contains_pks([1, other]).to_pylist(),
        "rows": read.table.to_pylist(),
        "block_list": blocked,
    }


def test_h10_a_colliding_key_is_a_member_and_its_base_row_goes_missing(
    make_wal: MakeWal,
) -> None:
    got = h10_scenario(make_wal, 2)
    assert got["check"] == [True, True]  # the probe of the non-fresh key answers True
    assert got["rows"] == [{"id": 1, "v": "x1"}]  # base row `other` is missing
    assert got["block_list"] == [[1]]  # the block list still names admitted PKs
    assert got["live"] == [True, False]  # the live tier probes by value


def test_h10_string_keys_collide_by_their_utf8_hash(tmp_path: Path) -> None:
    schema = pa.schema([("k", pa.string()), ("v", pa.int64())])
    keys = [f"k{i}" for i in range(64)]
    first, other = next(
        (a, b) for a in keys for b in keys if a < b and pk_hash(a, 2) == pk_hash(b, 2)
    )
    opts = MemWalOptions(pk_hash_bits=2)
    wal = MemWal.create(tmp_path / "t", schema, "k", opts)
    wal.shard("s").put(pa.table({"k": [first], "v": [1]}, schema=schema))
    cut = wal.scan().cut
    assert member(wal, [first, other], cut) == [True, True]
    assert wal.contains_pks([first, other]).to_pylist() == [True, False]


def test_h10_default_compares_keys(make_wal: MakeWal) -> None:
    got = h10_scenario(make_wal, None)
    assert got["check"] == [True, False]
    assert got["rows"] == [{"id": 1, "v": "x1"}, {"id": got["other"], "v": f"b{got['other']}"}]


def test_h10_fresh_tier_watermark_probes_by_value_even_with_bits(make_wal: MakeWal) -> None:
    assert h10_scenario(make_wal, 2, "fresh_tier_watermark")["check"] == [True, False]


def test_h10_planted_bug_hashing_switched_off_finds_no_collision(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(impl.block_list, "HASHED_DESIGN", "no design")
    assert h10_scenario(make_wal, 2)["check"] == [True, False]


# ---------------------------------------------- H11: memtables without a PK index


def h11_check(make_wal: MakeWal, index: bool, design: str, step: str) -> bool:
    """Base row 1 and a fresh row 1 (active / frozen / retained / SSTable): is 1 a member?"""
    wal = make_wal(base_ids=[1], memtable_pk_index=index, release="explicit")
    s = wal.shard("s")
    s.put(rows([1], "x"))
    if step in ("frozen", "retained", "sstable"):
        s.freeze()
    if step in ("retained", "sstable"):
        s.flush()
    if step == "sstable":
        s.release()
    arm = wal.scanner(design).scan(with_base=False)
    assert arm.table.to_pylist() == [{"id": 1, "v": "x1"}]
    return member(wal, [1], arm.cut)[0]


@pytest.mark.parametrize("step", ["active", "frozen", "retained"])
def test_h11_watermark_memtables_block_nothing(make_wal: MakeWal, step: str) -> None:
    assert not h11_check(make_wal, False, "fresh_tier_watermark", step)  # under-count
    assert h11_check(make_wal, True, "fresh_tier_watermark", step)  # default


def test_h11_sstables_still_block(make_wal: MakeWal) -> None:
    assert h11_check(make_wal, False, "fresh_tier_watermark", "sstable")


@pytest.mark.parametrize("design", ["as_of_cut", "exact_cut", "live_tier"])
def test_h11_other_designs_unaffected(make_wal: MakeWal, design: str) -> None:
    assert h11_check(make_wal, False, design, "active")


def test_h11_duplicate_in_a_two_phase_read_and_an_empty_block_list(make_wal: MakeWal) -> None:
    wal = make_wal(base_ids=[1], memtable_pk_index=False)
    wal.shard("s").put(rows([1], "x"))
    read = wal.two_phase_read("fresh_tier_watermark")
    assert sorted(r["v"] for r in read.table.to_pylist()) == ["b1", "x1"]  # PK 1 twice
    assert wal.scanner("fresh_tier_watermark").fresh_tier_block_list(read.cut) == []


def test_h11_planted_bug_memtables_counted_anyway(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(impl.block_list, "NO_MEMTABLE_MEMBERS", frozenset())
    assert h11_check(make_wal, False, "fresh_tier_watermark", "active")


# ------------------------------------------------------- H12: probe key types


def probe_wal(make_wal: MakeWal, mode: str) -> MemWal:
    wal = make_wal(probe_key_types=mode)
    wal.shard("s").put(rows([1, 2]))
    return wal


@pytest.mark.parametrize("probe_type", [pa.int32(), pa.uint64(), pa.int8()])
def test_h12_lance_an_integer_probe_of_another_width_matches_nothing(
    make_wal: MakeWal, probe_type: pa.DataType
) -> None:
    wal = probe_wal(make_wal, "lance")
    probes = pa.array([1, 2, 3], probe_type)
    cut = wal.scan().cut
    assert member(wal, probes, cut) == [False, False, False]
    assert wal.contains_pks(pa.chunked_array([probes])).to_pylist() == [False] * 3
    assert wal.contains_pks(probes).type == pa.bool_()  # a membership, not a count of zeros
    assert member(wal, pa.array([1, 2, 3], pa.int64()), cut) == [True, True, False]


def test_h12_strict_default_raises_for_another_width(make_wal: MakeWal) -> None:
    wal = probe_wal(make_wal, "strict")
    with pytest.raises(PrimaryKeyTypeError, match="int32"):
        wal.contains_pks(pa.array([1], pa.int32()))


@pytest.mark.parametrize(
    ("probes", "strict_error", "lance_error"),
    [
        # strict rejects the type before it looks at nulls; lance accepts the type
        (pa.array([1, None], pa.int32()), PrimaryKeyTypeError, NullPrimaryKeyError),
        (pa.array([1, None], pa.int64()), NullPrimaryKeyError, NullPrimaryKeyError),
        (pa.array(["1"]), PrimaryKeyTypeError, PrimaryKeyTypeError),
        (["1"], PrimaryKeyTypeError, PrimaryKeyTypeError),
        (5, PrimaryKeyTypeError, PrimaryKeyTypeError),
        (pa.array([1.0]), PrimaryKeyTypeError, PrimaryKeyTypeError),
    ],
)
def test_h12_other_bad_probes_raise_in_both_modes(
    make_wal: MakeWal,
    probes: object,
    strict_error: type[Exception],
    lance_error: type[Exception],
) -> None:
    for mode, error in (("strict", strict_error), ("lance", lance_error)):
        wal = probe_wal(make_wal, mode)
        with pytest.raises(error):
            wal.contains_pks(probes)
        with pytest.raises(error):
            wal.contains_pks_as_of(probes, wal.scan().cut)


def test_h12_deletes_keep_strict_typing(make_wal: MakeWal) -> None:
    wal = probe_wal(make_wal, "lance")
    with pytest.raises(PrimaryKeyTypeError, match="int32"):
        wal.shard("s").delete(pa.array([1], pa.int32()))
    assert ids(wal.scan().table) == [1, 2]


def test_h12_planted_bug_coercing_answers_true(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TableSchema, "foreign_int_probe", lambda self, pks: None)
    wal = probe_wal(make_wal, "lance")
    with pytest.raises(PrimaryKeyTypeError):  # the hazard test's all-False answer is gone
        wal.contains_pks(pa.array([1], pa.int32()))


# ------------------------------------------------------------ H14: flush failure


def two_frozen(make_wal: MakeWal, mode: str) -> tuple[MemWal, ShardWriter]:
    """Generations 1 and 2 frozen, holding rows 1 and 2; the next flush will fail."""
    wal = make_wal(flush_failure=mode)
    s = wal.shard("s")
    for i in (1, 2):
        s.put(rows([i]))
        s.freeze()
    s.fail_next_flush()
    return wal, s


@pytest.mark.parametrize("mode", ["retry", "skip"])
def test_h14_a_failed_flush_commits_nothing(make_wal: MakeWal, mode: str) -> None:
    wal, s = two_frozen(make_wal, mode)
    before, writes = s.stats(), wal.disk.writes
    with pytest.raises(FlushFailedError, match="generation 1"):
        s.flush()
    after = s.stats()
    assert wal.disk.writes == writes
    assert dataclasses.replace(after, failed_generations=()) == before
    assert after.failed_generations == (1,)
    assert ids(wal.scan().table) == [1, 2]  # generation 1 is still served


def test_h14_retry_flushes_the_same_generation_again_and_loses_nothing(
    make_wal: MakeWal,
) -> None:
    wal, s = two_frozen(make_wal, "retry")
    with pytest.raises(FlushFailedError):
        s.flush()
    assert s.flush() == 1
    assert s.stats().failed_generations == ()
    assert s.flush() == 2
    wal.crash()
    assert ids(reopen(wal).scan().table) == [1, 2]


def h14_skip(make_wal: MakeWal) -> tuple[MemWal, ShardWriter, int | None]:
    wal, s = two_frozen(make_wal, "skip")
    arm = wal.scanner("as_of_cut").scan(with_base=False)
    with pytest.raises(FlushFailedError):
        s.flush()
    flushed = s.flush()
    assert member(wal, [1, 2], arm.cut) == [True, True]  # in process, G is still counted
    return wal, s, flushed


def test_h14_skip_commits_the_next_generation_past_the_failed_one(make_wal: MakeWal) -> None:
    wal, s, flushed = h14_skip(make_wal)
    assert flushed == 2
    st = s.stats()
    assert (st.sstables, st.current_generation, st.replay_after_wal_position) == ((2,), 3, 2)
    assert [g for g, _, _ in st.frozen] == [1] and st.failed_generations == (1,)
    assert ids(wal.scan().table) == [1, 2]
    assert s.flush() is None  # only the failed generation is left: it is never retried
    wal.crash()
    wal2 = reopen(wal)
    assert ids(wal2.scan().table) == [2]  # generation 1 is lost
    assert wal2.shard("s").stats().active_generation == 3


def test_h14_skip_close_loses_the_stuck_generation_too(make_wal: MakeWal) -> None:
    wal, _, _ = h14_skip(make_wal)
    wal.close()
    assert ids(reopen(wal).scan().table) == [2]


def test_h14_planted_bug_skip_that_retries_flushes_generation_1(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ShardWriter, "_flush_candidate", lambda self, st: st.frozen[0])
    assert h14_skip(make_wal)[2] == 1


def test_h14_the_fault_waits_for_a_flush_that_has_a_generation(make_wal: MakeWal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))
    s.fail_next_flush()
    assert s.flush() is None  # nothing frozen: no attempt, the fault stays armed
    s.freeze()
    with pytest.raises(FlushFailedError):
        s.flush()
    assert s.flush() == 1


# ------------------------------------------- H15: visibility read at two instants


def h15_scan(make_wal: MakeWal, mode: str, design: str = "as_of_cut") -> tuple[ScanResult, int]:
    wal = make_wal(arm_visibility=mode)
    s = wal.shard("s")
    s.put(rows([1]))
    calls: list[int] = []

    def between() -> None:
        calls.append(1)
        s.put(rows([2]))

    arm = wal.scanner(design).scan(with_base=False, between_reads=between)
    return arm, len(calls)


def test_h15_two_instants_cut_counts_a_batch_the_rows_lack(make_wal: MakeWal) -> None:
    arm, calls = h15_scan(make_wal, "two_instants")
    assert calls == 1
    assert ids(arm.table) == [1] and arm.observation.num_rows == 1  # instant 1
    assert arm.cut.shards["s"] == AsOfCut(1, 2)  # instant 2


def test_h15_two_instants_over_counts_at_the_check(make_wal: MakeWal) -> None:
    wal = make_wal(arm_visibility="two_instants")
    s = wal.shard("s")
    s.put(rows([1]))
    arm = wal.scan(with_base=False, between_reads=lambda: s.put(rows([2])))
    assert member(wal, [1, 2], arm.cut) == [True, True]


def test_h15_a_len_capture_counts_the_committed_batches_of_instant_2(make_wal: MakeWal) -> None:
    # capture="len" (H2) reads the committed count, not the visible one; under two_instants it
    # is instant 2's: the batch written between the reads counts though it is not visible
    wal = make_wal(arm_visibility="two_instants", visibility="lagged")
    s = wal.shard("s")
    s.put(rows([1]))
    s.publish()
    arm = wal.scanner("as_of_cut", "len").scan(
        with_base=False, between_reads=lambda: s.put(rows([2])))
    assert ids(arm.table) == [1]
    assert arm.cut.shards["s"] == AsOfCut(1, 2)


@pytest.mark.parametrize(
    ("design", "entry"),
    [
        ("fresh_tier_watermark", AsOfCut(1, 2)),
        ("exact_cut", ExactCut(1, ((1, 2),))),
        ("pinned_cut", PinnedCut(1, 0, ((1, 3),))),
    ],
)
def test_h15_every_counting_cut_comes_from_instant_2(
    make_wal: MakeWal, design: str, entry: object
) -> None:
    arm, _ = h15_scan(make_wal, "two_instants", design)
    assert ids(arm.table) == [1]
    assert arm.cut.shards["s"] == entry


def test_h15_default_one_instant_calls_between_reads_but_changes_nothing(
    make_wal: MakeWal,
) -> None:
    arm, calls = h15_scan(make_wal, "one_instant")
    assert calls == 1
    assert ids(arm.table) == [1] and arm.cut.shards["s"] == AsOfCut(1, 1)


def test_h15_one_instant_between_reads_runs_after_an_h1_capture(make_wal: MakeWal) -> None:
    wal = make_wal()
    s = wal.shard("s")
    s.put(rows([1]))

    def h1_put() -> None:
        s.put(rows([2]))

    arm = wal.scanner("as_of_cut", "after_scan").scan(
        between_scan_and_capture=h1_put, between_reads=lambda: s.put(rows([3]))
    )
    assert arm.cut.shards["s"] == AsOfCut(1, 2)  # H1 counts its own put, not the later one


def test_h15_planted_bug_no_second_read(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(impl.scanner, "recount", lambda tier, sources: sources)
    arm, _ = h15_scan(make_wal, "two_instants")
    assert arm.cut.shards["s"] == AsOfCut(1, 1)


# --------------------------------------- H5a: the manifest read before the memtable refs


def h5a_scan(
    make_wal: MakeWal, sources: str, release: str = "at_flush"
) -> tuple[MemWal, ScanResult]:
    """Generation 1 frozen; the arm's window flushes it (and, at_flush, drops it)."""
    wal = make_wal(base_ids=[1], arm_sources=sources, release=release)
    s = wal.shard("s")
    s.put(rows([1], "x"))
    s.freeze()
    arm = wal.scanner("as_of_cut").scan(with_base=False, between_reads=s.flush)
    return wal, arm


def test_h5a_manifest_first_misses_a_generation_flushed_in_between(make_wal: MakeWal) -> None:
    wal, arm = h5a_scan(make_wal, "manifest_first")
    assert arm.table.num_rows == 0 and arm.observation.num_rows == 0  # generation 1 missed
    assert arm.cut.shards["s"] == AsOfCut(2, 0)
    assert member(wal, [1], arm.cut) == [True]  # the check counts SSTable 1: over-count


def test_h5a_default_snapshot_reads_the_generation(make_wal: MakeWal) -> None:
    wal, arm = h5a_scan(make_wal, "snapshot")
    assert arm.table.to_pylist() == [{"id": 1, "v": "x1"}]
    assert member(wal, [1], arm.cut) == [True]


def test_h5a_a_retained_copy_is_read_from_memory(make_wal: MakeWal) -> None:
    _, arm = h5a_scan(make_wal, "manifest_first", release="explicit")
    assert arm.table.to_pylist() == [{"id": 1, "v": "x1"}]


def test_h5a_planted_bug_refs_and_list_taken_together(
    make_wal: MakeWal, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = impl.scanner.collect
    monkeypatch.setattr(impl.scanner, "collect", lambda tier, since=None, listing=None: real(tier))
    _, arm = h5a_scan(make_wal, "manifest_first")
    assert arm.table.num_rows == 1


def test_h5a_a_compaction_in_between_reads_the_listed_sstable_and_its_base(
    make_wal: MakeWal,
) -> None:
    wal = make_wal(base_ids=[1], arm_sources="manifest_first")
    s = wal.shard("s")
    s.put(rows([1], "x"))
    s.freeze()
    s.flush()
    arm = wal.scan(between_reads=wal.compact)
    assert arm.table.to_pylist() == [{"id": 1, "v": "x1"}]
    assert arm.base_version == 1


def test_h5a_a_shard_created_in_between_is_read_from_memory(make_wal: MakeWal) -> None:
    # the listing predates the shard: it has no SSTables to list, its memtable is read
    wal = make_wal(base_ids=[1], arm_sources="manifest_first")
    wal.shard("s").put(rows([1], "x"))
    arm = wal.scan(between_reads=lambda: wal.shard("t").put(rows([2], "y")))
    assert arm.table.to_pylist() == [{"id": 1, "v": "x1"}, {"id": 2, "v": "y2"}]
    assert sorted(arm.cut.shards) == ["s", "t"]


def test_h5a_with_h15_between_reads_runs_once(make_wal: MakeWal) -> None:
    wal = make_wal(arm_sources="manifest_first", arm_visibility="two_instants")
    s = wal.shard("s")
    s.put(rows([1]))
    calls: list[int] = []
    wal.scan(between_reads=lambda: calls.append(1))
    assert calls == [1]
