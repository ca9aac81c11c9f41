"""SSTables: one Arrow IPC data file per flushed generation, plus a PK sidecar.

The data file keeps **every** row of the generation (this implementation does
not deduplicate within a generation, which SEMANTICS.md permits), with the id
columns ``_generation, _append_index, _row`` and ``_tombstone``, so row ids
survive flush and a scan of the SSTable observes exactly the rows of its
memtable.  The sidecar ``(pk, _append_index, _row)`` lists every row sorted by
PK, superseded duplicates and tombstones included (Lance's ``_pk_index``); the
supersession check reads only the sidecar.

Both files carry the generation's **WAL positions** (one per batch, as
maximal runs ``[[lo, hi], …]`` in the schema metadata key ``asofcut.wal_runs``):
a position names one write for the life of the shard, which is what
``pinned_cut`` admits by.  A generation compacted into the base keeps its
files, so a reader that pinned an older base version can still probe it.

Files are immutable once written; both tables are cached after first read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from impl.errors import PinnedVersionGoneError
from impl.memtable import MemTable
from impl.schema import APPEND_INDEX, ROW
from impl.storage import Disk, read_ipc


def data_path(sst_dir: Path, generation: int) -> Path:
    return sst_dir / f"gen-{generation:010d}.arrow"


def sidecar_path(sst_dir: Path, generation: int) -> Path:
    return sst_dir / f"gen-{generation:010d}.pk.arrow"


WAL_RUNS_KEY = b"asofcut.wal_runs"


def wal_runs(positions: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal ``[lo, hi)`` runs of ascending WAL positions."""
    out: list[tuple[int, int]] = []
    for w in positions:
        if out and out[-1][1] == w:
            out[-1] = (out[-1][0], w + 1)
        else:
            out.append((w, w + 1))
    return out


def _positions(meta: dict[bytes, bytes] | None) -> tuple[int, ...] | None:
    raw = (meta or {}).get(WAL_RUNS_KEY)
    if raw is None:
        return None
    return tuple(w for lo, hi in json.loads(raw) for w in range(int(lo), int(hi)))


class SsTable:
    """A flushed generation on disk (lazily loaded, then cached)."""

    def __init__(
        self,
        sst_dir: Path,
        generation: int,
        batches: int,
        pk: str,
        data: pa.Table | None = None,
        sidecar: pa.Table | None = None,
        wal: Sequence[int] | None = None,
    ) -> None:
        self.sst_dir = sst_dir
        self.generation = generation
        self.batches = batches
        self.pk = pk
        self._data = data
        self._sidecar = sidecar
        self._wal: tuple[int, ...] | None = tuple(wal) if wal is not None else None
        self._lock = threading.Lock()

    def _read(self, path: Path) -> pa.Table:
        """Read one of the two files; keep its WAL positions, drop the metadata."""
        table = read_ipc(path)
        if self._wal is None:
            self._wal = _positions(table.schema.metadata)
        return table.replace_schema_metadata(None)

    def data(self) -> pa.Table:
        """All rows: stored columns + ``_generation, _append_index, _row``."""
        if self._data is None:
            with self._lock:
                if self._data is None:
                    self._data = self._read(data_path(self.sst_dir, self.generation))
        return self._data

    def sidecar(self) -> pa.Table:
        """``(pk, _append_index, _row)`` for every row, sorted by PK."""
        if self._sidecar is None:
            with self._lock:
                if self._sidecar is None:
                    self._sidecar = self._read(sidecar_path(self.sst_dir, self.generation))
        return self._sidecar

    def wal_positions(self) -> tuple[int, ...]:
        """The WAL position of each batch, by append index."""
        if self._wal is None:
            self.sidecar()
        if self._wal is None:
            raise PinnedVersionGoneError(
                f"SSTable {sidecar_path(self.sst_dir, self.generation)} records no WAL positions"
            )
        return self._wal

    @classmethod
    def merged(cls, sst_dir: Path, generation: int, pk: str) -> SsTable:
        """Reopen a generation already compacted into the base (for a pinned reader)."""
        sst = cls(sst_dir, generation, 0, pk)
        try:
            positions = sst.wal_positions()
        except FileNotFoundError as e:
            raise PinnedVersionGoneError(
                f"generation {generation} under {sst_dir} was merged and its files removed: "
                "the reader's pin was not honoured"
            ) from e
        sst.batches = len(positions)
        return sst


def write_sstable(disk: Disk, sst_dir: Path, memtable: MemTable, count: int) -> SsTable:
    """Write the first ``count`` batches of ``memtable`` as SSTable ``memtable.generation``."""
    table = memtable.rows(count)
    if table is None:
        raise ValueError(f"refusing to flush empty generation {memtable.generation}")
    g = memtable.generation
    wal = memtable.wal_positions(count)
    meta = {WAL_RUNS_KEY.decode(): json.dumps(wal_runs(wal))}
    disk.write_ipc("sstable_write", data_path(sst_dir, g), table, meta)
    sidecar = table.select([memtable.pk, APPEND_INDEX, ROW]).sort_by(
        [(memtable.pk, "ascending"), (APPEND_INDEX, "ascending"), (ROW, "ascending")]
    )
    disk.write_ipc("pk_sidecar", sidecar_path(sst_dir, g), sidecar, meta)
    return SsTable(sst_dir, g, count, memtable.pk, table, sidecar.combine_chunks(), wal)
