"""SSTables: one Arrow IPC data file per flushed generation, plus a PK sidecar.

The data file keeps **every** row of the generation (this implementation does
not deduplicate within a generation, which SEMANTICS.md permits), with the id
columns ``_generation, _append_index, _row`` and ``_tombstone``, so row ids
survive flush and a scan of the SSTable observes exactly the rows of its
memtable.  The sidecar ``(pk, _append_index, _row)`` lists every row sorted by
PK, superseded duplicates and tombstones included (Lance's ``_pk_index``); the
supersession check reads only the sidecar.

Files are immutable once written; both tables are cached after first read.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from impl.memtable import MemTable
from impl.schema import APPEND_INDEX, ROW
from impl.storage import Disk, read_ipc


def data_path(sst_dir: Path, generation: int) -> Path:
    return sst_dir / f"gen-{generation:010d}.arrow"


def sidecar_path(sst_dir: Path, generation: int) -> Path:
    return sst_dir / f"gen-{generation:010d}.pk.arrow"


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
    ) -> None:
        self.sst_dir = sst_dir
        self.generation = generation
        self.batches = batches
        self.pk = pk
        self._data = data
        self._sidecar = sidecar
        self._lock = threading.Lock()

    def data(self) -> pa.Table:
        """All rows: stored columns + ``_generation, _append_index, _row``."""
        if self._data is None:
            with self._lock:
                if self._data is None:
                    self._data = read_ipc(data_path(self.sst_dir, self.generation))
        return self._data

    def sidecar(self) -> pa.Table:
        """``(pk, _append_index, _row)`` for every row, sorted by PK."""
        if self._sidecar is None:
            with self._lock:
                if self._sidecar is None:
                    self._sidecar = read_ipc(sidecar_path(self.sst_dir, self.generation))
        return self._sidecar


def write_sstable(disk: Disk, sst_dir: Path, memtable: MemTable, count: int) -> SsTable:
    """Write the first ``count`` batches of ``memtable`` as SSTable ``memtable.generation``."""
    table = memtable.rows(count)
    if table is None:
        raise ValueError(f"refusing to flush empty generation {memtable.generation}")
    g = memtable.generation
    disk.write_ipc("sstable_write", data_path(sst_dir, g), table)
    sidecar = table.select([memtable.pk, APPEND_INDEX, ROW]).sort_by(
        [(memtable.pk, "ascending"), (APPEND_INDEX, "ascending"), (ROW, "ascending")]
    )
    disk.write_ipc("pk_sidecar", sidecar_path(sst_dir, g), sidecar)
    return SsTable(sst_dir, g, count, memtable.pk, table, sidecar.combine_chunks())
