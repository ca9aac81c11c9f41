"""The one seam between the state machine and a fresh tier: ``Backend``.

Why a protocol: the machine (``stateful_tests.machine``) must never hold a
second copy of itself per system under test.  It speaks only in plain Python
values — shard ids, ``(pk, value)`` rows, cut *keys* (hashable tuples, one
shape per design), row-id tuples ``(shard, generation, append index, row)`` —
so any fresh tier that can answer these questions plugs in.  ``ImplBackend``
adapts ``impl/`` (pyarrow, on disk, in a private temp dir); ``lance_harness``
adapts real Lance the same way.  A backend declares which of the machine's
moves (:data:`RULE_MOVES`) it can make in ``capabilities``; each rule of the
machine has a precondition on it, so a move a backend lacks never runs.

The normalised forms are chosen so the model's answers convert to the same
shapes (``model_cut_key``, ``model_stats``), which is what lets the machine
compare impl with model field by field.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from model import read as mread
from model.designs import Design
from model.state import Shard, Status
from stateful_tests.hazards import splits_arm

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
PK = "id"

RULE_MOVES: frozenset[str] = frozenset(
    {"put", "delete", "publish", "freeze", "flush", "release", "compact", "crash_reopen",
     "arm", "check", "two_phase", "sync", "fail_flush"}
)  # fmt: skip
"""The machine's moves a backend may offer (``Backend.capabilities``): one per rule."""

RowIdT = tuple[str, int, int, int]
CutKey = tuple[tuple[str, Hashable], ...]


@dataclass(frozen=True)
class ShardView:
    """What both sides can say about one shard, in one comparable shape."""

    epoch: int
    active_generation: int
    active_committed: int
    active_visible: int
    frozen: tuple[tuple[int, int, int], ...]  # (generation, committed, visible)
    retained: tuple[int, ...]
    sstables: tuple[int, ...]  # listed, not compacted (retained included)
    compacted_through: int


@dataclass(frozen=True)
class ArmView:
    """A read arm's answer: rows, cut (raw and as a key), observation, observed PKs."""

    rows: dict[int, str]
    cut: object  # the backend's own cut, handed back to ``check``
    cut_key: CutKey
    observed: frozenset[RowIdT]
    observed_pks: frozenset[int]


@dataclass(frozen=True)
class TwoPhaseView:
    """A two-phase read: the merged rows (duplicates possible), its arm, the dropped base PKs."""

    rows: tuple[tuple[int, str], ...]
    arm: ArmView
    superseded: frozenset[int]  # base PKs the check claimed (their base rows dropped)
    base: dict[int, str]


class Backend(Protocol):
    """A fresh tier under test, in the machine's vocabulary (see module docstring)."""

    capabilities: frozenset[str]  # the subset of RULE_MOVES this backend makes
    def put(self, shard: str, rows: Sequence[tuple[int, str]]) -> None: ...
    def delete(self, shard: str, pks: Sequence[int]) -> None: ...
    def publish(self, shard: str) -> None: ...
    def freeze(self, shard: str) -> None: ...
    def flush(self, shard: str) -> None: ...
    def fail_flush(self, shard: str) -> None: ...  # an injected flush failure (H14)
    def sync(self, shard: str) -> None: ...  # pending WAL writes land (H9)
    def release(self, shard: str) -> None: ...
    def compact(self) -> None: ...
    def crash_reopen(self) -> None: ...
    def shards(self) -> list[str]: ...
    def stats(self, shard: str) -> ShardView: ...
    def scan(self) -> dict[int, str]: ...
    def arm(
        self, design: str, capture: str, between: Callable[[], None] | None = None
    ) -> ArmView: ...
    def check(self, pks: Iterable[int], arm: ArmView, *, wide: bool = False) -> frozenset[int]: ...
    def two_phase(
        self, design: str, capture: str, between: Callable[[], None] | None = None
    ) -> TwoPhaseView: ...
    def close(self) -> None: ...


# ---------------------------------------------------------------------------
# Normalisation shared by every backend and the model.
# ---------------------------------------------------------------------------


def impl_cut_key(cut: Any) -> CutKey:
    """impl's ``Cut`` as a key: per shard, the fields its design reads."""
    out: list[tuple[str, Hashable]] = []
    for sid, e in sorted(cut.shards.items()):
        if cut.design in ("as_of_cut", "fresh_tier_watermark"):
            out.append((sid, ("AsOfCut", e.active_generation, e.active_batch_count)))
        elif cut.design == "exact_cut":
            out.append((sid, ("ExactCut", e.writer_epoch, tuple(e.observed))))
        elif cut.design == "pinned_cut":  # the base version number is impl's own
            out.append((sid, ("PinnedCut", e.pinned_through, tuple(e.wal_ranges))))
        else:
            out.append((sid, ("WalPositionCut", e.wal_position)))
    return tuple(out)


def model_cut_key(design: Design, cut: mread.Cut) -> CutKey:
    """The model's ``Cut`` in ``impl_cut_key``'s shape (live_tier: empty)."""
    if design is Design.LIVE_TIER:
        return ()
    out: list[tuple[str, Hashable]] = []
    for sid, c in cut.shards:
        if design in (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK):
            out.append((sid, ("AsOfCut", c.active_generation, c.active_batch_count)))
        elif design is Design.EXACT_CUT:
            out.append((sid, ("ExactCut", c.epoch, tuple(sorted(c.observed)))))
        elif design is Design.PINNED_CUT:
            out.append((sid, ("PinnedCut", c.pinned_through, c.wal_ranges)))
        else:
            out.append((sid, ("WalPositionCut", c.wal_position)))
    return tuple(sorted(out))


def describe_cut(key: CutKey) -> str:
    """``s0: AsOfCut(1, 1); s1: ...`` for the story."""
    if not key:
        return "(no cut: live tier)"
    return "; ".join(f"{sid}: {v[0]}{tuple(v[1:])}" for sid, v in key)  # type: ignore[index]


def model_stats(s: Shard) -> ShardView:
    """The model's shard in ``ShardView``'s shape."""
    a = s.active
    return ShardView(
        epoch=s.epoch,
        active_generation=a.number,
        active_committed=a.committed,
        active_visible=a.visible,
        frozen=tuple(
            (g.number, g.committed, g.visible) for g in s.generations if g.status is Status.FROZEN
        ),
        retained=tuple(g.number for g in s.generations if g.status is Status.RETAINED),
        sstables=tuple(
            g.number for g in s.generations if g.status in (Status.SSTABLE, Status.RETAINED)
        ),
        compacted_through=s.compacted_through,
    )


# ---------------------------------------------------------------------------
# impl/
# ---------------------------------------------------------------------------


def scratch_dir() -> str | None:
    """Where per-example tables live: ``$ASOFCUT_SCRATCH``, else tmpfs, else the default.

    Each test case creates and removes a whole table root; on tmpfs that is
    ~15x cheaper than on a disk-backed /tmp, and the machine's steps/s show it.
    """
    env = os.environ.get("ASOFCUT_SCRATCH")
    if env:
        return env
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def _rows(table: pa.Table) -> dict[int, str]:
    return dict(zip(table.column(PK).to_pylist(), table.column("v").to_pylist(), strict=True))


class ImplBackend:
    """``impl.MemWal`` in a private temp dir; ``close`` removes it."""

    capabilities: frozenset[str] = RULE_MOVES

    def __init__(self, base: dict[int, str], **options: Any) -> None:
        """``options``: ``impl.MemWalOptions`` keywords (the column's, over the machine's)."""
        from impl import MemWal, MemWalOptions

        self._dir = Path(tempfile.mkdtemp(prefix="asofcut-sm-", dir=scratch_dir()))
        self._root = self._dir / "t"
        self._options = MemWalOptions(**options)
        self._split = splits_arm(options)  # where ``arm``'s ``between`` runs
        table = pa.table(
            {PK: list(base), "v": list(base.values())}, schema=SCHEMA
        )
        self._open = MemWal.open
        self.wal = MemWal.create(self._root, SCHEMA, PK, self._options, base=table)

    def put(self, shard: str, rows: Sequence[tuple[int, str]]) -> None:
        keys, values = [k for k, _ in rows], [v for _, v in rows]
        batch = pa.RecordBatch.from_arrays(
            [pa.array(keys, pa.int64()), pa.array(values, pa.string())], schema=SCHEMA
        )
        self.wal.shard(shard).put(batch)

    def delete(self, shard: str, pks: Sequence[int]) -> None:
        self.wal.shard(shard).delete(list(pks))

    def publish(self, shard: str) -> None:
        self.wal.shard(shard).publish()

    def freeze(self, shard: str) -> None:
        self.wal.shard(shard).freeze()

    def flush(self, shard: str) -> None:
        self.wal.shard(shard).flush()

    def fail_flush(self, shard: str) -> None:
        from impl import FlushFailedError

        writer = self.wal.shard(shard)
        writer.fail_next_flush()
        try:
            writer.flush()
        except FlushFailedError:
            return
        raise AssertionError("an injected flush failure did not fail the flush")

    def sync(self, shard: str) -> None:
        self.wal.shard(shard).sync()

    def release(self, shard: str) -> None:
        self.wal.shard(shard).release()

    def compact(self) -> None:
        self.wal.compact()

    def crash_reopen(self) -> None:
        self.wal.crash()
        self.wal = self._open(self._root, self._options)

    def shards(self) -> list[str]:
        return self.wal.shards()

    def stats(self, shard: str) -> ShardView:
        s = self.wal.shard(shard).stats()
        return ShardView(
            epoch=s.writer_epoch,
            active_generation=s.active_generation,
            active_committed=s.active_committed,
            active_visible=s.active_visible,
            frozen=tuple(s.frozen),
            retained=tuple(s.retained),
            sstables=tuple(s.sstables),
            compacted_through=s.compacted_through,
        )

    def scan(self) -> dict[int, str]:
        return _rows(self.wal.scanner("live_tier").scan(with_base=True, observe=False).table)

    def _arm_view(self, r: Any) -> ArmView:
        obs = r.observation
        ids = zip(
            obs.column("shard").to_pylist(),
            obs.column("generation").to_pylist(),
            obs.column("append_index").to_pylist(),
            obs.column("row").to_pylist(),
            strict=True,
        )
        return ArmView(
            rows=_rows(r.table),
            cut=r.cut,
            cut_key=impl_cut_key(r.cut),
            observed=frozenset(ids),
            observed_pks=frozenset(r.observed_pks.to_pylist()),
        )

    def arm(
        self, design: str, capture: str, between: Callable[[], None] | None = None
    ) -> ArmView:
        scanner = self.wal.scanner(design, capture)
        if self._split:
            return self._arm_view(scanner.scan(with_base=False, between_reads=between))
        return self._arm_view(scanner.scan(with_base=False, between_scan_and_capture=between))

    def check(self, pks: Iterable[int], arm: ArmView, *, wide: bool = False) -> frozenset[int]:
        keys = list(pks)
        scanner = self.wal.scanner()
        cut: Any = arm.cut
        # ``wide``: the probe keys arrive as Int32 against the Int64 key column (H12)
        probe: Any = pa.array(keys, pa.int32()) if wide else keys
        if cut.design == "live_tier":
            hit = scanner.contains_pks(probe)
        else:
            hit = scanner.contains_pks_as_of(probe, cut)
        return frozenset(k for k, h in zip(keys, hit.to_pylist(), strict=True) if h)

    def two_phase(
        self, design: str, capture: str, between: Callable[[], None] | None = None
    ) -> TwoPhaseView:
        r = self.wal.two_phase_read(design, capture, between)
        base = _rows(r.base)
        sup = r.superseded.to_pylist()
        rows = tuple(
            zip(r.table.column(PK).to_pylist(), r.table.column("v").to_pylist(), strict=True)
        )
        return TwoPhaseView(
            rows=rows,
            arm=self._arm_view(r.arm),
            superseded=frozenset(k for k, s in zip(base, sup, strict=True) if s),
            base=base,
        )

    def close(self) -> None:
        if not self.wal.closed:
            self.wal.crash()
        shutil.rmtree(self._dir, ignore_errors=True)
