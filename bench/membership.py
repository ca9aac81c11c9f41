"""Benchmark: as-of and live membership against the floor of one ``pc.is_in``.

Fresh tier: 1,000,000 rows over 8 generations of one shard (4 flushed to
SSTables, 3 frozen in memory, and the active one, in which the cut falls),
100,000 probe keys of which half are members.  Reported, all measured in this
process, interleaved round by round: medians over ``--reps`` rounds of

* as-of membership: ``contains_pks_as_of(probes, {shard: AsOfCut(8, 5)})``,
* pinned membership: the same cut point as ``pinned_cut`` carries it,
  ``PinnedCut(base version, 0, ((1, 76),))`` (WAL positions 1..75: the 7
  lower generations and 5 batches of the active one), and as ``exact_cut``
  carries it, ``ExactCut(1, ((1, 10), …, (8, 5)))``,
* live membership: ``contains_pks(probes)``,
* the floor: one ``pyarrow.compute.is_in`` of the probes against the
  pre-concatenated PK column of the whole fresh tier,

and the ratios as-of/live (goal <= 1.1), live/floor (goal <= 2.0),
pinned/as-of and exact/as-of (reported), each the median of the per-round
ratios.  With ``--arm`` it also times the read arm (``scan(with_base=False)``,
cut capture included) under ``pinned_cut`` and ``as_of_cut``.
``--strict`` exits non-zero when a goal is missed.

Run: ``python bench/membership.py [--reps 15] [--strict]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from impl import AsOfCut, Cut, ExactCut, MemWal, PinnedCut  # noqa: E402

ROWS = 1_000_000
GENERATIONS = 8
BATCHES_PER_GEN = 10
PROBES = 100_000
GOAL_ASOF_OVER_LIVE = 1.1
GOAL_LIVE_OVER_FLOOR = 2.0


def seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, list[float]]:
    """Time every function once per round, ``reps`` rounds, rotating the order.

    Interleaving puts the three measurements under the same machine load, so
    the per-round ratios stay honest on a busy 2-core box.
    """
    for fn in fns.values():
        fn()  # warm caches (concatenated PK columns, sidecars)
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(seconds(fns[name]))
    return times


def build(root: Path) -> tuple[MemWal, pa.Array, pa.Array]:
    schema = pa.schema([("id", pa.int64()), ("v", pa.int64())])
    wal = MemWal.create(root, schema, "id")
    shard = wal.shard("s")
    rng = random.Random(7)
    universe = list(range(ROWS * 4))
    rng.shuffle(universe)
    keys = pa.array(universe[:ROWS], pa.int64())  # unique keys in [0, 4M)
    per_gen = ROWS // GENERATIONS
    per_batch = per_gen // BATCHES_PER_GEN
    for g in range(GENERATIONS):
        for b in range(BATCHES_PER_GEN):
            lo = g * per_gen + b * per_batch
            ids = keys[lo : lo + per_batch]
            shard.put(pa.table({"id": ids, "v": ids}, schema=schema))
        if g < GENERATIONS - 1:
            shard.freeze()
    for _ in range(4):
        shard.flush()
    members = rng.sample(universe[:ROWS], PROBES // 2)
    non_members = universe[ROWS : ROWS + PROBES // 2]
    mixed = members + non_members
    rng.shuffle(mixed)
    return wal, pa.array(mixed, pa.int64()), keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument("--arm", action="store_true", help="also time the read arm per design")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wal, probes, all_keys = build(Path(tmp) / "t")
        st = wal.shard("s").stats()
        half = BATCHES_PER_GEN // 2
        cut = {"s": AsOfCut(st.active_generation, half)}
        top = 1 + (GENERATIONS - 1) * BATCHES_PER_GEN + half  # one past the last position read
        base_version = wal.scanner("pinned_cut").scan(with_base=False).base_version
        pinned = Cut("pinned_cut", {"s": PinnedCut(base_version, 0, ((1, top),))})
        counts = [(g, BATCHES_PER_GEN) for g in range(1, GENERATIONS)] + [(GENERATIONS, half)]
        exact = Cut("exact_cut", {"s": ExactCut(st.writer_epoch, tuple(counts))})
        fns: dict[str, Callable[[], object]] = {
            "as_of": lambda: wal.contains_pks_as_of(probes, cut),
            "pinned": lambda: wal.contains_pks_as_of(probes, pinned),
            "exact": lambda: wal.contains_pks_as_of(probes, exact),
            "live": lambda: wal.contains_pks(probes),
            "floor": lambda: pc.is_in(probes, value_set=all_keys),
        }
        if args.arm:
            fns["arm_as_of"] = lambda: wal.scanner("as_of_cut").scan(with_base=False)
            fns["arm_pinned"] = lambda: wal.scanner("pinned_cut").scan(with_base=False)
        t = interleaved(fns, args.reps)
        hits = wal.contains_pks(probes).true_count
        same = (wal.contains_pks_as_of(probes, cut) == wal.contains_pks_as_of(probes, pinned))
        assert same and wal.contains_pks_as_of(probes, exact) == wal.contains_pks_as_of(
            probes, cut), "the three cuts name the same rows: their answers must agree"
    as_of, live, floor = (statistics.median(t[k]) for k in ("as_of", "live", "floor"))
    # ratios: the median of per-round ratios (each round saw one machine load)
    r1 = statistics.median(a / b for a, b in zip(t["as_of"], t["live"], strict=True))
    r2 = statistics.median(a / b for a, b in zip(t["live"], t["floor"], strict=True))

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(t[a], t[b], strict=True))

    print(f"fresh tier: {ROWS:,} rows, {GENERATIONS} generations "
          f"(sstables {st.sstables}, frozen {[f[0] for f in st.frozen]}, "
          f"active {st.active_generation}); cut {cut['s']}; "
          f"{PROBES:,} probes, {hits:,} live members")
    print(f"as-of membership  median {as_of * 1e3:8.2f} ms")
    print(f"pinned membership median {statistics.median(t['pinned']) * 1e3:8.2f} ms")
    print(f"exact membership  median {statistics.median(t['exact']) * 1e3:8.2f} ms")
    print(f"live membership   median {live * 1e3:8.2f} ms")
    print(f"floor (one is_in) median {floor * 1e3:8.2f} ms")
    print(f"as-of / live  = {r1:.3f}  (goal <= {GOAL_ASOF_OVER_LIVE})")
    print(f"live / floor  = {r2:.3f}  (goal <= {GOAL_LIVE_OVER_FLOOR})")
    print(f"pinned / as-of = {ratio('pinned', 'as_of'):.3f}  (membership, reported)")
    print(f"exact / as-of  = {ratio('exact', 'as_of'):.3f}  (membership, reported)")
    if args.arm:
        arm_a, arm_p = statistics.median(t["arm_as_of"]), statistics.median(t["arm_pinned"])
        print(f"read arm as_of_cut median {arm_a * 1e3:8.2f} ms, pinned_cut {arm_p * 1e3:8.2f} ms"
              f"; pinned / as-of = {ratio('arm_pinned', 'arm_as_of'):.3f}")
    missed = r1 > GOAL_ASOF_OVER_LIVE or r2 > GOAL_LIVE_OVER_FLOOR
    if missed:
        print("GOAL MISSED")
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
