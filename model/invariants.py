"""The guarantee's three layers (docs/DESIGN.md "The guarantee") over any two states.

* ``soundness``: every row the check admits was observed by the arm.  A row
  is "the same" when it is the same *write* (``Row.identity``: shard, WAL
  position, row in batch): flush and compaction keep its id too, replay keeps
  the write but may hand it a new id (H7) — the arm still delivered its PK.
* ``tightness``: every observed row that is still there is admitted, or its
  shortfall carries a named reason (an under-count: a duplicate, not a loss).
* ``HOLDS``: a check per assumption of ``model.hazards.ASSUMPTIONS`` (where
  each is stated, with what it protects and who must make it true) over (arm,
  cut, check state, names of the events in between).  Which assumptions each
  design's soundness rests on is the proofs' result, not written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from model.designs import Capture, Design
from model.read import Cut, Observation, admits_row, admitted, candidates, capture
from model.state import Pk, Row, RowId, State, Status, rows


class Violation(NamedTuple):
    """An admitted row the arm never observed: its PK can lose its base row."""

    row: RowId
    pk: Pk


class Shortfall(NamedTuple):
    """An observed, still-present row the check does not admit, and why."""

    row: RowId
    reason: str


#: Named exclusions (tightness layer); anything else is "unexplained", a bug.
RELEASED = "released"  # H4: SSTable g >= A, in-memory copy gone
COMPACTED = "compacted"  # H5b: merged into base, not a candidate any more
EPOCH_CHANGED = "epoch changed"  # H7 under exact_cut: the cut is void
NO_PK_INDEX = "no PK index"  # H11: V-FTW's memtables without an index block nothing
UNEXPLAINED = "unexplained"


def soundness(design: Design, arm: Observation, cut: Cut, check: State) -> list[Violation]:
    """Admitted rows (at ``check``) not in the arm's observation O."""
    seen = arm.identities
    return [Violation(r.id, r.pk) for r in admitted(design, cut, check) if r.identity not in seen]


def tightness(design: Design, arm: Observation, cut: Cut, check: State) -> list[Shortfall]:
    """Observed rows still present at ``check`` (compacted included) but not admitted."""
    now = {r.identity: r for r in rows(check)}
    # only an observed write can be a shortfall: the check's verdict on the others is moot
    seen = arm.identities
    taken = {r.identity for r in candidates(check, design)
             if r.identity in seen and admits_row(design, cut, check, r)}
    out = []
    for o in sorted(arm.seen, key=lambda r: r.id):
        r = now.get(o.identity)
        if r is not None and r.identity not in taken:
            out.append(Shortfall(r.id, _reason(design, cut, check, r)))
    return out


def _reason(design: Design, cut: Cut, check: State, r: Row) -> str:
    """Name the exclusion that keeps an observed row out."""
    shard_cut, shard = cut.get(r.id.shard), check.shard(r.id.shard)
    if r.status is Status.COMPACTED:
        return COMPACTED
    if (design is Design.FRESH_TIER_WATERMARK and not check.config.memtable_pk_index
            and r.status is not Status.SSTABLE):
        return NO_PK_INDEX
    if design is Design.EXACT_CUT and shard_cut and shard and shard_cut.epoch != shard.epoch:
        return EPOCH_CHANGED
    if shard_cut and r.status is Status.SSTABLE and r.id.generation >= shard_cut.active_generation:
        return RELEASED
    return UNEXPLAINED


def verdict(design: Design, arm: Observation, cut: Cut, check: State) -> str:
    """One line for a matrix cell: ``violation: pks``, ``under-count: reasons`` or ``clean``."""
    bad = soundness(design, arm, cut, check)
    if bad:
        return "violation: " + ", ".join(sorted({str(v.pk) for v in bad}))
    short = tightness(design, arm, cut, check)
    if short:
        return "under-count: " + ", ".join(sorted({s.reason for s in short}))
    return "clean"


# --------------------------------------------------------------------------
# Assumption checks (stated in model.hazards.ASSUMPTIONS).
# --------------------------------------------------------------------------

Check = Callable[[Observation, Cut, State, Sequence[str]], bool]


def a1_count_is_what_was_read(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """Every count in the cut is the visible count the arm scanned (not len, not re-read)."""
    read = capture(Design.EXACT_CUT, arm, Capture.VISIBLE_COUNT)
    return all(sc == read.get(sid) for sid, sc in cut.shards)


def a2_lower_fully_visible(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """Every generation below the active one was fully visible when the arm ran."""
    return all(
        g.visible == g.committed
        for _, s in arm.at.shards
        for g in s.generations
        if g.in_memory and g.number < s.active.number
    )


def a3_shards(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """The check sees no shard outside the cut."""
    return all(cut.get(sid) is not None for sid, _ in check.shards)


def a3_sstables(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """The check sees no generation below A (of a shard in the cut) the arm did not read."""
    for sid, s in check.shards:
        sc = cut.get(sid)
        read = {n for n, _ in sc.observed} if sc is not None else set()
        below = {g.number for g in s.generations if g.status is not Status.COMPACTED}
        if sc is not None and any(n < sc.active_generation and n not in read for n in below):
            return False
    return True


def a4_no_epoch_change(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """No crash, failover or reopen (hence no replay renumbering) between arm and check."""
    now = dict(check.shards)
    return "crash" not in ev and all(
        sid in now and now[sid].epoch == s.epoch for sid, s in arm.at.shards
    )


def a5_active_still_in_memory(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """The arm's active generation is still served from memory (not flushed, or retained: a
    grace above the arm-to-check latency and no release in between)."""
    for sid, sc in cut.shards:
        s = check.shard(sid)
        g = s.generation(sc.active_generation) if s is not None else None
        if g is None or not g.in_memory:
            return False
    return True


#: assumption (``model.hazards.ASSUMPTIONS``, where each is stated) → its check here
HOLDS: dict[str, Check] = {
    "A1": a1_count_is_what_was_read,
    "A2": a2_lower_fully_visible,
    "A3-shards": a3_shards,
    "A3-sstables": a3_sstables,
    "A4": a4_no_epoch_change,
    "A5": a5_active_still_in_memory,
}


def assumptions(
    arm: Observation, cut: Cut, check: State, ev: Sequence[str] = ()
) -> dict[str, bool]:
    """Which of A1–A5 hold for this arm, cut and check state."""
    return {name: holds(arm, cut, check, ev) for name, holds in HOLDS.items()}
