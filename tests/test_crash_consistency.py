"""Crash consistency: crash at EVERY disk write of random small histories, then reopen.

Why: an acknowledged batch is durable (SEMANTICS.md "Writes"), flush and
compaction are committed by one atomic manifest replace each, and reopen
replays the WAL.  ShardStore's two crash properties are checked directly:
*persistence* (everything acknowledged before the crash is in the scan after
reopen) and *forward progress* (after reopen the table takes writes, flushes
and compacts, and a clean close/reopen keeps them).  The crash alphabet is
``impl.faults.CrashingDisk``: before a write, torn during it (a temp file, or
half a new file under its final name), or after it but before the caller saw
it return.

The oracle is deliberately dumb and independent of ``model/``: per PK the
newest acknowledged value (delete removes), folded over the base.  Whole-batch
atomicity is checked white-box: per shard the rows left in the fresh tier are
exactly a *suffix* of the shard's acknowledged batches (no partial SSTable, no
generation read twice from SSTable and WAL), and the base is exactly the base
folded with the complementary *prefixes* (compaction all-or-nothing).
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import SCHEMA, rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import (
    AsOfCut,
    AsOfCutError,
    CrashingDisk,
    MemWal,
    MemWalOptions,
    NotATableError,
    SimulatedCrash,
    collect,
)

CI = bool(os.environ.get("CI"))
#: Crash variants: (mode, torn_final).
VARIANTS: tuple[tuple[str, bool], ...] = (
    ("before", False),
    ("torn", False),
    ("torn", True),
    ("after", False),
)
KEYS = 12
STATS: Counter[str] = Counter()

#: ("put"|"delete", shard, pks) | ("freeze"|"flush"|"release", shard) | ("compact",)
Op = tuple[Any, ...]
Row = tuple[int, str | None, bool]  # (pk, v, tombstone)


def _shard_of(pk: int, n: int) -> str:
    return f"s{pk % n}"


@st.composite
def histories(draw: st.DrawFn) -> tuple[int, list[int], dict[str, Any], list[Op]]:
    """(number of shards, base PKs, options, ops): small, every op kind, keys owned by one shard."""
    n = draw(st.integers(1, 3))
    base = sorted(draw(st.sets(st.integers(0, KEYS - 1), max_size=5)))
    options = {
        "release": draw(st.sampled_from(["at_flush", "explicit"])),
        "max_memtable_batches": draw(st.sampled_from([None, None, 2])),
    }
    ops: list[Op] = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["put", "put", "delete", "freeze", "flush", "release",
                                     "compact"]))
        shard = f"s{draw(st.integers(0, n - 1))}"
        if kind in ("put", "delete"):
            owned = [k for k in range(KEYS) if _shard_of(k, n) == shard]
            pks = sorted(draw(st.sets(st.sampled_from(owned), min_size=1, max_size=3)))
            ops.append((kind, shard, pks))
        elif kind == "compact":
            ops.append(("compact",))
        else:
            ops.append((kind, shard))
    return n, base, options, ops


def _batch(i: int, op: Op) -> list[Row]:
    """The stored rows of write op number ``i`` (values are unique per op)."""
    if op[0] == "put":
        return [(pk, f"o{i}:{pk}", False) for pk in op[2]]
    return [(pk, None, True) for pk in op[2]]


@dataclass
class Run:
    """What one (possibly crashed) execution of a history acknowledged."""

    acked: list[tuple[int, Op]] = field(default_factory=list)
    inflight: tuple[int, Op] | None = None
    crash: SimulatedCrash | None = None
    wal: MemWal | None = None


def _apply(wal: MemWal, op: Op) -> None:
    if op[0] == "put":
        wal.shard(op[1]).put(rows(op[2], "x").set_column(1, "v", [[f"{op[3]}:{k}" for k in op[2]]]))
    elif op[0] == "delete":
        wal.shard(op[1]).delete(op[2])
    elif op[0] == "compact":
        wal.compact()
    else:
        getattr(wal.shard(op[1]), op[0])()


def _execute(root: Path, base: list[int], options: dict[str, Any], ops: list[Op],
             disk: CrashingDisk) -> Run:
    run = Run()
    try:
        run.wal = MemWal.create(root, SCHEMA, "id", MemWalOptions(**options),
                                base=rows(base, "b") if base else None, disk=disk)
    except SimulatedCrash as e:
        run.crash = e
        return run
    for i, op in enumerate(ops):
        tagged = (*op, f"o{i}") if op[0] == "put" else op
        try:
            _apply(run.wal, tagged)
        except SimulatedCrash as e:
            run.crash, run.inflight = e, (i, op)
            run.wal.crash()
            return run
        except AsOfCutError:
            continue  # e.g. freeze of a shard never written: rejected, nothing changed
        run.acked.append((i, op))
    return run


def _fold(start: dict[int, str], batches: list[list[Row]]) -> dict[int, str]:
    out = dict(start)
    for batch in batches:
        for pk, v, tomb in batch:
            if tomb:
                out.pop(pk, None)
            else:
                assert v is not None
                out[pk] = v
    return out


def _as_dict(table: pa.Table) -> dict[int, str]:
    return dict(zip(table.column("id").to_pylist(), table.column("v").to_pylist(), strict=True))


def _fresh_rows(wal: MemWal) -> dict[str, Counter[Row]]:
    """White-box: every row the fresh tier holds per shard (all versions)."""
    out: dict[str, Counter[Row]] = {}
    for sid, shard in collect(wal._tier).shards.items():
        tables = [s.sstable.data() for s in shard.sstables]
        tables += [t for m in shard.memtables if (t := m.memtable.rows(m.committed)) is not None]
        c: Counter[Row] = Counter()
        for t in tables:
            c.update(zip(t.column("id").to_pylist(), t.column("v").to_pylist(),
                         t.column("_tombstone").to_pylist(), strict=True))
        out[sid] = c
    return out


def check_after_reopen(wal: MemWal, base0: dict[int, str], effective: list[tuple[int, Op]],
                       where: str) -> None:
    """Persistence + whole-batch atomicity of the fresh tier and the base."""
    batches = [_batch(i, op) for i, op in effective if op[0] in ("put", "delete")]
    expected = _fold(base0, batches)
    assert _as_dict(wal.scan().table) == expected, where
    per_shard: dict[str, list[list[Row]]] = {}
    for i, op in effective:
        if op[0] in ("put", "delete"):
            per_shard.setdefault(op[1], []).append(_batch(i, op))
    assert wal.shards() == sorted(per_shard), where
    fresh = _fresh_rows(wal)
    cuts: list[list[int]] = []
    for sid, seq in sorted(per_shard.items()):
        got = fresh.get(sid, Counter())
        js = [j for j in range(len(seq) + 1) if Counter(r for b in seq[j:] for r in b) == got]
        assert js, f"{where}: shard {sid} fresh tier is not a whole-batch suffix: {got}"
        cuts.append(js)
    base = _as_dict(wal.read_base())
    shards = sorted(per_shard)
    assert any(
        _fold(base0, [b for sid, j in zip(shards, combo, strict=True) for b in per_shard[sid][:j]])
        == base
        for combo in itertools.product(*cuts)
    ), f"{where}: base {base} is not base0 + whole compacted prefixes"


def _reopen(root: Path, options: dict[str, Any]) -> tuple[MemWal, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wal = MemWal.open(root, MemWalOptions(**options))
    return wal, [str(w.message) for w in caught if "torn WAL tail" in str(w.message)]


def crash_everywhere(tmp: Path, n: int, base: list[int], options: dict[str, Any],
                     ops: list[Op]) -> None:
    """Run the history once to count its writes, then crash at every write in every variant."""
    probe = CrashingDisk(tmp / "probe")
    _execute(tmp / "probe", base, options, ops, probe)
    total = probe.writes
    base0 = {pk: f"b{pk}" for pk in base}
    STATS["histories"] += 1
    for k, (mode, torn_final) in itertools.product(range(total), VARIANTS):
        root = tmp / f"k{k}-{mode}-{int(torn_final)}"
        disk = CrashingDisk(root, crash_at=k, mode=mode, torn_final=torn_final)  # type: ignore[arg-type]
        run = _execute(root, base, options, ops, disk)
        assert run.crash is not None
        STATS["crash points"] += 1
        where = f"crash at write {k} {mode} torn_final={torn_final}: {run.crash}"
        if run.wal is None and not (mode == "after" and run.crash.site == "table_create"):
            with pytest.raises(NotATableError):  # create never returned: no table
                MemWal.open(root)
            continue
        wal, torn = _reopen(root, options)  # reopen always succeeds
        effective = list(run.acked)
        if mode == "after" and run.inflight is not None and run.inflight[1][0] in ("put", "delete"):
            effective.append(run.inflight)  # durable, just not acknowledged: must replay
        if mode == "torn" and torn_final and run.crash.site == "wal_append":
            assert len(torn) == 1 and run.crash.path.name in torn[0], (where, torn)
        else:
            assert torn == [], (where, torn)  # a complete entry is never dropped
        check_after_reopen(wal, base0, effective, where)
        STATS["acknowledged writes checked"] += sum(op[0] in ("put", "delete") for _, op in
                                                   run.acked)
        # forward progress: write, flush and compact on top of whatever the crash left
        extra: list[tuple[int, Op]] = []
        for j, sid in enumerate(wal.shards()):
            owned = next(k for k in range(KEYS) if _shard_of(k, n) == sid)
            i = 1000 + j
            _apply(wal, ("put", sid, [owned], f"o{i}"))
            extra.append((i, ("put", sid, [owned])))
            wal.shard(sid).freeze()
            wal.shard(sid).flush()
        wal.compact()
        wal.close()
        wal2, torn = _reopen(root, options)
        assert torn == [], where
        check_after_reopen(wal2, base0, effective + extra, where + " (after forward progress)")
        wal2.close()


@settings(
    max_examples=40,
    deadline=None,
    derandomize=CI,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(histories())
def _crash_property(tmp_path_factory: pytest.TempPathFactory,
                    history: tuple[int, list[int], dict[str, Any], list[Op]]) -> None:
    n, base, options, ops = history
    crash_everywhere(tmp_path_factory.mktemp("crash"), n, base, options, ops)


def test_crash_at_every_write_of_random_histories(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    STATS.clear()
    _crash_property(tmp_path_factory)
    print(f"\ncrash consistency: {STATS['histories']} histories x crash points = "
          f"{STATS['crash points']} crashes tried, {STATS['acknowledged writes checked']} "
          "acknowledged writes checked")
    assert STATS["crash points"] > 0


# ------------------------------------------------------------- torn WAL tails


def _two_shard_wal(root: Path, disk: CrashingDisk) -> MemWal:
    wal = MemWal.create(root, SCHEMA, "id", base=rows([0, 1, 2], "b"), disk=disk)
    wal.shard("a").put(rows([1], "a"))
    wal.shard("b").put(rows([2], "b2"))
    return wal


def test_torn_wal_tail_is_truncated_with_a_warning_naming_the_file(tmp_path: Path) -> None:
    """A crash mid-append leaves half an entry: reopen drops it, warns with its path, goes on."""
    disk = CrashingDisk(tmp_path, crash_at=5, mode="torn", torn_final=True)  # 3 create + 2 puts
    wal = _two_shard_wal(tmp_path, disk)
    with pytest.raises(SimulatedCrash):
        wal.shard("a").put(rows([7], "lost"))
    torn = tmp_path / "_mem_wal" / "a" / "wal" / f"{2:020d}.arrow"
    assert 0 < torn.stat().st_size
    with pytest.warns(RuntimeWarning, match=f"truncating torn WAL tail {torn}"):
        wal2 = MemWal.open(tmp_path)
    assert not torn.exists()
    assert _as_dict(wal2.scan().table) == {0: "b0", 1: "a1", 2: "b22"}
    assert wal2.shard("a").put(rows([7], "again")).wal_position == 2  # the position is reused


def test_a_complete_tail_entry_is_never_dropped(tmp_path: Path) -> None:
    """Crash after the append landed (unacknowledged but durable): replayed, no warning."""
    disk = CrashingDisk(tmp_path, crash_at=5, mode="after")
    wal = _two_shard_wal(tmp_path, disk)
    with pytest.raises(SimulatedCrash):
        wal.shard("a").delete([1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wal2 = MemWal.open(tmp_path)
    assert _as_dict(wal2.scan().table) == {0: "b0", 2: "b22"}
    assert wal2.shard("a").stats().last_wal_position == 2


def test_torn_first_write_of_a_shard_does_not_create_it(tmp_path: Path) -> None:
    """SEMANTICS.md: a shard is created by its first *successful* write, crash or not."""
    for torn_final in (False, True):
        root = tmp_path / str(torn_final)
        disk = CrashingDisk(root, crash_at=5, mode="torn", torn_final=torn_final)
        wal = _two_shard_wal(root, disk)
        with pytest.raises(SimulatedCrash):
            wal.shard("c").put(rows([3]))
        assert (root / "_mem_wal" / "c" / "wal").is_dir()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wal2 = MemWal.open(root)
        assert wal2.shards() == ["a", "b"]
        assert wal2.shard("c").put(rows([3])).wal_position == 1


# ----------------------------------------------- generation renumbering (H7)


def test_replay_renumbers_generations_exactly_as_documented(tmp_path: Path) -> None:
    """SEMANTICS.md "Crash, close and reopen", checked field by field, and H7 reached.

    Before the crash: SSTable 1; frozen 2 = [k1, k2]; active 3 = [k3].  A flush
    of 2 crashes after its SSTable landed but before the manifest commit, so the
    manifest still says current_generation = 2.  After reopen: epoch 2; one active
    memtable at generation 2 holding frozen 2's and active 3's batches at append
    indices 0, 1, 2, all visible; SSTable 1 kept; no frozen memtables; the
    orphan SSTable 2 ignored (and overwritten by the next flush of 2).
    """
    disk = CrashingDisk(tmp_path)
    wal = MemWal.create(tmp_path, SCHEMA, "id", base=rows([5, 6], "b"), disk=disk)
    s = wal.shard("s")
    s.put(rows([1], "g1"))
    s.freeze()
    s.flush()
    s.put(rows([1], "g2a"))
    s.put(rows([2], "g2b"))
    s.freeze()
    s.put(rows([3], "g3"))
    arm = wal.scan(with_base=False)
    assert arm.cut.shards["s"] == AsOfCut(3, 1)
    disk.crash_at, disk.mode = disk.writes + 2, "before"  # sstable, sidecar land; manifest dies
    with pytest.raises(SimulatedCrash, match="manifest_replace"):
        s.flush()
    wal.crash()
    wal2 = MemWal.open(tmp_path)
    st2 = wal2.shard("s").stats()
    assert (st2.writer_epoch, st2.current_generation, st2.active_generation) == (2, 2, 2)
    assert (st2.active_committed, st2.active_visible, st2.frozen, st2.sstables) == (3, 3, (), (1,))
    ids = sorted((r["generation"], r["append_index"]) for r in wal2.scan().observation.to_pylist())
    assert ids == [(1, 0), (2, 0), (2, 1), (2, 2)]  # old (3, 0) is now (2, 2)
    assert _as_dict(wal2.scan().table) == {1: "g2a1", 2: "g2b2", 3: "g33", 5: "b5", 6: "b6"}
    # H7: the pre-crash cut {A=3, N=1} now admits all of generation 2 (< A), so a
    # post-crash write to base key 5 counts as superseding although the arm never saw it.
    wal2.shard("s").put(rows([5], "new"))
    assert wal2.contains_pks_as_of([5], arm.cut).to_pylist() == [True]
    assert 5 not in arm.observed_pks.to_pylist()  # → a missing row: over-count
    # the orphan SSTable 2 is overwritten by the next flush of generation 2
    wal2.shard("s").freeze()
    assert wal2.shard("s").flush() == 2
    wal2.close()
    wal3 = MemWal.open(tmp_path)
    assert _as_dict(wal3.scan().table) == {1: "g2a1", 2: "g2b2", 3: "g33", 5: "new5", 6: "b6"}


# ----------------------------------------------------- crash during reopen


def test_crash_during_reopen_then_reopen_again(tmp_path: Path) -> None:
    """Open itself writes (torn-tail truncation, epoch bumps); a crash there must be harmless."""
    seed = tmp_path / "seed"
    disk = CrashingDisk(seed, crash_at=7, mode="torn", torn_final=True)
    wal = MemWal.create(seed, SCHEMA, "id", base=rows([9], "b"), disk=disk)
    for sid, pk in (("a", 1), ("b", 2), ("a", 3)):
        wal.shard(sid).put(rows([pk]))
    wal.shard("b").delete([2])
    with pytest.raises(SimulatedCrash):
        wal.shard("a").put(rows([4]))  # torn tail in shard a
    probe = CrashingDisk(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MemWal.open(_copy(seed, tmp_path / "probe"), disk=probe)
    assert probe.writes == 3  # truncate a's tail, bump a, bump b
    for k, (mode, torn_final) in itertools.product(range(probe.writes), VARIANTS):
        root = _copy(seed, tmp_path / f"k{k}{mode}{torn_final}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(SimulatedCrash):
                MemWal.open(root, disk=CrashingDisk(root, k, mode, torn_final=torn_final))  # type: ignore[arg-type]
            wal2 = MemWal.open(root)
        assert _as_dict(wal2.scan().table) == {1: "v1", 3: "v3", 9: "b9"}, (k, mode)
        assert wal2.shard("a").stats().last_wal_position == 2
        STATS["reopen crash points"] += 1


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _copy(src: Path, dst: Path) -> Path:
    for rel, data in _snapshot(src).items():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes(data)
    return dst
