"""The base table (generation 0): versioned data file + base manifest.

``base/v{version:010d}.arrow`` holds the user columns sorted by PK;
``base/manifest.json`` names the current version and ``compacted_through``
per shard.  A compaction writes the new version, then replaces the manifest:
the manifest replace is the commit, so ``compacted_through`` moves atomically
with the base data (Lance's ``merged_generations``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pyarrow as pa

from impl.errors import CorruptManifestError
from impl.storage import Disk, read_ipc


@dataclass(frozen=True)
class BaseVersion:
    """One committed version of the base table (immutable, shareable by readers)."""

    version: int
    table: pa.Table
    compacted_through: Mapping[str, int] = field(default_factory=dict)

    def through(self, shard: str) -> int:
        return int(self.compacted_through.get(shard, 0))


def base_dir(root: Path) -> Path:
    return root / "base"


def commit_base(
    disk: Disk, root: Path, version: int, table: pa.Table, compacted_through: Mapping[str, int]
) -> BaseVersion:
    """Write version ``version`` and make it current (manifest replace = commit)."""
    d = base_dir(root)
    name = f"v{version:010d}.arrow"
    disk.write_ipc("base_write", d / name, table)
    doc = {"version": version, "file": name, "compacted_through": dict(compacted_through)}
    disk.write_json("base_manifest_replace", d / "manifest.json", doc)
    return BaseVersion(version, table, MappingProxyType(dict(compacted_through)))


def load_base(root: Path, schema: pa.Schema) -> BaseVersion:
    """Read the current base version named by the base manifest."""
    path = base_dir(root) / "manifest.json"
    try:
        doc = json.loads(path.read_text())
        version = int(doc["version"])
        through = {str(k): int(v) for k, v in doc["compacted_through"].items()}
        table = read_ipc(base_dir(root) / str(doc["file"]))
    except FileNotFoundError as e:
        raise CorruptManifestError(f"base table file missing under {base_dir(root)}: {e}") from e
    except (ValueError, KeyError, TypeError, AttributeError, pa.ArrowException) as e:
        raise CorruptManifestError(f"base manifest {path} is corrupt: {e}") from e
    if not table.schema.equals(schema):
        raise CorruptManifestError(f"base table schema {table.schema} differs from {schema}")
    return BaseVersion(version, table.combine_chunks(), MappingProxyType(through))
