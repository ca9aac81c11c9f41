"""ShardWriter: the handle through which one shard is written and maintained.

A handle is cheap and holds no state of its own; the shard materialises on
its first successful put/delete (SEMANTICS.md: active generation 1, epoch 1).
Every method validates its input before touching state or disk, and the WAL
entry is written before the batch is appended, so a failed write (bad input
or an injected disk failure) changes nothing.

Lifecycle per SEMANTICS.md: freeze of an empty active memtable is a no-op;
flush takes the **oldest** frozen memtable, publishes its tail, writes SSTable
g (+ PK sidecar) and commits the manifest (``current_generation = g + 1``);
with ``release="at_flush"`` the in-memory copy is dropped at commit, with
``"explicit"`` it is retained (and read from memory) until ``release``.

Hazard knobs (docs/SEMANTICS.md "Hazard knobs"):

* ``durability="after_visible"`` (H9): the batch is appended (and visible per
  ``visibility``) with a WAL position handed out but its entry left pending;
  ``sync`` writes pending entries in order, ``flush`` syncs first and a clean
  ``close`` syncs too.  A crash loses them, and replay hands their positions out
  again.  ``sync`` writes nothing in the default mode (nothing is pending).
* ``fail_next_flush`` (H14, test-only like ``mark_wal_flushed``): the next flush
  attempt raises ``FlushFailedError`` before it writes or changes anything, and
  the generation is recorded as failed.  ``flush_failure="retry"``: the next
  flush takes the same (oldest) generation again.  ``"skip"``: later flushes
  take the oldest frozen generation that has not failed, so the manifest moves
  past the failed one, which stays frozen in memory (served in process, never
  flushed, and not replayed after a reopen: its rows are lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from impl.errors import BatchTooLargeError, FlushFailedError, InvalidOptionError
from impl.manifest import load_manifest, store_manifest
from impl.memtable import MemTable
from impl.schema import check_shard_id
from impl.sstable import write_sstable
from impl.tier import PendingEntry, ShardState, Tier


@dataclass(frozen=True)
class BatchAck:
    """Where an acknowledged batch landed (durable unless ``durability="after_visible"``:
    then only once ``sync`` returns)."""

    shard: str
    generation: int
    append_index: int
    num_rows: int
    wal_position: int


@dataclass(frozen=True)
class ShardStats:
    """A consistent picture of one shard (taken under its lock)."""

    shard: str
    writer_epoch: int
    active_generation: int
    active_committed: int
    active_visible: int
    frozen: tuple[tuple[int, int, int], ...]  # (generation, committed, visible), ascending
    retained: tuple[int, ...]
    sstables: tuple[int, ...]  # listed and not compacted
    compacted_through: int
    current_generation: int
    replay_after_wal_position: int
    last_wal_position: int  # the last position handed out, pending ones included
    #: WAL entries handed a position but not written yet (H9; 0 in the default mode)
    pending: int = 0
    #: generations whose last flush attempt failed, still frozen in memory (H14)
    failed_generations: tuple[int, ...] = ()


def _generation_arg(generation: object) -> int | None:
    if generation is None:
        return None
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        raise InvalidOptionError(f"generation must be None or an int >= 1, got {generation!r}")
    return generation


class ShardWriter:
    """Handle on one shard of a MemWal."""

    def __init__(self, tier: Tier, shard: str) -> None:
        self._tier = tier
        self.shard = check_shard_id(shard)

    def __repr__(self) -> str:
        return f"ShardWriter({self.shard!r})"

    # ------------------------------------------------------------------ writes

    def put(self, batch: pa.RecordBatch | pa.Table) -> BatchAck:
        """Append one batch (one call = one batch); durable when this returns
        (under ``durability="after_visible"``: when ``sync`` returns)."""
        self._tier.check_open()
        stored = self._tier.schema.to_stored_batch(batch)
        return self._append(self._check_size(stored, "put"))

    def delete(self, pks: pa.Array | list[object]) -> BatchAck:
        """Append one tombstone batch for ``pks``."""
        self._tier.check_open()
        stored = self._tier.schema.tombstone_batch(pks)
        return self._append(self._check_size(stored, "delete"))

    def _check_size(self, stored: pa.RecordBatch, what: str) -> pa.RecordBatch:
        limit = self._tier.options.max_batch_rows
        if limit is not None and stored.num_rows > limit:
            raise BatchTooLargeError(
                f"{what} of {stored.num_rows} rows exceeds max_batch_rows={limit}"
            )
        return stored

    def _append(self, stored: pa.RecordBatch) -> BatchAck:
        tier = self._tier
        state = tier.shards.get(self.shard)
        if state is None:
            with tier.lock:
                tier.check_open()
                state = tier.shards.get(self.shard)
                if state is None:
                    fresh = tier.new_shard(self.shard)
                    with fresh.lock:
                        ack = self._append_locked(fresh, stored)
                        tier.shards[self.shard] = fresh
                    return ack
        with state.lock:
            tier.check_open()
            return self._append_locked(state, stored)

    def _append_locked(self, state: ShardState, stored: pa.RecordBatch) -> BatchAck:
        if self._tier.options.durability == "after_visible":  # H9: WAL write deferred
            if self.shard not in self._tier.shards and load_manifest(state.shard_dir) is None:
                # the writer claims its shard (and epoch) durably before it serves a row, as
                # a Lance writer does when it opens: a crash then leaves the shard, empty,
                # at the next epoch, and never hands an old cut's epoch to a new writer
                store_manifest(self._tier.disk, state.shard_dir, state.manifest)
            position = state.wal.reserve()
            state.pending.append(PendingEntry(position, stored, state.writer_epoch))
        else:
            position = state.wal.append(stored, state.writer_epoch)  # durable first
        active = state.active
        visible = self._tier.options.visibility == "immediate"
        index = active.store.append(stored, position, visible=visible)
        ack = BatchAck(self.shard, active.generation, index, stored.num_rows, position)
        limit = self._tier.options.max_memtable_batches
        if limit is not None and active.committed >= limit:
            self._freeze_locked(state)
        return ack

    def publish(self, generation: int | None = None) -> None:
        """Make every committed batch visible in every in-memory generation (or just one).

        Frozen tails included (H3).  A generation no longer in memory is a no-op.
        """
        g = _generation_arg(generation)
        state = self._tier.get(self.shard)
        with state.lock:
            for m in state.in_memory():
                if g is None or m.generation == g:
                    m.store.publish()

    # --------------------------------------------------------------- lifecycle

    def freeze(self) -> int:
        """Seal the active memtable if non-empty; return the active generation after."""
        state = self._tier.get(self.shard)
        with state.lock:
            self._tier.check_open()
            return self._freeze_locked(state)

    @staticmethod
    def _freeze_locked(state: ShardState) -> int:
        if state.active.committed == 0:
            return state.active.generation
        state.frozen.append(state.active)
        state.active = MemTable(state.active.generation + 1, state.active.pk)
        return state.active.generation

    def sync(self) -> int:
        """Write every pending WAL entry, in position order; return how many (H9).

        Under ``durability="after_visible"`` this is what acknowledges a put; in
        the default mode nothing is ever pending and it writes nothing.
        """
        tier = self._tier
        state = tier.get(self.shard)
        with state.lock:
            tier.check_open()
            return state.write_pending()

    def fail_next_flush(self) -> None:
        """Test-only fault hook (H14): the next flush attempt of this shard that has a
        generation to flush raises ``FlushFailedError`` and commits nothing."""
        state = self._tier.get(self.shard)
        with state.lock:
            self._tier.check_open()
            state.fail_next_flush = True

    def _flush_candidate(self, state: ShardState) -> MemTable | None:
        """The generation a flush takes: the oldest frozen one, or under
        ``flush_failure="skip"`` the oldest frozen one that has not failed (H14)."""
        skip = self._tier.options.flush_failure == "skip"
        for mem in state.frozen:
            if not (skip and mem.generation in state.failed):
                return mem
        return None

    def flush(self) -> int | None:
        """Flush the oldest frozen memtable to SSTable; return its generation (None if none)."""
        tier = self._tier
        state = tier.get(self.shard)
        with state.flush_lock:
            with state.lock:
                tier.check_open()
                mem = self._flush_candidate(state)
                if mem is None:
                    return None
                if state.fail_next_flush:  # H14: fail before anything is written
                    state.fail_next_flush = False
                    if mem.generation not in state.failed:
                        state.failed.append(mem.generation)
                    raise FlushFailedError(
                        f"flush of shard {self.shard!r} generation {mem.generation} failed "
                        f"(injected); nothing committed, flush_failure="
                        f"{tier.options.flush_failure!r}"
                    )
                state.write_pending()  # an SSTable makes rows durable: their WAL first
                mem.store.publish()  # the tail is published first
                count = mem.committed
            sst = write_sstable(tier.disk, state.shard_dir / "sstables", mem, count)
            with tier.lock, state.lock:
                tier.check_open()
                manifest = state.manifest.with_flushed(
                    mem.generation, count, mem.max_wal_position()
                )
                store_manifest(tier.disk, state.shard_dir, manifest)
                state.manifest = manifest
                state.sstables[mem.generation] = sst
                state.frozen.remove(mem)
                if mem.generation in state.failed:  # a retry succeeded
                    state.failed.remove(mem.generation)
                if tier.options.release == "explicit":
                    state.retained.append(mem)
            return mem.generation

    def release(self, generation: int | None = None) -> list[int]:
        """Drop retained (flushed) in-memory copies; return the generations released."""
        g = _generation_arg(generation)
        tier = self._tier
        state = tier.get(self.shard)
        with tier.lock, state.lock:
            gone = [m for m in state.retained if g is None or m.generation == g]
            state.retained = [m for m in state.retained if m not in gone]
            return sorted(m.generation for m in gone)

    # ------------------------------------------------------------------- views

    def stats(self) -> ShardStats:
        """Counts, generations and manifest fields of the shard."""
        tier = self._tier
        state = tier.get(self.shard)
        with tier.lock, state.lock:
            through = tier.base.through(self.shard)
            return ShardStats(
                shard=self.shard,
                writer_epoch=state.writer_epoch,
                active_generation=state.active.generation,
                active_committed=state.active.committed,
                active_visible=state.active.visible_count,
                frozen=tuple((m.generation, m.committed, m.visible_count) for m in state.frozen),
                retained=tuple(sorted(m.generation for m in state.retained)),
                sstables=tuple(sorted(g for g in state.sstables if g > through)),
                compacted_through=through,
                current_generation=state.manifest.current_generation,
                replay_after_wal_position=state.manifest.replay_after_wal_position,
                last_wal_position=state.wal.last_position,
                pending=len(state.pending),
                failed_generations=tuple(sorted(state.failed)),
            )

    def mark_wal_flushed(self) -> None:
        """Test-only (as in Lance): fill ``wal_batch_mapping`` for every committed batch.

        Production never calls it, which is why ``wal_position_map`` degenerates
        to the live tier there.
        """
        state = self._tier.get(self.shard)
        with state.lock:
            for m in state.in_memory():
                m.mapped_count = m.committed

    def memtables(self) -> list[MemTable]:
        """The in-memory generations (ascending), for white-box tests."""
        state = self._tier.get(self.shard)
        with state.lock:
            return state.in_memory()
