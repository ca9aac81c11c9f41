"""Compaction: merge every shard's SSTables into the base table.

Per shard, SSTables are applied in ascending generation order (equivalently:
newest version per PK over all of them wins; a tombstone deletes the base
row).  One new base version is written and committed together with the new
``compacted_through`` per shard (the base manifest replace is the commit);
only then are the generations removed from the shard manifests and from
memory (retained in-memory copies included); their files stay, and the tier
keeps the old base version and the merged SSTables for pinned readers.
Readers skip generations at or below ``compacted_through`` even if a shard
manifest still lists them, so a crash between the two steps is harmless.
Frozen, unflushed memtables are never compacted.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from impl.base_table import commit_base
from impl.manifest import store_manifest
from impl.scanner import newest_version
from impl.schema import APPEND_INDEX, GENERATION, ROW, TOMBSTONE
from impl.sstable import SsTable
from impl.tier import Tier


def compact(tier: Tier) -> dict[str, list[int]]:
    """Merge all listed, not yet compacted SSTables into base; return shard → generations."""
    with tier.compact_lock:
        with tier.lock:
            tier.check_open()
            base = tier.base
            plan: dict[str, list[int]] = {}
            tables: list[pa.Table] = []
            for shard in sorted(tier.shards):
                state = tier.shards[shard]
                with state.lock:
                    through = base.through(shard)
                    gens = sorted(g for g in state.sstables if g > through)
                    if gens:
                        plan[shard] = gens
                        tables += [state.sstables[g].data() for g in gens]
        if not plan:
            return {}
        schema = tier.schema
        fresh = pa.concat_tables(tables).select(
            [*schema.internal.names, GENERATION, APPEND_INDEX, ROW]
        )
        # newest version per PK, tombstones kept so they can delete base rows
        pk = schema.pk
        newest = newest_version(fresh, pk)
        touched = newest.column(pk)
        kept_base = base.table.filter(pc.invert(pc.is_in(base.table.column(pk), touched)))
        live = newest.filter(pc.invert(newest.column(TOMBSTONE))).select(schema.schema.names)
        merged = pa.concat_tables([kept_base, live.cast(schema.schema)]).sort_by(pk)
        merged = merged.combine_chunks()
        through_map = dict(base.compacted_through)
        through_map.update({s: gens[-1] for s, gens in plan.items()})
        with tier.lock:
            tier.check_open()
            tier.base = commit_base(tier.disk, tier.root, base.version + 1, merged, through_map)
            kept: dict[tuple[str, int], SsTable] = {}
            for shard, gens in plan.items():
                state = tier.shards[shard]
                with state.lock:
                    gone = set(gens)
                    manifest = state.manifest.without(gone)
                    store_manifest(tier.disk, state.shard_dir, manifest)
                    state.manifest = manifest
                    for g in gone:
                        sst = state.sstables.pop(g, None)
                        if sst is not None:
                            kept[(shard, g)] = sst
                    state.retained = [m for m in state.retained if m.generation not in gone]
            tier.keep(base, kept)  # for readers that pinned ``base`` (pinned_cut)
        return plan
