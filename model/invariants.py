"""The guarantee's three layers (docs/DESIGN.md "The guarantee") over any two states.

* ``soundness``: every row the check admits was observed by the arm.  A row
  is "the same" when it is the same *write* (``Row.identity``: shard, WAL
  position, row in batch): flush and compaction keep its id too, replay keeps
  the write but may hand it a new id (H7) — the arm still delivered its PK.
* ``tightness``: every observed row that is still there is admitted, or its
  shortfall carries a named reason (an under-count: a duplicate, not a loss).
* ``ASSUMPTIONS``: A1–A5 (docs/LANCE.md "When the cut never over-counts") over
  (arm, cut, check state, names of the events in between).  A1–A4 are what
  ``as_of_cut`` needs for soundness; A5 is what it needs to avoid the H4
  under-count.  ``exact_cut`` needs only A1; ``pinned_cut`` needs none and
  has no exclusion (its reader pins the base version instead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from model.designs import Capture, Design
from model.read import Cut, Observation, admitted, capture
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
UNEXPLAINED = "unexplained"


def soundness(design: Design, arm: Observation, cut: Cut, check: State) -> list[Violation]:
    """Admitted rows (at ``check``) not in the arm's observation O."""
    seen = arm.identities
    return [Violation(r.id, r.pk) for r in admitted(design, cut, check) if r.identity not in seen]


def tightness(design: Design, arm: Observation, cut: Cut, check: State) -> list[Shortfall]:
    """Observed rows still present at ``check`` (compacted included) but not admitted."""
    now = {r.identity: r for r in rows(check)}
    taken = {r.identity for r in admitted(design, cut, check)}
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
# Assumptions A1–A5 (docs/LANCE.md "When the cut never over-counts").
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


def a3_same_sources(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """The check sees no shard outside the cut and no generation below A the arm did not read."""
    for sid, s in check.shards:
        sc = cut.get(sid)
        if sc is None:
            return False
        read = {n for n, _ in sc.observed}
        below = {g.number for g in s.generations if g.status is not Status.COMPACTED}
        if any(n < sc.active_generation and n not in read for n in below):
            return False
    return True


def a4_no_epoch_change(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """No crash, failover or reopen (hence no replay renumbering) between arm and check."""
    now = dict(check.shards)
    return "crash" not in ev and all(
        sid in now and now[sid].epoch == s.epoch for sid, s in arm.at.shards
    )


def a5_active_still_in_memory(arm: Observation, cut: Cut, check: State, ev: Sequence[str]) -> bool:
    """The arm's active generation is still served from memory (grace > 0 or not flushed)."""
    for sid, sc in cut.shards:
        s = check.shard(sid)
        g = s.generation(sc.active_generation) if s is not None else None
        if g is None or not g.in_memory:
            return False
    return True


@dataclass(frozen=True)
class Assumption:
    """One condition, what it protects, and the hazards that break it."""

    name: str
    statement: str
    protects: str  # "soundness" or "tightness"
    hazards: str
    holds: Check


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        "A1",
        "N (and every count in the cut) is the visible count the arm scanned, "
        "read no later than the scan's own capture.",
        "soundness",
        "H1 (after_scan), H2 (len), H8",
        a1_count_is_what_was_read,
    ),
    Assumption(
        "A2",
        "Every generation below the active one was fully visible when the arm ran.",
        "soundness",
        "H3, H13 (tombstone in a frozen tail)",
        a2_lower_fully_visible,
    ),
    Assumption(
        "A3",
        "The check sees the arm's shard set and no generation below A the arm did not read.",
        "soundness",
        "H6 (shard born after the arm), H5a",
        a3_same_sources,
    ),
    Assumption(
        "A4",
        "No writer epoch change or WAL replay happened between arm and check.",
        "soundness",
        "H7, H9",
        a4_no_epoch_change,
    ),
    Assumption(
        "A5",
        "The arm's active generation is still in memory at the check (or grace > 0).",
        "tightness",
        "H4",
        a5_active_still_in_memory,
    ),
)


def assumptions(
    arm: Observation, cut: Cut, check: State, ev: Sequence[str] = ()
) -> dict[str, bool]:
    """Which of A1–A5 hold for this arm, cut and check state."""
    return {a.name: a.holds(arm, cut, check, ev) for a in ASSUMPTIONS}
