"""pylance 14.0.2: writer defaults recorded by ``initialize_mem_wal`` are ignored by
``mem_wal_writer``.

Standalone reproduction (needs only pylance and pyarrow). ``Dataset.initialize_mem_wal``'s
docstring says its writer-configuration keyword arguments "are recorded as the default ShardWriter
configuration in the MemWAL index, so every writer starts from the same defaults". They are
recorded (``mem_wal_index_details()["writer_config_defaults"]`` shows them), but a writer opened
without the knob uses the hard-coded default instead: with ``max_memtable_batches=1`` recorded,
one put should freeze the memtable (generation 2, batch_count 0); it does not (generation 1,
batch_count 1). The same put through a writer given ``max_memtable_batches=1`` explicitly does
freeze (the control). Exit status: 0 if the defect reproduced, 1 if not, 2 on any other error.

    python repro/lance/writer_defaults_ignored.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("LANCE_LOG", "lance=off")

import lance  # noqa: E402
import pyarrow as pa  # noqa: E402

PK = {"lance-schema:unenforced-primary-key": "true"}
SCHEMA = pa.schema(
    [pa.field("id", pa.int64(), nullable=False, metadata=PK), pa.field("val", pa.utf8())]
)
KNOBS: dict[str, Any] = {
    "durable_write": True,
    "max_wal_buffer_size": 1,
    "max_wal_flush_interval_ms": 10,
}


def one_put(path: str, shard: str, **knobs: Any) -> tuple[int, int]:
    """(generation, batch_count) after one put through a new writer of ``shard``."""
    writer = lance.dataset(path).mem_wal_writer(shard, **KNOBS, **knobs)
    try:
        writer.put(pa.RecordBatch.from_pydict({"id": [2], "val": ["x"]}, schema=SCHEMA))
        stats = writer.memtable_stats()
    finally:
        writer.close()
    return int(stats["generation"]), int(stats["batch_count"])


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="defaults-repro-"))
    path = str(tmp / "ds.lance")
    try:
        print(f"pylance {lance.__version__}, pyarrow {pa.__version__}")
        lance.write_dataset(pa.table({"id": [1], "val": ["b"]}, schema=SCHEMA), path, schema=SCHEMA)
        lance.dataset(path).initialize_mem_wal(max_memtable_batches=1)
        details = lance.dataset(path).mem_wal_index_details() or {}
        recorded = details.get("writer_config_defaults")
        print(f"initialize_mem_wal(max_memtable_batches=1) recorded: {recorded}")
        implicit = one_put(path, "00000000-0000-0000-0000-000000000001")
        explicit = one_put(path, "00000000-0000-0000-0000-000000000002", max_memtable_batches=1)
        print(f"writer without the knob, after one put: (generation, batch_count) = {implicit}")
        print(f"writer given max_memtable_batches=1:    (generation, batch_count) = {explicit}")
        print("expected (2, 0) for both: the recorded default freezes the memtable at 1 batch")
        ignored = implicit != (2, 0) and explicit == (2, 0)
        print("REPRODUCED: the recorded default was ignored" if ignored else "not reproduced")
        return 0 if ignored else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - any other failure is not "not reproduced"
        traceback.print_exc()
        sys.exit(2)
