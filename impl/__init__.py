"""impl: the real LSM fresh tier of Lance MemWAL, on pyarrow — the system under test.

Rules of the package
--------------------
* Imports only the stdlib and pyarrow;
  **never** ``model`` (the oracle must stay independent of the code it judges;
  ``tests/test_impl_independence.py`` enforces it).
* Behaviour follows ``docs/SEMANTICS.md`` exactly; vocabulary is docs/DESIGN.md "Vocabulary".
* Every bad input raises a typed ``AsOfCutError`` subclass *before* any state or
  disk mutation.  Every disk write goes through one ``Disk`` (``before_write``
  hook per write, temp file + ``os.replace``).
* Membership is vectorized: a batch-count bound is a row-position bound (a
  zero-copy slice of a cached PK column); one ``pc.is_in`` per check.
* Thread safe: tier lock → shard lock; the collector snapshots memtable refs,
  counts and SSTable lists atomically w.r.t. flush and compaction commits.

API
---
``MemWal.create(root, schema, pk, options=None, base=None, *, disk=None)``,
``MemWal.open(root, options=None, *, disk=None)``;
``wal.shard(id) -> ShardWriter`` with ``put``, ``delete``, ``publish``, ``freeze``,
``flush``, ``release``, ``sync``, ``stats``, ``mark_wal_flushed`` and
``fail_next_flush`` (both test-only);
``wal.shards()``, ``wal.compact()``, ``wal.crash()``, ``wal.close()``, ``wal.read_base()``;
``wal.scanner(design, capture) -> LsmScanner`` with ``scan``, ``contains_pks``,
``contains_pks_as_of``, ``fresh_tier_block_list``; shortcuts on ``MemWal``;
``wal.two_phase_read(design, capture, between)``.
Fault injection: ``CrashingDisk(root, crash_at, mode)`` raises ``SimulatedCrash``.
Cuts: ``AsOfCut``, ``ExactCut``, ``WalPositionCut``, ``PinnedCut``, ``Cut(design, shards)``.
Designs: live_tier, wal_position_map, as_of_cut, fresh_tier_watermark, exact_cut, pinned_cut.
Capture variants: visible_count, len (H2), after_scan (H1), inclusive_position (H8).
Hazard knobs (``MemWalOptions``): durability (H9), pk_hash_bits (H10, ``pk_hash``),
memtable_pk_index (H11), probe_key_types (H12), flush_failure (H14),
arm_visibility (H15) and arm_sources (H5a); ``scan(between_reads=...)``.

On-disk layout (under the table root)
--------------------------------------
::

    table.json                                  descriptor: format, pk, schema (IPC, base64)
    base/manifest.json                          {version, file, compacted_through: {shard: g}}
    base/v{version:010d}.arrow                  base table, user columns sorted by PK
    _mem_wal/{shard}/manifest.json              writer_epoch, current_generation,
                                                replay_after_wal_position, sstables [[g, batches]]
    _mem_wal/{shard}/wal/{position:020d}.arrow  one entry = one batch; writer_epoch in metadata
    _mem_wal/{shard}/sstables/gen-{g:010d}.arrow     every row + _generation/_append_index/_row
    _mem_wal/{shard}/sstables/gen-{g:010d}.pk.arrow  PK sidecar (pk, _append_index, _row)
    (both SSTable files carry the batches' WAL positions in schema metadata;
    base versions and compacted SSTables are kept for pinned readers)

A shard without ``manifest.json`` is at the defaults (epoch 1, generation 1).
Stored rows carry ``_tombstone``; deletes are tombstone batches.
"""

from __future__ import annotations

from impl.batch_store import BatchStore
from impl.block_list import GenMembership, fresh_tier_block_list
from impl.collector import Sources, collect
from impl.cut import AsOfCut, Cut, ExactCut, PinnedCut, WalPositionCut
from impl.errors import (
    AsOfCutError,
    BatchTooLargeError,
    ClosedError,
    CorruptManifestError,
    CorruptWalError,
    EmptyBatchError,
    FlushFailedError,
    InvalidOptionError,
    InvalidShardIdError,
    MalformedCutError,
    MissingPrimaryKeyError,
    NotATableError,
    NullPrimaryKeyError,
    PinnedVersionGoneError,
    PrimaryKeyTypeError,
    SchemaMismatchError,
    UnknownShardError,
)
from impl.faults import CRASH_MODES, CrashingDisk, SimulatedCrash
from impl.memtable import MemTable
from impl.memwal import MemWal
from impl.options import CAPTURES, DESIGNS, MemWalOptions
from impl.pk_hash import pk_hash
from impl.scanner import LsmScanner, ScanResult
from impl.shard_writer import BatchAck, ShardStats, ShardWriter
from impl.storage import SITES, Disk
from impl.two_phase import TwoPhaseReader, TwoPhaseResult

__all__ = [
    "CAPTURES",
    "CRASH_MODES",
    "DESIGNS",
    "SITES",
    "AsOfCut",
    "AsOfCutError",
    "BatchAck",
    "BatchStore",
    "BatchTooLargeError",
    "ClosedError",
    "CorruptManifestError",
    "CorruptWalError",
    "CrashingDisk",
    "Cut",
    "Disk",
    "EmptyBatchError",
    "ExactCut",
    "FlushFailedError",
    "GenMembership",
    "InvalidOptionError",
    "InvalidShardIdError",
    "LsmScanner",
    "MalformedCutError",
    "MemTable",
    "MemWal",
    "MemWalOptions",
    "MissingPrimaryKeyError",
    "NotATableError",
    "NullPrimaryKeyError",
    "PinnedCut",
    "PinnedVersionGoneError",
    "PrimaryKeyTypeError",
    "ScanResult",
    "SchemaMismatchError",
    "ShardStats",
    "ShardWriter",
    "SimulatedCrash",
    "Sources",
    "TwoPhaseReader",
    "TwoPhaseResult",
    "UnknownShardError",
    "WalPositionCut",
    "collect",
    "fresh_tier_block_list",
    "pk_hash",
]
