"""What can go wrong with an as-of cut, and what must hold: two tables, read by everything.

This module is data (h11 style), and the one place each of these facts is
written.  The state machine (``stateful_tests``), the solver (``proofs``),
``asofcut verify`` and docs/SPEC.md all read it; none of them keeps a copy.

``ASSUMPTIONS``
    The conditions under which a cut never over-counts (A1–A4; A3 in two
    halves, because they fail differently) and the one under which it does
    not under-count either (A5).  Each row says what it protects and who has
    to make it true: the *arm* (how the reader takes its cut), the *caller*
    (what it hands the check), or the *tier* (what the writer must not do
    while a cut is outstanding).  Which hazards break an assumption is not
    written here: it is computed from ``HAZARDS`` (``broken_by``).

``HAZARDS``
    One row per matrix column: the baseline (every assumption held) and one
    column per known hazard.  A row says

    * what the column *lifts* — the assumption it drops (``breaks``), the
      tightness exclusion it turns into a gap (``gap``), the arm's capture
      variant (``capture``) and, for H5a, that the check's SSTable list stays
      current (``fresh_list``).  The solver's column is built from these fields
      and nothing else (``proofs.obligations.cell_setup``);
    * how the real tier runs it — ``options`` are ``impl`` ``MemWalOptions``
      (each a behaviour Lance really has, or had), ``unlocks`` the machine's
      gates the column lifts (gate names below), ``witness`` the machine
      counter that proves the column's situation really happened;
    * the shortest scenario that shows it, on the model (``Scenario``): the
      expected verdict of every cell is derived from it
      (``stateful_tests.hazards.expected``), never typed by hand.

    ``solver`` is False where the hazard is about membership by value, hash
    or type, which the solver's one-row abstraction does not model (H10–H12);
    those columns are judged by the machine and the model alone.

Gates (names the state machine uses):

``new_shard``        a write that creates a shard while a cut is outstanding (H6)
``release``          release of a retained generation while a cut is outstanding (H4)
``compact``          compaction while a cut is outstanding (H5b)
``crash``            crash + reopen while a cut is outstanding (H7, H9)
``freeze_invisible`` freezing a memtable with an unpublished tail, any time (H3, H13)
``between_reads``    moves between the arm's two reads (H1: scan, then count;
                     H5a: SSTable list, then memtables; H15: rows, then counts)
``flush_fails``      an injected flush failure (H14)
``wide_probe``       a check probing with keys of another integer width (H12)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model.designs import Capture

Ev = tuple[str, dict[str, Any]]


def _put(pk: Any, shard: str = "s") -> Ev:
    return ("put", {"shard": shard, "batch": ((pk, f"v-{pk}"),)})


def _delete(pk: Any, shard: str = "s") -> Ev:
    return ("delete", {"shard": shard, "pks": (pk,)})


def _ev(name: str, shard: str = "s") -> Ev:
    return (name, {"shard": shard})


# --------------------------------------------------------------------------
# Assumptions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Assumption:
    """One condition a cut relies on."""

    name: str
    statement: str
    protects: str  # "soundness" or "tightness"
    owner: str  # who must make it true: "arm", "caller" or "tier"
    requirement: str  # what the owner must do, as a requirement on callers and operators


ASSUMPTIONS: dict[str, Assumption] = {
    a.name: a
    for a in (
        Assumption(
            "A1", "N is the visible count the arm scanned, read once, no later than the scan",
            "soundness", "arm",
            "take N from the same snapshot the scan read (visible_count, exclusive), once",
        ),
        Assumption(
            "A2", "the row's generation, if below A, was fully visible when the arm ran",
            "soundness", "tier",
            "never seal a memtable with an unpublished tail while a reader may be between calls",
        ),
        Assumption(
            "A3-shards", "the check sees the arm's shard set (absent shards: explicit zero cut)",
            "soundness", "caller",
            "give every shard the arm did not see an explicit zero cut (0, 0); never omit it",
        ),
        Assumption(
            "A3-sstables", "the check sees the arm's SSTable set (no manifest skew, no stale list)",
            "soundness", "arm",
            "read memtable refs and the SSTable list in one snapshot; check with a current list",
        ),
        Assumption(
            "A4", "no writer-epoch change (crash, failover, reopen, replay) between arm and check",
            "soundness", "tier",
            "void the cut when the writer epoch changed (or carry the epoch in the cut)",
        ),
        Assumption(
            "A5", "the cut's active generation is still in memory at the check",
            "tightness", "tier",
            "frozen_memtable_grace above the arm-to-check latency, and no release in between",
        ),
    )
}


# --------------------------------------------------------------------------
# Hazards
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A model trace: events before the arm, during it (between its two reads), before the check.

    ``during`` is empty for a one-instant arm.  The tier runs with the model's
    defaults plus the hazard's ``options`` (``stateful_tests.hazards.model_config``).
    """

    before: tuple[Ev, ...]
    after: tuple[Ev, ...] = ()
    during: tuple[Ev, ...] = ()
    base: dict[Any, str] = field(default_factory=dict)
    probe_width: str = "same"  # "other": the check probes with keys of another width (H12)


@dataclass(frozen=True)
class Hazard:
    """One matrix column (see the module docstring for what each field feeds)."""

    name: str
    title: str
    lance: str  # how it arises in Lance, in one sentence
    scenario: Scenario
    breaks: str | None = None
    gap: str | None = None
    capture: Capture = Capture.VISIBLE_COUNT
    fresh_list: bool = False
    solver: bool = True
    options: tuple[tuple[str, Any], ...] = ()
    unlocks: frozenset[str] = frozenset()
    witness: str = "cut inside a memtable"
    #: H13: puts are published at once, so only tombstones sit in unpublished tails
    publish_after_put: bool = False

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


LAGGED = (("visibility", "lagged"), ("max_memtable_batches", None))

HAZARDS: dict[str, Hazard] = {
    h.name: h
    for h in (
        Hazard(
            "baseline", "every assumption held", "the tier and the reader as PR 7215 intends",
            Scenario((_put("a"),), (_put("b"),), base={"b": "old"}),
        ),
        Hazard(
            "H1", "count read after the scan",
            "the caller reads visible_count again after scanning; a write lands in between",
            Scenario((_put("a"),), during=(_put("b"),), base={"b": "old"}),
            breaks="A1", capture=Capture.AFTER_SCAN, unlocks=frozenset({"between_reads"}),
            witness="write between the arm's reads",
        ),
        Hazard(
            "H2", "count = len() under lagged visibility",
            "N taken from batch_store.len(): committed batches the index has not made visible",
            Scenario((_put("a"), _ev("publish"), _put("b")), (_ev("publish"),),
                     base={"b": "old"}),
            breaks="A1", capture=Capture.LEN, options=LAGGED,
            witness="arm with committed > visible",
        ),
        Hazard(
            "H3", "frozen tail published after the arm",
            "a memtable sealed before its tail became visible; the tail turns visible later",
            Scenario((_put("a"), _ev("publish"), _put("b"), _ev("freeze")), (_ev("publish"),),
                     base={"b": "old"}),
            breaks="A2", options=LAGGED, unlocks=frozenset({"freeze_invisible"}),
            witness="frozen tail published after the arm",
        ),
        Hazard(
            "H4", "active generation flushed and released between arm and check",
            "frozen_memtable_grace = 0 drops the memtable when its flush commits",
            Scenario((_put("a"),), (_ev("freeze"), _ev("flush")), base={"a": "old"}),
            breaks="A5", gap="H4", options=(("release", "at_flush"),),
            unlocks=frozenset({"release"}),
            witness="active generation released between arm and check",
        ),
        Hazard(
            "H5a", "arm reads the SSTable list before its memtable refs",
            "a reader lists SSTables from the manifest, then takes memtable refs; "
            "a flush commits in between",
            Scenario((_put("a"), _ev("freeze")), during=(_ev("flush"),), base={"a": "old"}),
            breaks="A3-sstables", fresh_list=True,
            options=(("arm_sources", "manifest_first"), ("release", "at_flush")),
            unlocks=frozenset({"between_reads"}), witness="write between the arm's reads",
        ),
        Hazard(
            "H5b", "compaction between arm and check",
            "a compaction merges flushed generations the arm read into the base table",
            Scenario((_put("a"), _ev("freeze"), _ev("flush"), _put("b")), (_ev("compact"),),
                     base={"a": "old"}),
            gap="H5b", unlocks=frozenset({"compact"}), witness="compact between arm and check",
        ),
        Hazard(
            "H6", "shard created after the arm",
            "a shard missing from the cut falls back to the live tier",
            Scenario((_put("a"),), (_put("x", shard="t"),), base={"x": "old"}),
            breaks="A3-shards", unlocks=frozenset({"new_shard"}),
            witness="new shard between arm and check",
        ),
        Hazard(
            "H7", "crash + reopen between arm and check",
            "replay rebuilds unflushed generations from current_generation: numbers change",
            Scenario((_put("a"), _ev("freeze"), _put("b")), (_put("c"), ("crash", {})),
                     base={"c": "old"}),
            breaks="A4", gap="epoch", unlocks=frozenset({"crash"}),
            witness="crash between arm and check",
        ),
        Hazard(
            "H8", "inclusive position 0",
            "an older cursor derived N = max visible position + 1, which is 1 when nothing "
            "was visible",
            Scenario((_put("a"), _ev("freeze")), (_put("b"),), base={"b": "old"}),
            breaks="A1", capture=Capture.INCLUSIVE_POSITION,
            witness="arm on an empty active memtable",
        ),
        Hazard(
            "H9", "visible before durable, then a crash",
            "index inserts ran beside the WAL write: rows were served before they were durable; "
            "a crash loses them and new writes take their positions",
            Scenario((_put("c"), _ev("sync"), _put("a")), (("crash", {}), _put("b")),
                     base={"b": "old", "c": "old"}),
            breaks="A4", gap="epoch", options=(("durability", "after_visible"),),
            unlocks=frozenset({"crash"}), witness="crash between arm and check",
        ),
        Hazard(
            "H10", "64-bit PK hash collisions in V-AsOf's membership",
            "V-AsOf answers membership by PK hash; a colliding PK's base row is dropped",
            Scenario((_put(0),), base=dict.fromkeys(range(6), "old")),
            solver=False, options=(("pk_hash_bits", 1),), witness="check",
        ),
        Hazard(
            "H11", "memtables without a PK index under V-FTW",
            "a memtable built without a PK index contributes no members: it blocks nothing",
            Scenario((_put("a"),), base={"a": "old"}),
            solver=False, options=(("memtable_pk_index", False),), witness="check",
        ),
        Hazard(
            "H12", "probe keys of another integer width",
            "contains_pks_at builds probe keys without coercion: Int32 keys miss an Int64 index",
            Scenario((_put(0),), base={0: "old"}, probe_width="other"),
            solver=False, options=(("probe_key_types", "lance"),),
            unlocks=frozenset({"wide_probe"}), witness="check with keys of another width",
        ),
        Hazard(
            "H13", "a tombstone in a lagged frozen tail",
            "tombstones are members; one sealed in an unpublished tail turns visible later",
            Scenario((_put("x"), _ev("publish"), _delete("a"), _ev("freeze")), (_ev("publish"),),
                     base={"a": "old"}),
            breaks="A2", options=LAGGED, unlocks=frozenset({"freeze_invisible"}),
            witness="tombstone tail published after the arm", publish_after_put=True,
        ),
        Hazard(
            "H14", "a flush fails; a later generation's flush commits",
            "a failed flush leaves G in memory while G + 1 commits and the manifest moves past G",
            Scenario((_put("a"), _ev("freeze"), _put("b"), _ev("freeze")),
                     (_ev("fail flush"), _ev("flush")), base={"a": "old"}),
            options=(("flush_failure", "skip"),), unlocks=frozenset({"flush_fails"}),
            witness="failed flush between arm and check",
        ),
        Hazard(
            "H15", "an arm that reads visibility at two instants",
            "before the collector fix, block lists and memtable scans read visible_count "
            "at different instants",
            Scenario((_put("a"),), during=(_put("b"),), base={"b": "old"}),
            breaks="A1", options=(("arm_visibility", "two_instants"),),
            unlocks=frozenset({"between_reads"}), witness="write between the arm's reads",
        ),
    )
}  # fmt: skip


def broken_by(assumption: str) -> tuple[str, ...]:
    """The hazards whose column drops ``assumption`` (computed, never typed)."""
    return tuple(h.name for h in HAZARDS.values() if h.breaks == assumption)


def solver_columns() -> tuple[str, ...]:
    """The columns the solver computes a verdict for, baseline first."""
    return tuple(h.name for h in HAZARDS.values() if h.solver)
