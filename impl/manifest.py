"""Per-shard manifest: the durable state of a shard besides its WAL.

``_mem_wal/{shard}/manifest.json`` holds ``writer_epoch``,
``current_generation`` (1 + highest flushed generation: where replay starts),
``replay_after_wal_position`` (WAL entries covered by flushed generations) and
the SSTable list.  It is replaced atomically (``Disk``, site
``manifest_replace``).  A shard whose manifest does not exist yet is at the
defaults (epoch 1, generation 1, nothing flushed): the first write of a shard
writes only its WAL entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from impl.errors import CorruptManifestError
from impl.storage import Disk


@dataclass(frozen=True)
class SsTableEntry:
    """One listed SSTable: its generation and how many batches it holds."""

    generation: int
    batches: int


@dataclass(frozen=True)
class ShardManifest:
    """Immutable manifest value; ``with_*`` helpers return updated copies."""

    writer_epoch: int = 1
    current_generation: int = 1
    replay_after_wal_position: int = 0
    sstables: tuple[SsTableEntry, ...] = ()

    def with_flushed(self, generation: int, batches: int, covered: int) -> ShardManifest:
        return replace(
            self,
            current_generation=max(self.current_generation, generation + 1),
            replay_after_wal_position=max(self.replay_after_wal_position, covered),
            sstables=self.sstables + (SsTableEntry(generation, batches),),
        )

    def without(self, generations: set[int]) -> ShardManifest:
        kept = tuple(s for s in self.sstables if s.generation not in generations)
        return replace(self, sstables=kept)

    def to_json(self) -> dict[str, object]:
        return {
            "writer_epoch": self.writer_epoch,
            "current_generation": self.current_generation,
            "replay_after_wal_position": self.replay_after_wal_position,
            "sstables": [[s.generation, s.batches] for s in self.sstables],
        }


def manifest_path(shard_dir: Path) -> Path:
    return shard_dir / "manifest.json"


def load_manifest(shard_dir: Path) -> ShardManifest | None:
    """Read a shard manifest; None if the shard never wrote one."""
    path = manifest_path(shard_dir)
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        m = ShardManifest(
            writer_epoch=int(doc["writer_epoch"]),
            current_generation=int(doc["current_generation"]),
            replay_after_wal_position=int(doc["replay_after_wal_position"]),
            sstables=tuple(SsTableEntry(int(g), int(n)) for g, n in doc["sstables"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptManifestError(f"shard manifest {path} is corrupt: {e}") from e
    if m.writer_epoch < 1 or m.current_generation < 1 or m.replay_after_wal_position < 0:
        raise CorruptManifestError(f"shard manifest {path} has out-of-range fields: {m}")
    return m


def store_manifest(disk: Disk, shard_dir: Path, manifest: ShardManifest) -> None:
    disk.write_json("manifest_replace", manifest_path(shard_dir), manifest.to_json())
