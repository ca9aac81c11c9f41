"""Real Lance MemWAL (pylance 14.0.2) through ``lance_harness.driver``.

Four kinds of test live here, all marked ``lance`` (collected only by the dedicated tox env);
``docs/LANCE_FINDINGS.md`` describes each finding for a Lance maintainer:

* **Known defects** with a deterministic reproduction, pinned with ``xfail(strict=True)`` on the
  *correct* behaviour: they fail today (XFAIL), and the day Lance fixes one it XPASSes, which
  strict mode turns into a failure so the pin gets revisited. Each assertion message is a
  minimal reproduction as numbered events (``--runxfail`` prints them).
* **Documented limits**: behaviour that is Lance's design, not a defect, pinned as it is (these
  pass; a change in Lance fails them).
* **Capabilities** the harness relies on, which must pass: exact scans after settle, exact
  generation/batch_count predictions, no loss across close/crash with durable writes, fencing,
  compaction into base, membership, and the inferred shard-manifest layout.
* **Recognising the nondeterministic defect** ("PK index incomplete at flush") by its evidence,
  with planted index gaps, and failing every other settled-scan mismatch.

The expectation is ``LsmExpectation`` below, a dict-based ``base ⊕ sstables ⊕ frozen ⊕ active``
with the freeze predicted from B (written before ``model/state.py`` existed; the state machine
over real Lance, ``stateful_tests/test_lance_machine.py``, uses the model itself).

Every test is wrapped by ``lance_defect_xfails``, i.e. ``lance_harness.backend.lance_defect_xfail``,
the one helper the state machine uses too: the driver's settle reads every new SSTable's
``_pk_index``; an SSTable whose index lacks keys raises ``PkIndexIncompleteError`` with the
evidence, and that error -- only that one -- becomes a runtime, non-strict xfail carrying it.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

os.environ.setdefault("LANCE_LOG", "lance=off")  # expected "Writer fenced" logs are noise

# Safety net only: the ``lance`` marker + tox env are what keep this module out of runs without
# pylance. A skipped module is not a pass.
lance = pytest.importorskip("lance")

import pyarrow as pa  # noqa: E402
from lance.file import LanceFileReader, LanceFileWriter  # noqa: E402
from lance.mem_wal import CompactedSsTable  # noqa: E402

from lance_harness.backend import lance_defect_xfail  # noqa: E402
from lance_harness.driver import (  # noqa: E402
    PK_INDEX_DATA,
    SCHEMA,
    DuplicatePkError,
    LanceMemWalDriver,
    PkIndexIncompleteError,
    ScanClearedOnRescanError,
    SettledScanMismatchError,
    decode_shard_manifest,
    read_pk_index_keys,
)

pytestmark = pytest.mark.lance


def lance_defect_xfails(test: Callable[..., None]) -> Callable[..., None]:
    """Run ``test`` under ``lance_defect_xfail``: the recognised pylance 14.0.2 defect (PK index
    incomplete at flush, with its evidence) becomes a runtime (non-strict) xfail; see the
    driver's docstring. Timing-dependent, so never a pass and never a flaky failure."""

    @functools.wraps(test)
    def wrapper(*args: object, **kwargs: object) -> None:
        with lance_defect_xfail():
            test(*args, **kwargs)

    return wrapper


Rows = dict[int, str | None]


# --------------------------------------------------------------------------------------------
# Expectation (pure Python) and a recorder that turns a run into numbered events
# --------------------------------------------------------------------------------------------


class LsmExpectation:
    """What Lance should hold: base ⊕ SSTables above the watermark ⊕ frozen ⊕ active.

    ``None`` is a tombstone. The freeze is predicted from B: the write that makes the active
    memtable's batch count reach B freezes it and opens generation + 1.
    """

    def __init__(self, max_memtable_batches: int, base: Mapping[int, str]) -> None:
        self.b = max_memtable_batches
        self.base: Rows = dict(base)
        self.sstables: list[tuple[int, Rows]] = []
        self.frozen: list[tuple[int, Rows]] = []
        self.generation = 1
        self.active: Rows = {}
        self.batch_count = 0
        self.watermark = 0

    def write(self, rows: Rows) -> None:
        self.active.update(rows)
        self.batch_count += 1
        if self.batch_count == self.b:
            self._freeze()

    def _freeze(self) -> None:
        self.frozen.append((self.generation, self.active))
        self.generation += 1
        self.active, self.batch_count = {}, 0

    def settle(self) -> None:
        self.sstables.extend(self.frozen)
        self.frozen = []

    def close_and_reopen(self) -> None:
        """close() flushes frozen + a non-empty active (generation +1 only then)."""
        if self.batch_count:
            self._freeze()
        self.settle()

    def crash_restart(self) -> None:
        """Settled first; the active memtable is replayed from the WAL under the same generation."""
        self.settle()

    def compact(self) -> None:
        for gen, rows in self.sstables:
            if gen > self.watermark:
                _overlay(self.base, rows)
                self.watermark = gen
        self.base = {k: v for k, v in self.base.items() if v is not None}

    def view(self, *, include_frozen: bool = True) -> Rows:
        out: Rows = dict(self.base)
        for gen, rows in self.sstables:
            if gen > self.watermark:
                _overlay(out, rows)
        if include_frozen:
            for _, rows in self.frozen:
                _overlay(out, rows)
        _overlay(out, self.active)
        return {k: v for k, v in out.items() if v is not None}


def _overlay(target: Rows, rows: Rows) -> None:
    target.update(rows)


class Run:
    """Drive Lance and the expectation in lockstep, logging numbered events for a repro."""

    def __init__(self, b: int, base: Mapping[int, str] | None = None, shards: int = 1) -> None:
        base = dict(base or {})
        self.d = LanceMemWalDriver(max_memtable_batches=b, base=base, shards=shards)
        self.e = LsmExpectation(b, base)
        self.events: list[str] = [f"new dataset, base={base}, max_memtable_batches={b}"]
        self.seq = 0

    def log(self, text: str) -> None:
        self.events.append(text)

    def put(self, keys: Sequence[int]) -> None:
        vals = [f"v{self.seq}_{i}" for i in range(len(keys))]  # unique: a stale read shows
        self.seq += 1
        self.d.put(keys, vals)
        self.e.write(dict(zip(keys, vals, strict=True)))
        self.log(f"put {dict(zip(keys, vals, strict=True))}" + self._stats())

    def delete(self, keys: Sequence[int]) -> None:
        self.d.delete(keys)
        self.e.write(dict.fromkeys(keys))
        self.log(f"delete ids={list(keys)}" + self._stats())

    def settle(self) -> None:
        self.d.settle()
        self.e.settle()
        self.log("settle (frozen_count == 0)")

    def close_and_reopen(self) -> None:
        self.d.close_and_reopen()
        self.e.close_and_reopen()
        self.log("close + reopen writer" + self._stats())

    def crash_restart(self) -> None:
        self.d.crash_restart()
        self.e.crash_restart()
        self.log("crash: settle, open 2nd writer, old one fenced" + self._stats())

    def compact(self) -> None:
        reports = self.d.compact()
        self.e.settle()
        self.e.compact()
        self.log(f"compact {[(r.generations, r.marked_generation) for r in reports]}")

    def _stats(self) -> str:
        s = self.d.memtable_stats()
        return f"  -> gen={s['generation']} batches={s['batch_count']} frozen={s['frozen_count']}"

    def repro(self, outcome: str) -> str:
        lines = [f"{i}. {text}" for i, text in enumerate(self.events, 1)]
        head = f"minimal reproduction (pylance {lance.__version__}):"
        return "\n".join([head, *lines, f"  => {outcome}"])

    def check_scan(self) -> None:
        """The settled scan equals the expectation, classified by the driver on a mismatch."""
        got, want = self.d.scan(), self.e.view()
        self.d.check_settled_scan(
            want, got, story=self.repro(f"scan shows {got}, expected {want}"), rescan=self.d.scan
        )

    def close(self) -> None:
        self.d.close()


MakeRun = Callable[..., Run]


@pytest.fixture
def runs() -> Iterator[MakeRun]:
    """Open Runs and close them all at teardown (temp dirs removed)."""
    opened: list[Run] = []

    def make(b: int, base: Mapping[int, str] | None = None, shards: int = 1) -> Run:
        run = Run(b, base, shards)
        opened.append(run)
        return run

    yield make
    for run in opened:
        run.close()


def _random_ops(rng: random.Random, run: Run, steps: int, keys: int, ops: Sequence[str]) -> None:
    """A deterministic (seeded) random walk of one-batch writes and lifecycle steps."""
    for _ in range(steps):
        op = rng.choice(ops)
        picked = sorted(rng.sample(range(keys), rng.randint(1, 3)))
        if op == "put":
            run.put(picked)
        elif op == "delete":
            run.delete(picked)
        elif op == "settle":
            run.settle()
        elif op == "reopen":
            run.close_and_reopen()
        elif op == "crash":
            run.crash_restart()
        elif op == "compact":
            run.compact()
        else:  # pragma: no cover - programming error in the op list
            raise AssertionError(op)


# --------------------------------------------------------------------------------------------
# Known defects of 14.0.2 (strict xfail on the correct behaviour)
# --------------------------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="14.0.2: writer.lsm_scanner() omits frozen, unflushed memtables (read-your-writes gap;"
    " a deleted base row is resurrected until the background flush lands)",
)
@lance_defect_xfails
def test_frozen_memtable_visible_to_scan(runs: MakeRun) -> None:
    """Every acknowledged write must be visible to the writer's own scan, frozen or not.

    Five independent trials of the counterexample (3 deletes of key 0 with B=3, scan
    right after the freezing one). The flush takes >= 6 ms and the scan < 1 ms, so every trial
    misses today; the test XPASSes only if all five are exact, i.e. when Lance is fixed.
    """
    failures = []
    for _ in range(5):
        run = runs(3, {0: "base0", 1: "base1", 2: "base2"})
        for _ in range(3):
            run.delete([0])
        got, want = run.d.scan(), run.e.view(include_frozen=True)
        if got != want:
            failures.append(run.repro(f"scan shows {got}, expected {want}"))
    assert not failures, failures[0] + f"\n({len(failures)}/5 trials wrong)"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="14.0.2: writer config defaults recorded by initialize_mem_wal(...) are ignored by "
    "mem_wal_writer() (hard-coded defaults apply instead)",
)
@lance_defect_xfails
def test_init_writer_defaults_apply(tmp_path: Path) -> None:
    """A writer opened without max_memtable_batches must use the recorded default (1)."""
    path = str(tmp_path / "ds.lance")
    ds = lance.write_dataset(pa.table({"id": [1], "val": ["b"]}, schema=SCHEMA), path)
    ds.initialize_mem_wal(max_memtable_batches=1)
    recorded = lance.dataset(path).mem_wal_index_details()["writer_config_defaults"]
    writer = lance.dataset(path).mem_wal_writer(
        "00000000-0000-0000-0000-000000000001",
        durable_write=True,
        max_wal_buffer_size=1,
        max_wal_flush_interval_ms=10,
    )
    try:
        writer.put(pa.RecordBatch.from_pydict({"id": [2], "val": ["x"]}, schema=SCHEMA))
        stats = writer.memtable_stats()
    finally:
        writer.close()
    events = [
        "1. write_dataset base={1: 'b'}",
        "2. initialize_mem_wal(max_memtable_batches=1)"
        f"  -> writer_config_defaults.max_memtable_batches={recorded.get('max_memtable_batches')}",
        "3. mem_wal_writer(shard) without max_memtable_batches",
        "4. put {2: 'x'} (one batch)",
    ]
    assert (stats["generation"], stats["batch_count"]) == (2, 0), "\n".join(
        [
            *events,
            f"  => memtable_stats gen={stats['generation']} batches="
            f"{stats['batch_count']}, expected gen=2 batches=0 (frozen at the recorded cap 1)",
        ]
    )


# --------------------------------------------------------------------------------------------
# Documented limits of Lance's design (not defects): pinned as they are, so a change shows
# --------------------------------------------------------------------------------------------


@lance_defect_xfails
def test_limit_compaction_marker_is_not_checked_against_manifest(runs: MakeRun) -> None:
    """Lance checks a compaction marker only for one marker per shard per commit and a strictly
    increasing watermark, not against the shard manifest (upstream's own tests mark generation 1
    of a fresh shard): marking generation 5 when only generation 1 was flushed is accepted. The
    caller owns that check; the driver marks only the highest flushed generation it merged."""
    run = runs(1, {0: "base0"})
    run.put([1])
    run.settle()
    assert [r.generation for r in run.d.sstables()] == [1]
    (
        lance.dataset(str(run.d.path))
        .merge_insert("id")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .mark_sstables_as_compacted([CompactedSsTable(run.d.shard_ids[0], 5)])
        .execute(pa.table({"id": [1], "val": [run.e.view()[1]]}, schema=SCHEMA))
    )  # accepted: no exception


@lance_defect_xfails
def test_limit_one_shard_per_key(runs: MakeRun) -> None:
    """Lance's rule is that every row of a PK is written through one shard; it does not
    deduplicate across shards, so the same PK written through two shards comes back twice.
    The driver routes each key to one shard (``key % shards``) and refuses writes that span
    shards (``test_put_rejects_keys_spanning_shards``)."""
    run = runs(1, {}, shards=2)
    run.d.put([7], ["via_shard0"], shard=0)
    run.d.put([7], ["via_shard1"], shard=1)
    run.d.settle()
    assert run.d.scan_rows() == [(7, "via_shard0"), (7, "via_shard1")]
    with pytest.raises(DuplicatePkError):
        run.d.scan()


# --------------------------------------------------------------------------------------------
# Capabilities the harness relies on (must pass)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("b", [1, 2, 3])
@lance_defect_xfails
def test_stats_generation_and_batch_count_exact(runs: MakeRun, b: int) -> None:
    """generation/batch_count are synchronous: exact after every write, no settle needed."""
    rng = random.Random(1000 + b)
    run = runs(b, {0: "b0", 1: "b1"})
    for _ in range(25):
        (run.put if rng.random() < 0.7 else run.delete)(sorted(rng.sample(range(6), 2)))
        got = run.d.cut_stats()[run.d.shard_ids[0]]
        want = (run.e.generation, run.e.batch_count)
        assert (got.generation, got.batch_count) == want, run.repro(f"cut {got}, expected {want}")
        frozen = run.d.memtable_stats()["frozen_count"]
        assert frozen <= len(run.e.frozen), run.repro(f"frozen_count {frozen} > predicted")


@pytest.mark.parametrize("b", [1, 2, 3])
@lance_defect_xfails
def test_scan_equals_expectation_after_settle(runs: MakeRun, b: int) -> None:
    """After settle, the LSM scan is exactly base ⊕ SSTables ⊕ active (newest wins, tombstones)."""
    rng = random.Random(2000 + b)
    run = runs(b, {k: f"base{k}" for k in range(4)})
    for _ in range(30):
        _random_ops(rng, run, 1, 8, ["put", "put", "delete", "settle"])
        run.settle()
        run.check_scan()
        live = set(run.e.view())
        member = run.d.membership(list(range(8)))
        assert member == live, run.repro(f"membership {member}, expected live keys {live}")


@pytest.mark.parametrize("b", [2, 3])
@lance_defect_xfails
def test_close_and_crash_lose_nothing(runs: MakeRun, b: int) -> None:
    """Durable writes survive close/reopen and crash/restart; old writers are fenced."""
    rng = random.Random(3000 + b)
    run = runs(b, {0: "b0"})
    for _ in range(30):
        _random_ops(rng, run, 1, 6, ["put", "put", "delete", "reopen", "crash"])
        run.settle()
        run.check_scan()
        cut = run.d.cut_stats()[run.d.shard_ids[0]]
        want_cut = (run.e.generation, run.e.batch_count)
        assert (cut.generation, cut.batch_count) == want_cut, run.repro(f"cut {cut} != {want_cut}")


@pytest.mark.parametrize("b", [1, 2])
@lance_defect_xfails
def test_compaction_equals_expected_base(runs: MakeRun, b: int) -> None:
    """Caller-side compaction (delete pass + upsert pass with the marker) yields the expected base,
    repeatedly (the watermark advances), and the LSM scan is unchanged by it."""
    rng = random.Random(4000 + b)
    run = runs(b, {k: f"base{k}" for k in range(5)})
    for _ in range(3):
        _random_ops(rng, run, 8, 8, ["put", "put", "delete"])
        run.compact()
        assert run.d.base() == run.e.base, run.repro(f"base {run.d.base()}, expected {run.e.base}")
        assert run.d.watermark() == run.e.watermark
        run.check_scan()  # compact settled first


@lance_defect_xfails
def test_stale_compaction_marker_rejected(runs: MakeRun) -> None:
    """The watermark must strictly increase: re-marking the compacted generation is refused."""
    run = runs(1, {0: "base0"})
    run.put([1])
    run.compact()
    stale = (
        lance.dataset(str(run.d.path))
        .merge_insert("id")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .mark_sstables_as_compacted([CompactedSsTable(run.d.shard_ids[0], run.d.watermark())])
    )
    with pytest.raises(Exception, match="Stale SSTable compaction"):
        stale.execute(pa.table({"id": [1], "val": ["again"]}, schema=SCHEMA))


@lance_defect_xfails
def test_manifest_decoder_matches_disk(runs: MakeRun) -> None:
    """The inferred shard-manifest layout agrees with the SSTable dirs and with the writer."""
    run = runs(2, {})
    for k in range(7):
        run.put([k])
    run.settle()
    decoded = decode_shard_manifest(run.d.path / "_mem_wal" / run.d.shard_ids[0])
    gens = [r.generation for r in decoded["sstables"]]
    assert gens == [g for g, _ in run.e.sstables] == run.d.listed_sstable_generations()
    assert decoded["current_generation"] == run.d.memtable_stats()["generation"]
    for ref, (_, rows) in zip(decoded["sstables"], run.e.sstables, strict=True):
        assert run.d.read_sstable(0, ref) == rows


@lance_defect_xfails
def test_put_rejects_keys_spanning_shards(runs: MakeRun) -> None:
    """The fixed key→shard map is enforced by the driver (Lance doesn't enforce it)."""
    run = runs(2, {}, shards=2)
    with pytest.raises(ValueError, match="span shards"):
        run.d.put([1, 2], ["a", "b"])


# ------------------------------------------------------------------------------------------
# Recognising the defect by its evidence: the settle-time PK-index check, with planted gaps
# ------------------------------------------------------------------------------------------


def _flushed_unchecked(runs: MakeRun) -> tuple[Run, Path]:
    """Base {0: 'base0', 1: 'base1'}, B=2: put {1: ...} then delete [0] freezes gen 1. Waits for
    the flush WITHOUT settle (so the index check has not run) and returns gen 1's directory."""
    run = runs(2, {0: "base0", 1: "base1"})
    run.put([1])
    run.delete([0])
    while run.d.memtable_stats()["frozen_count"]:
        time.sleep(0.001)
    ref = run.d.sstables()[-1]
    real = run.d.pk_index_gap(0, ref)
    if real is not None:  # the real defect hit before anything was planted: report it as such
        with lance_defect_xfail():
            raise real
    return run, run.d.path / "_mem_wal" / run.d.shard_ids[0] / ref.path


def _plant_index(folder: Path, keep: Callable[[int], bool]) -> None:
    """Rewrite an SSTable's ``_pk_index`` page data keeping only the keys ``keep`` accepts."""
    data = folder / PK_INDEX_DATA
    table = LanceFileReader(str(data)).read_all().to_table()
    kept = table.filter(pa.array([keep(k) for k in table["values"].to_pylist()]))
    data.unlink()
    with LanceFileWriter(str(data), kept.schema) as writer:
        writer.write_batch(kept)


@lance_defect_xfails
def test_index_check_passes_a_complete_index(runs: MakeRun) -> None:
    """A flushed SSTable whose ``_pk_index`` holds every key of its rows passes the check (the
    index holds tombstone keys too), and the settled scan is exact."""
    run, folder = _flushed_unchecked(runs)
    assert read_pk_index_keys(folder) >= {0, 1}, read_pk_index_keys(folder)
    run.settle()
    run.check_scan()


PLANTED: dict[str, tuple[Callable[[Path], None], tuple[int, ...], str | None]] = {
    "empty": (lambda f: shutil.rmtree(f / "_pk_index"), (0, 1), "base0"),
    "tombstone": (lambda f: _plant_index(f, lambda k: k != 0), (0,), "base0"),
    "newer": (lambda f: _plant_index(f, lambda k: k != 1), (1,), "base1"),
}
"""Per symptom: how to damage gen 1's index, the keys then missing, the older row of the first."""


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_index_check_recognises_each_planted_gap(runs: MakeRun, kind: str) -> None:
    """A planted gap in gen 1's ``_pk_index`` is raised by settle as the defect, with the missing
    keys, their older rows and the symptom; the xfail helper recognises it (and only it)."""
    plant, missing, older = PLANTED[kind]
    run, folder = _flushed_unchecked(runs)
    plant(folder)
    with pytest.raises(PkIndexIncompleteError) as info:
        run.d.settle()
    err = info.value
    assert (err.generation, err.missing, err.kind) == (1, missing, kind), err
    assert err.rows == {0: None, 1: "v0_0"} and err.older[missing[0]] == older
    assert f"missing id {missing[0]}" in str(err) and "observed" in str(err)
    if kind == "empty":  # the real symptom of an empty index, as upstream reports it
        assert "Not found" in err.observed and "page_lookup.lance" in err.observed, err.observed
    with pytest.raises(pytest.xfail.Exception, match=rf"PK index incomplete at flush \({kind}\)"):
        with lance_defect_xfail():
            raise RuntimeError("wrapped") from err  # found in the chain, not only on top


def test_empty_index_found_from_a_failing_scan(runs: MakeRun) -> None:
    """A scan failing with ``Not found … _pk_index`` is checked against the indexes too."""
    run, folder = _flushed_unchecked(runs)
    shutil.rmtree(folder / "_pk_index")
    with pytest.raises(PkIndexIncompleteError, match=r"\(empty\)") as info:
        run.d.scan()
    assert isinstance(info.value.__cause__, OSError)


# --------------------------------------------------------------------------------------------
# The settled-scan comparison: every mismatch after a clean index check fails
# --------------------------------------------------------------------------------------------


def _tombstoned_base(runs: MakeRun) -> Run:
    """Base {0: 'base0', 1: 'base1'}, B=1, delete [0] settled: gen 1 on disk tombstones key 0."""
    run = runs(1, {0: "base0", 1: "base1"})
    run.delete([0])
    run.settle()
    ref = run.d.sstables()[-1]
    assert run.d.read_sstable(0, ref) == {0: None}, "setup: the flushed tombstone is on disk"
    return run


def _no_sleep(_: float) -> None:
    pass


@lance_defect_xfails
def test_mismatch_that_clears_on_rescan_is_ours(runs: MakeRun) -> None:
    """A settled mismatch, exact on the 2nd rescan: settle returned too early -- our bug, not
    an xfail (lance_defect_xfail lets it through)."""
    run = _tombstoned_base(runs)
    want = run.e.view()
    answers: Iterator[Rows] = iter([{0: "base0", 1: "base1"}, dict(want)])
    slept: list[float] = []
    with pytest.raises(ScanClearedOnRescanError, match="rescan after 200 ms was exact"):
        with lance_defect_xfail():
            run.d.check_settled_scan(
                want, {0: "base0", 1: "base1"}, rescan=lambda: next(answers), sleep=slept.append
            )
    assert slept == [0.05, 0.15]
    # and with the real scan (which is exact here), a synthetic mismatch clears at once
    with pytest.raises(ScanClearedOnRescanError, match="after 50 ms"):
        run.d.check_settled_scan(want, {0: "base0", 1: "base1"}, sleep=_no_sleep)


UNRECOGNISED = {
    "extra non-base row": ({5: "x"}, ()),
    "deleted key back, not with its base value": ({0: "other"}, ()),
    "deleted base row back, its tombstone flushed and indexed": ({0: "base0"}, ()),
    "live row missing": ({}, (2,)),
}


@pytest.mark.parametrize("case", sorted(UNRECOGNISED))
@lance_defect_xfails
def test_persistent_mismatch_is_unrecognised(runs: MakeRun, case: str) -> None:
    """Persistent, with every PK index complete: a real failure, never an xfail -- the defect
    is recognised by the index evidence only, not by what a scan looks like.

    Real dataset: base {0, 1, 2}, B=1, delete [0] then put [2], settled (gen 1 tombstones 0,
    gen 2 upserts 2). The scan is ``view`` plus ``extra`` minus ``drop``.
    """
    extra, drop = UNRECOGNISED[case]
    run = runs(1, {0: "base0", 1: "base1", 2: "base2"})
    run.delete([0])
    run.put([2])
    run.settle()
    want = run.e.view()
    got = {k: v for k, v in want.items() if k not in drop} | extra
    with pytest.raises(SettledScanMismatchError, match="not a recognised Lance defect"):
        with lance_defect_xfail():
            run.d.check_settled_scan(want, got, rescan=lambda: got, sleep=_no_sleep)
