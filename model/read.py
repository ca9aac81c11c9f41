"""The read side: what a read arm observes, the cut it captures, what a check admits.

Three questions, three functions, each over plain ``State``s:

* ``observe(state)``: the arm's observation O (every row it read, superseded
  versions included) at t0;
* ``capture(design, arm, variant, later)``: the cut the arm hands the caller;
  ``variant`` says how each count was taken (designs.Capture), and ``later``
  is the state at which an ``after_scan`` count is read;
* ``admitted(design, cut, state)``: the candidate rows the check admits at t1,
  each through ``designs.admits`` (one predicate per design, no logic here).

``membership`` and ``two_phase`` are what the caller sees of those answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from model.designs import PINS_BASE, Capture, Design, RowFacts, ShardCut, admits
from model.state import (
    IN_MEMORY,
    TOMBSTONE,
    Generation,
    ModelError,
    Pk,
    Row,
    RowId,
    Shard,
    State,
    Status,
    rows,
)


@dataclass(frozen=True)
class Observation:
    """A read arm: the snapshot it read (``at``) and the rows it read (``seen``, as of t0)."""

    at: State
    seen: frozenset[Row]

    @property
    def ids(self) -> frozenset[RowId]:
        return frozenset(r.id for r in self.seen)

    @property
    def identities(self) -> frozenset[tuple[str, int, int, Pk, object]]:
        return frozenset(r.identity for r in self.seen)

    @property
    def pks(self) -> frozenset[Pk]:
        """PKs the arm delivered a version of (a row or a tombstone)."""
        return frozenset(r.pk for r in self.seen)


@dataclass(frozen=True)
class Cut:
    """Per shard the arm saw, its ``ShardCut``; a shard not listed is absent from the cut."""

    shards: tuple[tuple[str, ShardCut], ...] = ()

    def get(self, shard: str) -> ShardCut | None:
        return self._by_id.get(shard)

    @cached_property  # a Cut never changes: its index is built once
    def _by_id(self) -> dict[str, ShardCut]:
        return dict(self.shards)


def read_by_arm(row: Row) -> bool:
    """The arm reads memtables up to their visible count and every non-compacted SSTable."""
    if row.status in IN_MEMORY:
        return row.visible
    return row.status is Status.SSTABLE


def observe(state: State) -> Observation:
    """Run a read arm against ``state`` (one consistent snapshot)."""
    return Observation(state, frozenset(r for r in rows(state) if read_by_arm(r)))


def _active_count(shard: str, g: Generation, variant: Capture, later: State) -> int:
    """The active generation's N, per capture variant (the only count a variant changes).

    SEMANTICS.md "Reading": the variant is how ``AsOfCut``'s N is taken; every
    other count (``exact_cut``'s observed, ``wal_position_map``'s bound) is
    what the scan read, whatever the variant, as impl/ and proofs/ record it.
    """
    if variant is Capture.LEN:
        return g.committed  # batch_store.len(): committed, maybe not visible (H2)
    if variant is Capture.INCLUSIVE_POSITION:
        return max(g.visible, 1)  # max visible position + 1, position 0 by default (H8)
    if variant is Capture.AFTER_SCAN:
        s = later.shard(shard)
        now = s.generation(g.number) if s is not None else None
        if now is not None:
            return now.visible if now.in_memory else now.committed  # read again: H1
    return g.visible


def _read(g: Generation) -> int:
    """Batches of ``g`` the arm read: the visible prefix in memory, an SSTable whole."""
    return g.visible if g.in_memory else g.committed


def wal_ranges(positions: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Maximal runs ``[lo, hi)`` of a set of WAL positions (``pinned_cut``'s cut)."""
    out: list[tuple[int, int]] = []
    for w in sorted(set(positions)):
        if out and out[-1][1] == w:
            out[-1] = (out[-1][0], w + 1)
        else:
            out.append((w, w + 1))
    return tuple(out)


def split_view(sstables_at: State, memtables_at: State) -> State:
    """The snapshot of an arm that lists SSTables at one instant, memtables at a later one (H5a).

    A generation flushed (and released) in between is in neither list.
    """
    out = []
    for sid, s in memtables_at.shards:
        old = sstables_at.shard(sid)
        listed = [g for g in old.generations if not g.in_memory] if old is not None else []
        out.append((sid, s.with_generations([*listed, *(g for g in s.generations
                                                          if g.in_memory)])))
    return replace(memtables_at, shards=tuple(out))


def capture(
    design: Design,
    arm: Observation,
    variant: Capture = Capture.VISIBLE_COUNT,
    later: State | None = None,
    *,
    recount: bool = False,
) -> Cut:
    """The cut ``design`` carries from ``arm`` to the check.

    Every field of ``ShardCut`` is filled for every shard the arm saw; each
    design's predicate reads only its own fields.  ``live_tier`` carries none.
    ``variant`` changes only ``active_batch_count`` (AsOfCut's N).  ``recount``:
    every in-memory count is read again at ``later`` (an arm whose cut reads
    visibility at another instant than its scan, H15).
    """
    if design is Design.LIVE_TIER:
        return Cut()
    out = []
    for sid, s in arm.at.shards:
        again = later.shard(sid) if later is not None else None
        # after a replay the numbers mean other rows: nothing to read again
        then = arm.at
        if later is not None and again is not None and again.epoch == s.epoch:
            then = later
        read = [g for g in s.generations if g.status is not Status.COMPACTED]
        if recount and again is not None and then is later:
            read = [_again(g, again) for g in read]
        counts = {g.number: _read(g) for g in read}
        wal = [w + 1 for g in read if g.in_memory for w in g.wal[: counts[g.number]]]
        observed = tuple(sorted(counts.items()))
        ranges = wal_ranges(w for g in read for w in g.wal[: counts[g.number]])
        a = next(g for g in read if g.number == s.active.number)
        n = _active_count(sid, a, variant, then)
        out.append((sid, ShardCut(a.number, n, s.epoch, observed, max(wal, default=0),
                                  ranges, s.compacted_through)))
    return Cut(tuple(out))


def _again(g: Generation, shard: Shard) -> Generation:
    """``g`` as read again in ``shard``, if it is still in memory there."""
    now = shard.generation(g.number)
    return replace(g, batches=now.batches, wal=now.wal, visible=now.visible) if (
        g.in_memory and now is not None and now.in_memory) else g


def facts(state: State, row: Row) -> RowFacts:
    """What the check knows about a candidate row (the epoch is its shard's, now)."""
    shard = state.shard(row.id.shard)
    assert shard is not None
    return RowFacts(
        in_memory=row.status in IN_MEMORY,
        generation=row.id.generation,
        append_index=row.id.append_index,
        visible=row.visible,
        epoch=shard.epoch,
        wal_position=row.wal,
        compacted=row.status is Status.COMPACTED,
    )


def candidates(state: State, design: Design | None = None) -> list[Row]:
    """Rows the check probes: every committed in-memory row and every SSTable (sidecar) row.

    A design that pins the base version (``PINS_BASE``) also probes the
    SSTables of generations compacted since: they are kept until its read ends,
    and its predicate decides which of them were in the fresh tier at the pin.
    """
    if design in PINS_BASE:
        return list(rows(state))
    return [r for r in rows(state) if r.status is not Status.COMPACTED]


def admitted(design: Design, cut: Cut, state: State) -> list[Row]:
    """Candidate rows ``design`` admits under ``cut`` at ``state``."""
    return [r for r in candidates(state, design) if admits_row(design, cut, state, r)]


def admits_row(design: Design, cut: Cut, state: State, r: Row) -> bool:
    """Does ``design``'s check admit candidate ``r`` under ``cut`` at ``state``?"""
    if (design is Design.FRESH_TIER_WATERMARK and not state.config.memtable_pk_index
            and r.status in IN_MEMORY):
        return False  # H11: no PK index, the memtable blocks nothing
    return admits(design, facts(state, r), cut.get(r.id.shard))


def pk_hash(pk: Pk, bits: int) -> int:
    """V-AsOf's PK hash, cut to ``bits`` bits: blake2b-64 of the key's bytes (H10).

    An int is its 8 bytes little-endian signed; a string its UTF-8 bytes.
    """
    raw = pk.encode() if isinstance(pk, str) else int(pk).to_bytes(8, "little", signed=True)  # type: ignore[call-overload]
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") >> (64 - bits)


def membership(design: Design, cut: Cut, state: State, pks: Iterable[Pk], *,
               same_width: bool = True) -> frozenset[Pk]:
    """The model's ``contains_pks_as_of(pks, cut)``: PKs with an admitted row (tombstones count).

    ``as_of_cut`` under ``pk_hash_bits`` answers by hash (H10); probes of another
    integer width match nothing when the check does not coerce them (H12).
    """
    if not same_width:
        if state.config.probe_key_types != "lance":
            raise ModelError("probe keys of another type than the primary key")
        return frozenset()
    wanted = set(pks)
    # the PKs of the admitted rows (``admitted``), asking once per PK: a PK already
    # found needs none of its other rows
    found: set[Pk] = set()
    for r in candidates(state, design):
        if r.pk not in found and admits_row(design, cut, state, r):
            found.add(r.pk)
    bits = state.config.pk_hash_bits
    if design is Design.AS_OF_CUT and bits is not None:
        hashes = {pk_hash(pk, bits) for pk in found}
        return frozenset(pk for pk in wanted if pk_hash(pk, bits) in hashes)
    return frozenset(found & wanted)


def newest(read: Iterable[Row]) -> dict[Pk, object]:
    """Newest row per PK (higher generation, append index, row win); tombstones hide the key."""
    best: dict[Pk, Row] = {}
    for r in sorted(read, key=lambda r: (r.id.generation, r.id.append_index, r.id.row)):
        best[r.pk] = r
    return {pk: r.op for pk, r in best.items() if r.op is not TOMBSTONE}


def scan(state: State, with_base: bool = False) -> dict[Pk, object]:
    """The arm's result: newest fresh row per PK, beating base when ``with_base``."""
    arm = observe(state)
    fresh = newest(arm.seen)
    if not with_base:
        return fresh
    return {**{k: v for k, v in state.base_rows().items() if k not in arm.pks}, **fresh}


@dataclass(frozen=True)
class TwoPhase:
    """The two-phase read's result, with its two failure modes counted apart."""

    fresh: dict[Pk, object]  # the arm's live rows
    base_kept: dict[Pk, object]  # base rows whose PK is not a member
    missing: frozenset[Pk]  # base row dropped, arm delivered no version: over-count
    duplicates: frozenset[Pk]  # arm delivered a version, base row kept: under-count


def check_base(design: Design, arm: Observation, check: State) -> dict[Pk, object]:
    """The base table the reader reads: the arm's version if the design pins it, else now's."""
    return (arm.at if design in PINS_BASE else check).base_rows()


def two_phase(
    design: Design,
    arm: Observation,
    cut: Cut,
    check: State,
    base: Mapping[Any, object] | None = None,
    *,
    same_width: bool = True,
) -> TwoPhase:
    """Arm → cut; base read (``check_base`` unless given); check of the base PKs; merge."""
    base = check_base(design, arm, check) if base is None else dict(base)
    members = membership(design, cut, check, base, same_width=same_width)
    kept = {pk: v for pk, v in base.items() if pk not in members}
    return TwoPhase(
        fresh=newest(arm.seen),
        base_kept=kept,
        missing=frozenset(pk for pk in base if pk in members and pk not in arm.pks),
        duplicates=frozenset(pk for pk in kept if pk in arm.pks),
    )
