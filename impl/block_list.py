"""fresh_tier_block_list and PK membership: the supersession check.

For each fresh-tier generation of a snapshot, the design's admit predicate
(docs/DESIGN.md "Cut designs"; the same rules as ``model/designs.py``, re-implemented here so
the oracle stays independent) decides which *candidate* rows count:

* candidates are every **committed** in-memory row (active, frozen, retained)
  and every SSTable row (its PK sidecar, superseded duplicates and tombstones
  included) not served from memory and not compacted; never base rows;
* each rule reduces to batch ranges of a memtable ("whole", "first N by append
  index", "nothing") or an append-index bound on a sidecar, and a batch-count
  bound is a row-position bound: a zero-copy slice of the memtable's cached,
  concatenated PK column.

``pinned_cut`` places WAL positions instead of generations: a cut run
``[lo, hi)`` becomes, by two bisections over a generation's ascending batch
positions, a batch range of that generation (a memtable slice or a sidecar
append-index filter), wherever the generation lives now.

Membership then concatenates the admitted PK slices and runs **one**
``pyarrow.compute.is_in`` over the probes; no Python loop per key.

Two hazard knobs change what counts (docs/SEMANTICS.md "Hazard knobs"):
``memtable_pk_index=False`` (H11) drops every in-memory generation from a
``fresh_tier_watermark`` block list (no index to block with), and
``pk_hash_bits`` (H10) makes an ``as_of_cut`` membership compare w-bit PK
hashes instead of PKs (the block list still lists the admitted PKs).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from impl import arrays
from impl.collector import MemSource, ShardSources, Sources, SstSource
from impl.cut import AsOfCut, Cut, ExactCut, PinnedCut, WalPositionCut
from impl.errors import MalformedCutError
from impl.options import check_design
from impl.pk_hash import pk_hashes
from impl.schema import APPEND_INDEX, ROW, ROW_ID_SCHEMA

Ranges = list[tuple[int, int]]


@dataclass(frozen=True)
class GenMembership:
    """The admitted rows of one generation: their PKs and row ids."""

    shard: str
    generation: int
    in_memory: bool
    pks: pa.Array
    row_ids: pa.Table  # ROW_ID_SCHEMA


# ------------------------------------------------------------------ the rules


def _pinned_ranges(entry: PinnedCut, positions: list[int] | tuple[int, ...]) -> Ranges:
    """Batch ranges of a generation whose (ascending) batch WAL positions fall in the cut."""
    out = []
    for lo, hi in entry.wal_ranges:
        a, b = bisect.bisect_left(positions, lo), bisect.bisect_left(positions, hi)
        if b > a:
            out.append((a, b))
    return out



def _memtable_ranges(design: str, m: MemSource, entry: object | None) -> Ranges:
    """Admitted batch ranges [start, stop) of an in-memory generation."""
    g, committed = m.generation, m.committed
    if design == "live_tier":
        return [(0, committed)]
    if design == "wal_position_map":
        if not isinstance(entry, WalPositionCut):
            return [(0, committed)]  # shard absent from the cut: live tier
        # mapped batches are admitted iff their WAL position < the cut; unmapped
        # batches cannot be placed against the cut and are admitted (live).
        positions = m.memtable.wal_positions(m.mapped)
        below = bisect.bisect_left(positions, entry.wal_position)
        return [(0, below), (m.mapped, committed)]
    if design in ("as_of_cut", "fresh_tier_watermark"):
        # V-AsOf reads committed batches; V-FTW only rows visible at check time.
        top = committed if design == "as_of_cut" else m.visible
        if not isinstance(entry, AsOfCut):
            return [(0, top)]
        a = entry.active_generation
        if g < a:
            return [(0, top)]
        if g == a:
            return [(0, min(top, entry.active_batch_count))]
        return []
    if design == "exact_cut":
        if not isinstance(entry, ExactCut):
            return []  # shards the arm did not see are excluded
        # m.shard's epoch is compared by the caller (it lives on ShardSources)
        return [(0, min(committed, entry.observed_count(g)))]
    if design == "pinned_cut":
        if not isinstance(entry, PinnedCut):
            return []
        store = m.memtable.store
        spans = [(store.bisect_wal(lo, committed), store.bisect_wal(hi, committed))
                 for lo, hi in entry.wal_ranges]
        return [(a, b) for a, b in spans if b > a]
    raise MalformedCutError(f"unknown design {design!r}")


def _sstable_bound(design: str, s: SstSource, entry: object | None) -> int:
    """Admitted rows of an SSTable are those with append index < the returned bound."""
    whole = s.batches
    if design in ("live_tier", "wal_position_map"):
        return whole  # SSTables carry no WAL map: admitted whole
    if design in ("as_of_cut", "fresh_tier_watermark"):
        if not isinstance(entry, AsOfCut):
            return whole
        return whole if s.generation < entry.active_generation else 0
    if design == "exact_cut":
        if not isinstance(entry, ExactCut):
            return 0
        return min(whole, entry.observed_count(s.generation))
    raise MalformedCutError(f"unknown design {design!r}")


def _entry(cut: Cut, shard: ShardSources) -> object | None:
    entry = cut.shards.get(shard.shard)
    if isinstance(entry, ExactCut) and entry.writer_epoch != shard.writer_epoch:
        return None  # a changed epoch voids the shard's exact cut (exact_cut excludes it)
    return entry


# ------------------------------------------------------------ the block list


def _row_ids(shard: str, generation: int, ai: pa.Array, row: pa.Array) -> pa.Table:
    n = len(ai)
    return pa.Table.from_arrays(
        [
            pa.array([shard] * n, pa.string()) if n else pa.array([], pa.string()),
            arrays.full(n, generation),
            ai.cast(pa.int64()),
            row.cast(pa.int64()),
        ],
        schema=ROW_ID_SCHEMA,
    )


#: the row ids of a membership asked without them (one shared, immutable empty table:
#: building an empty table costs as much as a small membership itself)
NO_ROW_IDS: pa.Table = ROW_ID_SCHEMA.empty_table()
#: (design, memtable_pk_index) under which in-memory generations block nothing (H11)
NO_MEMTABLE_MEMBERS: frozenset[tuple[str, bool]] = frozenset({("fresh_tier_watermark", False)})
#: the design whose membership compares PK hashes when ``pk_hash_bits`` is set (H10)
HASHED_DESIGN = "as_of_cut"


def _admitted(
    sources: Sources,
    cut: Cut,
    design: str,
    *,
    with_row_ids: bool,
    memtable_pk_index: bool = True,
) -> list[GenMembership]:
    skip_memtables = (design, memtable_pk_index) in NO_MEMTABLE_MEMBERS
    out: list[GenMembership] = []
    for shard in sources.shards.values():
        entry = _entry(cut, shard)
        if design in ("exact_cut", "pinned_cut") and entry is None:
            continue
        for s in shard.sstables:
            if isinstance(entry, PinnedCut):
                ranges = _pinned_ranges(entry, s.sstable.wal_positions())
                if not ranges:
                    continue
                side = s.sstable.sidecar()
                if ranges != [(0, s.batches)]:
                    ai = side.column(APPEND_INDEX)
                    masks = [pc.and_(pc.greater_equal(ai, a), pc.less(ai, b)) for a, b in ranges]
                    mask = masks[0]
                    for m in masks[1:]:
                        mask = pc.or_(mask, m)
                    side = side.filter(mask)
            else:
                bound = _sstable_bound(design, s, entry)
                if bound <= 0:
                    continue
                side = s.sstable.sidecar()
                if bound < s.batches:
                    side = side.filter(pc.less(side.column(APPEND_INDEX), bound))
            if side.num_rows == 0:
                continue
            pks = side.column(0).combine_chunks()
            ids = (
                _row_ids(
                    shard.shard,
                    s.generation,
                    side.column(APPEND_INDEX).combine_chunks(),
                    side.column(ROW).combine_chunks(),
                )
                if with_row_ids
                else NO_ROW_IDS
            )
            out.append(GenMembership(shard.shard, s.generation, False, pks, ids))
        for m in () if skip_memtables else shard.memtables:
            ranges = [(a, b) for a, b in _memtable_ranges(design, m, entry) if b > a]
            if not ranges:
                continue
            parts = [m.memtable.pk_slice(a, b) for a, b in ranges]
            pks = parts[0] if len(parts) == 1 else pa.concat_arrays(parts)
            if len(pks) == 0:
                continue
            if with_row_ids:
                id_parts = [m.memtable.id_slice(a, b) for a, b in ranges]
                ids = pa.concat_tables(
                    [_row_ids(shard.shard, m.generation, ai, row) for ai, row in id_parts]
                )
            else:
                ids = NO_ROW_IDS
            out.append(GenMembership(shard.shard, m.generation, True, pks, ids))
    out.sort(key=lambda gm: (gm.shard, gm.generation))
    return out


def fresh_tier_block_list(
    sources: Sources, cut: Cut, design: str, *, memtable_pk_index: bool = True
) -> list[GenMembership]:
    """Per-generation memberships admitted by ``design`` under ``cut`` (empty ones dropped)."""
    check_design(design)
    return _admitted(
        sources, cut, design, with_row_ids=True, memtable_pk_index=memtable_pk_index
    )


def contains(
    sources: Sources,
    cut: Cut,
    design: str,
    probes: pa.Array,
    *,
    pk_hash_bits: int | None = None,
    memtable_pk_index: bool = True,
) -> pa.BooleanArray:
    """Which probes are members: one ``is_in`` against the concatenated admitted PKs
    (against their ``pk_hash_bits``-bit hashes under ``as_of_cut`` when that is set)."""
    check_design(design)
    members = _admitted(
        sources, cut, design, with_row_ids=False, memtable_pk_index=memtable_pk_index
    )
    if not members or len(probes) == 0:
        return arrays.full(len(probes), False, pa.bool_())
    values = [gm.pks for gm in members]
    value_set = values[0] if len(values) == 1 else pa.concat_arrays(values)
    if pk_hash_bits is not None and design == HASHED_DESIGN:
        probes = pk_hashes(probes, pk_hash_bits)
        value_set = pk_hashes(value_set, pk_hash_bits)
    result = pc.is_in(probes, value_set=value_set)
    assert isinstance(result, pa.BooleanArray)
    return result
