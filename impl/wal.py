"""Per-shard write-ahead log: one Arrow IPC file per entry.

Layout: ``_mem_wal/{shard}/wal/{position:020d}.arrow``; positions are 1-based
and contiguous, and the writer epoch is in each file's schema metadata.  An
entry is written (temp + replace, through ``Disk``) *before* its batch is
appended to the memtable, so an acknowledged batch is durable.

Replay reads the entries after the manifest's ``replay_after_wal_position`` in
order.  A torn/corrupt **last** entry is what a crash mid-append leaves: it
is truncated with a warning naming the file.  Damage anywhere before the
tail, or a gap in positions, cannot come from a crash and raises
CorruptWalError without changing anything.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from impl.errors import CorruptWalError
from impl.storage import Disk, read_ipc

ENTRY_RE = re.compile(r"^(\d{20})\.arrow$")
EPOCH_KEY = b"asofcut.writer_epoch"
POSITION_KEY = b"asofcut.wal_position"


def entry_path(wal_dir: Path, position: int) -> Path:
    return wal_dir / f"{position:020d}.arrow"


@dataclass(frozen=True)
class WalEntry:
    """One replayed entry."""

    position: int
    writer_epoch: int
    batch: pa.RecordBatch


class ShardWal:
    """Appender for one shard's WAL (caller holds the shard lock)."""

    def __init__(self, disk: Disk, wal_dir: Path, next_position: int = 1) -> None:
        self.disk = disk
        self.wal_dir = wal_dir
        self.next_position = next_position

    @property
    def last_position(self) -> int:
        return self.next_position - 1

    def append(self, batch: pa.RecordBatch, writer_epoch: int) -> int:
        """Write one entry; return its position.  Position advances only on success."""
        position = self.next_position
        self.write(position, batch, writer_epoch)
        self.next_position = position + 1
        return position

    def reserve(self) -> int:
        """Hand out the next position without writing it (``durability="after_visible"``,
        H9): the entry is written later by ``write``, or never if the process dies."""
        position = self.next_position
        self.next_position = position + 1
        return position

    def write(self, position: int, batch: pa.RecordBatch, writer_epoch: int) -> None:
        """Write the entry at ``position`` (a fresh one, or one ``reserve`` handed out)."""
        meta = {EPOCH_KEY.decode(): str(writer_epoch), POSITION_KEY.decode(): str(position)}
        self.disk.write_ipc("wal_append", entry_path(self.wal_dir, position), batch, meta)


def _read_entry(path: Path, position: int, schema: pa.Schema) -> WalEntry:
    table = read_ipc(path)
    meta = table.schema.metadata or {}
    epoch = int(meta[EPOCH_KEY])
    if int(meta.get(POSITION_KEY, position)) != position:
        raise ValueError(f"entry records position {meta.get(POSITION_KEY)!r}")
    table = table.replace_schema_metadata(None)
    if not table.schema.equals(schema):
        raise ValueError(f"entry schema {table.schema} differs from the table's")
    batches = table.combine_chunks().to_batches()
    batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=schema)
    return WalEntry(position, epoch, batch)


@dataclass(frozen=True)
class Replay:
    """What replay found: the entries to re-apply, the next position, a torn tail if any."""

    entries: list[WalEntry]
    next_position: int
    torn: Path | None

    def truncate_torn_tail(self, disk: Disk) -> None:
        """Remove the torn last entry (the one mutation replay makes), with a warning."""
        if self.torn is not None:
            warnings.warn(f"truncating torn WAL tail {self.torn}", RuntimeWarning, stacklevel=2)
            disk.remove("wal_truncate", self.torn)


def replay(wal_dir: Path, after: int, schema: pa.Schema) -> Replay:
    """Read entries with position > ``after`` without changing anything on disk.

    The caller validates every shard first and only then truncates torn tails
    (``Replay.truncate_torn_tail``), so a CorruptWalError anywhere leaves the
    whole table untouched.
    """
    positions: list[int] = []
    if wal_dir.is_dir():
        for p in wal_dir.iterdir():
            m = ENTRY_RE.match(p.name)
            if m:
                positions.append(int(m.group(1)))
    positions.sort()
    if positions and positions != list(range(positions[0], positions[0] + len(positions))):
        missing = sorted(set(range(positions[0], positions[-1] + 1)) - set(positions))
        raise CorruptWalError(f"WAL {wal_dir} has a gap: positions {missing[:5]} are missing")
    if positions and positions[0] > after + 1:
        raise CorruptWalError(
            f"WAL {wal_dir} starts at position {positions[0]} but replay needs {after + 1}"
        )
    last = positions[-1] if positions else 0
    entries: list[WalEntry] = []
    torn: Path | None = None
    for pos in positions:
        if pos <= after:
            continue
        path = entry_path(wal_dir, pos)
        try:
            entries.append(_read_entry(path, pos, schema))
        except Exception as e:  # pyarrow raises several types for damaged files
            if pos == last:
                torn = path
                break
            raise CorruptWalError(f"WAL entry {path} is corrupt (not the tail): {e}") from e
    if torn is not None:
        last -= 1
    kept = [e for e in entries if e.batch.num_rows > 0]
    return Replay(kept, max(last, after) + 1, torn)
