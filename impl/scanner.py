"""LsmScanner: the read arm (scan → rows + observation + cut) and the check.

A scan collects one snapshot (``collector.collect``), reads each in-memory
generation up to the visible count recorded in that snapshot and every
snapshot SSTable whole, and returns the newest row per PK (higher generation,
then append index, then row in batch; fresh beats base = generation 0; a
tombstone hides the key), the observation (row ids of every fresh row read,
superseded versions included) and the cut, captured per design and capture
variant (SEMANTICS.md "Reading").  The check (``contains_pks*``) collects its
own, later snapshot: that gap is exactly what the cut has to bridge.

Hazard knobs on the arm (docs/SEMANTICS.md "Hazard knobs"), each placing the
caller's ``between_reads`` callback at the instant it splits:

* ``arm_visibility="two_instants"`` (H15): rows and observation from the
  snapshot (instant 1); ``between_reads``; the cut from the same memtables'
  counts read again (instant 2, ``recount``).
* ``arm_sources="manifest_first"`` (H5a): SSTable lists and base first;
  ``between_reads``; then memtable refs, counts, active generation and epoch.
  With both knobs set, ``between_reads`` runs once, at the H5a point, and the
  instant-2 recount follows the scan with nothing placed before it.
* Under neither, ``between_reads`` runs after the cut is taken: it changes nothing.

``capture="inclusive_position"`` (H8) takes N = max(visible count, 1).  On the
check side, ``probe_key_types="lance"`` (H12) answers all False for integer
probes of another integer type, ``pk_hash_bits`` (H10) and
``memtable_pk_index`` (H11) are passed to the membership (``block_list``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from impl import arrays
from impl.base_table import BaseVersion
from impl.block_list import GenMembership, contains, fresh_tier_block_list
from impl.collector import ShardSources, Sources, collect, list_sstables, recount
from impl.cut import AsOfCut, Cut, CutEntry, ExactCut, PinnedCut, WalPositionCut
from impl.errors import InvalidOptionError
from impl.options import check_capture, check_design
from impl.schema import APPEND_INDEX, GENERATION, ROW, ROW_ID_SCHEMA, TOMBSTONE
from impl.sstable import wal_runs
from impl.tier import Tier


@dataclass(frozen=True)
class ScanResult:
    """What the read arm returns."""

    table: pa.Table  # user columns, newest live row per PK, sorted by PK
    cut: Cut
    observation: pa.Table  # ROW_ID_SCHEMA: every fresh-tier row read
    #: distinct PKs of every fresh-tier row read, tombstones included: the PKs
    #: the arm delivered *a version* of.  A base row whose PK is not here must
    #: never be dropped by the check (a missing row).
    observed_pks: pa.Array
    #: the base version the arm's snapshot was taken at (a pinned reader reads it)
    base_version: int = 0


_TRUE = pa.array([True])


def _newest_rows(table: pa.Table, pk: str, hide_tombstones: bool) -> pa.Table:
    """One sort, one run-boundary mask, one ``take``: vectorized, no per-key loop.

    The mask is computed on the sorted key (and tombstone) columns alone, and the
    whole table is gathered once, at the indices it keeps: with small tables a
    pyarrow call costs more than its rows, so the whole table is touched as few
    times as possible.
    """
    n = table.num_rows
    # one chunk first: sorting and gathering across many chunks (a part per source,
    # a chunk per write in a memtable's rows) costs more than one copy of small rows
    table = table.combine_chunks()
    if n == 0:
        return table
    # the newest version of a PK first: generation, append index, row descending (fresh
    # beats base, the base being generation 0)
    order = pc.sort_indices(table, sort_keys=[
        (pk, "ascending"),
        (GENERATION, "descending"),
        (APPEND_INDEX, "descending"),
        (ROW, "descending"),
    ])
    keys = table.column(pk).take(order)
    later = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).combine_chunks()
    first = pa.concat_arrays([_TRUE, later])  # the first row of each key's run
    if hide_tombstones:
        first = pc.and_(first, pc.invert(table.column(TOMBSTONE).take(order).combine_chunks()))
    return table.take(pc.filter(order, first))


def newest_version(table: pa.Table, pk: str) -> pa.Table:
    """Keep the newest version per PK (by generation, append index, row), tombstones included.

    ``table`` carries the stored columns plus ``_generation, _append_index, _row``.
    """
    return _newest_rows(table, pk, hide_tombstones=False)


def newest_per_pk(parts: list[pa.Table], pk: str) -> pa.Table:
    """The newest version per PK with tombstoned keys hidden."""
    return _newest_rows(pa.concat_tables(parts), pk, hide_tombstones=True)


class LsmScanner:
    """Reads the fresh tier (and base) under one design and capture variant."""

    def __init__(self, tier: Tier, design: str, capture: str) -> None:
        self._tier = tier
        self.design = check_design(design)
        self.capture = check_capture(capture)

    # ------------------------------------------------------------------ arm

    def scan(
        self,
        with_base: bool = True,
        between_scan_and_capture: Callable[[], None] | None = None,
        *,
        observe: bool = True,
        between_reads: Callable[[], object] | None = None,
    ) -> ScanResult:
        """The read arm: newest row per PK, its observation and its cut.

        ``observe=False`` is a plain read: the rows only, with an empty observation
        and no observed PKs (what a reader that will run no check needs; it skips
        the per-row bookkeeping that the arm's check relies on).
        ``between_reads`` runs where the ``arm_sources``/``arm_visibility`` knobs
        split the arm's reads (module docstring); with neither set, after the cut.
        """
        if between_reads is not None and not callable(between_reads):
            raise InvalidOptionError(f"between_reads={between_reads!r}; expected a callable")
        tier = self._tier
        opts = tier.options
        manifest_first = opts.arm_sources == "manifest_first"
        two_instants = opts.arm_visibility == "two_instants"
        if manifest_first:
            listing = list_sstables(tier)
            if between_reads is not None:
                between_reads()
            sources = collect(tier, listing=listing)
        else:
            sources = collect(tier)
        schema = tier.schema
        internal = schema.internal
        columns = [*internal.names, GENERATION, APPEND_INDEX, ROW]
        parts: list[pa.Table] = []
        owners: list[str] = []  # the shard of each fresh part's rows, row by row
        for shard in sources.shards.values():
            read: list[pa.Table] = [s.sstable.data() for s in shard.sstables]
            read += [t for m in shard.memtables if (t := m.memtable.rows(m.visible)) is not None]
            for t in read:
                parts.append(t if t.column_names == columns else t.select(columns))
                owners += [shard.shard] * t.num_rows
        # the observation and observed PKs come from all fresh parts at once: a pyarrow
        # call per part and column would cost more than the rows themselves
        fresh = pa.concat_tables(parts) if parts and observe else None
        if with_base:
            parts.append(_base_part(sources.base.table, internal))
        if not parts:
            parts.append(_base_part(schema.schema.empty_table(), internal))
        table = newest_per_pk(parts, schema.pk).select(schema.schema.names)
        if table.schema != schema.schema:
            table = table.cast(schema.schema)
        pk_type = schema.schema.field(schema.pk).type
        if fresh is None:
            observation = EMPTY_OBSERVATION
            observed_pks = pa.array([], pk_type)
        else:
            observation = _observation(owners, fresh)
            observed_pks = pc.unique(fresh.column(schema.pk).combine_chunks().cast(pk_type))
        counted = sources
        if two_instants:
            if between_reads is not None and not manifest_first:
                between_reads()
            counted = recount(tier, sources)
        if between_scan_and_capture is not None:
            between_scan_and_capture()
        cut = self._capture(counted)
        if between_reads is not None and not (manifest_first or two_instants):
            between_reads()  # after the cut: the arm read at one instant, nothing to split
        return ScanResult(table, cut, observation, observed_pks, sources.base.version)

    def _capture(self, sources: Sources) -> Cut:
        entries: dict[str, CutEntry] = {}
        if self.design == "live_tier":
            return Cut("live_tier", {})
        for shard in sources.shards.values():
            entries[shard.shard] = self._entry(shard, sources.base)
        return Cut(self.design, entries)

    def _entry(self, shard: ShardSources, base: BaseVersion) -> CutEntry:
        if self.design in ("as_of_cut", "fresh_tier_watermark"):
            active = shard.active
            if self.capture == "visible_count":
                n = active.visible
            elif self.capture == "len":
                n = active.committed
            elif self.capture == "after_scan":  # read again, now (H1)
                n = active.memtable.visible_count
            else:  # inclusive_position (H8): highest visible index + 1, index 0 if none
                n = max(active.visible, 1)
            return AsOfCut(shard.active_generation, n)
        if self.design == "exact_cut":
            observed = [(m.generation, m.visible) for m in shard.memtables]
            observed += [(s.generation, s.batches) for s in shard.sstables]
            return ExactCut(shard.writer_epoch, tuple(observed))
        if self.design == "pinned_cut":
            read = [w for s in shard.sstables for w in s.sstable.wal_positions()]
            read += [w for m in shard.memtables for w in m.memtable.wal_positions(m.visible)]
            # generations are disjoint runs of positions; sorted, they merge into few runs
            runs = tuple(wal_runs(sorted(read)))
            return PinnedCut(base.version, base.through(shard.shard), runs)
        # wal_position_map: one past the highest WAL position read from memory
        top = 0
        for m in shard.memtables:
            if m.visible:
                top = max(top, m.memtable.store.batch(m.visible - 1).wal_position)
        return WalPositionCut(top + 1 if top else 0)

    # ---------------------------------------------------------------- check

    def contains_pks(self, pks: object) -> pa.BooleanArray:
        """Live-tier membership: every committed fresh-tier row counts."""
        return self.check(pks, Cut("live_tier", {}))[0]

    def contains_pks_as_of(self, pks: object, cut: object) -> pa.BooleanArray:
        """Membership pinned to ``cut``, interpreted by the cut's own design.

        A plain ``dict[str, AsOfCut]`` means an ``as_of_cut`` cut.
        """
        return self.check(pks, cut)[0]

    def check(self, pks: object, cut: object) -> tuple[pa.BooleanArray, Sources]:
        """Membership under ``cut``, and the snapshot it was judged on (so a caller
        can say why an observed row was not counted)."""
        c = Cut.coerce(cut)
        tier = self._tier
        opts = tier.options
        foreign = (
            tier.schema.foreign_int_probe(pks) if opts.probe_key_types == "lance" else None
        )
        probes = tier.schema.coerce_keys(pks) if foreign is None else foreign
        sources = collect(tier, _since(c))
        if foreign is not None:  # H12: not coerced, so no key can match
            return arrays.full(len(foreign), False, pa.bool_()), sources
        member = contains(
            sources,
            c,
            c.design,
            probes,
            pk_hash_bits=opts.pk_hash_bits,
            memtable_pk_index=opts.memtable_pk_index,
        )
        return member, sources

    def fresh_tier_block_list(self, cut: object | None = None) -> list[GenMembership]:
        """Per-generation admitted PKs and row ids (``None``: the live tier)."""
        c = Cut("live_tier", {}) if cut is None else Cut.coerce(cut)
        sources = collect(self._tier, _since(c))
        return fresh_tier_block_list(
            sources, c, c.design, memtable_pk_index=self._tier.options.memtable_pk_index
        )


def _since(cut: Cut) -> dict[str, int] | None:
    """For a pinned cut: shard → ``compacted_through`` in the pinned base version."""
    if cut.design != "pinned_cut":
        return None
    return {sid: e.pinned_through for sid, e in cut.shards.items()}


#: what a plain read (``observe=False``) or a read of an empty fresh tier observed
EMPTY_OBSERVATION: pa.Table = ROW_ID_SCHEMA.empty_table()


def _observation(owners: list[str], t: pa.Table) -> pa.Table:
    """Row ids of ``t``'s fresh rows; ``owners[i]`` is row i's shard."""
    return pa.Table.from_arrays(
        [
            pa.array(owners, pa.string()),
            t.column(GENERATION).cast(pa.int64()),
            t.column(APPEND_INDEX).cast(pa.int64()),
            t.column(ROW).cast(pa.int64()),
        ],
        schema=ROW_ID_SCHEMA,
    )


#: the last base table read and its stored-row layout: a base version never changes,
#: and every scan between two compactions reads the same one
_last_base: tuple[pa.Table, pa.Schema, pa.Table] | None = None


def _base_part(base: pa.Table, internal: pa.Schema) -> pa.Table:
    """The base as generation 0 rows, in the stored-row layout."""
    global _last_base
    last = _last_base
    if last is not None and last[0] is base and last[1] is internal:
        return last[2]
    part = _layout_base(base, internal)
    _last_base = (base, internal, part)
    return part


def _layout_base(base: pa.Table, internal: pa.Schema) -> pa.Table:
    n = base.num_rows
    zeros = arrays.full(n, 0)
    t = base.append_column(TOMBSTONE, arrays.full(n, False, pa.bool_())).cast(internal)
    t = t.append_column(GENERATION, zeros).append_column(APPEND_INDEX, zeros)
    return t.append_column(ROW, arrays.arange(n))
