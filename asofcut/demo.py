"""``asofcut demo``: PR #7215's transient missing row, replayed on the real impl.

The story, in the PR's words: a reader answers one query with two calls, a
read arm over the fresh tier and a supersession check that asks which base
PKs the fresh tier shadows.  A write landing between the two makes a
live-tier check drop a base row whose replacement the arm never delivered.
The demo runs the same two-phase read twice on the real fresh tier
(``impl/``), once per design, with the same write injected between arm and
check, and prints what each returns.  Nothing is simulated: the write goes
through the WAL into the active memtable, and the check runs the design's
membership code.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from impl import AsOfCut, MemWal, MemWalOptions

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("val", pa.string())])
SHARD = "s1"
LATE_PK = 7


@dataclass(frozen=True)
class Outcome:
    """What one design's two-phase read returned."""

    design: str
    cut: AsOfCut | None
    claimed: list[int]
    rows: dict[int, str]
    missing: list[int]


def _batch(ids: list[int], vals: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(ids, pa.int64()), pa.array(vals)], schema=SCHEMA)


def run_story(design: str, root: Path) -> Outcome:
    """Base {3, 7}; fresh {3}; arm; put 7 between arm and check; check; merge."""
    base = pa.Table.from_batches([_batch([3, 7], ["base-3", "base-7"])])
    wal = MemWal.create(root, SCHEMA, "id", MemWalOptions(design=design), base=base)
    try:
        wal.shard(SHARD).put(_batch([3], ["fresh-3"]))

        def write_lands() -> None:
            wal.shard(SHARD).put(_batch([LATE_PK], [f"fresh-{LATE_PK}"]))

        result = wal.two_phase_read(design=design, between=write_lands)
        # A base row may be dropped only for a PK the arm delivered a version of.
        delivered = set(result.arm.observed_pks.to_pylist())
        base_ids = result.base.column("id").to_pylist()
        hits = result.superseded.to_pylist()
        claimed = [pk for pk, hit in zip(base_ids, hits, strict=True) if hit]
        ids, vals = (result.table.column(c).to_pylist() for c in ("id", "val"))
        rows = dict(zip(ids, vals, strict=True))
        missing = [pk for pk in claimed if pk not in delivered]
        entry = result.cut.shards.get(SHARD)
        cut = entry if isinstance(entry, AsOfCut) else None
        return Outcome(design, cut, claimed, rows, missing)
    finally:
        wal.close()


def render(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "asofcut demo: PR #7215's transient missing row, on the real fresh tier (impl/)",
        "",
        "  base table      id 3 -> 'base-3', id 7 -> 'base-7'",
        f"  fresh tier      shard {SHARD}, active generation 1, batch 0 = id 3 -> 'fresh-3'",
        "  1. read arm     scans the fresh tier, delivers id 3, takes its cut",
        "  2. base read    ids 3, 7",
        f"  3. write lands  put id {LATE_PK} -> 'fresh-{LATE_PK}' (generation 1, append index 1)",
        "  4. check        which base ids does the fresh tier shadow?",
        "",
    ]
    for o in outcomes:
        cut = (
            f"AsOfCut(active_generation={o.cut.active_generation}, "
            f"active_batch_count={o.cut.active_batch_count})"
            if o.cut
            else "no cut (live tier)"
        )
        verdict = (
            f"MISSING ROW: base row id {o.missing[0]} dropped, the arm never delivered id "
            f"{o.missing[0]}"
            if o.missing
            else "no row missing"
        )
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(o.rows.items()))
        lines += [
            f"  {o.design:<10}  cut: {cut}",
            f"  {'':<10}  check claims ids {o.claimed}; result {{{shown}}}",
            f"  {'':<10}  -> {verdict}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asofcut demo", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="asofcut-demo-") as tmp:
        outcomes = [run_story(d, Path(tmp) / d) for d in ("live_tier", "as_of_cut")]
    print(render(outcomes), end="")
    live, fixed = outcomes
    # The demo is also a check: exit non-zero if the story did not play out.
    return 0 if live.missing == [LATE_PK] and not fixed.missing else 1
