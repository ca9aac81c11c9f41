"""MemWal: the facade over one table root (create/open, shards, reads, maintenance)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from impl.block_list import GenMembership
from impl.compaction import compact
from impl.errors import InvalidOptionError
from impl.options import MemWalOptions
from impl.scanner import LsmScanner, ScanResult
from impl.schema import TableSchema
from impl.shard_writer import ShardWriter
from impl.storage import Disk
from impl.tier import Tier, create_tier, open_tier
from impl.two_phase import TwoPhaseReader, TwoPhaseResult


def _options(options: object) -> MemWalOptions:
    if options is None:
        return MemWalOptions()
    if not isinstance(options, MemWalOptions):
        raise InvalidOptionError(f"options must be MemWalOptions, got {type(options).__name__}")
    return options


def _disk(root: Path, disk: Disk | None, options: MemWalOptions) -> Disk:
    if disk is None:
        return Disk(root, fsync=options.fsync)
    if not isinstance(disk, Disk):
        raise InvalidOptionError(f"disk must be a Disk, got {type(disk).__name__}")
    return disk


class MemWal:
    """A table: base (generation 0) + a fresh tier of shards (memtables, WAL, SSTables)."""

    def __init__(self, tier: Tier) -> None:
        self._tier = tier

    # ------------------------------------------------------------- lifecycle

    @classmethod
    def create(
        cls,
        root: Path | str,
        schema: pa.Schema,
        pk: str,
        options: MemWalOptions | None = None,
        base: pa.Table | None = None,
        *,
        disk: Disk | None = None,
    ) -> MemWal:
        """Create a new table at ``root`` (NotATableError if one is already there)."""
        opts = _options(options)
        ts = TableSchema.build(schema, pk)
        table = ts.validate_base(base) if base is not None else None
        path = Path(root)
        return cls(create_tier(path, ts, opts, table, _disk(path, disk, opts)))

    @classmethod
    def open(
        cls,
        root: Path | str,
        options: MemWalOptions | None = None,
        *,
        disk: Disk | None = None,
    ) -> MemWal:
        """Reopen: epochs + 1 and WAL replay into one active memtable per shard."""
        opts = _options(options)
        path = Path(root)
        return cls(open_tier(path, opts, _disk(path, disk, opts)))

    def crash(self) -> None:
        """Drop all in-memory state without a clean close (durable state is the WAL;
        pending entries under ``durability="after_visible"`` are lost, H9)."""
        self._tier.closed = True

    def close(self) -> None:
        """Close cleanly: wait for in-flight operations, then refuse new ones.

        Pending WAL entries (``durability="after_visible"``, H9) are written first:
        a clean close acknowledges what was accepted.  Close flushes nothing, so a
        generation stuck by a failed flush under ``flush_failure="skip"`` (H14) is
        lost at the next open exactly as after a crash (docs/SEMANTICS.md).
        """
        tier = self._tier
        with tier.compact_lock, tier.lock:
            for state in tier.shards.values():
                with state.flush_lock, state.lock:
                    state.write_pending()
            tier.closed = True

    def __enter__(self) -> MemWal:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._tier.closed:
            self.close()

    # ---------------------------------------------------------------- shards

    def shard(self, shard_id: str) -> ShardWriter:
        """A handle on ``shard_id``; the shard materialises on its first write."""
        self._tier.check_open()
        return ShardWriter(self._tier, shard_id)

    def shards(self) -> list[str]:
        """Ids of the materialised shards, sorted."""
        self._tier.check_open()
        with self._tier.lock:
            return sorted(self._tier.shards)

    def compact(self) -> dict[str, list[int]]:
        """Merge every SSTable into the base; return shard → generations compacted."""
        return compact(self._tier)

    def read_base(self) -> pa.Table:
        """The current base table (user columns, sorted by PK)."""
        self._tier.check_open()
        return self._tier.base.table

    # ----------------------------------------------------------------- reads

    def scanner(self, design: str | None = None, capture: str | None = None) -> LsmScanner:
        """A scanner under ``design``/``capture`` (defaults from the options)."""
        self._tier.check_open()
        o = self._tier.options
        return LsmScanner(self._tier, design or o.design, capture or o.capture)

    def scan(
        self,
        with_base: bool = True,
        between_scan_and_capture: Callable[[], None] | None = None,
        *,
        between_reads: Callable[[], object] | None = None,
    ) -> ScanResult:
        return self.scanner().scan(
            with_base, between_scan_and_capture, between_reads=between_reads
        )

    def contains_pks(self, pks: object) -> pa.BooleanArray:
        return self.scanner().contains_pks(pks)

    def contains_pks_as_of(self, pks: object, cut: object) -> pa.BooleanArray:
        return self.scanner().contains_pks_as_of(pks, cut)

    def fresh_tier_block_list(self, cut: object | None = None) -> list[GenMembership]:
        return self.scanner().fresh_tier_block_list(cut)

    def two_phase_read(
        self,
        design: str | None = None,
        capture: str | None = None,
        between: Callable[[], None] | None = None,
    ) -> TwoPhaseResult:
        """Arm → (between) → base read → check as of the arm's cut → merge."""
        self._tier.check_open()
        o = self._tier.options
        reader = TwoPhaseReader(self._tier, design or o.design, capture or o.capture)
        return reader.read(between)

    # ------------------------------------------------------------ properties

    @property
    def root(self) -> Path:
        return self._tier.root

    @property
    def schema(self) -> pa.Schema:
        return self._tier.schema.schema

    @property
    def pk(self) -> str:
        return self._tier.schema.pk

    @property
    def options(self) -> MemWalOptions:
        return self._tier.options

    @property
    def disk(self) -> Disk:
        return self._tier.disk

    @property
    def closed(self) -> bool:
        return self._tier.closed
