"""Threads under load: 4 writers, a freezer/flusher, a compactor and 2 two-phase readers.

Why: PR #7215's bug was a *transient* missing row that needs a concurrent
write (and a flush or compaction) to land between the read arm and the
supersession check.  Here that window is widened on purpose (each reader
sleeps a random time between arm and check) while writers hammer base keys,
so the live-tier design reproduces the missing row, and the as-of designs
must show none under their assumptions: immediate visibility, capture =
visible_count, no crash, and a fixed shard set (every shard is created before
the readers start).  ``pinned_cut`` must show neither a missing row nor a
duplicate, in the same run where ``live_tier`` loses rows.

Counted per design: rows checked (base rows judged + arm rows), missing rows
(a base row dropped whose PK the arm delivered no version of:
``superseded & ~is_in(pk, arm.observed_pks)``) and duplicates (a base row kept
whose PK the arm delivered a version of: an under-count).  Every duplicate
must be *explained* (``explain``): each observed row of its PK is, on the
snapshot the check judged (``TwoPhaseResult.check``), in one of the named
exclusions of the tightness layer (docs/SPEC.md) —

* ``H5b``: its generation was compacted into base between arm and check;
* ``H4``: an as-of cut's active generation (or a later one) was flushed and
  released, so its rows sit in an SSTable the rule table excludes;
* ``epoch``: the writer epoch changed, voiding an exact cut (no crash here,
  so never expected);

and a duplicate with an observed row still a candidate outside every
exclusion fails the test: the check under-counted for no named reason.
``pinned_cut`` must show neither a missing row nor a duplicate.

Replay: ``ASOFCUT_SEED`` seeds every thread's choices (the interleaving itself
is the OS scheduler's, so a failure is reproduced statistically, not
exactly); ``ASOFCUT_SOAK_SECONDS`` lengthens the run.  The seed is printed in
the summary line and in every assertion message.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
from conftest import SCHEMA, rows

from impl import AsOfCut, ExactCut, MemWal, MemWalOptions, TwoPhaseResult
from impl.schema import APPEND_INDEX, ROW

SEED = int(os.environ.get("ASOFCUT_SEED", "20261125"))
SECONDS = float(os.environ.get("ASOFCUT_SOAK_SECONDS", "8"))
SHARDS = ("w0", "w1", "w2", "w3")
BASE_KEYS = 4000
DESIGNS = ("as_of_cut", "exact_cut", "live_tier", "pinned_cut")


def judge(res: TwoPhaseResult) -> tuple[int, int, int]:
    """(rows checked, missing rows, duplicate PKs) of one two-phase read."""
    base_pks = res.base.column("id")
    delivered = pc.is_in(base_pks, value_set=res.arm.observed_pks)
    missing = pc.sum(pc.and_(res.superseded, pc.invert(delivered))).as_py() or 0
    return res.base.num_rows + res.arm.table.num_rows, int(missing), len(duplicates(res))


def duplicates(res: TwoPhaseResult) -> list[int]:
    """Base rows kept whose PK the arm delivered a version of (a row or a tombstone)."""
    kept = res.base.filter(pc.invert(res.superseded)).column("id").combine_chunks()
    return sorted(pc.filter(kept, pc.is_in(kept, value_set=res.arm.observed_pks)).to_pylist())


def _why_not_counted(res: TwoPhaseResult, shard: str, generation: int,
                     append_index: int, row: int) -> tuple[object, str | None]:
    """(PK or None if gone, exclusion or None) of one observed row, on the check's snapshot."""
    check = res.check
    sh = check.shards.get(shard)
    if generation <= check.base.through(shard):
        return None, "H5b"
    if sh is None:
        return None, None
    entry = res.cut.shards.get(shard)
    epoch = "epoch" if isinstance(entry, ExactCut) and entry.writer_epoch != sh.writer_epoch \
        else None
    for m in sh.memtables:
        if m.generation == generation:
            pk = m.memtable.store.batch(append_index).data.column("id")[row].as_py()
            return pk, epoch
    for s in sh.sstables:
        if s.generation == generation:
            side = s.sstable.sidecar()
            hit = side.filter(pc.and_(pc.equal(side.column(APPEND_INDEX), append_index),
                                      pc.equal(side.column(ROW), row)))
            released = isinstance(entry, AsOfCut) and generation >= entry.active_generation
            return hit.column(0)[0].as_py(), epoch or ("H4" if released else None)
    return None, None


def explain(res: TwoPhaseResult) -> tuple[Counter[str], list[str]]:
    """Attribute each duplicate to the exclusions its observed rows fall in.

    A duplicate PK is explained when every observed row of it that is still a
    candidate at the check is in a named exclusion, and a PK none of whose
    observed rows is still a candidate left the fresh tier by compaction.
    """
    dups = duplicates(res)
    if not dups:
        return Counter(), []
    live: dict[object, set[str | None]] = {}
    compacted = 0
    for o in res.arm.observation.to_pylist():
        pk, why = _why_not_counted(res, o["shard"], o["generation"], o["append_index"], o["row"])
        if pk is None:
            compacted += why == "H5b"
            continue
        live.setdefault(pk, set()).add(why)
    reasons: Counter[str] = Counter()
    unexplained = []
    for pk in dups:
        whys = live.get(pk, {"H5b"} if compacted else {None})
        if None in whys:
            unexplained.append(f"pk {pk}: observed row still counted by no rule "
                               f"({res.cut.design}, cut {dict(res.cut.shards)})")
        else:
            reasons["+".join(sorted(w for w in whys if w is not None))] += 1
    return reasons, unexplained


def test_threaded_two_phase_reads_lose_no_row_under_as_of_designs(tmp_path: Path) -> None:
    tag = f"ASOFCUT_SEED={SEED} ASOFCUT_SOAK_SECONDS={SECONDS}"
    options = MemWalOptions(max_memtable_batches=8)
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", options,
                        base=rows(list(range(BASE_KEYS)), "b"))
    oracles: list[dict[int, str]] = []
    for k, sid in enumerate(SHARDS):  # fixed shard set: every shard exists before any reader
        owned = {pk: f"b{pk}" for pk in range(k, BASE_KEYS, len(SHARDS))}
        wal.shard(sid).put(rows([k], "seed"))
        owned[k] = f"seed{k}"
        oracles.append(owned)
    stop = threading.Event()
    errors: list[str] = []
    lock = threading.Lock()
    checked: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    dups: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    unexplained: list[str] = []

    def guard(name: str, fn: Callable[[random.Random], None], salt: int) -> threading.Thread:
        def run() -> None:
            try:
                fn(random.Random(SEED * 1000 + salt))
            except BaseException as e:  # noqa: BLE001 - reported in the assertion
                errors.append(f"{name}: {type(e).__name__}: {e}")
                stop.set()

        return threading.Thread(target=run, name=name, daemon=True)

    def writer(k: int) -> Callable[[random.Random], None]:
        shard, oracle = wal.shard(SHARDS[k]), oracles[k]
        owned = list(range(k, BASE_KEYS, len(SHARDS)))

        def run(rng: random.Random) -> None:
            i = 0
            while not stop.is_set():
                pks = sorted(set(rng.sample(owned, rng.randint(1, 4))))
                if rng.random() < 0.75:
                    i += 1
                    shard.put(rows(pks, f"w{k}.{i}."))
                    oracle.update({pk: f"w{k}.{i}.{pk}" for pk in pks})
                else:
                    shard.delete(pks)
                    for pk in pks:
                        oracle.pop(pk, None)
                time.sleep(rng.uniform(0, 0.0005))

        return run

    def maintainer(rng: random.Random) -> None:
        while not stop.is_set():
            sid = rng.choice(SHARDS)
            wal.shard(sid).freeze()
            while wal.shard(sid).flush() is not None:
                pass
            time.sleep(rng.uniform(0, 0.005))

    def compactor(rng: random.Random) -> None:
        while not stop.is_set():
            wal.compact()
            time.sleep(rng.uniform(0.005, 0.03))

    def reader(rng: random.Random) -> None:
        n = 0
        while not stop.is_set():
            design = DESIGNS[n % len(DESIGNS)]
            n += 1
            res = wal.two_phase_read(design, "visible_count",
                                     between=lambda: time.sleep(rng.uniform(0, 0.004)))
            c, m, d = judge(res)
            why, odd = explain(res)
            with lock:
                reads[design] += 1
                checked[design] += c
                missing[design] += m
                dups[design] += d
                reasons.update({f"{design}:{k}": v for k, v in why.items()})
                unexplained.extend(f"{design}: {u}" for u in odd)

    threads = [guard(f"writer{k}", writer(k), k) for k in range(len(SHARDS))]
    threads += [guard("maintainer", maintainer, 10), guard("compactor", compactor, 11)]
    threads += [guard(f"reader{k}", reader, 20 + k) for k in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    summary = (
        f"threads [{tag}]: reads {dict(reads)}, rows checked {dict(checked)}, "
        f"missing {dict(missing)}, duplicates {dict(dups)} explained as {dict(reasons)}"
    )
    print("\n" + summary)
    assert not [t.name for t in threads if t.is_alive()], summary
    assert errors == [], f"{errors} — {summary}"
    assert all(reads[d] > 0 for d in DESIGNS), summary
    assert missing["as_of_cut"] == 0 and missing["exact_cut"] == 0, summary
    assert missing["live_tier"] > 0, f"live-tier missing row not reproduced — {summary}"
    assert unexplained == [], f"{unexplained[:5]} — {summary}"
    assert sum(reasons.values()) == sum(dups.values()), summary
    assert missing["pinned_cut"] == 0 and dups["pinned_cut"] == 0, summary
    vacuous = f"no compaction landed between an arm and its check — {summary}"
    assert dups["exact_cut"] + dups["as_of_cut"] > 0, vacuous

    expected: dict[int, str] = {}
    for o in oracles:
        expected.update(o)

    def scanned(w: MemWal) -> dict[int, str]:
        t = w.scan().table
        return dict(zip(t.column("id").to_pylist(), t.column("v").to_pylist(), strict=True))

    assert scanned(wal) == expected, f"acknowledged write lost — {summary}"
    wal.close()
    assert scanned(MemWal.open(tmp_path / "t", options)) == expected, f"lost on reopen — {summary}"


# --------------------------------------------------------------------------
# The attribution itself, on sequential reads (what the soak relies on)
# --------------------------------------------------------------------------


def _wal(tmp_path: Path) -> MemWal:
    return MemWal.create(tmp_path / "t", SCHEMA, "id", MemWalOptions(release="at_flush"),
                         base=rows([1, 2], "b"))


def test_a_release_between_arm_and_check_is_explained_as_h4(tmp_path: Path) -> None:
    wal = _wal(tmp_path)
    s = wal.shard("s")
    s.put(rows([1], "new"))
    def flush_active() -> None:
        s.freeze()
        s.flush()

    res = wal.two_phase_read("as_of_cut", between=flush_active)
    assert explain(res) == (Counter({"H4": 1}), [])


def test_a_compaction_between_arm_and_check_is_explained_as_h5b(tmp_path: Path) -> None:
    wal = _wal(tmp_path)
    s = wal.shard("s")
    s.put(rows([1], "new"))
    s.freeze()
    s.flush()
    def compact() -> None:
        wal.compact()

    res = wal.two_phase_read("exact_cut", between=compact)
    assert explain(res) == (Counter({"H5b": 1}), [])


def test_an_under_count_for_no_named_reason_is_unexplained(tmp_path: Path, monkeypatch) -> None:
    """Planted: the check forgets the memtables below the cut's active generation."""
    import impl.block_list as bl

    original = bl._memtable_ranges

    def forgetful(design: str, m: object, entry: object | None) -> list[tuple[int, int]]:
        if isinstance(entry, AsOfCut) and m.generation < entry.active_generation:  # type: ignore[attr-defined]
            return []
        return original(design, m, entry)  # type: ignore[arg-type]

    wal = _wal(tmp_path)
    s = wal.shard("s")
    s.put(rows([1], "new"))
    s.freeze()
    s.put(rows([3], "new"))
    monkeypatch.setattr(bl, "_memtable_ranges", forgetful)
    res = wal.two_phase_read("as_of_cut")
    reasons, unexplained = explain(res)
    assert duplicates(res) == [1]
    assert reasons == Counter() and len(unexplained) == 1 and unexplained[0].startswith("pk 1:")
