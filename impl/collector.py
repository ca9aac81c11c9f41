"""The collector: one consistent snapshot of the fresh tier's sources.

Under the tier lock (no flush commit, compaction commit or shard creation can
interleave) and each shard's lock (no append or publish can interleave), it
records per shard: the writer epoch, the active generation, every in-memory
memtable with its committed and visible counts *read once* (Lance's
V-Latest-collector), and the SSTables to read: listed, not compacted
(generation > ``compacted_through``) and not served from memory (a retained
copy suppresses its SSTable).  Memtables and SSTables are immutable or
append-only, so the snapshot holds plain references and stays valid after the
locks are released.

A pinned check (``since``: shard → ``compacted_through`` in the base version
its reader pinned) also gets, per shard, the SSTables of the generations
compacted after that version: as of the pinned version they are still in the
fresh tier, and the reader reads the pinned base, so they must be probed.

Two hazard knobs split the arm's snapshot (docs/SEMANTICS.md "Hazard knobs"):
``arm_sources="manifest_first"`` (H5a) takes the SSTable lists and the base
first (``list_sstables``) and the memtable refs later (``collect(listing=…)``),
so a generation flushed and released in between is in neither;
``arm_visibility="two_instants"`` (H15) reads the counts of the snapshot's
memtables again later (``recount``), for the arm's cut only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from impl.base_table import BaseVersion
from impl.memtable import MemTable
from impl.sstable import SsTable
from impl.tier import ShardState, Tier


@dataclass(frozen=True)
class MemSource:
    """An in-memory generation with its counts at collection time."""

    shard: str
    generation: int
    memtable: MemTable
    committed: int
    visible: int
    mapped: int  # batches with a wal_batch_mapping entry (prefix)
    role: str  # "active", "frozen" or "retained"


@dataclass(frozen=True)
class SstSource:
    """A flushed generation read from disk."""

    shard: str
    generation: int
    sstable: SsTable

    @property
    def batches(self) -> int:
        return self.sstable.batches


@dataclass(frozen=True)
class ShardSources:
    """One shard's sources, ascending by generation."""

    shard: str
    writer_epoch: int
    active_generation: int
    memtables: tuple[MemSource, ...]
    sstables: tuple[SstSource, ...]

    @property
    def active(self) -> MemSource:
        return next(m for m in self.memtables if m.role == "active")


@dataclass(frozen=True)
class Sources:
    """The whole snapshot: shards by id, plus the base version."""

    shards: Mapping[str, ShardSources]
    base: BaseVersion


@dataclass(frozen=True)
class Listing:
    """The SSTables listed per shard (not compacted) and the base, read before anything else."""

    base: BaseVersion
    sstables: Mapping[str, tuple[SstSource, ...]]


def _listed(shard: str, state: ShardState, through: int) -> tuple[SstSource, ...]:
    """The shard's SSTables of generations not compacted into the base (``through``)."""
    return tuple(SstSource(shard, g, state.sstables[g]) for g in sorted(state.sstables)
                 if g > through)


def list_sstables(tier: Tier) -> Listing:
    """The manifest half of a snapshot (H5a): every shard's listed SSTables and the base."""
    with tier.lock:
        tier.check_open()
        base = tier.base
        listed: dict[str, tuple[SstSource, ...]] = {}
        for shard in sorted(tier.shards):
            state = tier.shards[shard]
            with state.lock:
                listed[shard] = _listed(shard, state, base.through(shard))
    return Listing(base, MappingProxyType(listed))


def recount(tier: Tier, sources: Sources) -> Sources:
    """``sources`` with every memtable's counts read again now (H15's second instant).

    The memtable refs, generations, SSTables, epochs and base stay the snapshot's;
    counts only grow, so the result is still a well-formed snapshot.
    """
    shards: dict[str, ShardSources] = {}
    with tier.lock:
        tier.check_open()
        for sid, shard in sources.shards.items():
            with tier.shards[sid].lock:
                mems = tuple(
                    replace(
                        m,
                        committed=m.memtable.committed,
                        visible=m.memtable.visible_count,
                        mapped=min(m.memtable.mapped_count, m.memtable.committed),
                    )
                    for m in shard.memtables
                )
            shards[sid] = replace(shard, memtables=mems)
    return Sources(MappingProxyType(shards), sources.base)


def collect(
    tier: Tier, since: Mapping[str, int] | None = None, *, listing: Listing | None = None
) -> Sources:
    """Snapshot every shard and the base atomically w.r.t. flush/compaction commits.

    With ``listing`` (H5a), the SSTables and the base are the listing's (minus the
    generations now served from memory), not the ones current now.
    """
    shards: dict[str, ShardSources] = {}
    with tier.lock:
        tier.check_open()
        base = tier.base if listing is None else listing.base
        for shard in sorted(tier.shards):
            state = tier.shards[shard]
            with state.lock:
                roles = {id(m): "frozen" for m in state.frozen}
                roles.update({id(m): "retained" for m in state.retained})
                roles[id(state.active)] = "active"
                mems = tuple(
                    MemSource(
                        shard,
                        m.generation,
                        m,
                        m.committed,
                        m.visible_count,
                        min(m.mapped_count, m.committed),
                        roles[id(m)],
                    )
                    for m in state.in_memory()
                )
                in_mem = {m.generation for m in mems}
                through = base.through(shard)
                listed = (_listed(shard, state, through) if listing is None
                          else listing.sstables.get(shard, ()))
                ssts = tuple(s for s in listed if s.generation not in in_mem)
                if since is not None and shard in since and since[shard] < through:
                    merged = range(since[shard] + 1, through + 1)
                    ssts = tuple(SstSource(shard, g, tier.merged_sstable(shard, g))
                                 for g in merged) + ssts
                shards[shard] = ShardSources(
                    shard, state.writer_epoch, state.active.generation, mems, ssts
                )
    return Sources(MappingProxyType(shards), base)
