"""The cut designs and the fresh tier's transition system, in z3.

Design notes (read this first)
------------------------------

**Predicates.**  Each ``z3_admit_*`` mirrors one function of
``model/designs.py`` term for term, with the same keyword arguments.  The two
generation-rule designs are not written by hand: :func:`rule_table_term`
*interprets* ``model.designs.GENERATION_RULES``, so the table stays the single
source (a planted bug is a modified copy of the table, passed as a parameter).
``tests/test_proofs_encode.py`` holds the z3 terms and the Python predicates
together on random concrete inputs.

**One symbolic row.**  Soundness is a statement about every row id, so it is
enough to follow *one* arbitrary row, the row under test R: whichever batch
the solver picks when it appends.  The rest of the shard is summarised by a
handful of counters.  Following the *physical* write (not its row id) is the
right notion: after a replay renumbers rows, "the arm read this write" is
what decides whether its PK was delivered.

State (one shard: R's shard; other shards never interact with R's
membership):

=========  ==============================================================
``sx``     the shard exists (created by its first put)
``ep``     writer epoch; +1 at every crash/replay
``cur``    active generation; ``cg`` = the oldest flushable frozen generation
           (``cur`` if none: flushes go oldest first); without a failed
           flush it is the manifest's ``current_generation`` (``hf``, Knobs)
``ac/av``  active memtable committed / visible batch counts
``nfl``    committed batches in the flushable *frozen* generations
           ``cg .. cur-1`` (replay renumbers them into one memtable)
``rs``     R's status: none, mem (active/frozen), ret (flushed, retained
           in memory), sst (SSTable only), gone (compacted)
``rg/ri``  R's generation and append index; ``ra``: R is in the active
           memtable; ``gc/gv``: committed/visible count of R's generation;
           ``below``: batches of replayable unflushed generations below R's
=========  ==============================================================

Ghost state, written once by the ``arm`` event: ``obs`` (the arm read R),
``sx_a`` (the shard existed), the as-of cut ``A, N``, the exact cut's epoch
``ep_a``, its active entry ``xa, xn``, and ``oc``, the exact cut's observed
count for R's generation (updated whenever R's generation is assigned).

``pinned_cut`` adds WAL positions: ``nw`` is the shard's next WAL position
(+1 per put; a replay keeps every replayed write's position and restarts at
``nd + 1``), ``rw`` is R's.  Its cut is the set of positions the arm read,
below the arm's ``nw_a``; for the one row followed, ``rin`` says R's
*current* position lies in that set (at the arm it is exactly ``obs``:
positions name writes, and the arm read R's batch or not; a position handed
out later lies at or past ``nw_a``, unless a crash freed it (H9) or a planted
bug reuses it: then whether the arm read the write that held it is the
choice ``rix``).  ``pin_r``: R was not yet merged into the base version the
arm saw (the reader's pin), so a later compaction leaves it reachable to the
check.

**Knobs** (``Config``; pinned per query, ``DEFAULT_KNOBS`` for the design
obligations, a hazard column's row for its cell):

=========  ==============================================================
``two``    H15: the arm reads its counts at a second instant after its scan
           (``read_n`` then re-reads N, the exact cut's counts and the pinned
           cut's positions).  A1 rules it out, for every design.
``dav``    H9: a put is visible at once but durable only at the next ``sync``
           (or flush).  State
           ``nd``: positions up to it are durable.  A crash replays durable
           writes only, forgets a lost R (``rs`` none: the solver may follow a
           later write instead) and restarts positions at ``nd + 1``.
``skip``   H14: ``fail_flush`` leaves the oldest flushable generation ``cg``
           frozen in memory and later flushes pass it by.  State ``hf`` (1 +
           the newest flushed generation: where replay starts) and ``nsk``
           (batches of the skipped generations ``hf .. cg-1``; skipped ones
           below ``hf`` are orphans a crash loses).  Without ``skip`` the model
           retries the flush: ``fail_flush`` does not move.
``pap``    H13's tier: a put (not a delete, choice ``dl``) is published at
           once, so only a tombstone waits in a lagged tail; ``rt``: R is one.
=========  ==============================================================

**Events** between read arm and check are the tier's alphabet: put (first
put creates the shard), publish, freeze, flush (oldest flushable frozen),
fail_flush, sync, release, compact, crash (+ reopen/replay, Lance's older
single-memtable replay),
plus three arm-side events: ``manifest`` (the arm reads its SSTable list
early: the H5a skew), ``arm`` and ``read_n`` (the after-scan capture, H1, and
the two-instant arm's second read, H15).
The check happens at the end of the trace.

**Assumptions** (A1–A5, docs/LANCE.md "When the cut never over-counts") are
switches, so that each can be dropped on its own.  A3 has two halves, because they fail differently:
``A3-shards`` (absent shards get an explicit zero cut, H6) and
``A3-sstables`` (the arm's SSTable list is its snapshot's: H5a; and the check
does not use a stale list: the over-count half of hazard H5 (docs/LANCE.md "H5")).  The
matrix's H5a column lifts only the first half; its H5b column (compaction
between arm and check, consistent arm) lifts no assumption, only the ``H5b``
tightness exclusion.

**Speed.**  ``transition`` is built once per (assumptions, bugs) and every
step of every unrolling is a ``z3.substitute`` of it (:func:`step_term`,
cached): building terms through the Python API, not solving, was most of the
run time.

**Planted bugs** are parameters too (:class:`Bug`): a bug never requires
editing this file.  There are two kinds (:data:`DIVERGENCES`), and every
transition has at least one bug:

* a bug outside ``DIVERGENCES`` makes a *soundness or tightness* obligation
  fail (``proofs.obligations.planted``);
* a divergence makes the encoding differ from ``model/`` in a way no proof
  obligation can see (the tier it describes is still sound, or the step only
  matters under a dropped assumption): only the conformance check
  (``proofs/conformance.py``) catches it, and it must.

Every bug of both kinds must fail the conformance check.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeAlias

import z3

from model.designs import (
    GENERATION_RULES,
    Capture,
    Design,
    Rel,
    Source,
    Verdict,
)
from model.hazards import ASSUMPTIONS as HAZARD_ASSUMPTIONS

# --------------------------------------------------------------------------
# The predicates, mirrored
# --------------------------------------------------------------------------

Rules = Mapping[tuple[Source, Rel], Verdict]
Bool: TypeAlias = Any  # z3.BoolRef | bool (z3 ships no type stubs)
Int: TypeAlias = Any  # z3.ArithRef | int


def _b(x: Bool) -> z3.BoolRef:
    return x if isinstance(x, z3.BoolRef) else z3.BoolVal(x)


def rel_term(rel: Rel, generation: Int, active_generation: Int) -> z3.BoolRef:
    """``model.designs.rel(g, A) is rel`` as a z3 condition."""
    if rel is Rel.BELOW:
        return _b(generation < active_generation)
    if rel is Rel.AT:
        return _b(generation == active_generation)
    return _b(generation > active_generation)


def verdict_term(
    verdict: Verdict, append_index: Int, active_batch_count: Int, *, prefix_le: bool = False
) -> z3.BoolRef:
    """``model.designs.apply_rule``; ``prefix_le`` plants the ``<=`` bug."""
    if verdict is Verdict.WHOLE:
        return z3.BoolVal(True)
    if verdict is Verdict.PREFIX:
        if prefix_le:
            return _b(append_index <= active_batch_count)
        return _b(append_index < active_batch_count)
    return z3.BoolVal(False)


def rule_table_term(
    rules: Rules,
    *,
    in_memory: Bool,
    generation: Int,
    append_index: Int,
    active_generation: Int,
    active_batch_count: Int,
    prefix_le: bool = False,
) -> z3.BoolRef:
    """The rule table read as a disjunction of its cells (source ∧ rel ∧ verdict)."""
    cells = []
    for (source, rel), verdict in rules.items():
        src = _b(in_memory) if source is Source.MEMTABLE else z3.Not(_b(in_memory))
        cells.append(
            z3.And(
                src,
                rel_term(rel, generation, active_generation),
                verdict_term(verdict, append_index, active_batch_count, prefix_le=prefix_le),
            )
        )
    return z3.Or(cells)


def z3_admit_live_tier() -> z3.BoolRef:
    """Mirror of ``admit_live_tier``."""
    return z3.BoolVal(True)


def z3_admit_wal_position_map() -> z3.BoolRef:
    """Mirror of ``admit_wal_position_map`` (production: nothing is mapped, so live tier)."""
    return z3.BoolVal(True)


def z3_admit_as_of_cut(
    *,
    in_cut: Bool,
    in_memory: Bool,
    generation: Int,
    append_index: Int,
    active_generation: Int,
    active_batch_count: Int,
    rules: Rules = GENERATION_RULES,
    prefix_le: bool = False,
) -> z3.BoolRef:
    """Mirror of ``admit_as_of_cut``, generated from the rule table."""
    return z3.If(
        z3.Not(_b(in_cut)),
        z3.BoolVal(True),
        rule_table_term(
            rules,
            in_memory=in_memory,
            generation=generation,
            append_index=append_index,
            active_generation=active_generation,
            active_batch_count=active_batch_count,
            prefix_le=prefix_le,
        ),
    )


def z3_admit_fresh_tier_watermark(
    *,
    in_cut: Bool,
    in_memory: Bool,
    visible: Bool,
    generation: Int,
    append_index: Int,
    active_generation: Int,
    active_batch_count: Int,
    rules: Rules = GENERATION_RULES,
    prefix_le: bool = False,
) -> z3.BoolRef:
    """Mirror of ``admit_fresh_tier_watermark``."""
    return z3.If(
        z3.And(_b(in_memory), z3.Not(_b(visible))),
        z3.BoolVal(False),
        z3_admit_as_of_cut(
            in_cut=in_cut,
            in_memory=in_memory,
            generation=generation,
            append_index=append_index,
            active_generation=active_generation,
            active_batch_count=active_batch_count,
            rules=rules,
            prefix_le=prefix_le,
        ),
    )


def z3_admit_pinned_cut(
    *,
    in_cut: Bool,
    pinned: Bool,
    wal_position: Int,
    wal_lo: Int,
    wal_hi: Int,
) -> z3.BoolRef:
    """Mirror of ``admit_pinned_cut``."""
    return z3.And(_b(in_cut), _b(pinned), _b(wal_lo <= wal_position), _b(wal_position < wal_hi))


def z3_admit_exact_cut(
    *,
    in_cut: Bool,
    epoch: Int,
    cut_epoch: Int,
    append_index: Int,
    observed_count: Int,
    check_epoch: bool = True,
) -> z3.BoolRef:
    """Mirror of ``admit_exact_cut``; ``check_epoch=False`` plants a bug."""
    same_epoch = _b(epoch == cut_epoch) if check_epoch else z3.BoolVal(True)
    return z3.And(_b(in_cut), same_epoch, _b(append_index < observed_count))


# --------------------------------------------------------------------------
# Planted bugs and assumptions
# --------------------------------------------------------------------------


class Bug(enum.StrEnum):
    """Planted bugs, each a parameter of the encoding (none edits code)."""

    SST_GT = "sstable rule `g > A` excluded (for `g >= A`)"
    PREFIX_LE = "`<=` for `<` on the batch count"
    FREEZE_NO_BUMP = "freeze does not bump the generation"
    REPLAY_NO_RENUMBER = "replay keeps old generations/indices"
    EXACT_NO_EPOCH = "exact_cut ignores the writer epoch"
    CRASH_KEEPS_EPOCH = "replay does not bump the writer epoch"
    NEVER_RELEASE = "flushed memtables are never released from memory"
    PUT_INDEX_OFF_BY_ONE = "put records its batch at append index committed − 1"
    PUBLISH_STALE_COUNT = "publish leaves the active memtable's visible count stale"
    PUBLISH_SKIPS_FROZEN = "publish skips frozen tails (only the active memtable)"
    FLUSH_IGNORES_GRACE = "flush releases the memtable whatever the grace"
    COMPACT_RENUMBERS = "compaction restarts the unflushed generations' numbers at 1"
    MANIFEST_LISTS_MEMTABLES = "the arm's early SSTable list also lists unflushed memtables"
    ARM_N_COMMITTED = "the arm takes N = committed whatever its capture"
    READ_N_ANY_GENERATION = "the after-scan re-read takes whichever generation is active"
    CRASH_REUSES_WAL = "replay restarts WAL positions at 1 (positions reused)"
    REPLAY_NEW_WAL = "replay re-logs unflushed batches at new WAL positions"
    PIN_NO_MERGED = "pinned check skips generations merged after the pin"
    SST_BELOW_NONE = "sstable rule `g < A` excluded (for whole)"
    EXACT_SHORT = "exact_cut admits one batch fewer than it observed"
    INCLUSIVE_NO_FLOOR = "the inclusive-position capture takes N = visible (no floor of 1)"
    SYNC_NOOP = "sync leaves the pending WAL writes non-durable"
    CRASH_REPLAYS_PENDING = "replay also replays WAL writes that never became durable"
    FAIL_FLUSH_FLUSHES = "a failed flush moves its generation out of memory as if it committed"
    CRASH_REPLAYS_SKIPPED = "replay also replays a skipped generation below a flushed one"
    RECOUNT_KEEPS_EXACT = "the two-instant arm re-reads N but keeps the scan's exact counts"
    PUT_PUBLISH_IGNORES_FROZEN = "publish-after-put publishes the active memtable only"


#: bugs no proof obligation can see (module docstring), each with the reason
DIVERGENCES: dict[Bug, str] = {
    Bug.REPLAY_NO_RENUMBER: "a replay that keeps numbers describes a sound tier too; "
                            "only the H7 counterexample (needs.A4) disappears",
    Bug.PUBLISH_SKIPS_FROZEN: "a frozen tail then stays invisible until flush: fewer "
                              "behaviours, every obligation still holds",
    Bug.MANIFEST_LISTS_MEMTABLES: "the as-of designs' proofs assume no early list (A3); "
                                  "the exact cut's count follows the same wrong list",
    Bug.READ_N_ANY_GENERATION: "the after-scan capture runs only with A1 dropped (H1), "
                               "where the as-of designs have a counterexample already",
    Bug.INCLUSIVE_NO_FLOOR: "the inclusive capture runs only with A1 dropped (H8); without "
                            "its floor it is the correct capture, so no obligation sees it",
    Bug.PUT_PUBLISH_IGNORES_FROZEN: "publish-after-put runs only in the H13 column; a frozen "
                                    "tail it leaves invisible is the hazard itself",
    Bug.SYNC_NOOP: "the obligations run durable-before-visible, where sync has nothing "
                   "to do; the H9 column (a verdict, not an obligation) is where it counts",
    Bug.RECOUNT_KEEPS_EXACT: "the obligations hold A1, which rules the second instant out; "
                             "the H15 column and needs.A1 (two_instants) are verdicts",
}

#: the transition (or the check) each bug plants into: every one is covered
BUG_TRANSITION: dict[Bug, str] = {
    Bug.SST_GT: "check", Bug.PREFIX_LE: "check", Bug.EXACT_NO_EPOCH: "check",
    Bug.FREEZE_NO_BUMP: "freeze", Bug.REPLAY_NO_RENUMBER: "crash",
    Bug.CRASH_KEEPS_EPOCH: "crash", Bug.NEVER_RELEASE: "release",
    Bug.PUT_INDEX_OFF_BY_ONE: "put", Bug.PUBLISH_STALE_COUNT: "publish",
    Bug.PUBLISH_SKIPS_FROZEN: "publish", Bug.FLUSH_IGNORES_GRACE: "flush",
    Bug.COMPACT_RENUMBERS: "compact", Bug.MANIFEST_LISTS_MEMTABLES: "manifest",
    Bug.ARM_N_COMMITTED: "arm", Bug.READ_N_ANY_GENERATION: "read_n",
    Bug.CRASH_REUSES_WAL: "crash", Bug.REPLAY_NEW_WAL: "crash", Bug.PIN_NO_MERGED: "check",
    Bug.SST_BELOW_NONE: "check", Bug.EXACT_SHORT: "check", Bug.INCLUSIVE_NO_FLOOR: "arm",
    Bug.SYNC_NOOP: "sync", Bug.CRASH_REPLAYS_PENDING: "crash",
    Bug.FAIL_FLUSH_FLUSHES: "fail_flush", Bug.CRASH_REPLAYS_SKIPPED: "crash",
    Bug.RECOUNT_KEEPS_EXACT: "read_n", Bug.PUT_PUBLISH_IGNORES_FROZEN: "put",
}


def rules_for(bugs: frozenset[Bug]) -> dict[tuple[Source, Rel], Verdict]:
    """The rule table, possibly with a planted bug."""
    rules = dict(GENERATION_RULES)
    if Bug.SST_GT in bugs:
        rules[(Source.SSTABLE, Rel.AT)] = Verdict.WHOLE
    if Bug.SST_BELOW_NONE in bugs:
        rules[(Source.SSTABLE, Rel.BELOW)] = Verdict.NONE
    return rules


#: name → statement, read off the one assumption table (``model.hazards.ASSUMPTIONS``).
ASSUMPTIONS: dict[str, str] = {name: a.statement for name, a in HAZARD_ASSUMPTIONS.items()}
ALL = frozenset(ASSUMPTIONS)

# op codes
OPS = (
    "noop",
    "put",
    "publish",
    "freeze",
    "flush",
    "release",
    "compact",
    "crash",
    "manifest",
    "arm",
    "read_n",
    "sync",
    "fail_flush",
)
OP = {name: i for i, name in enumerate(OPS)}

# row status codes
NONE, MEM, RET, SST, GONE = range(5)
STATUS = ("none", "mem", "ret", "sst", "gone")
CAPTURES = (Capture.VISIBLE_COUNT, Capture.LEN, Capture.AFTER_SCAN, Capture.INCLUSIVE_POSITION)
CAP = {c: i for i, c in enumerate(CAPTURES)}


@dataclass
class State:
    """One time step's symbolic state (fields documented in the module docstring)."""

    sx: z3.BoolRef
    ep: z3.ArithRef
    cur: z3.ArithRef
    cg: z3.ArithRef
    ac: z3.ArithRef
    av: z3.ArithRef
    nfl: z3.ArithRef
    rs: z3.ArithRef
    rg: z3.ArithRef
    ri: z3.ArithRef
    ra: z3.BoolRef
    gc: z3.ArithRef
    gv: z3.ArithRef
    below: z3.ArithRef
    # ghost
    armed: z3.BoolRef
    obs: z3.BoolRef
    sx_a: z3.BoolRef
    A: z3.ArithRef
    N: z3.ArithRef
    ep_a: z3.ArithRef
    xa: z3.ArithRef
    xn: z3.ArithRef
    oc: z3.ArithRef
    nread: z3.BoolRef
    man_taken: z3.BoolRef
    man_r: z3.BoolRef
    # pinned_cut: WAL positions (see the module docstring)
    nw: z3.ArithRef
    rw: z3.ArithRef
    nw_a: z3.ArithRef
    rin: z3.BoolRef
    pin_r: z3.BoolRef
    # H9 / H14 / H13 (module docstring, "Knobs")
    nd: z3.ArithRef
    hf: z3.ArithRef
    nsk: z3.ArithRef
    rt: z3.BoolRef

    @staticmethod
    def fresh(tag: str) -> State:
        """A state of fresh constants named ``<field>_<tag>``."""
        kw: dict[str, z3.ExprRef] = {}
        for f in fields(State):
            name = f"{f.name}_{tag}"
            kw[f.name] = z3.Bool(name) if f.type in ("z3.BoolRef",) else z3.Int(name)
        return State(**kw)  # type: ignore[arg-type]

    def values(self) -> list[z3.ExprRef]:
        """Every field, in declaration order."""
        return [getattr(self, f.name) for f in fields(self)]


@dataclass
class Config:
    """Per-query configuration: symbolic unless pinned by the caller."""

    cap: z3.ArithRef = field(default_factory=lambda: z3.Int("cap"))
    grace0: z3.BoolRef = field(default_factory=lambda: z3.Bool("grace0"))
    stale: z3.BoolRef = field(default_factory=lambda: z3.Bool("stale"))
    two: z3.BoolRef = field(default_factory=lambda: z3.Bool("two"))
    dav: z3.BoolRef = field(default_factory=lambda: z3.Bool("dav"))
    skip: z3.BoolRef = field(default_factory=lambda: z3.Bool("skip"))
    pap: z3.BoolRef = field(default_factory=lambda: z3.Bool("pap"))

    def values(self) -> list[z3.ExprRef]:
        """Every field, in declaration order."""
        return [getattr(self, f.name) for f in fields(self)]


@dataclass
class Step:
    """One step's nondeterministic choices."""

    op: z3.ArithRef
    pick: z3.BoolRef
    fl: z3.ArithRef
    ocx: z3.ArithRef
    dl: z3.BoolRef  # the put is a delete (a tombstone batch)
    rix: z3.BoolRef  # the put takes a WAL position the arm read (a reused one, H9)

    @staticmethod
    def fresh(tag: str) -> Step:
        """Fresh choice constants for step ``tag``."""
        return Step(z3.Int(f"op_{tag}"), z3.Bool(f"pick_{tag}"), z3.Int(f"fl_{tag}"),
                    z3.Int(f"ocx_{tag}"), z3.Bool(f"dl_{tag}"), z3.Bool(f"rix_{tag}"))

    def values(self) -> list[z3.ExprRef]:
        """Every choice, in declaration order."""
        return [getattr(self, f.name) for f in fields(self)]


def init(s: State) -> z3.BoolRef:
    """No shard yet; the counters hold the values a first put starts from."""
    return z3.And(
        z3.Not(s.sx), s.ep == 1, s.cur == 1, s.cg == 1, s.ac == 0, s.av == 0, s.nfl == 0,
        s.rs == NONE, z3.Not(s.armed), z3.Not(s.man_taken), s.nread, s.nw == 1,
        s.nd == 0, s.hf == 1, s.nsk == 0,
    )


#: a knob pinned by a query: (``Config`` field, value), e.g. ``(("dav", True),)``
Knobs = tuple[tuple[str, bool], ...]
KNOBS = ("two", "dav", "skip", "pap")
#: the tier the design obligations run: durable before visible (Lance since it made
#: "visible" mean "indexed and durable") and puts published by ``publish`` only; a
#: failed flush (``skip``) is left to the solver, both ways
DEFAULT_KNOBS: Knobs = (("dav", False), ("pap", False))


def config_ok(cfg: Config, asm: frozenset[str], knobs: Knobs = DEFAULT_KNOBS) -> z3.BoolRef:
    """Config domains, the config half of the assumptions, and the pinned knobs.

    A1 (N is the visible count the scan read, read *once*, at the scan) pins the
    capture and rules out the two-instant arm, whose counts are read later (H15).
    """
    parts = [cfg.cap >= 0, cfg.cap < len(CAPTURES)]
    if "A1" in asm:
        parts += [cfg.cap == CAP[Capture.VISIBLE_COUNT], z3.Not(cfg.two)]
    if "A3-sstables" in asm:
        parts.append(z3.Not(cfg.stale))
    parts += [getattr(cfg, k) == v for k, v in knobs]
    return z3.And(parts)


def _in_mem(s: State) -> z3.BoolRef:
    return z3.Or(s.rs == MEM, s.rs == RET)


def _visible(s: State) -> z3.BoolRef:
    return s.ri < s.gv


def _oc_for(s: State, gen: z3.ArithRef, ocx: z3.ArithRef) -> z3.ArithRef:
    """The exact cut's observed count for a generation R lands in after the arm.

    The arm's active generation ``xa`` was read up to ``xn``; later generations
    were not read (0); a lower one is reachable only through a replay and is
    left unconstrained (``ocx``): the exact cut voids it by epoch anyway.
    """
    return z3.If(gen == s.xa, s.xn, z3.If(gen > s.xa, 0, ocx))


def _n_of(s: State, cfg: Config, bugs: frozenset[Bug]) -> z3.ArithRef:
    """The N the arm's capture takes from ``s``'s active memtable (``model.read._active_count``)."""
    if Bug.ARM_N_COMMITTED in bugs:
        return s.ac
    floor = s.av if Bug.INCLUSIVE_NO_FLOOR in bugs else z3.If(s.av >= 1, s.av, 1)
    return z3.If(cfg.cap == CAP[Capture.LEN], s.ac,
                 z3.If(cfg.cap == CAP[Capture.INCLUSIVE_POSITION], floor, s.av))


def transition(
    s: State, t: State, st: Step, cfg: Config, asm: frozenset[str], bugs: frozenset[Bug]
) -> z3.BoolRef:
    """``s --st.op--> t`` including its guard; assumptions restrict the ops."""
    op, pick, fl, ocx = st.op, st.pick, st.fl, st.ocx
    keep_names = [f.name for f in fields(State)]

    def upd(**changes: z3.ExprRef) -> z3.BoolRef:
        return z3.And([getattr(t, n) == changes.get(n, getattr(s, n)) for n in keep_names])

    def row_if(cond: z3.BoolRef, **changes: z3.ExprRef) -> dict[str, z3.ExprRef]:
        return {k: z3.If(cond, v, getattr(s, k)) for k, v in changes.items()}

    mem = s.rs == MEM
    cases: list[z3.BoolRef] = []
    # noop
    cases.append(z3.And(op == OP["noop"], upd()))
    # put (first put creates the shard; counters already hold creation values).
    # Under ``pap`` (H13's tier) a put of rows, not a delete, is published at once:
    # every in-memory generation turns visible, as ``publish`` does.  Under ``dav``
    # (H9) every write is visible at once: that is the hazard (the index insert ran
    # beside the WAL write, before it was durable).
    take = z3.And(pick, s.rs == NONE)
    in_act = z3.And(mem, s.ra)
    idx = s.ac - 1 if Bug.PUT_INDEX_OFF_BY_ONE in bugs else s.ac
    pub = z3.Or(cfg.dav, z3.And(cfg.pap, z3.Not(st.dl)))
    gc_put = z3.If(z3.Or(take, in_act), s.ac + 1, s.gc)
    r_pub = in_act if Bug.PUT_PUBLISH_IGNORES_FROZEN in bugs else _in_mem(s)
    put_row = {
        "rs": z3.If(take, MEM, s.rs),
        "rg": z3.If(take, s.cur, s.rg),
        "ri": z3.If(take, idx, s.ri),
        "ra": z3.If(take, True, s.ra),
        "rt": z3.If(take, st.dl, s.rt),
        "gc": gc_put,
        "gv": z3.If(take, z3.If(pub, s.ac + 1, s.av),
                    z3.If(z3.And(pub, r_pub), gc_put, s.gv)),
        "below": z3.If(take, s.nsk + s.nfl, s.below),
        "oc": z3.If(z3.And(take, s.armed), _oc_for(s, s.cur, ocx), s.oc),
        "rw": z3.If(take, s.nw, s.rw),
        # a position below the arm's horizon was handed out before and freed by a
        # crash that lost its write (H9).  Every write is visible at once there, so
        # the arm read the write that held it (a lost write is never flushed: not an
        # SSTable an early list could miss).  Otherwise only a planted bug reuses a
        # position, and whether the arm read it is the choice ``rix``.
        "rin": z3.If(z3.And(take, s.armed),
                     z3.And(s.nw < s.nw_a, z3.Or(cfg.dav, st.rix)), s.rin),
    }
    cases.append(z3.And(op == OP["put"], upd(sx=z3.BoolVal(True), ac=s.ac + 1,
                                             av=z3.If(pub, s.ac + 1, s.av), nw=s.nw + 1,
                                             nd=z3.If(cfg.dav, s.nd, s.nw), **put_row)))
    # publish: every in-memory generation (frozen tails too, H3)
    published = z3.And(_in_mem(s), s.ra) if Bug.PUBLISH_SKIPS_FROZEN in bugs else _in_mem(s)
    av_pub = s.av if Bug.PUBLISH_STALE_COUNT in bugs else s.ac
    cases.append(z3.And(op == OP["publish"], s.sx,
                        upd(av=av_pub, **row_if(published, gv=s.gc))))
    # freeze (non-empty active only)
    bump = 0 if Bug.FREEZE_NO_BUMP in bugs else 1
    cases.append(z3.And(op == OP["freeze"], s.sx, s.ac > 0,
                        upd(cur=s.cur + bump, ac=z3.IntVal(0), av=z3.IntVal(0),
                            nfl=s.nfl + s.ac, ra=z3.BoolVal(False))))
    # flush the oldest flushable frozen generation cg; fl = its batch count.  ``rel``:
    # batches of the flushable generations below R's (``below`` also counts the
    # skipped generations hf .. cg-1, ``nsk`` batches)
    rel = s.below - s.nsk
    fl_ok = z3.And(
        fl >= 1, fl <= s.nfl, s.nfl - fl >= s.cur - s.cg - 1,
        z3.Implies(s.cg + 1 == s.cur, fl == s.nfl),
        z3.Implies(z3.And(mem, s.rg == s.cg), fl == s.gc),
        z3.Implies(z3.And(mem, s.rg > s.cg),
                   z3.And(fl <= rel, rel - fl >= s.rg - s.cg - 1,
                          z3.Implies(s.rg == s.cg + 1, fl == rel))),
    )
    flushed = z3.And(mem, s.rg == s.cg)
    never_release = z3.BoolVal(Bug.NEVER_RELEASE not in bugs)
    grace0 = z3.BoolVal(True) if Bug.FLUSH_IGNORES_GRACE in bugs else cfg.grace0
    # the flush syncs the WAL first; replay now starts past cg, so the skipped
    # generations below it will not be replayed (``nsk`` := 0: they are orphans)
    cases.append(z3.And(
        op == OP["flush"], s.sx, s.cg < s.cur, fl_ok,
        upd(cg=s.cg + 1, hf=s.cg + 1, nfl=s.nfl - fl, nsk=z3.IntVal(0), nd=s.nw - 1,
            rs=z3.If(flushed, z3.If(z3.And(grace0, never_release), SST, RET), s.rs),
            gv=z3.If(flushed, s.gc, s.gv),
            below=z3.If(z3.And(mem, s.rg > s.cg), s.below - s.nsk - fl, s.below)),
    ))
    # a failed flush of cg (flush_failure = skip, H14): cg stays in memory, frozen,
    # and later flushes pass it by (without skip the model retries it: no move)
    if Bug.FAIL_FLUSH_FLUSHES in bugs:
        failed = upd(cg=s.cg + 1, hf=s.cg + 1, nfl=s.nfl - fl,
                     rs=z3.If(flushed, SST, s.rs), gv=z3.If(flushed, s.gc, s.gv),
                     below=z3.If(z3.And(mem, s.rg > s.cg), s.below - s.nsk - fl, s.below))
    else:
        failed = upd(cg=s.cg + 1, nfl=s.nfl - fl, nsk=s.nsk + fl)
    cases.append(z3.And(op == OP["fail_flush"], cfg.skip, s.sx, s.cg < s.cur, fl_ok, failed))
    # sync: every WAL write so far is durable (H9)
    if Bug.SYNC_NOOP not in bugs:
        cases.append(z3.And(op == OP["sync"], s.sx, s.nd < s.nw - 1, upd(nd=s.nw - 1)))
    # release retained flushed memtables
    cases.append(z3.And(op == OP["release"], s.sx,
                        upd(rs=z3.If(z3.And(s.rs == RET, never_release), SST, s.rs))))
    # compact every SSTable into base (the retained copy goes too)
    gone = z3.If(z3.Or(s.rs == RET, s.rs == SST), GONE, s.rs)
    if Bug.COMPACT_RENUMBERS in bugs:
        shift = s.cg - 1
        cases.append(z3.And(op == OP["compact"], s.sx,
                            upd(rs=gone, cur=s.cur - shift, cg=s.cg - shift, hf=s.hf - shift,
                                rg=z3.If(mem, s.rg - shift, s.rg))))
    else:
        cases.append(z3.And(op == OP["compact"], s.sx, upd(rs=gone)))
    # crash + reopen: replay, into one memtable at hf (past the newest flushed
    # generation), every durable batch of the generations from hf up: the skipped
    # ones there, the frozen ones, the active one.  Lost: a skipped generation
    # below hf (H14) and the WAL writes that never became durable (H9), whose
    # positions new writes then take again.  A lost R is forgotten (``rs`` none):
    # the write the solver follows may be a later one.
    crash_ok = z3.And(op == OP["crash"], s.sx)
    if "A4" in asm:
        crash_ok = z3.And(crash_ok, z3.Not(s.armed))
    pending = z3.IntVal(0) if Bug.CRASH_REPLAYS_PENDING in bugs else s.nw - 1 - s.nd
    durable_r = z3.BoolVal(True) if Bug.CRASH_REPLAYS_PENDING in bugs else s.rw <= s.nd
    start = s.hf
    skipped_kept = s.nsk
    if Bug.CRASH_REPLAYS_SKIPPED in bugs:  # replay from the lowest in-memory generation
        start = z3.If(z3.And(mem, s.rg < s.hf), s.rg, s.hf)
        skipped_kept = s.nsk + z3.If(z3.And(mem, s.rg < s.hf), s.gc, 0)
    total = skipped_kept + s.nfl + s.ac - pending
    kept = z3.And(mem, s.rg >= start, durable_r)
    lost = z3.And(mem, z3.Not(kept))
    ep_next = s.ep if Bug.CRASH_KEEPS_EPOCH in bugs else s.ep + 1
    wal: dict[str, z3.ExprRef] = {"nw": s.nd + 1}
    if Bug.CRASH_REUSES_WAL in bugs:
        wal = {"nw": z3.IntVal(1)}
    if Bug.REPLAY_NEW_WAL in bugs:  # every unflushed batch re-logged past the old tail
        wal = {"nw": s.nw + total, "nd": s.nw + total - 1,
               "rw": z3.If(mem, s.nw + s.below + s.ri, s.rw),
               "rin": z3.If(mem, z3.BoolVal(False), s.rin)}
    forget = {"rs": z3.If(s.rs == RET, SST, z3.If(lost, NONE, s.rs)),
              "obs": z3.If(lost, False, s.obs), "rin": z3.If(lost, False, s.rin)}
    if Bug.REPLAY_NEW_WAL in bugs:
        forget["rin"] = z3.If(mem, z3.BoolVal(False), s.rin)
    if Bug.REPLAY_NO_RENUMBER in bugs:
        crash_post = upd(ep=ep_next, av=s.ac, nd=s.nw - 1,
                         gv=z3.If(mem, s.gc, s.gv), rs=z3.If(s.rs == RET, SST, s.rs),
                         **{k: v for k, v in wal.items() if k != "nw"})
    else:
        crash_post = upd(**{
            **wal, **forget,
            "ep": ep_next, "cur": start, "cg": start, "hf": start, "ac": total, "av": total,
            "nfl": z3.IntVal(0), "nsk": z3.IntVal(0),
            "rg": z3.If(kept, start, s.rg),
            "ri": z3.If(kept, s.below + s.ri, s.ri),
            "gc": z3.If(kept, total, s.gc), "gv": z3.If(kept, total, s.gv),
            "below": z3.If(kept, z3.IntVal(0), s.below), "ra": z3.If(kept, True, s.ra),
            "oc": z3.If(z3.And(kept, s.armed), _oc_for(s, start, ocx), s.oc),
        })
    cases.append(z3.And(crash_ok, crash_post))
    # the arm reads its SSTable list early (H5a skew)
    listed_early = [s.rs == RET, s.rs == SST]
    if Bug.MANIFEST_LISTS_MEMTABLES in bugs:
        listed_early.append(s.rs == MEM)
    if "A3-sstables" not in asm:
        cases.append(z3.And(op == OP["manifest"], z3.Not(s.armed), z3.Not(s.man_taken),
                            upd(man_taken=z3.BoolVal(True), man_r=z3.Or(listed_early))))
    # the read arm
    listed = z3.If(s.man_taken, s.man_r, z3.Or(s.rs == RET, s.rs == SST))
    obs = z3.And(s.sx, z3.Or(z3.And(_in_mem(s), _visible(s)), z3.And(s.rs == SST, listed)))
    arm_guard = z3.Not(s.armed)
    if "A2" in asm:
        arm_guard = z3.And(arm_guard, z3.Implies(z3.And(mem, z3.Not(s.ra)), _visible(s)))
    oc_arm = z3.If(_in_mem(s), s.gv, z3.If(z3.And(s.rs == SST, listed), s.gc, 0))
    cases.append(z3.And(
        op == OP["arm"], arm_guard,
        upd(armed=z3.BoolVal(True), obs=obs, sx_a=s.sx,
            A=z3.If(s.sx, s.cur, 0), N=z3.If(s.sx, _n_of(s, cfg, bugs), 0),
            ep_a=s.ep, xa=s.cur, xn=s.av,
            oc=z3.If(s.rs == NONE, s.oc, oc_arm),
            nw_a=s.nw, rin=obs, pin_r=s.rs != GONE,
            nread=z3.Or(z3.And(cfg.cap != CAP[Capture.AFTER_SCAN], z3.Not(cfg.two)),
                        z3.Not(s.sx))),
    ))
    # the cut's second read, after the scan (same generation, same epoch): the
    # after-scan capture re-reads N (H1); the two-instant arm (``two``, H15)
    # re-reads every in-memory count, so the exact cut's counts and the pinned
    # cut's positions come from that instant too
    same_gen = z3.BoolVal(True) if Bug.READ_N_ANY_GENERATION in bugs else s.cur == s.A
    recount = z3.And(cfg.two, z3.BoolVal(Bug.RECOUNT_KEEPS_EXACT not in bugs))
    cases.append(z3.And(op == OP["read_n"], s.armed, z3.Not(s.nread), same_gen,
                        s.ep == s.ep_a,
                        upd(N=_n_of(s, cfg, bugs), nread=z3.BoolVal(True),
                            xn=z3.If(recount, s.av, s.xn),
                            oc=z3.If(z3.And(recount, _in_mem(s)), s.gv, s.oc),
                            rin=z3.If(z3.And(recount, _in_mem(s)), _visible(s), s.rin))))
    return z3.Or(cases)


# --------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A design plus planted bugs: what the check admits."""

    design: Design
    bugs: frozenset[Bug] = frozenset()

    def with_bugs(self, bugs: Iterable[Bug]) -> Variant:
        """The same design with ``bugs`` planted."""
        return replace(self, bugs=frozenset(bugs))


def candidate(s: State, cfg: Config, v: Variant | None = None) -> z3.BoolRef:
    """R is a candidate of the check (a stale list still offers a compacted SSTable).

    A pinned check reaches every present write: a merged generation's files
    are kept while the reader pins, and its predicate tells whether R was
    merged before the pin (``pinned``).
    """
    if v is not None and v.design is Design.PINNED_CUT and Bug.PIN_NO_MERGED not in v.bugs:
        return s.rs != NONE
    return z3.Or(s.rs == MEM, s.rs == RET, s.rs == SST, z3.And(s.rs == GONE, cfg.stale))


def admitted(v: Variant, s: State, cfg: Config, asm: frozenset[str]) -> z3.BoolRef:
    """The design admits R at check time, in state ``s`` with ghost cut."""
    in_memory = _in_mem(s)
    in_cut = z3.Or(s.sx_a, z3.BoolVal("A3-shards" in asm))
    rules = rules_for(v.bugs)
    le = Bug.PREFIX_LE in v.bugs
    d = v.design
    if d is Design.LIVE_TIER:
        term = z3_admit_live_tier()
    elif d is Design.WAL_POSITION_MAP:
        term = z3_admit_wal_position_map()
    elif d is Design.AS_OF_CUT:
        term = z3_admit_as_of_cut(in_cut=in_cut, in_memory=in_memory, generation=s.rg,
                                  append_index=s.ri, active_generation=s.A,
                                  active_batch_count=s.N, rules=rules, prefix_le=le)
    elif d is Design.FRESH_TIER_WATERMARK:
        term = z3_admit_fresh_tier_watermark(
            in_cut=in_cut, in_memory=in_memory, visible=_visible(s), generation=s.rg,
            append_index=s.ri, active_generation=s.A, active_batch_count=s.N,
            rules=rules, prefix_le=le)
    elif d is Design.PINNED_CUT:
        # the range of the cut holding R's position, if any: [rw, rw + 1) stands for it
        term = z3_admit_pinned_cut(in_cut=s.sx_a, pinned=z3.Or(s.rs != GONE, s.pin_r),
                                   wal_position=s.rw, wal_lo=z3.If(s.rin, s.rw, 0),
                                   wal_hi=z3.If(s.rin, s.rw + 1, 0))
    else:
        short = 1 if Bug.EXACT_SHORT in v.bugs else 0
        term = z3_admit_exact_cut(in_cut=s.sx_a, epoch=s.ep, cut_epoch=s.ep_a,
                                  append_index=s.ri, observed_count=s.oc - short,
                                  check_epoch=Bug.EXACT_NO_EPOCH not in v.bugs)
    return z3.And(candidate(s, cfg, v), term)


def checkable(s: State) -> z3.BoolRef:
    """The check may run: the arm ran and its cut is complete."""
    return z3.And(s.armed, s.nread)


#: tightness exclusions (docs/DESIGN.md "The guarantee"): named under-counts.
EXCLUSIONS = ("H4", "H5b", "epoch")


def excluded(name: str, s: State) -> z3.BoolRef:
    """R falls in the named exclusion at check time."""
    if name == "H4":  # the cut's active generation flushed and released
        return z3.And(s.rs == SST, s.rg == s.A, s.sx_a)
    if name == "H5b":  # compacted into base
        return s.rs == GONE
    return s.ep != s.ep_a


def present(s: State) -> z3.BoolRef:
    """R's write still exists (fresh tier or base)."""
    return s.rs != NONE


# --------------------------------------------------------------------------
# Unrolling
# --------------------------------------------------------------------------


@dataclass
class Trace:
    """A K-step unrolling: states s[0..K], steps st[0..K-1], and the config."""

    states: list[State]
    steps: list[Step]
    cfg: Config
    constraint: z3.BoolRef


def _cfg(tag: str) -> Config:
    return Config(z3.Int(f"cap{tag}"), *(z3.Bool(f"{f.name}{tag}") for f in fields(Config)
                                          if f.name != "cap"))


@functools.cache
def _template(asm: frozenset[str], bugs: frozenset[Bug], fixed: Knobs = (),
              ) -> tuple[list[z3.ExprRef], z3.BoolRef]:
    """``transition`` built once per (assumptions, bugs, fixed knobs) over placeholder
    constants.

    Building the term through the Python API is what made the unrollings slow
    (tens of thousands of API calls per step); every step of every unrolling
    is this one term with its constants substituted (a C-side operation).
    ``fixed`` knobs are substituted by their values and the term simplified
    once, so a query that pins a knob off carries none of its machinery.
    """
    consts, term = _built(asm, bugs)
    if fixed:
        cfg = consts[-len(fields(Config)):]
        names = [f.name for f in fields(Config)]
        term = z3.simplify(z3.substitute(
            term, *[(cfg[names.index(k)], z3.BoolVal(v)) for k, v in fixed]))
    return consts, term


@functools.cache
def _built(asm: frozenset[str], bugs: frozenset[Bug]) -> tuple[list[z3.ExprRef], z3.BoolRef]:
    """``transition`` over placeholder constants, built once per (assumptions, bugs)."""
    s, t, st, cfg = State.fresh("@s"), State.fresh("@t"), Step.fresh("@x"), _cfg("@c")
    consts = [*s.values(), *t.values(), *st.values(), *cfg.values()]
    return consts, transition(s, t, st, cfg, asm, bugs)


def fixed_knobs(asm: frozenset[str], knobs: Knobs) -> Knobs:
    """The knobs a query's configuration pins: its own, and ``two`` off under A1."""
    pinned = dict(knobs)
    if "A1" in asm:
        pinned["two"] = False
    return tuple(sorted(pinned.items()))


@functools.cache
def step_term(i: int, asm: frozenset[str], bugs: frozenset[Bug], tag: str = "",
              fixed: Knobs = ()) -> z3.BoolRef:
    """Step ``i`` of the unrolling tagged ``tag`` (shared by every depth ≥ i + 1)."""
    consts, term = _template(asm, bugs, fixed)
    s, t, st = State.fresh(f"{tag}{i}"), State.fresh(f"{tag}{i + 1}"), Step.fresh(f"{tag}{i}")
    cfg = _cfg(tag)
    actual = [*s.values(), *t.values(), *st.values(), *cfg.values()]
    return z3.substitute(term, *zip(consts, actual, strict=True))


def unroll(k: int, asm: frozenset[str], bugs: frozenset[Bug], tag: str = "",
           knobs: Knobs = DEFAULT_KNOBS) -> Trace:
    """Every trace of exactly ``k`` events (``noop`` pads shorter ones).

    Step names depend only on ``tag`` and the step index, so the unrolling of
    depth ``k`` is a prefix of every deeper one (the deepening reuses it).
    The configuration's pinned knobs are both constrained (``config_ok``) and
    substituted into the steps (``fixed_knobs``): the same query, smaller.
    """
    cfg = _cfg(tag)
    states = [State.fresh(f"{tag}{i}") for i in range(k + 1)]
    steps = [Step.fresh(f"{tag}{i}") for i in range(k)]
    fixed = fixed_knobs(asm, knobs)
    parts = [init(states[0]), config_ok(cfg, asm, knobs)]
    parts += [step_term(i, asm, bugs, tag, fixed) for i in range(k)]
    return Trace(states, steps, cfg, z3.And(parts))
