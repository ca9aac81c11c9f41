"""A deterministic driver of real Lance's MemWAL (pylance 14.0.2), for tests and state machines.

Why this exists: the harness checks its own fresh tier (``impl/``) against the model; this driver
lets the same alphabet of steps (put, delete, settle, close/reopen, crash, compact, scan,
membership, cut) run against the *real* Lance writer, so the harness can say which of its findings
hold for Lance itself. Every adapter rule below was measured on pylance 14.0.2 (the tests in
``tests/test_lance_deviations.py`` pin the ones the harness relies on):

* one dataset directory per driver instance; schema ``id int64 NOT NULL`` carrying the field-level
  PK metadata, plus ``val utf8`` (nullable, so tombstones can null it);
* ``initialize_mem_wal()`` with manual sharding and fixed shard UUIDs; a key is always routed to
  the same shard (``key % shards``) because Lance returns cross-shard duplicates (a documented
  limit, ``docs/LANCE_FINDINGS.md``);
* writer knobs are always passed to ``mem_wal_writer`` because the defaults recorded by
  ``initialize_mem_wal`` are ignored in 14.0.2 (``docs/LANCE_FINDINGS.md``, defect 3);
  ``max_memtable_batches`` is the only freeze trigger, so a freeze is predictable: the write that
  makes ``batch_count == B`` freezes;
* every write is one ``RecordBatch`` (one memtable batch);
* the background flush is the only asynchronous thing; :meth:`LanceMemWalDriver.settle` makes it
  deterministic by polling ``frozen_count == 0``.

What Lance 14.0.2 does *not* offer, and how the driver stands in: there is no
``contains_pks``/``contains_pks_as_of``/as-of/watermark/freeze/flush binding. Membership is emulated
with a filtered LSM scan (which, unlike ``contains_pks``, cannot see tombstones), the compaction
watermark is tracked here because Python cannot read it back, and the SSTable list comes from
decoding the shard manifest (its protobuf layout is inferred, so it is cross-checked against the
``*_gen_*`` directories).

Known 14.0.2 defect, recognised by its evidence: **the PK index is incomplete at flush.** A put
inserts its rows into the memtable at once but applies them to the memtable's primary-key index
on a separate asynchronous task; the flush of a table with no secondary indexes (PK-only, like
this one) does not wait for that task, so an SSTable can be committed to the shard manifest with a
``_pk_index/`` that lacks some of its keys. Three symptoms follow (:data:`PK_INDEX_SYMPTOMS`):
no key indexed (no ``_pk_index`` files are written; every LSM scan of the shard then fails with
``Not found … _pk_index/page_lookup.lance``, also after reopen), a tombstone's key missing (the row
it deletes comes back) and a newer row's key missing (the older row is not shadowed: the PK
appears twice). The driver does not wait for symptoms: after every settle,
:meth:`LanceMemWalDriver.check_pk_indexes` reads each new SSTable's ``_pk_index`` with
``lance.file.LanceFileReader`` and compares its keys with the SSTable's rows; a shortfall raises
:class:`PkIndexIncompleteError` naming the generation, the missing keys and, per key, the
symptom. A scan failing with that ``Not found`` error is checked the same way. Tests turn this
one error -- and nothing else -- into a runtime, non-strict ``pytest.xfail`` carrying the
evidence (``lance_harness.backend.lance_defect_xfail``); every other disagreement fails.
``repro/lance/pk_index_incomplete.py`` reproduces it without this harness.
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
from lance.file import LanceFileReader  # noqa: E402
from lance.mem_wal import CompactedSsTable, ShardSnapshot, ShardWriter  # noqa: E402

__all__ = [
    "PYLANCE_VERSION",
    "RESCAN_MS",
    "SCHEMA",
    "CompactionReport",
    "DuplicatePkError",
    "LanceCut",
    "LanceMemWalDriver",
    "PK_INDEX_SYMPTOMS",
    "PkIndexIncompleteError",
    "ScanClearedOnRescanError",
    "SettledScanMismatchError",
    "SsTableFileMissingError",
    "SsTableRef",
    "WriterNotFencedError",
    "decode_shard_manifest",
    "read_pk_index_keys",
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
"""Field-level PK metadata; Lance requires the PK to be non-nullable."""

_SSTABLE_DIR = re.compile(r"^[0-9a-f]{8}_gen_(\d+)$")
_POLL_S = 0.001


class DuplicatePkError(AssertionError):
    """An LSM scan returned the same primary key more than once (Lance's dedup failed)."""


PK_INDEX_SYMPTOMS: dict[str, str] = {
    "empty": "no key of the SSTable is indexed (no _pk_index files are written): every LSM scan "
    "of the shard fails with 'Not found … _pk_index/page_lookup.lance', also after reopen",
    "tombstone": "a tombstone's key is not indexed: the row it deletes (base or an older "
    "SSTable) comes back",
    "newer": "a newer row's key is not indexed: the older row (base or an older SSTable) is not "
    "shadowed, so the PK appears twice",
}
"""The three symptoms of the one 14.0.2 defect "PK index incomplete at flush" (module docstring).
A missing key with nothing older to shadow has no visible symptom yet; it is reported all the
same (``"tombstone"``/``"newer"`` with ``older`` ``None``)."""

PK_INDEX_DATA = "_pk_index/page_data.lance"
"""The ``_pk_index`` file holding the indexed keys (column ``values``) and their row ids."""

SSTABLE_REQUIRED_FILES: tuple[str, ...] = ("bloom_filter.bin",)
"""Files every flushed SSTable must hold besides its index (the index is checked by content)."""


class LanceDefect(Exception):  # noqa: N818 - the family of recognised Lance defects
    """Base of the recognised pylance 14.0.2 defects, each raised only with its evidence.

    ``story`` (the numbered steps) is set by whoever knows them; empty until then.
    """

    story: str = ""


def read_pk_index_keys(sstable_dir: Path) -> frozenset[int]:
    """The keys an SSTable's ``_pk_index`` holds (empty when Lance wrote no index files)."""
    data = sstable_dir / PK_INDEX_DATA
    if not data.is_file():
        return frozenset()
    table = LanceFileReader(str(data)).read_all().to_table()
    return frozenset(int(k) for k in table["values"].to_pylist())


class PkIndexIncompleteError(LanceDefect):
    """pylance 14.0.2 committed a flushed SSTable whose ``_pk_index`` lacks some of its keys.

    Evidence, read from disk: ``rows`` (the SSTable, ``None`` = tombstone), ``indexed`` (the keys
    its ``_pk_index`` holds), ``missing`` (rows - indexed, sorted), ``older`` (per missing key,
    the row it should shadow: newest older SSTable of the shard, else base; ``None`` if none) and
    ``symptoms`` (per missing key, a key of :data:`PK_INDEX_SYMPTOMS`). ``observed`` is what the
    shard's LSM scan did when the defect was found (filled in by the driver, best effort).
    """

    def __init__(
        self,
        shard_id: str,
        generation: int,
        path: str,
        rows: Mapping[int, str | None],
        indexed: frozenset[int],
        older: Mapping[int, str | None],
    ) -> None:
        self.shard_id = shard_id
        self.generation = generation
        self.path = path
        self.rows = dict(rows)
        self.indexed = indexed
        self.missing = tuple(sorted(set(rows) - indexed))
        self.older = {k: older.get(k) for k in self.missing}
        self.symptoms = {k: self.symptom_of(k) for k in self.missing}
        self.observed = ""
        super().__init__(self.describe())

    def symptom_of(self, key: int) -> str:
        if not self.indexed:
            return "empty"
        return "tombstone" if self.rows[key] is None else "newer"

    @property
    def kind(self) -> str:
        """The hit's symptom class: ``empty``, else ``tombstone`` if any tombstone key is
        missing, else ``newer``."""
        kinds = set(self.symptoms.values())
        return next(k for k in PK_INDEX_SYMPTOMS if k in kinds)

    def describe(self) -> str:
        keys = "; ".join(
            f"id {k} ({'tombstone' if self.rows[k] is None else repr(self.rows[k])}, older "
            f"{self.older[k]!r}): {self.symptoms[k]}"
            for k in self.missing
        )
        text = (
            f"pylance {PYLANCE_VERSION}: PK index incomplete at flush -- SSTable gen "
            f"{self.generation} of shard {self.shard_id} ({self.path}) holds ids "
            f"{sorted(self.rows)}, its _pk_index holds {sorted(self.indexed)}; missing {keys}. "
            f"Symptom ({self.kind}): {PK_INDEX_SYMPTOMS[self.kind]}"
        )
        return text + (f"\n↳ observed: {self.observed}" if self.observed else "")

    def __str__(self) -> str:
        return self.describe()


class SsTableFileMissingError(AssertionError):
    """A manifest SSTable lacks one of :data:`SSTABLE_REQUIRED_FILES`: not a recognised defect."""


_EVIDENCE_STATS = ("generation", "batch_count", "frozen_count", "durable_batch_count")

RESCAN_MS: tuple[int, ...] = (50, 200, 1000)
"""When a settled scan disagrees, rescan after these delays (cumulative ms) to tell a settle that
returned too early (the mismatch clears: our bug) from a persistent one (unrecognised finding)."""


class ScanClearedOnRescanError(AssertionError):
    """A settled scan disagreed, then a rescan was exact: settle returned too early (OUR bug)."""


class SettledScanMismatchError(AssertionError):
    """A settled scan disagrees with the expectation, persistently: an unrecognised finding."""


class WriterNotFencedError(AssertionError):
    """A writer replaced by a crash-restart accepted a write instead of raising "fenced"."""


@dataclass(frozen=True)
class SsTableRef:
    """One flushed generation as listed by the shard manifest.

    ``path`` is relative to ``<dataset>/_mem_wal/<shard>/``, which is how
    ``ShardSnapshot.with_sstable`` wants it.
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
# Shard manifest decoding (the layout is inferred from the files, not documented: pin it)
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
    """Manifest file names are the version in binary, least-significant bit first."""
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
        self._indexed: list[set[str]] = [set() for _ in self.shard_ids]  # SSTables checked
        self.initial_base: dict[int, str] = dict(base or {})  # duplicate-PK evidence
        lance.write_dataset(self._table(dict(base or {})), str(self.path), schema=SCHEMA)
        lance.dataset(str(self.path)).initialize_mem_wal()  # manual sharding: no spec kwargs
        self._writers: list[ShardWriter] = [self._open_writer(sid) for sid in self.shard_ids]

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def knobs(self) -> dict[str, Any]:
        """The writer knobs, passed explicitly every time (init defaults are ignored: defect 3)."""
        return {
            "max_memtable_batches": self.max_memtable_batches,
            "durable_write": True,  # put returns only once its WAL entry is durable
            "max_wal_buffer_size": 1,  # flush the WAL on every put: ~0.7 ms instead of ~97 ms
            "max_wal_flush_interval_ms": 10,
        }

    def _open_writer(self, shard_id: str) -> ShardWriter:
        # A fresh dataset handle, so the writer pins the *current* base version.
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

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every frozen memtable is flushed (``frozen_count == 0`` on every shard),
        then check every new manifest SSTable's files and PK index (:meth:`check_pk_indexes`).

        The flush is Lance's only asynchronous step (~7-10 ms after a freeze); once settled, the
        SSTable is in the shard manifest, so every later observation is deterministic. Lance
        writes the SSTable's files before it commits the manifest entry, so what the check reads
        is final: raises :class:`PkIndexIncompleteError` (the recognised 14.0.2 defect) or
        :class:`SsTableFileMissingError` (unrecognised).
        """
        self._check_open()
        deadline = time.monotonic() + timeout
        while any(w.memtable_stats()["frozen_count"] for w in self._writers):
            if time.monotonic() > deadline:
                stats = [w.memtable_stats()["frozen_count"] for w in self._writers]
                raise TimeoutError(f"frozen memtables not flushed after {timeout}s: {stats}")
            time.sleep(_POLL_S)
        self.check_pk_indexes()

    def pk_index_gap(self, shard: int, ref: SsTableRef) -> PkIndexIncompleteError | None:
        """Compare one SSTable's ``_pk_index`` keys with its rows: the defect's evidence, or
        ``None`` when every row's key is indexed."""
        rows = self.read_sstable(shard, ref)
        indexed = read_pk_index_keys(self._shard_dir(shard) / ref.path)
        if set(rows) <= indexed:
            return None
        older: dict[int, str | None] = {}
        base = self.base()
        for key in set(rows) - indexed:
            if key in base:
                older[key] = base[key]
        for prior in self.sstables(shard):
            if self._watermark[self.shard_ids[shard]] < prior.generation < ref.generation:
                prior_rows = self.read_sstable(shard, prior)
                older.update((k, prior_rows[k]) for k in set(rows) - indexed if k in prior_rows)
        return PkIndexIncompleteError(
            self.shard_ids[shard], ref.generation, ref.path, rows, indexed, older
        )

    def check_pk_indexes(self) -> None:
        """Every manifest SSTable not checked yet: its required files exist and its
        ``_pk_index`` holds every key of its rows. Raises :class:`SsTableFileMissingError` or
        :class:`PkIndexIncompleteError` (with what the shard's scan does now, as
        ``observed``) for the first shortfall; a checked SSTable is not read again."""
        for index in range(len(self.shard_ids)):
            for ref in self.sstables(index):
                if ref.path in self._indexed[index]:
                    continue
                folder = self._shard_dir(index) / ref.path
                missing = [f for f in SSTABLE_REQUIRED_FILES if not (folder / f).is_file()]
                if missing:
                    raise SsTableFileMissingError(
                        f"SSTable gen {ref.generation} of shard {self.shard_ids[index]} lacks "
                        f"{missing}: not a recognised Lance defect"
                    )
                gap = self.pk_index_gap(index, ref)
                if gap is not None:
                    gap.observed = self.observe_scan(index, gap.missing)
                    raise gap
                self._indexed[index].add(ref.path)

    def observe_scan(self, shard: int, keys: Sequence[int]) -> str:
        """What the shard's LSM scan returns for ``keys`` now (diagnostic: never raises)."""
        try:
            table = self._writers[shard].lsm_scanner().to_table()
        except Exception as exc:  # noqa: BLE001 - the symptom itself may be the error
            return f"the shard's LSM scan raises {type(exc).__name__}: {str(exc)[:160]}"
        rows = sorted(
            (k, v)
            for k, v in zip(table["id"].to_pylist(), table["val"].to_pylist(), strict=True)
            if k in set(keys)
        )
        return f"the shard's LSM scan returns {rows} for ids {list(keys)}"

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
        generations were flushed vs replayed deterministic. Raises
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
        """The compaction watermark this driver committed (Lance cannot report it)."""
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
        of this merging itself and accepts any strictly increasing marker (a documented limit).
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
        earlier and executing later would leak later writes into the "snapshot".
        """
        self._check_open()
        table = self._execute(self._scanner())
        return sorted(zip(table["id"].to_pylist(), table["val"].to_pylist(), strict=True))

    def _execute(self, scanner: Any) -> pa.Table:
        """Run a scanner; a ``Not found … _pk_index`` failure is checked against the SSTables'
        PK indexes (:meth:`check_pk_indexes` raises the defect with its evidence)."""
        try:
            return scanner.to_table()
        except OSError as exc:
            if "_pk_index" not in str(exc) or "Not found" not in str(exc):
                raise
            try:
                self.check_pk_indexes()
            except PkIndexIncompleteError as err:
                raise err from exc
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
            table = self._execute(writer.lsm_scanner())
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

    def check_settled_scan(
        self,
        expected: Mapping[int, str | None],
        got: Mapping[int, str | None],
        *,
        story: str = "",
        rescan: Callable[[], Mapping[int, str | None]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Compare a settled scan with ``expected`` (``None`` values = absent).

        On a mismatch, rescan (``rescan``, default :meth:`live_scan`) after :data:`RESCAN_MS`:
        if one is exact, settle returned too early -- our bug -- and
        :class:`ScanClearedOnRescanError` is raised; a persistent mismatch raises
        :class:`SettledScanMismatchError`. Neither is a recognised Lance defect: the defect this
        driver knows is caught with its evidence by :meth:`settle` before any scan. ``story``
        (numbered steps) heads every error.
        """
        want = {k: v for k, v in expected.items() if v is not None}
        have = {k: v for k, v in got.items() if v is not None}
        if have == want:
            return
        head = f"{story}\n" if story else ""
        scan = rescan or self.live_scan
        waited = 0
        for ms in RESCAN_MS:
            sleep((ms - waited) / 1000)
            waited = ms
            now = {k: v for k, v in scan().items() if v is not None}
            if now == want:
                raise ScanClearedOnRescanError(
                    f"{head}✗ settled scan {have} ≠ expected {want}, but a rescan after {ms} ms "
                    "was exact: settle returned too early (a harness bug, not a Lance defect)"
                )
        raise SettledScanMismatchError(
            f"{head}✗ settled scan {have} ≠ expected {want} (persists after rescans at "
            f"{'/'.join(map(str, RESCAN_MS))} ms; every SSTable's PK index was complete: "
            "not a recognised Lance defect)"
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
