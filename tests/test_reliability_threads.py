"""Threads under load: 4 writers, a freezer/flusher, a compactor and 2 two-phase readers.

Why: PR #7215's bug was a *transient* missing row that needs a concurrent
write (and a flush or compaction) to land between the read arm and the
supersession check.  Here that window is widened on purpose (each reader
sleeps a random time between arm and check) while writers hammer base keys,
so the live-tier design reproduces the missing row, and the as-of designs
must show none under their assumptions: immediate visibility, capture =
visible_count, no crash, and a fixed shard set (every shard is created before
the readers start).  ``pinned_cut`` must show neither a missing row nor a
duplicate, in the same run where ``live_tier`` loses rows.

Counted per design: rows checked (base rows judged + arm rows), missing rows
(a base row dropped whose PK the arm delivered no version of:
``superseded & ~is_in(pk, arm.observed_pks)``) and duplicates (a PK in both
the arm's rows and the kept base rows: an under-count, e.g. a generation
compacted between arm and check — expected for the other designs, and only
reported; asserted zero for ``pinned_cut``).

Replay: ``ASOFCUT_SEED`` seeds every thread's choices (the interleaving itself
is the OS scheduler's, so a failure is reproduced statistically, not
exactly); ``ASOFCUT_SOAK_SECONDS`` lengthens the run.  The seed is printed in
the summary line and in every assertion message.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
from conftest import SCHEMA, rows

from impl import MemWal, MemWalOptions, TwoPhaseResult

SEED = int(os.environ.get("ASOFCUT_SEED", "20261125"))
SECONDS = float(os.environ.get("ASOFCUT_SOAK_SECONDS", "8"))
SHARDS = ("w0", "w1", "w2", "w3")
BASE_KEYS = 4000
DESIGNS = ("as_of_cut", "exact_cut", "live_tier", "pinned_cut")


def judge(res: TwoPhaseResult) -> tuple[int, int, int]:
    """(rows checked, missing rows, duplicate PKs) of one two-phase read."""
    base_pks = res.base.column("id")
    delivered = pc.is_in(base_pks, value_set=res.arm.observed_pks)
    missing = pc.sum(pc.and_(res.superseded, pc.invert(delivered))).as_py() or 0
    kept = res.base.filter(pc.invert(res.superseded)).column("id")
    dups = pc.sum(pc.is_in(res.arm.table.column("id"), value_set=kept.combine_chunks())).as_py()
    return res.base.num_rows + res.arm.table.num_rows, int(missing), int(dups or 0)


def test_threaded_two_phase_reads_lose_no_row_under_as_of_designs(tmp_path: Path) -> None:
    tag = f"ASOFCUT_SEED={SEED} ASOFCUT_SOAK_SECONDS={SECONDS}"
    options = MemWalOptions(max_memtable_batches=8)
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", options,
                        base=rows(list(range(BASE_KEYS)), "b"))
    oracles: list[dict[int, str]] = []
    for k, sid in enumerate(SHARDS):  # fixed shard set: every shard exists before any reader
        owned = {pk: f"b{pk}" for pk in range(k, BASE_KEYS, len(SHARDS))}
        wal.shard(sid).put(rows([k], "seed"))
        owned[k] = f"seed{k}"
        oracles.append(owned)
    stop = threading.Event()
    errors: list[str] = []
    lock = threading.Lock()
    checked: Counter[str] = Counter()
    missing: Counter[str] = Counter()
    dups: Counter[str] = Counter()
    reads: Counter[str] = Counter()

    def guard(name: str, fn: Callable[[random.Random], None], salt: int) -> threading.Thread:
        def run() -> None:
            try:
                fn(random.Random(SEED * 1000 + salt))
            except BaseException as e:  # noqa: BLE001 - reported in the assertion
                errors.append(f"{name}: {type(e).__name__}: {e}")
                stop.set()

        return threading.Thread(target=run, name=name, daemon=True)

    def writer(k: int) -> Callable[[random.Random], None]:
        shard, oracle = wal.shard(SHARDS[k]), oracles[k]
        owned = list(range(k, BASE_KEYS, len(SHARDS)))

        def run(rng: random.Random) -> None:
            i = 0
            while not stop.is_set():
                pks = sorted(set(rng.sample(owned, rng.randint(1, 4))))
                if rng.random() < 0.75:
                    i += 1
                    shard.put(rows(pks, f"w{k}.{i}."))
                    oracle.update({pk: f"w{k}.{i}.{pk}" for pk in pks})
                else:
                    shard.delete(pks)
                    for pk in pks:
                        oracle.pop(pk, None)
                time.sleep(rng.uniform(0, 0.0005))

        return run

    def maintainer(rng: random.Random) -> None:
        while not stop.is_set():
            sid = rng.choice(SHARDS)
            wal.shard(sid).freeze()
            while wal.shard(sid).flush() is not None:
                pass
            time.sleep(rng.uniform(0, 0.005))

    def compactor(rng: random.Random) -> None:
        while not stop.is_set():
            wal.compact()
            time.sleep(rng.uniform(0.005, 0.03))

    def reader(rng: random.Random) -> None:
        n = 0
        while not stop.is_set():
            design = DESIGNS[n % len(DESIGNS)]
            n += 1
            res = wal.two_phase_read(design, "visible_count",
                                     between=lambda: time.sleep(rng.uniform(0, 0.004)))
            c, m, d = judge(res)
            with lock:
                reads[design] += 1
                checked[design] += c
                missing[design] += m
                dups[design] += d

    threads = [guard(f"writer{k}", writer(k), k) for k in range(len(SHARDS))]
    threads += [guard("maintainer", maintainer, 10), guard("compactor", compactor, 11)]
    threads += [guard(f"reader{k}", reader, 20 + k) for k in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(30)
    summary = (
        f"threads [{tag}]: reads {dict(reads)}, rows checked {dict(checked)}, "
        f"missing {dict(missing)}, duplicates {dict(dups)}"
    )
    print("\n" + summary)
    assert not [t.name for t in threads if t.is_alive()], summary
    assert errors == [], f"{errors} — {summary}"
    assert all(reads[d] > 0 for d in DESIGNS), summary
    assert missing["as_of_cut"] == 0 and missing["exact_cut"] == 0, summary
    assert missing["live_tier"] > 0, f"live-tier missing row not reproduced — {summary}"
    assert missing["pinned_cut"] == 0 and dups["pinned_cut"] == 0, summary
    vacuous = f"no compaction landed between an arm and its check — {summary}"
    assert dups["exact_cut"] + dups["as_of_cut"] > 0, vacuous

    expected: dict[int, str] = {}
    for o in oracles:
        expected.update(o)

    def scanned(w: MemWal) -> dict[int, str]:
        t = w.scan().table
        return dict(zip(t.column("id").to_pylist(), t.column("v").to_pylist(), strict=True))

    assert scanned(wal) == expected, f"acknowledged write lost — {summary}"
    wal.close()
    assert scanned(MemWal.open(tmp_path / "t", options)) == expected, f"lost on reopen — {summary}"
