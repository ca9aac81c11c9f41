"""TwoPhaseReader: the read flow that suffered PR #7215's transient missing row.

1. read arm over the fresh tier only → rows + cut;
2. (``between``: the window in which concurrent writes, flushes, compactions
   land — a sequential test uses it to place events deterministically);
3. base read (``pinned_cut``: the base version the arm's snapshot was taken
   at, so a compaction in the window neither drops nor duplicates a row);
4. supersession check of the base PKs as of the cut (the live tier for
   ``live_tier``);
5. result = the arm's live rows + the base rows whose PK is not a member.

A **missing row** is a base row dropped whose PK the arm delivered no version
of (over-count); a **duplicate** is a PK the arm delivered whose base row
survived (under-count).  The reader does not judge; it returns the pieces so
the harness can.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from impl.collector import Sources
from impl.cut import Cut
from impl.scanner import LsmScanner, ScanResult
from impl.tier import Tier


@dataclass(frozen=True)
class TwoPhaseResult:
    """The merged rows and every intermediate the harness needs to judge them."""

    table: pa.Table  # arm rows + surviving base rows, sorted by PK (duplicates possible)
    cut: Cut
    arm: ScanResult
    base: pa.Table
    superseded: pa.BooleanArray  # per base row: was its PK a member as of the cut?
    check: Sources  # the snapshot the check judged membership on


class TwoPhaseReader:
    """Runs the two-phase read under one design and capture variant."""

    def __init__(self, tier: Tier, design: str, capture: str) -> None:
        self._tier = tier
        self._scanner = LsmScanner(tier, design, capture)

    def read(self, between: Callable[[], None] | None = None) -> TwoPhaseResult:
        arm = self._scanner.scan(with_base=False)
        if between is not None:
            between()
        self._tier.check_open()
        if self._scanner.design == "pinned_cut":
            base = self._tier.base_at(arm.base_version).table  # the version the arm saw
        else:
            base = self._tier.base.table
        pks = base.column(self._tier.schema.pk).combine_chunks()
        # live_tier's cut is empty: its check is the live-tier membership
        superseded, check = self._scanner.check(pks, arm.cut)
        kept = base.filter(pc.invert(superseded))
        table = pa.concat_tables([arm.table, kept.cast(arm.table.schema)])
        table = table.sort_by(self._tier.schema.pk)
        return TwoPhaseResult(table, arm.cut, arm, base, superseded, check)
