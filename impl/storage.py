"""Every disk write of the fresh tier goes through one ``Disk`` object.

Why: a later issue injects crashes at the k-th write.  ``Disk.before_write``
is called with a *site* name and the target path before every write, replace
or remove, so a subclass (or an instance attribute) can count writes and raise
at any point.  New files are written to a temporary name in the same
directory and moved into place with ``os.replace``, so a reader never sees a
half-written file under its final name (torn WAL tails are still tolerated on
replay, for files damaged by other means).

Site names: ``table_create``, ``wal_append``, ``wal_truncate``,
``sstable_write``, ``pk_sidecar``, ``manifest_replace``, ``base_write``,
``base_manifest_replace``.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

#: temp-file numbers (``next`` on a count is atomic under the GIL: threads never share one)
_TMP_NUMBERS = itertools.count()

SITES: tuple[str, ...] = (
    "table_create",
    "wal_append",
    "wal_truncate",
    "sstable_write",
    "pk_sidecar",
    "manifest_replace",
    "base_write",
    "base_manifest_replace",
)


def ipc_bytes(table: pa.Table | pa.RecordBatch, metadata: dict[str, str] | None = None) -> bytes:
    """Serialize ``table`` as one Arrow IPC file, with optional schema metadata."""
    schema = table.schema
    if metadata is not None:
        schema = schema.with_metadata({**(schema.metadata or {}), **metadata})
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, schema) as writer:
        if isinstance(table, pa.RecordBatch):
            writer.write_batch(table.replace_schema_metadata(schema.metadata))
        else:
            writer.write_table(table.replace_schema_metadata(schema.metadata))
    return bytes(sink.getvalue().to_pybytes())


def read_ipc(path: Path) -> pa.Table:
    """Read a whole Arrow IPC file into memory (raises pyarrow errors on damage)."""
    data = path.read_bytes()
    with ipc.open_file(pa.py_buffer(data)) as reader:
        return reader.read_all()


class Disk:
    """The one gate for disk writes under a table root.

    Subclass and override ``before_write`` (or assign an instance attribute of
    the same name) to observe or fail writes.
    """

    def __init__(self, root: Path | str, *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.writes = 0

    def before_write(self, site: str, path: Path) -> None:
        """Hook called before every write/replace/remove; default does nothing."""
        del site, path

    def _gate(self, site: str, path: Path) -> None:
        self.before_write(site, path)
        self.writes += 1

    def write_bytes(self, site: str, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically: temp file in the same dir, then replace."""
        self._gate(site, path)
        # unique in this process (the counter) and among processes (the pid)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{next(_TMP_NUMBERS)}")
        try:
            try:
                f = open(tmp, "wb")
            except FileNotFoundError:  # the directory's first file: make it, once
                path.parent.mkdir(parents=True, exist_ok=True)
                f = open(tmp, "wb")
            with f:
                f.write(data)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if self.fsync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def write_ipc(
        self,
        site: str,
        path: Path,
        table: pa.Table | pa.RecordBatch,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Write one Arrow IPC file atomically."""
        self.write_bytes(site, path, ipc_bytes(table, metadata))

    def write_json(self, site: str, path: Path, obj: Any) -> None:
        """Write (replace) a JSON document atomically (one line: with ``indent`` the
        json module encodes in Python, several times slower, and a reopen writes three)."""
        self.write_bytes(site, path, json.dumps(obj, sort_keys=True).encode())

    def remove(self, site: str, path: Path) -> None:
        """Remove a file (through the hook, like any other write)."""
        self._gate(site, path)
        path.unlink(missing_ok=True)
