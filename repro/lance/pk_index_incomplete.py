"""pylance 14.0.2: a flushed MemWAL SSTable's primary-key index can lack some of its keys.

Standalone reproduction (needs only pylance and pyarrow). A put inserts its rows into the
memtable at once but applies them to the memtable's PK index on a separate asynchronous task; the
flush of a PK-only table (no maintained secondary index) does not wait for that task. If the task
has not caught up when the flush writes ``_pk_index/``, the SSTable is committed with an index
that lacks those keys. Three symptoms, one cause:

* ``empty``     -- no key indexed: no ``_pk_index`` files are written and every LSM scan of the
                   shard fails with ``Not found … _pk_index/page_lookup.lance``, also after reopen;
* ``tombstone`` -- a tombstone's key is missing: the base row it deletes comes back;
* ``newer``     -- a newer row's key is missing: the base row is not shadowed, the PK appears
                   twice.

Each iteration makes a fresh dataset (base rows 0..5), opens one writer per shard and makes each
shard freeze once, cycling over three scenarios (the bug needs a freshly opened writer; the race
is rare, so every iteration flushes all shards): ``empty`` (max_memtable_batches=1, delete a base
key), ``tombstone`` (B=2: put a new key, then delete a base key) and ``newer`` (B=2: delete a new
key, then put a base key). After the flush it reads each new SSTable's rows and its
``_pk_index/page_data.lance`` (``lance.file.LanceFileReader``) and reports every SSTable whose
index lacks keys, with the LSM scan's answer before and after reopening the writer.

``--load N`` runs N busy-loop processes meanwhile (the race is far likelier under CPU load);
``--control`` maintains a BTREE index on the PK column, which makes the flush wait for index
catch-up (expected: no hit). Prints hits / freezing flushes. Exit status: 0 if the defect
reproduced, 1 if it did not within ``--seconds``, 2 on any other error.

    python repro/lance/pk_index_incomplete.py --seconds 60 --load 2 [--control]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("LANCE_LOG", "lance=off")

import lance  # noqa: E402
import pyarrow as pa  # noqa: E402
from lance.file import LanceFileReader  # noqa: E402

PK = {"lance-schema:unenforced-primary-key": "true"}
SCHEMA = pa.schema(
    [pa.field("id", pa.int64(), nullable=False, metadata=PK), pa.field("val", pa.utf8())]
)
KEY_ONLY = pa.schema([SCHEMA.field("id")])
SHARDS = 3
BASE = {k: f"base{k}" for k in range(2 * SHARDS)}
#: scenario -> (max_memtable_batches, writes per shard: ("put"|"delete", key offset)); shard i
#: uses base key i (offset 0) and new key 100 + i (offset 100); the last write freezes.
SCENARIOS: dict[str, tuple[int, tuple[tuple[str, int], ...]]] = {
    "empty": (1, (("delete", 0),)),
    "tombstone": (2, (("put", 100), ("delete", 0))),
    "newer": (2, (("delete", 100), ("put", 0))),
}
KNOBS: dict[str, Any] = {
    "durable_write": True,
    "max_wal_buffer_size": 1,
    "max_wal_flush_interval_ms": 10,
}


def shard_id(i: int) -> str:
    return f"00000000-0000-0000-0000-{i + 1:012d}"


def write(writer: lance.mem_wal.ShardWriter, kind: str, key: int) -> None:
    if kind == "put":
        writer.put(pa.RecordBatch.from_pydict({"id": [key], "val": [f"new{key}"]}, schema=SCHEMA))
    else:
        writer.delete(pa.RecordBatch.from_pydict({"id": [key]}, schema=KEY_ONLY))


def index_keys(sstable: Path) -> list[int]:
    data = sstable / "_pk_index" / "page_data.lance"
    if not data.is_file():
        return []
    return sorted(LanceFileReader(str(data)).read_all().to_table()["values"].to_pylist())


def scan(writer: lance.mem_wal.ShardWriter, keys: list[int]) -> str:
    try:
        table = writer.lsm_scanner().to_table()
    except OSError as exc:
        return f"OSError: {str(exc).split(', ')[0]}"  # the message, without Lance's source location
    rows = zip(table["id"].to_pylist(), table["val"].to_pylist(), strict=True)
    return f"rows for ids {keys}: {sorted((k, v) for k, v in rows if k in keys)}"


def iteration(number: int, control: bool) -> tuple[int, list[str]]:
    """One fresh dataset, every shard freezes once; (freezing flushes, evidence of each hit)."""
    scenario = list(SCENARIOS)[number % len(SCENARIOS)]
    b, writes = SCENARIOS[scenario]
    tmp = Path(tempfile.mkdtemp(prefix="pk-index-repro-"))
    path = str(tmp / "ds.lance")
    try:
        base = pa.table({"id": list(BASE), "val": list(BASE.values())}, schema=SCHEMA)
        ds = lance.write_dataset(base, path, schema=SCHEMA)
        if control:
            ds.create_scalar_index("id", "BTREE")  # maintained: the flush waits for the index
        lance.dataset(path).initialize_mem_wal()
        writers = [
            lance.dataset(path).mem_wal_writer(shard_id(i), max_memtable_batches=b, **KNOBS)
            for i in range(SHARDS)
        ]
        for i, writer in enumerate(writers):
            for kind, offset in writes:
                write(writer, kind, offset + i)
        deadline = time.monotonic() + 30
        while any(w.memtable_stats()["frozen_count"] for w in writers):
            if time.monotonic() > deadline:
                raise TimeoutError("frozen memtables not flushed within 30 s")
            time.sleep(0.001)
        hits = []
        for i, writer in enumerate(writers):
            (sstable,) = (Path(path) / "_mem_wal" / shard_id(i)).glob("*_gen_1")
            rows = lance.dataset(str(sstable)).to_table().to_pylist()
            ids = sorted(r["id"] for r in rows)
            indexed = index_keys(sstable)
            missing = sorted(set(ids) - set(indexed))
            if not missing:
                continue
            shown = {r["id"]: None if r["_tombstone"] else r["val"] for r in rows}
            tombstoned = any(shown[k] is None for k in missing)
            kind = "empty" if not indexed else ("tombstone" if tombstoned else "newer")
            before = scan(writer, missing)  # then reopen: the defect is on disk, it persists
            writer.close()
            writers[i] = lance.dataset(path).mem_wal_writer(
                shard_id(i), max_memtable_batches=b, **KNOBS
            )
            hits.append(
                f"HIT ({kind}) iteration {number}, scenario {scenario}, shard {i}: SSTable "
                f"{sstable.name} rows {shown} (None = tombstone), _pk_index keys {indexed}, "
                f"missing {missing}; base {[(k, BASE[k]) for k in missing if k in BASE]}\n"
                f"    LSM scan: {before}\n"
                f"    after reopening the writer: {scan(writers[i], missing)}"
            )
        for writer in writers:
            writer.close()
        return len(writers), hits
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time cap (default 60)")
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes (default 0)")
    parser.add_argument("--control", action="store_true", help="maintain a BTREE index on id")
    args = parser.parse_args()
    print(
        f"pylance {lance.__version__}, pyarrow {pa.__version__}, {os.cpu_count()} cpus, "
        f"load {args.load}, control {args.control}, cap {args.seconds:g} s"
    )
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)
    ]
    flushes, hits, kinds = 0, 0, dict.fromkeys(SCENARIOS, 0)
    start = time.monotonic()
    try:
        number = 0
        while time.monotonic() - start < args.seconds:
            done, found = iteration(number, args.control)
            flushes += done
            hits += len(found)
            for text in found:
                print(text, flush=True)
                kinds[text.split("(", 1)[1].split(")", 1)[0]] += 1
            number += 1
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    elapsed = time.monotonic() - start
    print(
        f"rate: {hits}/{flushes} freezing flushes left an incomplete _pk_index "
        f"({', '.join(f'{k} {n}' for k, n in kinds.items())}) in {elapsed:.1f} s"
    )
    print("REPRODUCED" if hits else "not reproduced")
    return 0 if hits else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - any other failure is not "not reproduced"
        traceback.print_exc()
        sys.exit(2)
