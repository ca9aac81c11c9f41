"""BatchStore: a memtable's append-only list of record batches.

Mirrors Lance's ``BatchStore``: one writer appends (under the shard lock),
many readers read any prefix.  A batch's *append index* is its position.
``committed`` is ``len()``; ``visible_count`` is an exclusive prefix bound
(0 = nothing visible) that only ever grows and never exceeds ``committed``.
Row offsets turn a batch-count bound into a row-position bound, which is what
makes prefix membership a zero-copy slice.

Readers hold references to immutable pyarrow batches, so a snapshot taken as
``(store, committed, visible)`` stays valid while the writer keeps appending.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class StoredBatch:
    """One appended batch, the WAL entry that made it durable, and where its rows start."""

    data: pa.RecordBatch
    wal_position: int
    row_offset: int

    @property
    def num_rows(self) -> int:
        return int(self.data.num_rows)


def _wal_position(b: StoredBatch) -> int:
    return b.wal_position


class BatchStore:
    """Append-only batches with committed and visible counts."""

    def __init__(self) -> None:
        self._batches: list[StoredBatch] = []
        self._rows = 0
        self._visible = 0

    def append(self, data: pa.RecordBatch, wal_position: int, *, visible: bool) -> int:
        """Append a batch; return its append index.  Caller holds the shard lock."""
        index = len(self._batches)
        self._batches.append(StoredBatch(data, wal_position, self._rows))
        self._rows += data.num_rows
        if visible:
            self._visible = index + 1
        return index

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def committed(self) -> int:
        """Batches appended (Lance's ``len()``: committed, not necessarily visible)."""
        return len(self._batches)

    @property
    def visible_count(self) -> int:
        """Exclusive bound of the visible prefix."""
        return self._visible

    @property
    def num_rows(self) -> int:
        return self._rows

    def publish(self) -> None:
        """Make every committed batch visible (visibility is a prefix)."""
        self._visible = len(self._batches)

    def batches(self, count: int) -> list[StoredBatch]:
        """The first ``count`` batches (clamped to committed)."""
        return self._batches[: max(0, count)]

    def batch(self, index: int) -> StoredBatch:
        return self._batches[index]

    def bisect_wal(self, position: int, count: int) -> int:
        """How many of the first ``count`` batches have a WAL position < ``position``.

        A memtable's positions ascend with its append index (one writer, WAL
        first), so a WAL bound is a batch-count bound: O(log n), no list built.
        """
        hi = min(max(0, count), len(self._batches))
        return bisect.bisect_left(self._batches, position, hi=hi, key=_wal_position)

    def row_offset(self, count: int) -> int:
        """Rows in the first ``count`` batches (the row-position bound of a batch-count bound)."""
        count = min(max(0, count), len(self._batches))
        if count == len(self._batches):
            return self._rows
        return self._batches[count].row_offset
