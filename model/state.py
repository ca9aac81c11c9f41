"""The fresh tier as plain data, and every write-side event as a pure function.

Rules for this file (h11 style):

1. A generation's status changes only here, and only in the functions the
   event table (``model.events.EVENTS``) dispatches to.
2. It is *not* a second LSM tree: no indexes, no files, no dedup.  A shard is
   a tuple of generations; a generation is a tuple of batches; a batch is a
   tuple of ``(pk, op)``.  Row ids ``(shard, generation, append index, row)``
   fall out of the positions and are the currency everything else trades in.
3. Every function returns a new ``State``; nothing is mutated, so a test can
   keep the state of the read arm and the state of the check side by side.

The semantics are docs/SEMANTICS.md's, which impl/ follows independently.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, NamedTuple


class Tombstone(enum.Enum):
    """The op of a deleted key: a one-value enum, so it is hashable and picklable."""

    TOMBSTONE = "TOMBSTONE"

    def __repr__(self) -> str:
        return "TOMBSTONE"


TOMBSTONE = Tombstone.TOMBSTONE
Pk = Hashable
Batch = tuple[tuple[Pk, object], ...]  # (pk, value or TOMBSTONE), in row order
SHARD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ModelError(ValueError):
    """Bad input to a write (SEMANTICS: a typed error, no state changed)."""


class Status(enum.StrEnum):
    """Where a generation is in its lifecycle (SEMANTICS.md "Lifecycle of a generation")."""

    ACTIVE = "active"
    FROZEN = "frozen"
    RETAINED = "flushed, retained"  # SSTable written, still served from memory
    SSTABLE = "sstable only"  # in-memory copy released
    COMPACTED = "compacted"  # merged into base; gone from the fresh tier


IN_MEMORY = frozenset({Status.ACTIVE, Status.FROZEN, Status.RETAINED})


@dataclass(frozen=True)
class Generation:
    """One generation of one shard: its batches, their WAL positions, its visible prefix."""

    number: int
    status: Status
    batches: tuple[Batch, ...] = ()
    wal: tuple[int, ...] = ()  # WAL position of each batch (per shard, in write order)
    visible: int = 0  # visible_count: a prefix, <= committed

    @property
    def committed(self) -> int:
        return len(self.batches)

    @property
    def in_memory(self) -> bool:
        return self.status in IN_MEMORY


@dataclass(frozen=True)
class Shard:
    """One writer: its generations in ascending order, exactly one of them active."""

    epoch: int = 1
    generations: tuple[Generation, ...] = (Generation(1, Status.ACTIVE),)
    compacted_through: int = 0
    next_wal: int = 1  # WAL positions are 1-based per shard, as Lance's entries (SEMANTICS)
    durable_wal: int = 0  # WAL positions up to here are durable (H9: the rest a crash loses)
    failed: tuple[int, ...] = ()  # generations whose flush failed and were skipped (H14)

    @property
    def active(self) -> Generation:
        return next(g for g in self.generations if g.status is Status.ACTIVE)

    def generation(self, number: int) -> Generation | None:
        return next((g for g in self.generations if g.number == number), None)

    def with_generations(self, generations: Iterable[Generation]) -> Shard:
        return replace(self, generations=tuple(sorted(generations, key=lambda g: g.number)))


@dataclass(frozen=True)
class Config:
    """The Lance behaviours SEMANTICS lets a table choose between."""

    lagged: bool = False  # visibility="lagged": batches wait for publish
    release_at_flush: bool = True  # release="at_flush" (grace = 0) vs "explicit"
    max_memtable_batches: int | None = None  # auto-freeze threshold M
    durable_after_visible: bool = False  # H9: a put is durable only at the next sync
    flush_skip: bool = False  # H14: later flushes skip a generation whose flush failed
    pk_hash_bits: int | None = None  # H10: as_of_cut's membership by a w-bit PK hash
    memtable_pk_index: bool = True  # H11: False: V-FTW's memtables block nothing
    probe_key_types: str = "strict"  # H12: "lance": keys of another width match nothing


@dataclass(frozen=True)
class State:
    """The whole tier: shards by id (sorted), the base table, the configuration."""

    shards: tuple[tuple[str, Shard], ...] = ()
    base: frozenset[tuple[Pk, object]] = frozenset()
    config: Config = Config()

    def shard(self, shard_id: str) -> Shard | None:
        return self._by_id.get(shard_id)

    # A State never changes, so what is derived from it is computed once per State
    # (a cached_property of a frozen dataclass lives in its __dict__, outside eq/hash).
    @cached_property
    def _by_id(self) -> dict[str, Shard]:
        return dict(self.shards)

    @cached_property
    def all_rows(self) -> tuple[Row, ...]:
        """``rows(self)``, computed once."""
        return tuple(_rows(self))

    def base_rows(self) -> dict[Pk, object]:
        return dict(self.base)


def initial(base: Mapping[Any, object] | None = None, config: Config | None = None) -> State:
    """An empty fresh tier over ``base``."""
    return State(base=frozenset((base or {}).items()), config=config or Config())


class RowId(NamedTuple):
    """A fresh-tier row's id: stable across freeze, flush and release; renumbered by replay."""

    shard: str
    generation: int
    append_index: int
    row: int


class Row(NamedTuple):
    """One row with what is known of it now.  Its identity is the *write*:
    ``(shard, WAL position, row in batch, key, value)``.  Flush and compaction keep the id
    too; a replay keeps the write but may hand it a new id (H7), and it is
    still the row the arm read (its PK was delivered).  A position freed by a
    crash (H9) names another write once reused: the key and value tell them apart."""

    id: RowId
    wal: int
    pk: Pk
    op: object
    status: Status
    visible: bool

    @property
    def identity(self) -> tuple[str, int, int, Pk, object]:
        # the key and value too: a write lost before it was durable frees its WAL
        # position, and a later write there is another write (H9)
        return (self.id.shard, self.wal, self.id.row, self.pk, self.op)


def rows(state: State) -> tuple[Row, ...]:
    """Every row the state holds, compacted ones included, in row-id order."""
    return state.all_rows


def _rows(state: State) -> Iterator[Row]:
    for sid, shard in state.shards:
        for g in shard.generations:
            for i, (batch, wal) in enumerate(zip(g.batches, g.wal, strict=True)):
                for r, (pk, op) in enumerate(batch):
                    yield Row(RowId(sid, g.number, i, r), wal, pk, op, g.status, i < g.visible)


# --------------------------------------------------------------------------
# Events.  Each is a no-op when its precondition (events.EVENTS) does not hold.
# --------------------------------------------------------------------------


def _set(state: State, shard_id: str, shard: Shard) -> State:
    return replace(state, shards=tuple(sorted({**dict(state.shards), shard_id: shard}.items())))


def _map(state: State, shard_id: str, fn: Callable[[Generation], Generation]) -> State:
    """Apply ``fn`` to every generation of one shard."""
    shard = state.shard(shard_id)
    if shard is None:
        return state
    return _set(state, shard_id, shard.with_generations(fn(g) for g in shard.generations))


def put(state: State, shard: str, batch: Batch) -> State:
    """Append one batch to the active memtable (creating the shard on first write)."""
    if not SHARD_ID.match(shard):
        raise ModelError(f"bad shard id {shard!r}")
    if not batch or any(pk is None for pk, _ in batch):
        raise ModelError("empty batch or null primary key")
    s = state.shard(shard) or Shard()
    a = s.active
    a = replace(a, batches=(*a.batches, tuple(batch)), wal=(*a.wal, s.next_wal))
    if not state.config.lagged:
        a = replace(a, visible=a.committed)
    others = [g for g in s.generations if g.number != a.number]
    durable = s.durable_wal if state.config.durable_after_visible else s.next_wal
    new = _set(state, shard, replace(s.with_generations([*others, a]), next_wal=s.next_wal + 1,
                                     durable_wal=durable))
    limit = state.config.max_memtable_batches
    return freeze(new, shard) if limit is not None and a.committed >= limit else new


def delete(state: State, shard: str, pks: Iterable[Pk]) -> State:
    """Append one tombstone batch."""
    return put(state, shard, tuple((pk, TOMBSTONE) for pk in pks))


def publish(state: State, shard: str, generation: int | None = None) -> State:
    """Make every committed batch of the in-memory generations visible (frozen tails too: H3)."""

    def pub(g: Generation) -> Generation:
        hit = g.in_memory and generation in (None, g.number)
        return replace(g, visible=g.committed) if hit else g

    return _map(state, shard, pub)


def freeze(state: State, shard: str) -> State:
    """Seal a non-empty active memtable; the new active generation is g + 1."""
    s = state.shard(shard)
    if s is None or not s.active.batches:
        return state
    a = s.active
    rest = [g for g in s.generations if g is not a]
    frozen = replace(a, status=Status.FROZEN)
    fresh = Generation(a.number + 1, Status.ACTIVE)
    return _set(state, shard, s.with_generations([*rest, frozen, fresh]))


def sync(state: State, shard: str) -> State:
    """The shard's pending WAL writes land: every position so far is durable (H9)."""
    s = state.shard(shard)
    return state if s is None else _set(state, shard, replace(s, durable_wal=s.next_wal - 1))


def fail_flush(state: State, shard: str) -> State:
    """The oldest frozen generation's flush fails: it stays frozen, in memory (H14).

    Under ``flush_skip`` (Lance) later flushes pass it by; otherwise the next
    flush retries it, so a failure changes nothing.
    """
    s = state.shard(shard)
    frozen = [g.number for g in s.generations if _flushable(s, g)] if s else []
    if s is None or not frozen or not state.config.flush_skip:
        return state
    return _set(state, shard, replace(s, failed=(*s.failed, frozen[0])))


def _flushable(s: Shard, g: Generation) -> bool:
    return g.status is Status.FROZEN and g.number not in s.failed


def flush(state: State, shard: str) -> State:
    """Write the oldest flushable frozen generation as an SSTable (tail published first)."""
    s = state.shard(shard)
    frozen = [g for g in s.generations if _flushable(s, g)] if s else []
    if not frozen:
        return state
    state = sync(state, shard)  # an SSTable makes its rows durable: the WAL lands first
    oldest = frozen[0].number
    to = Status.SSTABLE if state.config.release_at_flush else Status.RETAINED

    def fl(g: Generation) -> Generation:
        return replace(g, status=to, visible=g.committed) if g.number == oldest else g

    return _map(state, shard, fl)


def release(state: State, shard: str, generation: int | None = None) -> State:
    """Drop the in-memory copy of retained flushed generations (Lance's grace expiring)."""

    def rel(g: Generation) -> Generation:
        hit = g.status is Status.RETAINED and generation in (None, g.number)
        return replace(g, status=Status.SSTABLE) if hit else g

    return _map(state, shard, rel)


def compact(state: State, shard: str | None = None) -> State:
    """Merge every SSTable of the shard (all shards if None) into base, ascending."""
    for sid, s in state.shards:
        done = [g for g in s.generations if g.status in (Status.SSTABLE, Status.RETAINED)]
        if shard not in (None, sid) or not done:
            continue
        base = state.base_rows()
        for g in done:
            for batch in g.batches:
                for pk, op in batch:
                    if op is TOMBSTONE:
                        base.pop(pk, None)
                    else:
                        base[pk] = op
        gens = [replace(g, status=Status.COMPACTED) if g in done else g for g in s.generations]
        merged = replace(s.with_generations(gens), compacted_through=done[-1].number)
        state = _set(replace(state, base=frozenset(base.items())), sid, merged)
    return state


def crash(state: State, shard: str | None = None) -> State:
    """Drop memory, reopen every shard: epoch + 1, unflushed WAL replayed into ONE memtable.

    ``shard`` is ignored (a crash takes the whole process); it exists so every
    event has the same call shape.
    """
    del shard
    for sid, s in state.shards:
        lost = [g for g in s.generations if g.status in (Status.ACTIVE, Status.FROZEN)]
        kept = [
            replace(g, status=Status.SSTABLE) if g.status is Status.RETAINED else g
            for g in s.generations
            if g not in lost
        ]
        current = 1 + max((g.number for g in kept), default=0)
        # replay starts past the newest flushed generation (H14: a skipped one is not
        # replayed) and stops at the last durable WAL write (H9: the rest never landed)
        replay = [(b, w) for g in lost if g.number > current - 1 for b, w in zip(
            g.batches, g.wal, strict=True) if w <= s.durable_wal]
        active = Generation(current, Status.ACTIVE, tuple(b for b, _ in replay),
                            tuple(w for _, w in replay), visible=len(replay))
        state = _set(state, sid, replace(s, epoch=s.epoch + 1, next_wal=s.durable_wal + 1,
                                         failed=()).with_generations([*kept, active]))
    return state
