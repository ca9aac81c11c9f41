"""The cut designs (docs/DESIGN.md "Cut designs"), each one pure predicate over integers.

Every predicate answers one question, and nothing else:

    At check time t1, does the supersession check *admit* this row id, given
    the cut its shard carries and the source the row now lives in?

A design is sound when every admitted row id was in the read arm's
observation O (``model.invariants.soundness``).  The predicates below take
plain ints and bools so that ``proofs/`` can mirror each one term for term in
z3, and a differential test can hold the two together.

The PR's generation rules are one table (h11 style: rules are data, code and
docs read the same table).  ``as_of_cut`` and ``fresh_tier_watermark`` both
interpret it; they differ only in which rows are candidates at all:

* ``as_of_cut`` (V-AsOf) reads raw *committed* batches from memory, visible or
  not;
* ``fresh_tier_watermark`` (V-FTW) reads only rows *visible* at check time.

For a shard that is absent from the cut both fall back to the live tier,
exactly as the PR documents ("shard not in map → live").
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property


class Design(enum.StrEnum):
    """The designs under test; the value is the name used everywhere."""

    LIVE_TIER = "live_tier"
    WAL_POSITION_MAP = "wal_position_map"
    AS_OF_CUT = "as_of_cut"
    FRESH_TIER_WATERMARK = "fresh_tier_watermark"
    EXACT_CUT = "exact_cut"
    PINNED_CUT = "pinned_cut"


class Capture(enum.StrEnum):
    """How the read arm takes the active generation's batch count N.

    ``VISIBLE_COUNT`` is correct: the visible count, read once, and the scan
    reads exactly that prefix.  ``LEN`` takes ``batch_store.len()`` (committed,
    not necessarily visible: hazard H2).  ``AFTER_SCAN`` reads the visible
    count again after the scan, when more may have become visible (H1).
    ``INCLUSIVE_POSITION`` is an older cursor's ``max visible position + 1``,
    which is 1 when nothing was visible: it claims batch 0 (H8).
    """

    VISIBLE_COUNT = "visible_count"
    LEN = "len"
    AFTER_SCAN = "after_scan"
    INCLUSIVE_POSITION = "inclusive_position"


class Source(enum.StrEnum):
    """Where a row lives at check time (the base table is never a candidate)."""

    MEMTABLE = "memtable"  # active or frozen, in memory
    SSTABLE = "sstable"  # flushed generation on disk


class Rel(enum.StrEnum):
    """The row's generation g against the cut's active generation A."""

    BELOW = "g < A"
    AT = "g = A"
    ABOVE = "g > A"


class Verdict(enum.StrEnum):
    """What one rule admits of a source."""

    WHOLE = "whole"  # every candidate row
    PREFIX = "prefix"  # rows with append index < N
    NONE = "excluded"  # nothing


#: PR #7215's rule table: (source, g vs A) → verdict.  Identical in V-AsOf and
#: V-FTW (LANCE.md "Versions of the cut"); SPEC.md renders it, proofs/ encodes it.
GENERATION_RULES: dict[tuple[Source, Rel], Verdict] = {
    (Source.MEMTABLE, Rel.BELOW): Verdict.WHOLE,
    (Source.MEMTABLE, Rel.AT): Verdict.PREFIX,
    (Source.MEMTABLE, Rel.ABOVE): Verdict.NONE,
    (Source.SSTABLE, Rel.BELOW): Verdict.WHOLE,
    (Source.SSTABLE, Rel.AT): Verdict.NONE,
    (Source.SSTABLE, Rel.ABOVE): Verdict.NONE,
}


def rel(generation: int, active_generation: int) -> Rel:
    """Place a generation relative to the cut's active generation."""
    if generation < active_generation:
        return Rel.BELOW
    if generation == active_generation:
        return Rel.AT
    return Rel.ABOVE


def apply_rule(verdict: Verdict, append_index: int, active_batch_count: int) -> bool:
    """Evaluate one rule-table verdict for one row."""
    if verdict is Verdict.WHOLE:
        return True
    if verdict is Verdict.PREFIX:
        return append_index < active_batch_count
    return False


# --------------------------------------------------------------------------
# The predicates.  Arguments are the row's facts at check time and the
# shard's cut fields; ``in_cut`` is False when the cut has no entry for the
# row's shard.
# --------------------------------------------------------------------------


def admit_live_tier() -> bool:
    """Before the fix: no cut; every committed row of the fresh tier counts."""
    return True


def admit_wal_position_map() -> bool:
    """The earlier approach: a batch counts iff its WAL position is below the cut.

    The position comes from ``wal_batch_mapping``, which only the test-only
    ``mark_wal_flushed`` fills.  **An empty map** (production, and so the
    model) leaves every batch unmapped; an unmapped batch cannot be placed
    against the cut, so the check falls back to the live tier for it:
    admitted.  SSTables carry no map at all and are admitted whole.  So in
    production this design *is* ``live_tier``, whatever the cut carries
    (``ShardCut.wal_position``, compared with impl's cut all the same); impl
    keeps the mapped case for its own tests.
    """
    return True


def admit_as_of_cut(
    *,
    in_cut: bool,
    in_memory: bool,
    generation: int,
    append_index: int,
    active_generation: int,
    active_batch_count: int,
) -> bool:
    """PR #7215 (V-AsOf): the rule table over every committed row."""
    if not in_cut:
        return True
    source = Source.MEMTABLE if in_memory else Source.SSTABLE
    verdict = GENERATION_RULES[(source, rel(generation, active_generation))]
    return apply_rule(verdict, append_index, active_batch_count)


def admit_fresh_tier_watermark(
    *,
    in_cut: bool,
    in_memory: bool,
    visible: bool,
    generation: int,
    append_index: int,
    active_generation: int,
    active_batch_count: int,
) -> bool:
    """The merged successor (V-FTW): the same table, over visible rows only."""
    if in_memory and not visible:
        return False
    return admit_as_of_cut(
        in_cut=in_cut,
        in_memory=in_memory,
        generation=generation,
        append_index=append_index,
        active_generation=active_generation,
        active_batch_count=active_batch_count,
    )


def admit_exact_cut(
    *,
    in_cut: bool,
    epoch: int,
    cut_epoch: int,
    append_index: int,
    observed_count: int,
) -> bool:
    """Ours: admit exactly the prefix the arm recorded for this generation.

    ``observed_count`` is the number of batches of the row's generation the
    arm read (0 when it saw no such generation).  Row ids survive flush, so
    the source does not matter; a changed writer epoch (crash, failover)
    voids the cut for that shard, and shards the arm never saw are excluded.
    """
    return in_cut and epoch == cut_epoch and append_index < observed_count


def admit_pinned_cut(
    *,
    in_cut: bool,
    pinned: bool,
    wal_position: int,
    wal_lo: int,
    wal_hi: int,
) -> bool:
    """Ours, pinned: admit a row iff its WAL position lies in a range the arm read.

    A WAL position names one write for the life of the shard: flush, release,
    compaction and replay move the write but keep its position, and a later
    write never gets an old position.  ``[wal_lo, wal_hi)`` is the cut's range
    that could hold the row's position (the one with the greatest ``lo`` not
    above it); ``pinned`` says the row is in the fresh tier *as of the base
    version the arm pinned* (not merged into that version), so a generation
    compacted between arm and check is still probed while the reader reads
    the pinned base.  Shards the arm never saw are excluded.
    """
    return in_cut and pinned and wal_lo <= wal_position < wal_hi


#: designs whose reader pins the base version its arm saw: the check also
#: probes generations merged after that version, and the base is read there.
PINS_BASE: frozenset[Design] = frozenset({Design.PINNED_CUT})


# --------------------------------------------------------------------------
# One dispatcher over plain records, for the model, the impl differential
# tests and the state machines.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowFacts:
    """What the check can know about one row id at check time."""

    in_memory: bool
    generation: int
    append_index: int
    visible: bool
    epoch: int
    wal_position: int = 0
    compacted: bool = False  # merged into the current base version


@dataclass(frozen=True)
class ShardCut:
    """One shard's cut, with the fields every design reads.

    ``active_generation``/``active_batch_count`` are ``AsOfCut``'s two fields;
    ``epoch`` and ``observed`` (generation → batches read) are what
    ``exact_cut`` adds; ``wal_position`` is ``wal_position_map``'s bound;
    ``wal_ranges`` (maximal ``[lo, hi)`` runs of WAL positions read) and
    ``pinned_through`` (the shard's ``compacted_through`` in the base version
    the arm saw) are ``pinned_cut``'s.
    """

    active_generation: int
    active_batch_count: int
    epoch: int = 0
    observed: tuple[tuple[int, int], ...] = ()
    wal_position: int = 0
    wal_ranges: tuple[tuple[int, int], ...] = ()
    pinned_through: int = 0

    def observed_count(self, generation: int) -> int:
        """Batches of ``generation`` the arm read; 0 if it saw none."""
        return self._observed.get(generation, 0)

    # a ShardCut never changes: its index is built once (a cached_property of a
    # frozen dataclass lives in its __dict__, outside eq and hash)
    @cached_property
    def _observed(self) -> dict[int, int]:
        return dict(self.observed)

    def wal_range(self, position: int) -> tuple[int, int]:
        """The range with the greatest ``lo`` <= ``position`` ((0, 0) if none)."""
        if not self.wal_ranges:  # every design but pinned_cut
            return (0, 0)
        below = [r for r in self.wal_ranges if r[0] <= position]
        return max(below, default=(0, 0))


#: the fields a shard absent from the cut reads as (``in_cut`` is False for it)
_ABSENT = ShardCut(0, 0)


def _arguments(row: RowFacts, cut: ShardCut | None) -> dict[str, int | bool]:
    """Every predicate argument, named as the predicates name them."""
    c = cut if cut is not None else _ABSENT
    lo, hi = c.wal_range(row.wal_position)
    return {
        "in_cut": cut is not None,
        "in_memory": row.in_memory,
        "visible": row.visible,
        "generation": row.generation,
        "append_index": row.append_index,
        "epoch": row.epoch,
        "wal_position": row.wal_position,
        "active_generation": c.active_generation,
        "active_batch_count": c.active_batch_count,
        "cut_epoch": c.epoch,
        "observed_count": c.observed_count(row.generation),
        "pinned": not row.compacted or row.generation > c.pinned_through,
        "wal_lo": lo,
        "wal_hi": hi,
    }


#: design → its predicate; each takes the keyword arguments it names.
PREDICATES: dict[Design, Callable[..., bool]] = {
    Design.LIVE_TIER: admit_live_tier,
    Design.WAL_POSITION_MAP: admit_wal_position_map,
    Design.AS_OF_CUT: admit_as_of_cut,
    Design.FRESH_TIER_WATERMARK: admit_fresh_tier_watermark,
    Design.EXACT_CUT: admit_exact_cut,
    Design.PINNED_CUT: admit_pinned_cut,
}


#: design → the argument names its predicate takes (read once here, not per row)
_WANTS = {k: tuple(inspect.signature(p).parameters) for k, p in PREDICATES.items()}


def admits(design: Design, row: RowFacts, cut: ShardCut | None) -> bool:
    """Does ``design``'s check admit ``row`` under ``cut`` (None: shard absent)?"""
    args, d = _arguments(row, cut), Design(design)
    return PREDICATES[d](**{k: args[k] for k in _WANTS[d]})
