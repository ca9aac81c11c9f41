"""Threads smoke test: writers, a flusher/compactor and a reader run together.

No exception anywhere, and no acknowledged row lost: at the end, every
acknowledged put is visible (as itself or a newer version of its PK), both
before and after a reopen.
"""

from __future__ import annotations

import threading

import pyarrow as pa
from conftest import SCHEMA

from impl import AsOfCut, MemWal, MemWalOptions


def test_concurrent_writers_flusher_compactor_reader(make_wal) -> None:
    wal = make_wal(base_ids=list(range(0, 4000, 7)), max_memtable_batches=16)
    shards = ["a", "b", "c"]
    stop = threading.Event()
    errors: list[BaseException] = []
    acked: dict[int, str] = {}
    lock = threading.Lock()

    def guard(fn):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                stop.set()

        return run

    def writer(k: int) -> None:
        shard = wal.shard(shards[k])
        for i in range(150):
            pk = k * 1000 + i
            tag = f"w{k}-{i}"
            shard.put(pa.table({"id": [pk], "v": [tag]}, schema=SCHEMA))
            with lock:
                acked[pk] = tag

    def maintainer() -> None:
        n = 0
        while not stop.is_set():
            for s in shards:
                if s in wal.shards():
                    wal.shard(s).freeze()
                    wal.shard(s).flush()
            n += 1
            if n % 5 == 0:
                wal.compact()

    def reader() -> None:
        while not stop.is_set():
            res = wal.two_phase_read("as_of_cut")
            pks = res.table.column("id")
            assert len(pks) >= 1
            wal.contains_pks_as_of([1, 2, 3], {s: AsOfCut(1, 1) for s in shards})

    workers = [threading.Thread(target=guard(lambda k=k: writer(k))) for k in range(3)]
    background = [threading.Thread(target=guard(fn)) for fn in (maintainer, reader)]
    for t in background + workers:
        t.start()
    for t in workers:
        t.join(60)
    stop.set()
    for t in background:
        t.join(60)
    assert errors == []

    def check(w: MemWal) -> None:
        got = dict(zip(*(w.scan().table.column(c).to_pylist() for c in ("id", "v")), strict=True))
        for pk, tag in acked.items():
            assert got.get(pk) == tag, pk

    check(wal)
    wal.crash()
    check(MemWal.open(wal.root, MemWalOptions(max_memtable_batches=16)))
