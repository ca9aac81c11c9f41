"""MemTable: one generation of a shard in memory (active, frozen or retained).

A memtable is a BatchStore plus its generation and the per-batch WAL
positions.  Readers need three things fast, for any batch-count prefix:
the PK column, the row ids and the rows themselves.  The PK column and the
row-id columns are concatenated once and cached (extended incrementally on
append, keyed by the number of batches they cover), so a prefix is a
zero-copy slice at the prefix's row offset.

``wal_batch_mapping`` is the test-only map of the ``wal_position_map`` design:
only ``mark_wal_flushed`` fills it (production never does, PR #7215's note).
"""

from __future__ import annotations

import threading

import pyarrow as pa

from impl import arrays
from impl.batch_store import BatchStore, StoredBatch
from impl.schema import APPEND_INDEX, GENERATION, ROW

#: chunks a cached ``rows`` table may grow to before it is copied into one
MAX_CHUNKS = 16


class MemTable:
    """One in-memory generation."""

    def __init__(self, generation: int, pk: str) -> None:
        self.generation = generation
        self.pk = pk
        self.store = BatchStore()
        #: batches with append index < mapped_count are in ``wal_batch_mapping``
        self.mapped_count = 0
        self._cache_lock = threading.Lock()
        # (batches covered, pk array, append-index array, row array)
        self._cache: tuple[int, pa.Array, pa.Array, pa.Array] | None = None
        # the last ``rows(count)`` answer: a prefix of committed batches never changes,
        # and a reader asks for the same prefix again until the next write
        self._rows: tuple[int, pa.Table] | None = None

    @property
    def committed(self) -> int:
        return self.store.committed

    @property
    def visible_count(self) -> int:
        return self.store.visible_count

    @property
    def wal_batch_mapping(self) -> dict[int, int]:
        """append index → WAL position, for the batches ``mark_wal_flushed`` mapped."""
        return {i: b.wal_position for i, b in enumerate(self.store.batches(self.mapped_count))}

    def wal_positions(self, count: int) -> list[int]:
        return [b.wal_position for b in self.store.batches(count)]

    def max_wal_position(self) -> int:
        """Highest WAL position of any committed batch (0 if empty)."""
        n = self.store.committed
        return self.store.batch(n - 1).wal_position if n else 0

    # ---------------------------------------------------------------- columns

    def _columns(self, count: int) -> tuple[int, pa.Array, pa.Array, pa.Array]:
        """Cached concatenated (pk, append index, row) for at least ``count`` batches."""
        cache = self._cache
        if cache is not None and cache[0] >= count:
            return cache
        with self._cache_lock:
            cache = self._cache
            if cache is not None and cache[0] >= count:
                return cache
            start = cache[0] if cache is not None else 0
            new = self.store.batches(count)[start:]
            pk_parts = [b.data.column(self.pk) for b in new]
            ai, rows = arrays.runs([b.num_rows for b in new], start)
            if cache is not None:
                pk = pa.concat_arrays([cache[1], *pk_parts])
                ai_arr = pa.concat_arrays([cache[2], ai])
                row_arr = pa.concat_arrays([cache[3], rows])
            else:
                pk = pa.concat_arrays(pk_parts) if pk_parts else pa.array([], self._pk_type())
                ai_arr, row_arr = ai, rows
            cache = (start + len(new), pk, ai_arr, row_arr)
            self._cache = cache
            return cache

    def _pk_type(self) -> pa.DataType:
        first = self.store.batches(1)
        return first[0].data.schema.field(self.pk).type if first else pa.null()

    def pk_slice(self, start: int, stop: int) -> pa.Array:
        """PKs of batches [start, stop) as one zero-copy slice of the cached column."""
        stop = min(stop, self.store.committed)
        if stop <= start:
            return self._columns(0)[1].slice(0, 0)
        _, pk, _, _ = self._columns(stop)
        lo, hi = self.store.row_offset(start), self.store.row_offset(stop)
        return pk.slice(lo, hi - lo)

    def id_slice(self, start: int, stop: int) -> tuple[pa.Array, pa.Array]:
        """(append index, row in batch) of batches [start, stop)."""
        stop = min(stop, self.store.committed)
        if stop <= start:
            empty = pa.array([], pa.int64())
            return empty, empty
        _, _, ai, row = self._columns(stop)
        lo, hi = self.store.row_offset(start), self.store.row_offset(stop)
        return ai.slice(lo, hi - lo), row.slice(lo, hi - lo)

    def rows(self, count: int) -> pa.Table | None:
        """The first ``count`` batches as a table with id columns, or None if empty.

        Built incrementally: a longer prefix than the last one asked for is the
        last table plus a table of the new batches only (zero-copy, one chunk more),
        so a reader after each write pays for that write's rows, not the memtable's.
        """
        batches: list[StoredBatch] = self.store.batches(count)
        n = len(batches)
        if not n:
            return None
        last = self._rows
        if last is not None and last[0] == n:
            return last[1]
        start = last[0] if last is not None and last[0] < n else 0
        part = pa.Table.from_batches([b.data for b in batches[start:]])
        ai, row = self.id_slice(start, n)
        part = part.append_column(GENERATION, arrays.full(part.num_rows, self.generation))
        part = part.append_column(APPEND_INDEX, ai).append_column(ROW, row)
        if last is not None and start > 0:
            table = pa.concat_tables([last[1], part])
            # a chunk per write would slow every later read; now and then, one copy
            part = table.combine_chunks() if table.column(0).num_chunks > MAX_CHUNKS else table
        self._rows = (n, part)
        return part
