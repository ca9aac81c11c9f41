"""pylance 14.0.2: ``ShardWriter.lsm_scanner()`` does not see frozen, not-yet-flushed memtables.

Standalone reproduction (needs only pylance and pyarrow). ``lsm_scanner()``'s docstring promises
"strong read-your-writes consistency" over the base table, the SSTables and the active memtable.
When a write fills the active memtable (``max_memtable_batches``) it is frozen and flushed in the
background; until the flush commits (several ms), the frozen memtable is in neither the active
memtable nor the manifest, and the 14.0.2 scanner reads only those two. Acknowledged writes
vanish from the writer's own scan meanwhile: here three deletes of base row 0 with B=3 -- the
third freezes the memtable -- and a scan right after it returns base row 0 again.

Each trial uses a fresh dataset; a trial counts as a hit only if ``memtable_stats()`` still shows
the frozen memtable after the scan (so the flush had not landed) and the scan returned the deleted
row; after waiting for the flush, the same scan is exact. Exit status: 0 if the defect
reproduced in at least one trial, 1 if not, 2 on any other error.

    python repro/lance/ryw_frozen_memtable.py [--trials 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
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
SHARD = "00000000-0000-0000-0000-000000000001"
B = 3
KNOBS: dict[str, Any] = {
    "durable_write": True,
    "max_wal_buffer_size": 1,
    "max_wal_flush_interval_ms": 10,
}


def rows(writer: lance.mem_wal.ShardWriter) -> dict[int, str]:
    table = writer.lsm_scanner().to_table()
    return dict(zip(table["id"].to_pylist(), table["val"].to_pylist(), strict=True))


def trial() -> tuple[bool, str]:
    """(hit, evidence) of one fresh dataset."""
    tmp = Path(tempfile.mkdtemp(prefix="ryw-repro-"))
    path = str(tmp / "ds.lance")
    try:
        base = pa.table({"id": [0, 1, 2], "val": ["base0", "base1", "base2"]}, schema=SCHEMA)
        lance.write_dataset(base, path, schema=SCHEMA)
        lance.dataset(path).initialize_mem_wal()
        writer = lance.dataset(path).mem_wal_writer(SHARD, max_memtable_batches=B, **KNOBS)
        try:
            key_only = pa.schema([SCHEMA.field("id")])
            tombstone = pa.RecordBatch.from_pydict({"id": [0]}, schema=key_only)
            for _ in range(B):  # each delete is acknowledged (durable); the B-th freezes
                writer.delete(tombstone)
            seen = rows(writer)
            stats = writer.memtable_stats()
            while writer.memtable_stats()["frozen_count"]:
                time.sleep(0.001)
            settled = rows(writer)
        finally:
            writer.close()
        hit = stats["frozen_count"] >= 1 and 0 in seen
        return hit, (
            f"after {B} acknowledged deletes of id 0: scan {seen} with memtable_stats "
            f"generation={stats['generation']} batch_count={stats['batch_count']} "
            f"frozen_count={stats['frozen_count']}; after the flush: scan {settled}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    print(f"pylance {lance.__version__}, pyarrow {pa.__version__}, max_memtable_batches={B}")
    print("expected: id 0 absent from every scan (deleted, acknowledged); base {0, 1, 2}")
    hits = 0
    for number in range(args.trials):
        hit, evidence = trial()
        hits += hit
        if hit and hits == 1 or not hit:
            print(f"trial {number}: {'HIT' if hit else 'no hit'}: {evidence}")
    print(f"rate: {hits}/{args.trials} trials returned the deleted base row from a frozen memtable")
    print("REPRODUCED" if hits else "not reproduced")
    return 0 if hits else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - any other failure is not "not reproduced"
        traceback.print_exc()
        sys.exit(2)
