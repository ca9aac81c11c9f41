"""The fresh tier's shared state: shards, base version, locks, and create/open.

Locking (always in this order): ``Tier.lock`` (the tier lock) → a shard's
``ShardState.lock``.  Writers take only their shard lock; flush commit,
compaction commit, shard creation and the collector take the tier lock, so a
reader's snapshot of memtable refs, counts and SSTable lists is atomic with
respect to flush commit and compaction.  ``flush_lock`` serialises flushes of
one shard (disk writes happen outside the shard lock, so writers keep going).

Open (SEMANTICS.md "Crash, close and reopen"): per shard ``writer_epoch += 1``
(manifest replaced), then every WAL entry after ``replay_after_wal_position``
is replayed in WAL order into **one** active memtable at the manifest's
``current_generation``, append indices 0, 1, … and all visible; replay never
auto-freezes.

Pinned readers (``pinned_cut``): a reader may pin the base version its arm
saw.  ``base_at`` returns that version (kept in memory for the last few
versions, else read back from ``base/v{version}.arrow``, which is never
removed), and ``merged_sstable`` returns a generation compacted since (its
files are never removed either).  A real table would garbage-collect both
once no reader pins them; this one keeps them.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from impl.base_table import BaseVersion, base_dir, commit_base, load_base
from impl.errors import (
    ClosedError,
    CorruptManifestError,
    NotATableError,
    PinnedVersionGoneError,
    UnknownShardError,
)
from impl.manifest import ShardManifest, load_manifest, store_manifest
from impl.memtable import MemTable
from impl.options import MemWalOptions
from impl.schema import SHARD_ID_RE, TableSchema, check_shard_id
from impl.sstable import SsTable
from impl.storage import Disk, read_ipc
from impl.wal import ShardWal, replay

DESCRIPTOR = "table.json"
FORMAT = "asofcut-memwal/1"
#: base versions and merged SSTables kept in memory for pinned readers (LRU-ish)
KEEP_BASES = 8
KEEP_MERGED = 512


@dataclass(frozen=True)
class PendingEntry:
    """A WAL entry handed a position but not written yet (H9)."""

    position: int
    batch: pa.RecordBatch
    writer_epoch: int


class ShardState:
    """Everything one shard holds in memory.  Mutated only under ``lock``."""

    def __init__(
        self,
        shard: str,
        shard_dir: Path,
        manifest: ShardManifest,
        active: MemTable,
        wal: ShardWal,
        sstables: dict[int, SsTable],
    ) -> None:
        self.shard = shard
        self.shard_dir = shard_dir
        self.manifest = manifest
        self.active = active
        self.frozen: list[MemTable] = []
        self.retained: list[MemTable] = []
        self.wal = wal
        self.sstables = sstables
        #: H9 (``durability="after_visible"``): visible batches whose WAL entry is not
        #: written yet, oldest first; in memory only, so a crash loses them
        self.pending: list[PendingEntry] = []
        #: H14: generations whose last flush attempt failed (still frozen in memory)
        self.failed: list[int] = []
        #: H14 fault hook: the next flush attempt fails (``fail_next_flush``)
        self.fail_next_flush = False
        self.lock = threading.RLock()
        self.flush_lock = threading.Lock()

    @property
    def writer_epoch(self) -> int:
        return self.manifest.writer_epoch

    def write_pending(self) -> int:
        """Write the pending WAL entries in position order; return how many (H9).

        An entry leaves ``pending`` only once written, so a failed write keeps it
        and every later one pending: the WAL never gets a gap.
        """
        written = 0
        while self.pending:
            entry = self.pending[0]
            self.wal.write(entry.position, entry.batch, entry.writer_epoch)
            self.pending.pop(0)
            written += 1
        return written

    def in_memory(self) -> list[MemTable]:
        """Every in-memory generation, ascending (retained < frozen < active)."""
        return sorted([*self.retained, *self.frozen, self.active], key=lambda m: m.generation)


class Tier:
    """Shared state of one open MemWal."""

    def __init__(
        self,
        root: Path,
        disk: Disk,
        schema: TableSchema,
        options: MemWalOptions,
        base: BaseVersion,
    ) -> None:
        self.root = root
        self.disk = disk
        self.schema = schema
        self.options = options
        self.base = base
        self.shards: dict[str, ShardState] = {}
        self.lock = threading.RLock()
        self.compact_lock = threading.Lock()
        self.closed = False
        #: recent base versions and merged SSTables, for readers that pinned them
        self.bases: dict[int, BaseVersion] = {base.version: base}
        self.merged: dict[tuple[str, int], SsTable] = {}

    def keep(self, old: BaseVersion, merged: dict[tuple[str, int], SsTable]) -> None:
        """Remember a replaced base version and the SSTables merged into its successor."""
        with self.lock:
            self.bases[old.version] = old
            self.bases[self.base.version] = self.base
            while len(self.bases) > KEEP_BASES:
                del self.bases[min(self.bases)]
            self.merged.update(merged)
            while len(self.merged) > KEEP_MERGED:
                del self.merged[next(iter(self.merged))]

    def base_at(self, version: int) -> BaseVersion:
        """Base version ``version`` (the pinned reader's), from memory or from disk."""
        found = self.bases.get(version)
        if found is not None:
            return found
        path = base_dir(self.root) / f"v{version:010d}.arrow"
        try:
            table = read_ipc(path)
        except FileNotFoundError as e:
            raise PinnedVersionGoneError(f"base version {version} is gone ({path})") from e
        return BaseVersion(version, table.combine_chunks())

    def merged_sstable(self, shard: str, generation: int) -> SsTable:
        """A generation of ``shard`` already compacted into the base (files kept)."""
        key = (shard, generation)
        found = self.merged.get(key)
        if found is None:
            sst_dir = self.shard_dir(shard) / "sstables"
            found = SsTable.merged(sst_dir, generation, self.schema.pk)
            with self.lock:
                self.merged[key] = found
        return found

    def check_open(self) -> None:
        if self.closed:
            raise ClosedError(f"the MemWal at {self.root} is closed; reopen it with MemWal.open")

    def shard_dir(self, shard: str) -> Path:
        return self.root / "_mem_wal" / shard

    def get(self, shard: str) -> ShardState:
        """The state of a materialised shard (UnknownShardError otherwise)."""
        self.check_open()
        check_shard_id(shard)
        state = self.shards.get(shard)
        if state is None:
            raise UnknownShardError(f"shard {shard!r} has never been written to")
        return state

    def new_shard(self, shard: str) -> ShardState:
        """A fresh, unregistered shard state (registered by its first successful write)."""
        d = self.shard_dir(shard)
        active = MemTable(1, self.schema.pk)
        return ShardState(shard, d, ShardManifest(), active, ShardWal(self.disk, d / "wal"), {})


# ---------------------------------------------------------------- create / open


def create_tier(
    root: Path, schema: TableSchema, options: MemWalOptions, base: pa.Table | None, disk: Disk
) -> Tier:
    """Write an empty table (base version 1, then the descriptor that marks it a table)."""
    if (root / DESCRIPTOR).exists():
        raise NotATableError(f"{root} already holds a table; use MemWal.open")
    table = base if base is not None else schema.schema.empty_table()
    bv = commit_base(disk, root, 1, table, {})
    desc = {
        "format": FORMAT,
        "pk": schema.pk,
        "schema": base64.b64encode(schema.schema.serialize().to_pybytes()).decode(),
    }
    disk.write_json("table_create", root / DESCRIPTOR, desc)
    return Tier(root, disk, schema, options, bv)


def read_descriptor(root: Path) -> TableSchema:
    path = root / DESCRIPTOR
    if not path.is_file():
        raise NotATableError(f"{root} holds no table (no {DESCRIPTOR})")
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"unknown format {doc.get('format')!r}")
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(doc["schema"])))
        return TableSchema(schema, str(doc["pk"]))
    except (ValueError, KeyError, TypeError, pa.ArrowException) as e:
        raise CorruptManifestError(f"table descriptor {path} is corrupt: {e}") from e


def open_tier(root: Path, options: MemWalOptions, disk: Disk) -> Tier:
    """Load the base and every shard, bump epochs and replay WALs (validate, then write)."""
    schema = read_descriptor(root)
    base = load_base(root, schema.schema)
    tier = Tier(root, disk, schema, options, base)
    wal_root = root / "_mem_wal"
    names = sorted(p.name for p in wal_root.iterdir()) if wal_root.is_dir() else []
    loaded: list[tuple[str, ShardManifest | None]] = []
    for name in names:
        d = wal_root / name
        if not d.is_dir() or not SHARD_ID_RE.match(name):
            continue
        manifest = load_manifest(d)
        if manifest is None and not (d / "wal").is_dir():
            continue
        loaded.append((name, manifest))
    replays = [
        replay(wal_root / name / "wal", (m or ShardManifest()).replay_after_wal_position,
               schema.internal)
        for name, m in loaded
    ]
    for (name, stored), found in zip(loaded, replays, strict=True):
        d = wal_root / name
        found.truncate_torn_tail(disk)
        if stored is None and not found.entries:
            # A crash during the shard's first write left only a torn entry or
            # temp file: nothing was acknowledged, so the shard was never
            # created (SEMANTICS.md) and is not materialised now.
            continue
        manifest = stored or ShardManifest()
        bumped = replace(manifest, writer_epoch=manifest.writer_epoch + 1)
        store_manifest(disk, d, bumped)
        active = MemTable(bumped.current_generation, schema.pk)
        for e in found.entries:
            active.store.append(e.batch, e.position, visible=True)
        through = base.through(name)
        ssts = {
            s.generation: SsTable(d / "sstables", s.generation, s.batches, schema.pk)
            for s in bumped.sstables
            if s.generation > through
        }
        tier.shards[name] = ShardState(
            name, d, bumped, active, ShardWal(disk, d / "wal", found.next_position), ssts
        )
    return tier
