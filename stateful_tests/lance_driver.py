"""A deterministic driver of real Lance's MemWAL (pylance 14.0.2), for tests and state machines.

Why this exists: the harness checks its own fresh tier (``impl/``) against the model; this driver
lets the same alphabet of steps (put, delete, settle, close/reopen, crash, compact, scan,
membership, cut) run against the *real* Lance writer, so the harness can say which of its findings
hold for Lance itself. Every adapter rule below was measured on pylance 14.0.2; each is cited
by its subsection of docs/LANCE.md "pylance 14.0.2, as measured":

* one dataset directory per driver instance; schema ``id int64 NOT NULL`` carrying the field-level
  PK metadata, plus ``val utf8`` (nullable, so tombstones can null it);
* ``initialize_mem_wal()`` with manual sharding and fixed shard UUIDs; a key is always routed to
  the same shard (``key % shards``) because Lance returns cross-shard duplicates (LANCE.md "Scans");
* writer knobs are always passed to ``mem_wal_writer`` because the defaults recorded by
  ``initialize_mem_wal`` are ignored in 14.0.2 (LANCE.md "Creating a MemWAL table");
  ``max_memtable_batches`` is the only freeze trigger, so a freeze is predictable: the write
  that makes ``batch_count == B`` freezes;
* every write is one ``RecordBatch`` (one memtable batch, LANCE.md "One write, one batch");
* the background flush is the only asynchronous thing; :meth:`LanceMemWalDriver.settle` makes it
  deterministic by polling ``frozen_count == 0`` (LANCE.md "Flush happens in the background").

What Lance 14.0.2 does *not* offer, and how the driver stands in
(LANCE.md "No membership or as-of call"): there is no
``contains_pks``/``contains_pks_as_of``/as-of/watermark/freeze/flush binding. Membership is emulated
with a filtered LSM scan (which, unlike ``contains_pks``, cannot see tombstones), the compaction
watermark is tracked here because Python cannot read it back, and the SSTable list comes from
decoding the shard manifest (its protobuf layout is inferred, so it is cross-checked against the
``*_gen_*`` directories).

Known 14.0.2 defect, made loud here (found 2026-11 under CPU load; about 1 in 500-700 settles
with two CPU hogs on 2 cores, rare when idle): the background flush can commit an SSTable to the
shard manifest -- ``stats()["memtable_flush_count"]`` counts it and ``memtable_flush_failures``
stays 0 -- WITHOUT its primary-key index: ``<gen dir>/_pk_index/page_data.lance`` and
``page_lookup.lance`` are missing (``bloom_filter.bin`` is checked too). From then on the writer's
``lsm_scanner()`` raises ``OSError: Not found … _pk_index/page_lookup.lance`` or dedups wrongly,
permanently: the files never appear later, and ``close_and_reopen`` does NOT repair it (checked
2026-11-25: 3 of 3 hits in 1847 settles under two CPU hogs still lacked both ``_pk_index`` files
and still failed to scan after close + reopen; ``bloom_filter.bin`` was present every time).
:meth:`LanceMemWalDriver.settle` therefore also waits, bounded, until every manifest SSTable has
those three files, and raises :class:`SsTableIndexMissingError` (naming the generation and the
missing files) instead of letting a later scan fail obscurely or, worse, answer wrongly. A scan
that hits the same ``Not found … _pk_index`` error is re-raised as that error too. Tests turn it
into a runtime ``pytest.xfail`` (timing-dependent, so never strict): reported, never a pass.

Known 14.0.2 defects, numbered as the tests report them (``lance_backend.lance_defect_xfail``):

1. **Flushed SSTable committed without its ``_pk_index/``** (above):
   :class:`SsTableIndexMissingError`.
2. **Flushed tombstone intermittently fails to mask a base row**: after a delete is frozen and
   flushed to an SSTable (settled; index files present) the LSM scan sometimes still returns the
   deleted base row, persistently (re-scans after 50/200/1000 ms and a fresh
   ``LsmScanner.from_snapshots`` agree), nondeterministically (the same contents scan correctly
   in most runs); the SSTable read directly holds the tombstone. Every settled-scan comparison
   (state machine and deviation tests) goes through :meth:`LanceMemWalDriver.
   classify_scan_mismatch`: it rescans after :data:`RESCAN_MS`; a mismatch that CLEARS is ours
   (settle returned too early) and raises :class:`ScanClearedOnRescanError`; one that persists
   raises :class:`TombstoneNotMaskedError` only if EVERY differing key is a base row the
   expectation deleted whose owning shard's manifest SSTables, read from disk, end in a tombstone
   for it; anything else returns, and the caller fails with its own mismatch.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

# Silence the expected "Writer fenced" logs of crash_restart before the Rust runtime starts.
os.environ.setdefault("LANCE_LOG", "lance=off")

import lance  # noqa: E402  (must follow the LANCE_LOG default above)
import pyarrow as pa  # noqa: E402
from lance.mem_wal import CompactedSsTable, ShardSnapshot, ShardWriter  # noqa: E402

__all__ = [
    "PYLANCE_VERSION",
    "RESCAN_MS",
    "SCHEMA",
    "CompactionReport",
    "DuplicatePkError",
    "LanceCut",
    "LanceMemWalDriver",
    "SsTableIndexMissingError",
    "ScanClearedOnRescanError",
    "SettledScanMismatchError",
    "SsTableRef",
    "TombstoneNotMaskedError",
    "WriterNotFencedError",
    "decode_shard_manifest",
]

PYLANCE_VERSION: str = lance.__version__
"""The pylance version the driver runs on; the deviations it pins are those of 14.0.2."""

PK_METADATA: dict[str, str] = {"lance-schema:unenforced-primary-key": "true"}
SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False, metadata=PK_METADATA),
        pa.field("val", pa.utf8()),
    ]
)
"""Field-level PK metadata; the PK must be non-nullable (LANCE.md "Creating a MemWAL table")."""

_SSTABLE_DIR = re.compile(r"^[0-9a-f]{8}_gen_(\d+)$")
_POLL_S = 0.001


class DuplicatePkError(AssertionError):
    """An LSM scan returned the same primary key more than once (Lance's dedup failed)."""


class LanceDefect(Exception):  # noqa: N818 - a family of named Lance defects, not one error
    """Base of the known, nondeterministic pylance 14.0.2 defects (module docstring).

    ``story`` (the numbered steps) is set by whoever knows them; empty until then.
    """

    story: str = ""


class SsTableIndexMissingError(LanceDefect, OSError):
    """pylance 14.0.2 committed a flushed SSTable to the shard manifest without its PK index.

    ``generation``/``missing`` name the first broken SSTable (``missing`` relative to its
    directory). A Lance defect, not a harness finding: see the module docstring.
    """

    def __init__(self, shard_id: str, generation: int, path: str, missing: Sequence[str]) -> None:
        self.shard_id = shard_id
        self.generation = generation
        self.path = path
        self.missing = tuple(missing)
        super().__init__(
            f"pylance {PYLANCE_VERSION} committed SSTable gen {generation} of shard {shard_id} "
            f"({path}) to the shard manifest without {', '.join(self.missing)} "
            "(flush counted, memtable_flush_failures 0); scans of this shard now fail or dedup "
            "wrongly"
        )


_EVIDENCE_STATS = ("generation", "batch_count", "frozen_count", "durable_batch_count")

RESCAN_MS: tuple[int, ...] = (50, 200, 1000)
"""When a settled scan disagrees, rescan after these delays (cumulative ms) before judging."""


class TombstoneNotMaskedError(LanceDefect):  # noqa: N818 - named after the defect
    """Defect (2) of pylance 14.0.2: a tombstone flushed to an SSTable did not mask a base row.

    Raised by :meth:`LanceMemWalDriver.classify_scan_mismatch` only with on-disk evidence:
    ``evidence`` maps each resurrected key to ``(value returned, shard index, generation of the
    newest SSTable holding it, which is a tombstone)``. ``story`` is set by the caller that knows
    the numbered steps (empty otherwise). A Lance defect, not a harness finding.
    """

    def __init__(self, mismatch: str, evidence: Mapping[int, tuple[str, int, int]]) -> None:
        self.evidence = dict(evidence)
        self.story = ""
        rows = {k: v for k, (v, _, _) in self.evidence.items()}
        where = {k: f"shard {s} gen {g}" for k, (_, s, g) in self.evidence.items()}
        super().__init__(
            f"{mismatch}\n↳ persists after rescans at {'/'.join(map(str, RESCAN_MS))} ms; base "
            f"rows {rows} are tombstoned in the newest flushed SSTable holding them (read from "
            f"disk: {where}) yet the LSM scan returns them"
        )


class ScanClearedOnRescanError(AssertionError):
    """A settled scan disagreed, then a rescan was exact: settle returned too early (OUR bug)."""


class SettledScanMismatchError(AssertionError):
    """A settled scan disagrees with the expectation and no known Lance defect explains it."""


SSTABLE_REQUIRED_FILES: tuple[str, ...] = (
    "_pk_index/page_data.lance",
    "_pk_index/page_lookup.lance",
    "bloom_filter.bin",
)
"""Files every flushed SSTable directory must hold before the driver calls it settled."""


class WriterNotFencedError(AssertionError):
    """A writer replaced by a crash-restart accepted a write instead of raising "fenced"."""


@dataclass(frozen=True)
class SsTableRef:
    """One flushed generation as listed by the shard manifest.

    ``path`` is relative to ``<dataset>/_mem_wal/<shard>/``, which is how
    ``ShardSnapshot.with_sstable`` wants it (LANCE.md "Scans").
    """

    generation: int
    path: str


@dataclass(frozen=True)
class LanceCut:
    """What a read arm's ``AsOfCut(active_generation, active_batch_count)`` would be for a shard.

    Read from ``memtable_stats()``; Lance 14.0.2 has no cut object of its own.
    """

    shard_id: str
    generation: int
    batch_count: int


@dataclass(frozen=True)
class CompactionReport:
    """What one :meth:`LanceMemWalDriver.compact` did, per shard (one commit pair per shard)."""

    shard_id: str
    generations: tuple[int, ...]
    marked_generation: int
    deleted_keys: tuple[int, ...]
    upserted_keys: tuple[int, ...]


# --------------------------------------------------------------------------------------------
# Shard manifest decoding (the layout is inferred, not documented: pin it; LANCE.md "Scans")
# --------------------------------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode one protobuf varint at ``pos``; return (value, next position)."""
    shift = 0
    value = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint in shard manifest")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) of a protobuf message, schema-less."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} in shard manifest")
        yield number, wire, value


def _manifest_version(name: str) -> int:
    """Manifest file names are the version in binary, least-significant bit first.

    (LANCE.md "Scans".)
    """
    return int(name.removesuffix(".binpb")[::-1], 2)


def decode_shard_manifest(shard_dir: Path) -> dict[str, Any]:
    """Decode the newest ``manifest/*.binpb`` of a shard: version, epoch, current gen, SSTables.

    Inferred fields: 1=version, 2=epoch, 6=current_generation, 8=repeated {1: generation,
    2: path}. No Python API lists SSTables in 14.0.2, hence this decoder.
    """
    manifests = sorted(
        (shard_dir / "manifest").glob("*.binpb"), key=lambda p: _manifest_version(p.name)
    )
    if not manifests:
        return {"version": 0, "epoch": 0, "current_generation": 1, "sstables": []}
    out: dict[str, Any] = {"version": 0, "epoch": 0, "current_generation": 0, "sstables": []}
    for number, wire, value in _fields(manifests[-1].read_bytes()):
        if number == 1 and wire == 0:
            out["version"] = value
        elif number == 2 and wire == 0:
            out["epoch"] = value
        elif number == 6 and wire == 0:
            out["current_generation"] = value
        elif number == 8 and wire == 2:
            assert isinstance(value, bytes)
            gen, path = None, None
            for sub_number, sub_wire, sub_value in _fields(value):
                if sub_number == 1 and sub_wire == 0:
                    gen = sub_value
                elif sub_number == 2 and sub_wire == 2:
                    assert isinstance(sub_value, bytes)
                    path = sub_value.decode()
            if not isinstance(gen, int) or path is None:
                raise ValueError(f"unexpected SSTable entry layout in {manifests[-1]}")
            out["sstables"].append(SsTableRef(gen, path))
    out["sstables"].sort(key=lambda s: s.generation)
    return out


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


class LanceMemWalDriver:
    """Drive one real Lance MemWAL dataset deterministically.

    Steps are synchronous except the background SSTable flush, which :meth:`settle`,
    :meth:`close_and_reopen`, :meth:`crash_restart` and :meth:`compact` wait for. The driver
    keeps no model of its own: every observation is read back from Lance, so a test's
    expectation stays independent of the thing it judges.
    """

    def __init__(
        self,
        *,
        max_memtable_batches: int,
        shards: int = 1,
        base: Mapping[int, str] | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        """Create a fresh dataset (in ``root`` or a new temp dir) and open one writer per shard.

        ``max_memtable_batches`` (B ≥ 1) is the only freeze trigger. ``shards`` fixed shard
        UUIDs ``00000000-…-000000000001`` … are used; key ``k`` goes to shard ``k % shards``.
        ``base`` seeds the base table (generation 0); Lance needs a non-empty first write to
        create a dataset with a schema, so an empty base is written as an empty table.
        """
        if max_memtable_batches < 1:
            raise ValueError("max_memtable_batches must be >= 1")
        if shards < 1:
            raise ValueError("shards must be >= 1")
        self._owns_root = root is None
        self.root: Path = Path(tempfile.mkdtemp(prefix="asofcut-lance-") if root is None else root)
        self.path: Path = self.root / "ds.lance"
        self.max_memtable_batches = max_memtable_batches
        self.shard_ids: tuple[str, ...] = tuple(str(uuid.UUID(int=i + 1)) for i in range(shards))
        self._watermark: dict[str, int] = {sid: 0 for sid in self.shard_ids}
        self._closed = False
        self._indexed: list[set[int]] = [set() for _ in self.shard_ids]  # gens with index files
        self.initial_base: dict[int, str] = dict(base or {})  # defect (2) evidence
        lance.write_dataset(self._table(dict(base or {})), str(self.path), schema=SCHEMA)
        lance.dataset(str(self.path)).initialize_mem_wal()  # manual sharding: no spec kwargs
        self._writers: list[ShardWriter] = [self._open_writer(sid) for sid in self.shard_ids]

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def knobs(self) -> dict[str, Any]:
        """The writer knobs, passed explicitly every time (init defaults are ignored:
        LANCE.md "Creating a MemWAL table")."""
        return {
            "max_memtable_batches": self.max_memtable_batches,
            "durable_write": True,  # put returns only once its WAL entry is durable
            "max_wal_buffer_size": 1,  # flush the WAL on every put: ~0.7 ms instead of ~97 ms
            "max_wal_flush_interval_ms": 10,
        }

    def _open_writer(self, shard_id: str) -> ShardWriter:
        # A fresh dataset handle, so the writer pins the *current* base version (LANCE.md "Scans").
        return lance.dataset(str(self.path)).mem_wal_writer(shard_id, **self.knobs)

    @staticmethod
    def _table(rows: Mapping[int, str | None]) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(list(rows), pa.int64()),
                "val": pa.array(list(rows.values()), pa.utf8()),
            },
            schema=SCHEMA,
        )

    def shard_index(self, key: int) -> int:
        """The fixed key→shard map: each key is written through exactly one shard."""
        return key % len(self.shard_ids)

    def _route(self, keys: Sequence[int], shard: int | None) -> int:
        if not keys:
            raise ValueError("empty write: Lance treats it as a no-op (+0 batches), so refuse it")
        if shard is not None:
            return shard
        targets = {self.shard_index(k) for k in keys}
        if len(targets) != 1:
            raise ValueError(f"keys {list(keys)} span shards {sorted(targets)}; write per shard")
        return targets.pop()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("driver is closed")

    # -- writes --------------------------------------------------------------------------------

    def put(self, keys: Sequence[int], vals: Sequence[str], *, shard: int | None = None) -> None:
        """Upsert ``keys``→``vals`` as ONE RecordBatch (= one memtable batch; last row wins).

        ``shard`` overrides the key→shard map; only the cross-shard deviation test uses it, to
        break Lance's one-shard-per-key rule on purpose.
        """
        self._check_open()
        if len(keys) != len(vals):
            raise ValueError("keys and vals differ in length")
        target = self._route(keys, shard)
        batch = pa.RecordBatch.from_pydict({"id": list(keys), "val": list(vals)}, schema=SCHEMA)
        self._writers[target].put(batch)

    def delete(self, keys: Sequence[int], *, shard: int | None = None) -> None:
        """Write one tombstone batch for ``keys`` (a missing key still gets a tombstone)."""
        self._check_open()
        target = self._route(keys, shard)
        batch = pa.RecordBatch.from_pydict(
            {"id": list(keys)}, schema=pa.schema([SCHEMA.field("id")])
        )
        self._writers[target].delete(batch)

    # -- lifecycle -----------------------------------------------------------------------------

    def settle(self, timeout: float = 10.0, index_timeout: float = 2.0) -> None:
        """Wait until every frozen memtable is flushed (``frozen_count == 0`` on every shard),
        then until every manifest SSTable has its PK index and bloom filter on disk.

        The flush is Lance's only asynchronous step (~7-10 ms after a freeze); once settled, the
        SSTable is in the shard manifest, so every later observation is deterministic. The second
        wait (bounded by ``index_timeout``) guards the 14.0.2 defect of the module docstring:
        raises :class:`SsTableIndexMissingError` if an SSTable stays without its index.
        """
        self._check_open()
        deadline = time.monotonic() + timeout
        while any(w.memtable_stats()["frozen_count"] for w in self._writers):
            if time.monotonic() > deadline:
                stats = [w.memtable_stats()["frozen_count"] for w in self._writers]
                raise TimeoutError(f"frozen memtables not flushed after {timeout}s: {stats}")
            time.sleep(_POLL_S)
        self.check_sstable_indexes(index_timeout)

    def missing_sstable_files(self, shard: int) -> list[tuple[SsTableRef, list[str]]]:
        """Manifest SSTables of ``shard`` lacking any of :data:`SSTABLE_REQUIRED_FILES`."""
        verified = self._indexed[shard]
        out = []
        for ref in self.sstables(shard):
            if ref.generation in verified:
                continue
            folder = self._shard_dir(shard) / ref.path
            missing = [f for f in SSTABLE_REQUIRED_FILES if not (folder / f).is_file()]
            if missing:
                out.append((ref, missing))
            else:
                verified.add(ref.generation)
        return out

    def check_sstable_indexes(self, timeout: float = 2.0) -> None:
        """Wait (bounded) until every manifest SSTable of every shard has its index files.

        Raises :class:`SsTableIndexMissingError` for the first SSTable still incomplete.
        """
        deadline = time.monotonic() + timeout
        while True:
            broken = [
                (index, ref, missing)
                for index in range(len(self.shard_ids))
                for ref, missing in self.missing_sstable_files(index)
            ]
            if not broken:
                return
            if time.monotonic() > deadline:
                index, ref, missing = broken[0]
                raise SsTableIndexMissingError(
                    self.shard_ids[index], ref.generation, ref.path, missing
                )
            time.sleep(10 * _POLL_S)

    def close_and_reopen(self) -> None:
        """Close every writer (freeze + flush now; generation +1 iff the active one had data),
        then open new writers (epoch +1, base re-pinned). Lance's only "flush now"."""
        self._check_open()
        for writer in self._writers:
            writer.close()
        self._writers = [self._open_writer(sid) for sid in self.shard_ids]

    def crash_restart(self, shards: Sequence[int] | None = None) -> None:
        """Settle, then open a new writer per shard WITHOUT closing the old one (a crash).

        The new writer claims a higher epoch and replays the WAL under the same generation. The
        old writer must then be fenced: its next put must raise. Settling first keeps which
        generations were flushed vs replayed deterministic (LANCE.md "Fencing and replay"). Raises
        :class:`WriterNotFencedError` if an old writer accepts the probe write. ``shards``
        restricts the restart to those shard indexes (default: all), so a shard a test has not
        written to yet keeps epoch 1, as a model that creates shards on first write expects.
        """
        self.settle()
        targets = range(len(self.shard_ids)) if shards is None else sorted(set(shards))
        for index in targets:
            old = self._writers[index]
            self._writers[index] = self._open_writer(self.shard_ids[index])
            probe_key = index  # routes to this shard; never acknowledged if fencing works
            probe = pa.RecordBatch.from_pydict(
                {"id": [probe_key], "val": ["fencing-probe"]}, schema=SCHEMA
            )
            try:
                old.put(probe)
            except OSError as exc:
                if "fenced" not in str(exc):
                    raise
            else:
                raise WriterNotFencedError(
                    f"old writer of shard {self.shard_ids[index]} accepted a put after a peer "
                    "claimed a higher epoch"
                )

    def epoch(self, shard: int = 0) -> int:
        """The writer epoch recorded in the shard manifest (field 2, inferred layout)."""
        return int(decode_shard_manifest(self._shard_dir(shard))["epoch"])

    # -- compaction ----------------------------------------------------------------------------

    def sstables(self, shard: int = 0) -> list[SsTableRef]:
        """The shard manifest's SSTables, ascending generation (never trimmed by compaction)."""
        return decode_shard_manifest(self._shard_dir(shard))["sstables"]  # type: ignore[no-any-return]

    def listed_sstable_generations(self, shard: int = 0) -> list[int]:
        """Generations of the ``*_gen_*`` directories on disk (cross-check for the decoder)."""
        gens = []
        for entry in self._shard_dir(shard).iterdir():
            match = _SSTABLE_DIR.match(entry.name)
            if match and entry.is_dir():
                gens.append(int(match.group(1)))
        return sorted(gens)

    def watermark(self, shard: int = 0) -> int:
        """The compaction watermark this driver committed (Lance can't report it:
        LANCE.md "Compaction is the caller's job")."""
        return self._watermark[self.shard_ids[shard]]

    def _shard_dir(self, shard: int) -> Path:
        return self.path / "_mem_wal" / self.shard_ids[shard]

    def read_sstable(self, shard: int, ref: SsTableRef) -> dict[int, str | None]:
        """One SSTable as ``{id: val}`` with ``None`` for a tombstone (unique ids per SSTable)."""
        rows = lance.dataset(str(self._shard_dir(shard) / ref.path)).to_table().to_pylist()
        out: dict[int, str | None] = {}
        for row in rows:
            if row["id"] in out:
                raise DuplicatePkError(f"SSTable gen {ref.generation} holds id {row['id']} twice")
            out[row["id"]] = None if row["_tombstone"] else row["val"]
        return out

    def compact(self) -> list[CompactionReport]:
        """Merge each shard's SSTables above the watermark into the base table.

        Settles first so the compacted set is every frozen generation. Per shard: newest
        generation wins, a tombstone becomes a delete; commit a ``merge_insert`` delete pass, then
        an upsert pass carrying ``CompactedSsTable(shard, max generation)`` (the marker rides on
        the last data-changing pass; on the delete pass if nothing is upserted). Lance does none
        of this merging itself and accepts any strictly increasing marker
        (LANCE.md "Compaction is the caller's job").
        """
        self.settle()
        reports = []
        for index, sid in enumerate(self.shard_ids):
            refs = [r for r in self.sstables(index) if r.generation > self._watermark[sid]]
            listed = [g for g in self.listed_sstable_generations(index) if g > self._watermark[sid]]
            if [r.generation for r in refs] != listed:
                raise AssertionError(
                    f"shard manifest decode {[r.generation for r in refs]} != SSTable dirs "
                    f"{listed}: the inferred manifest layout changed"
                )
            if not refs:
                continue
            merged: dict[int, str | None] = {}
            for ref in refs:  # ascending generation: newest wins
                merged.update(self.read_sstable(index, ref))
            deletes = sorted(k for k, v in merged.items() if v is None)
            upserts = {k: v for k, v in sorted(merged.items()) if v is not None}
            maxgen = refs[-1].generation
            marker = [CompactedSsTable(sid, maxgen)]
            if deletes:
                builder = lance.dataset(str(self.path)).merge_insert("id").when_matched_delete()
                if not upserts:
                    builder = builder.mark_sstables_as_compacted(marker)
                builder.execute(self._table(dict.fromkeys(deletes)))
            if upserts:
                (
                    lance.dataset(str(self.path))
                    .merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .mark_sstables_as_compacted(marker)
                    .execute(self._table(upserts))
                )
            self._watermark[sid] = maxgen
            reports.append(
                CompactionReport(
                    sid, tuple(r.generation for r in refs), maxgen, tuple(deletes), tuple(upserts)
                )
            )
        return reports

    # -- observations --------------------------------------------------------------------------

    def _scanner(self) -> Any:
        """An LSM scanner over shard 0's writer plus every other shard's flushed SSTables.

        A writer's scanner covers base + its own SSTables + its own active memtable; other
        shards' memtables are unreachable from it in 14.0.2, so with ``shards > 1`` settle (and
        close/reopen) before reading if their writes must show.
        """
        snaps = []
        for index in range(1, len(self.shard_ids)):
            snap = ShardSnapshot(self.shard_ids[index])
            for ref in self.sstables(index):
                snap = snap.with_sstable(ref.generation, ref.path)
            snaps.append(snap)
        return self._writers[0].lsm_scanner(snaps)

    def scan_rows(self) -> list[tuple[int, str | None]]:
        """The raw LSM scan as (id, val) rows, sorted, duplicates kept (for deviation tests).

        Built and executed in one step: a scanner holds a live memtable reference, so building it
        earlier and executing later would leak later writes into the "snapshot" (LANCE.md "Scans").
        """
        self._check_open()
        table = self._execute(self._scanner())
        return sorted(zip(table["id"].to_pylist(), table["val"].to_pylist(), strict=True))

    def _execute(self, scanner: Any, shard: int = 0) -> pa.Table:
        """Run a scanner; the 14.0.2 missing-PK-index failure becomes SsTableIndexMissingError."""
        try:
            return scanner.to_table()
        except OSError as exc:
            if "_pk_index" not in str(exc) or "Not found" not in str(exc):
                raise
            for index in range(len(self.shard_ids)):
                broken = self.missing_sstable_files(index)
                if broken:
                    ref, missing = broken[0]
                    raise SsTableIndexMissingError(
                        self.shard_ids[index], ref.generation, ref.path, missing
                    ) from exc
            raise

    def scan_owned(self) -> dict[int, str | None]:
        """The LSM scan of every shard's own writer, each key taken from the shard that owns it.

        A writer's ``lsm_scanner()`` covers base + its SSTables + its active memtable only, and
        every writer sees the base; with one key → one shard, the newest row of key ``k`` is
        shard ``k % shards``'s answer for ``k``. Raises :class:`DuplicatePkError` on a PK repeated
        within one shard's scan. Same frozen-memtable gap as :meth:`scan`.
        """
        self._check_open()
        out: dict[int, str | None] = {}
        for index, writer in enumerate(self._writers):
            table = self._execute(writer.lsm_scanner(), index)
            ids, vals = table["id"].to_pylist(), table["val"].to_pylist()
            if len(set(ids)) != len(ids):
                dups = sorted({k for k in ids if ids.count(k) > 1})
                rows = sorted((k, v) for k, v in zip(ids, vals, strict=True) if k in dups)
                raise DuplicatePkError(
                    f"shard {index}'s LSM scan repeated PKs {dups}: {rows}"
                    + self.duplicate_evidence(dups)
                )
            out.update(
                (k, v) for k, v in zip(ids, vals, strict=True) if self.shard_index(k) == index
            )
        return dict(sorted(out.items()))

    def scan(self) -> dict[int, str | None]:
        """The LSM scan as ``{id: val}``; raises :class:`DuplicatePkError` on a repeated PK."""
        rows = self.scan_rows()
        out = dict(rows)
        if len(out) != len(rows):
            dups = sorted({k for k, _ in rows if sum(1 for j, _ in rows if j == k) > 1})
            raise DuplicatePkError(
                f"LSM scan returned duplicate PKs {dups}: {rows}" + self.duplicate_evidence(dups)
            )
        return out

    def duplicate_evidence(self, keys: Sequence[int]) -> str:
        """On-disk facts for a repeated PK (not yet a classified defect): per key, its shard,
        base/initial-base row, every manifest SSTable row of it in its own shard, and the shard's
        memtable stats. Diagnostic only: never raises (a failure is reported in the text)."""
        try:
            base = self.base()
            lines = []
            for key in keys:
                shard = self.shard_index(key)
                m = self.memtable_stats(shard)
                held = [
                    (ref.generation, rows[key])
                    for ref in self.sstables(shard)
                    if key in (rows := self.read_sstable(shard, ref))
                ]
                lines.append(
                    f"  id {key}: shard {shard}; base {base.get(key, '∅')!r}, initial base "
                    f"{self.initial_base.get(key, '∅')!r}; own-shard SSTables (gen, val) {held}; "
                    f"memtable {{{', '.join(f'{k}: {m[k]}' for k in _EVIDENCE_STATS if k in m)}}}"
                )
            return "\n↳ on disk (not a classified defect):\n" + "\n".join(lines)
        except Exception as exc:  # noqa: BLE001 - diagnostics must not mask the finding
            return f"\n↳ (no on-disk evidence: {type(exc).__name__}: {exc})"

    def live_scan(self) -> dict[int, str]:
        """:meth:`scan_owned` minus ``None`` (tombstoned) values: what a settled check compares."""
        return {k: v for k, v in self.scan_owned().items() if v is not None}

    def classify_scan_mismatch(
        self,
        expected: Mapping[int, str | None],
        got: Mapping[int, str | None],
        *,
        rescan: Callable[[], Mapping[int, str | None]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Tell defect (2) of the module docstring from a real finding, for a SETTLED scan.

        ``got`` (the scan) differs from ``expected``. Rescans (``rescan``, default
        :meth:`live_scan`) after :data:`RESCAN_MS`: if one equals ``expected``, raises
        :class:`ScanClearedOnRescanError` (settle returned too early: a harness bug, fail
        loudly). If the mismatch persists and EVERY differing key is a row of the base (current
        or initial) that ``expected`` lacks and whose owning shard's newest on-disk manifest
        SSTable holding it is a tombstone, raises :class:`TombstoneNotMaskedError`. Anything
        else returns ``None``: unexplained, the caller fails with its own mismatch.
        """
        want = {k: v for k, v in expected.items() if v is not None}
        first = dict(got)
        now = {k: v for k, v in got.items() if v is not None}
        scan = rescan or self.live_scan
        waited = 0
        for ms in RESCAN_MS:
            sleep((ms - waited) / 1000)
            waited = ms
            now = {k: v for k, v in scan().items() if v is not None}
            if now == want:
                raise ScanClearedOnRescanError(
                    f"settled scan {first} ≠ expected {want}, but a rescan after {ms} ms was "
                    "exact: settle returned too early (a harness bug, not a Lance defect)"
                )
        keys = sorted(set(now) ^ set(want) | {k for k in set(now) & set(want) if now[k] != want[k]})
        bases: list[Mapping[int, str | None]] = [self.base(), self.initial_base]
        evidence: dict[int, tuple[str, int, int]] = {}
        for key in keys:
            value = now.get(key)
            if key in want or value is None or all(value != b.get(key) for b in bases):
                return None  # not a resurrected base row: a real disagreement
            shard = self.shard_index(key)
            newest: tuple[int, str | None] | None = None
            for ref in self.sstables(shard):
                rows = self.read_sstable(shard, ref)
                if key in rows:
                    newest = (ref.generation, rows[key])
            if newest is None or newest[1] is not None:
                return None  # no flushed tombstone to blame
            evidence[key] = (value, shard, newest[0])
        raise TombstoneNotMaskedError(f"settled scan {now} ≠ expected {want}", evidence)

    def check_settled_scan(
        self,
        expected: Mapping[int, str | None],
        got: Mapping[int, str | None],
        *,
        story: str = "",
        rescan: Callable[[], Mapping[int, str | None]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Compare a settled scan with ``expected`` (``None`` values = absent), classifying any
        mismatch with :meth:`classify_scan_mismatch`; ``story`` (numbered steps) goes into every
        error. Raises :class:`TombstoneNotMaskedError` (defect 2, ``story`` attached),
        :class:`ScanClearedOnRescanError` or :class:`SettledScanMismatchError`."""
        want = {k: v for k, v in expected.items() if v is not None}
        have = {k: v for k, v in got.items() if v is not None}
        if have == want:
            return
        head = f"{story}\n" if story else ""
        try:
            self.classify_scan_mismatch(want, have, rescan=rescan, sleep=sleep)
        except TombstoneNotMaskedError as err:
            err.story = story
            raise
        except ScanClearedOnRescanError as err:
            raise ScanClearedOnRescanError(f"{head}✗ {err}") from err
        raise SettledScanMismatchError(
            f"{head}✗ settled scan {have} ≠ expected {want} (persists after rescans; not explained "
            "by a flushed tombstone on disk)"
        )

    def membership(self, keys: Sequence[int]) -> set[int]:
        """Which of ``keys`` the fresh tier + base currently hold a LIVE row for.

        Emulated with ``lsm_scanner().filter("id IN (...)")``: Lance 14.0.2 has no
        ``contains_pks``/``contains_pks_as_of``/as-of API. Unlike ``contains_pks`` a tombstoned
        key is NOT a member (the scan hides tombstones), and base rows count; frozen, unflushed
        memtables are invisible (the same gap as :meth:`scan`).
        """
        self._check_open()
        if not keys:
            return set()
        ids = ", ".join(str(int(k)) for k in keys)
        table = self._scanner().filter(f"id IN ({ids})").project(["id"]).to_table()
        return set(table["id"].to_pylist())

    def memtable_stats(self, shard: int = 0) -> dict[str, Any]:
        """Lance's raw ``memtable_stats()`` of one shard (generation, batch_count, …)."""
        return dict(self._writers[shard].memtable_stats())

    def cut_stats(self) -> dict[str, LanceCut]:
        """Per shard, the ``AsOfCut(generation, batch_count)`` a read arm would capture now."""
        cuts = {}
        for sid, writer in zip(self.shard_ids, self._writers, strict=True):
            stats = writer.memtable_stats()
            cuts[sid] = LanceCut(sid, int(stats["generation"]), int(stats["batch_count"]))
        return cuts

    def base(self) -> dict[int, str | None]:
        """The base table at its latest version (generation 0), as ``{id: val}``."""
        table = lance.dataset(str(self.path)).to_table()
        return dict(zip(table["id"].to_pylist(), table["val"].to_pylist(), strict=True))

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the writers (best effort) and delete the temp dir if the driver created it."""
        if self._closed:
            return
        self._closed = True
        for writer in self._writers:
            try:
                writer.close()
            except OSError:
                pass  # a writer fenced by a test's own raw second writer cannot close; harmless
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LanceMemWalDriver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
