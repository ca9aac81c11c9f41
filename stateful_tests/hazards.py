"""The hazard columns of the design × hazard matrix, as data (h11 style).

Each ``Hazard`` says three things and nothing else:

1. **which tier options** the column runs with (visibility, release, the
   arm's capture variant, the auto-freeze threshold);
2. **which dangerous moves it unlocks** (``unlocks``), on top of the baseline
   alphabet.  The baseline alphabet is the full one — put, delete, publish,
   freeze, flush, release, compact, new shard, crash + reopen, arms, checks,
   two-phase reads — but the moves that break an assumption (A1–A5)
   are *gated*: they only run while no cut is outstanding.  A column lifts
   exactly one gate, so a failure in it is attributable to one hazard;
3. **a hand-written scenario** on the model (``scenario``), the shortest
   trace that shows the hazard.  The expected verdict of a cell is derived
   from it (``expected``): the model's verdict for the column's scenario,
   joined with the baseline scenario's (a column is baseline + one hazard).
   Nothing here hard-codes which design fails where.

Gates (names used by the machine):

``new_shard``        a write that creates a shard while a cut is outstanding (H6)
``release``          release of a retained generation while a cut is outstanding (H4)
``compact``          compaction while a cut is outstanding (H5b)
``crash``            crash + reopen while a cut is outstanding (H7)
``freeze_invisible`` freezing a memtable with an unpublished tail, any time (H3, H13)
``between_capture``  writes between the arm's scan and its capture (H1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from model.designs import Capture, Design
from model.events import run
from model.invariants import verdict
from model.read import capture, observe
from model.state import Config, initial

Ev = tuple[str, dict[str, Any]]

GATES = frozenset(
    {"new_shard", "release", "compact", "crash", "freeze_invisible", "between_capture"}
)


def _put(pk: str, shard: str = "s") -> Ev:
    return ("put", {"shard": shard, "batch": ((pk, f"v-{pk}"),)})


def _delete(pk: str, shard: str = "s") -> Ev:
    return ("delete", {"shard": shard, "pks": (pk,)})


def _ev(name: str, shard: str = "s") -> Ev:
    return (name, {"shard": shard})


@dataclass(frozen=True)
class Scenario:
    """A model trace: events before the arm, the arm, events before the check."""

    before: tuple[Ev, ...]
    after: tuple[Ev, ...]
    base: dict[str, str] = field(default_factory=dict)
    config: Config = Config()
    capture: Capture = Capture.VISIBLE_COUNT
    #: H1: the count is read again after ``after`` (the scan-to-capture window)
    capture_later: bool = False

    def verdict(self, design: Design) -> str:
        """``violation``, ``under-count`` or ``sound``: the model's word on this trace."""
        t0 = run(initial(self.base, self.config), self.before)
        arm = observe(t0)
        t1 = run(t0, self.after)
        cut = capture(design, arm, self.capture, later=t1 if self.capture_later else None)
        v = verdict(design, arm, cut, t1)
        return "VIOLATION" if v.startswith("violation") else (
            "under-count" if v.startswith("under-count") else "sound"
        )


@dataclass(frozen=True)
class Hazard:
    """One matrix column."""

    name: str
    title: str
    scenario: Scenario
    unlocks: frozenset[str] = frozenset()
    visibility: str = "immediate"
    release: str = "explicit"
    capture: str = "visible_count"
    max_memtable_batches: int | None = 3
    #: H13: puts are published at once, so only tombstones sit in unpublished tails
    publish_after_put: bool = False
    #: the machine counter that must be > 0 when a cell passes (non-vacuity)
    witness: str = "cut inside a memtable"

    @property
    def lagged(self) -> bool:
        return self.visibility == "lagged"


LAGGED = Config(lagged=True)

HAZARDS: dict[str, Hazard] = {
    h.name: h
    for h in (
        Hazard(
            "baseline", "every assumption held",
            Scenario((_put("a"),), (_put("b"),), base={"b": "old"}),
        ),
        Hazard(
            "H1", "count read after the scan (capture=after_scan)",
            Scenario((_put("a"),), (_put("b"),), capture=Capture.AFTER_SCAN, capture_later=True),
            unlocks=frozenset({"between_capture"}), capture="after_scan",
            witness="write between scan and capture",
        ),
        Hazard(
            "H2", "lagged visibility, count = len()",
            Scenario((_put("a"), _ev("publish"), _put("b")), (_ev("publish"),),
                     config=LAGGED, capture=Capture.LEN),
            visibility="lagged", capture="len", max_memtable_batches=None,
            witness="arm with committed > visible",
        ),
        Hazard(
            "H3", "lagged frozen tail published after the arm",
            Scenario((_put("a"), _ev("publish"), _put("b"), _ev("freeze")), (_ev("publish"),),
                     config=LAGGED),
            unlocks=frozenset({"freeze_invisible"}), visibility="lagged",
            max_memtable_batches=None, witness="frozen tail published after the arm",
        ),
        Hazard(
            "H4", "release at flush between arm and check",
            Scenario((_put("a"),), (_ev("freeze"), _ev("flush"))),
            release="at_flush", unlocks=frozenset({"release"}),
            witness="active generation released between arm and check",
        ),
        Hazard(
            "H5", "compaction between arm and check",
            Scenario((_put("a"), _ev("freeze"), _ev("flush"), _put("b")), (_ev("compact"),),
                     base={"a": "old"}),
            unlocks=frozenset({"compact"}), witness="compact between arm and check",
        ),
        Hazard(
            "H6", "shard created after the arm",
            Scenario((_put("a"),), (_put("x", shard="t"),), base={"x": "old"}),
            unlocks=frozenset({"new_shard"}), witness="new shard between arm and check",
        ),
        Hazard(
            "H7", "crash + reopen between arm and check (renumbering)",
            Scenario((_put("a"), _ev("freeze"), _put("b")), (_put("c"), ("crash", {})),
                     base={"c": "old"}),
            unlocks=frozenset({"crash"}), witness="crash between arm and check",
        ),
        Hazard(
            "H13", "deletes; a tombstone in a lagged frozen tail",
            Scenario((_put("x"), _ev("publish"), _delete("a"), _ev("freeze")), (_ev("publish"),),
                     base={"a": "old"}, config=LAGGED),
            unlocks=frozenset({"freeze_invisible"}), visibility="lagged",
            max_memtable_batches=None, publish_after_put=True,
            witness="tombstone tail published after the arm",
        ),
    )
}  # fmt: skip

DESIGNS: tuple[Design, ...] = tuple(Design)

#: machine column → solver column (``proofs.obligations.HAZARDS``; "none" is the
#: solver's baseline).  The machine's H5 is compaction between arm and check with
#: an atomic arm snapshot: the solver's H5b (its H5a, manifest skew, has no
#: machine column: impl collects atomically).  Every other name is the same.
MACHINE_TO_PROOF_HAZARD = {"baseline": "none", "H5": "H5b"}

#: the solver's words → the machine's words
PROOF_TO_MACHINE_VERDICT = {"proved": "sound", "cex": "VIOLATION", "under-count": "under-count"}


def proof_hazard(hazard: str) -> str:
    """The solver's column for the machine's column ``hazard``."""
    return MACHINE_TO_PROOF_HAZARD.get(hazard, hazard)

_RANK = {"sound": 0, "under-count": 1, "VIOLATION": 2}


def expected(design: Design, hazard: Hazard) -> str:
    """The cell's expected verdict: worst of the baseline's and the hazard's scenario."""
    base = HAZARDS["baseline"].scenario.verdict(design)
    own = hazard.scenario.verdict(design)
    return max(base, own, key=_RANK.__getitem__)


def expectation_table() -> dict[tuple[str, str], str]:
    """(design, hazard) → expected verdict, for every cell: the one place it is stated."""
    return {(d.value, h.name): expected(d, h) for h in HAZARDS.values() for d in DESIGNS}


Verdicter = Callable[[Design, Hazard], str]
