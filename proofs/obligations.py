"""Proof obligations over the encoding, each a named, timed solver query.

Why each kind of query exists (docs/DESIGN.md "The proofs"):

* **Soundness for all orderings** is an inductive invariant ``Inv``:
  ``init ⇒ Inv``, ``Inv ∧ step ⇒ Inv'`` (one symbolic step covers every
  event), and ``Inv ∧ check ⇒ (admitted ⇒ observed)``.  Three UNSAT queries,
  no bound.  Bounded model checking of every interleaving up to ``K`` events
  is run as a cross-check, because an invariant can be wrong in ways that
  make it vacuously inductive.
* **Tightness for all orderings**, by induction too: ``Inv_t`` = ``Inv`` ∧ a
  tightness invariant, and ``Inv_t ∧ check ⇒ (observed ∧ present ∧ outside
  the design's named exclusions ⇒ admitted)`` (``tight.init/step/check``);
  ``pinned_cut`` has no exclusion at all.  Bounded at depth ``K`` as a
  cross-check, and each exclusion is SAT on its own (a real gap, not dead
  text).
* **Optimality** (region form): every region of inputs a design excludes
  holds a reachable row the arm did not observe, so widening any region is
  unsound.
* **Assumptions**: dropping each one makes soundness (A5: tightness) SAT; the
  shortest witness comes from iterative deepening with ``noop`` banned.
* **Non-vacuity**: the interesting configurations are SAT.
* **BitVec(64)**: the comparisons agree with the integer encoding on the u64
  range, and ``generation + 1`` needs the stated bound.
* **Planted bugs** (``encode.Bug``, at least one per transition): each bug
  outside ``encode.DIVERGENCES`` makes a soundness or tightness obligation
  fail, bounded ones tried first so the failure is a trace; a divergence is
  one no obligation can see, and the conformance check with the model
  (``proofs/conformance.py``) is what detects it.

* **The verdict matrix** (design × hazard column, ``model.hazards.HAZARDS``): each
  cell is a bounded question (``K`` events, one shard, one tracked row) built
  from the column's row (``cell_setup``); its answer is ``cex``, ``under-count``
  or ``no cex ≤ K``.  ``proved (induction)`` is only said of a cell the design's
  induction covers and that induction held (``induction_covers``, ``proofs.run``).

Nothing here is hard-coded: every status printed is what the solver said.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from model.designs import Capture, Design, Rel, Source, Verdict
from model.hazards import ASSUMPTIONS as ASSUMPTION_TABLE
from model.hazards import HAZARDS, solver_columns

from .encode import (
    ALL,
    CAP,
    CAPTURES,
    DEFAULT_KNOBS,
    DIVERGENCES,
    GONE,
    MEM,
    NONE,
    OP,
    OPS,
    RET,
    SST,
    STATUS,
    Bug,
    Config,
    Knobs,
    State,
    Step,
    Variant,
    admitted,
    candidate,
    checkable,
    config_ok,
    excluded,
    init,
    present,
    rules_for,
    transition,
    unroll,
)

#: BMC depth for the cross-checks.
K = 6
#: deepest search for a shortest counterexample.
KMAX = 7

SOUND = (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK, Design.EXACT_CUT, Design.PINNED_CUT)
#: designs whose cut records what the scan read (no N to capture: A1 is moot)
RECORDS_READ = (Design.EXACT_CUT, Design.PINNED_CUT)
UNSOUND = (Design.LIVE_TIER, Design.WAL_POSITION_MAP)

#: the assumptions each sound design's soundness rests on (A5 guards tightness only).
SOUNDNESS_ASSUMPTIONS: dict[Design, frozenset[str]] = {
    Design.AS_OF_CUT: frozenset({"A1", "A2", "A3-shards", "A3-sstables", "A4"}),
    Design.FRESH_TIER_WATERMARK: frozenset({"A1", "A2", "A3-shards", "A3-sstables", "A4"}),
    # the cut records the counts the scan read, so which count N is does not matter;
    # that they are the scan's own (read once, at the scan: A1) does (H15)
    Design.EXACT_CUT: frozenset({"A1"}),
    Design.PINNED_CUT: frozenset({"A1"}),
    Design.LIVE_TIER: ALL - {"A5"},
    Design.WAL_POSITION_MAP: ALL - {"A5"},
}

#: named tightness exclusions per design (A5 is not assumed in tightness).
DESIGN_EXCLUSIONS: dict[Design, tuple[str, ...]] = {
    Design.AS_OF_CUT: ("H4", "H5b"),
    Design.FRESH_TIER_WATERMARK: ("H4", "H5b"),
    Design.EXACT_CUT: ("H5b", "epoch"),
    Design.PINNED_CUT: (),
}


# --------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------


@dataclass
class Result:
    """One obligation's outcome."""

    name: str
    statement: str
    status: str  # proved | counterexample | sat | unsat | unknown
    ok: bool  # the status is the expected one
    seconds: float
    trace: dict[str, Any] | None = None


#: eliminate the frame equalities (``t.x == s.x``) before search: about a third
#: faster than the default solver on these unrollings, same answers.
_TACTIC = z3.Then("simplify", "propagate-values", "solve-eqs", "smt")


def _solve(formula: z3.BoolRef) -> tuple[z3.CheckSatResult, z3.ModelRef | None, float]:
    s = _TACTIC.solver()
    s.set(timeout=20000)
    s.add(formula)
    t0 = time.perf_counter()
    r = s.check()
    dt = time.perf_counter() - t0
    return r, (s.model() if r == z3.sat else None), dt


def _asm_extra(tr_states: list[State], steps: list[Step], cfg: Config,
               asm: frozenset[str]) -> z3.BoolRef:
    """A5 as a trace constraint: grace > 0 and no release after the arm."""
    if "A5" not in asm:
        return z3.BoolVal(True)
    parts = [z3.Not(cfg.grace0)]
    for i, st in enumerate(steps):
        parts.append(z3.Implies(st.op == OP["release"], z3.Not(tr_states[i].armed)))
    return z3.And(parts)


Goal = Callable[[Variant, State, Config, frozenset[str]], z3.BoolRef]


def over_count(v: Variant, s: State, cfg: Config, asm: frozenset[str]) -> z3.BoolRef:
    """The check admits R, which the arm never read: a missing row."""
    return z3.And(checkable(s), admitted(v, s, cfg, asm), z3.Not(s.obs))


def under_count_except(excl: tuple[str, ...]) -> Goal:
    """The arm read R, R still exists, the check misses it, outside ``excl``."""

    def goal(v: Variant, s: State, cfg: Config, asm: frozenset[str]) -> z3.BoolRef:
        return z3.And(checkable(s), s.obs, present(s), z3.Not(admitted(v, s, cfg, asm)),
                      *[z3.Not(excluded(e, s)) for e in excl])

    return goal


def bmc(v: Variant, asm: frozenset[str], goal: Goal, k: int, *, exact: bool = False,
        extra: Callable[[list[State], list[Step], Config], z3.BoolRef] | None = None,
        knobs: Knobs = DEFAULT_KNOBS,
        ) -> tuple[z3.CheckSatResult, z3.ModelRef | None, float, list[State], list[Step], Config]:
    """Is ``goal`` reachable within ``k`` events (exactly ``k`` if ``exact``)?"""
    tr = unroll(k, asm, v.bugs, knobs=knobs)
    parts = [tr.constraint, _asm_extra(tr.states, tr.steps, tr.cfg, asm),
             goal(v, tr.states[-1], tr.cfg, asm)]
    if exact:
        parts += [st.op != OP["noop"] for st in tr.steps]
    if extra is not None:
        parts.append(extra(tr.states, tr.steps, tr.cfg))
    r, m, dt = _solve(z3.And(parts))
    return r, m, dt, tr.states, tr.steps, tr.cfg


def shortest(v: Variant, asm: frozenset[str], goal: Goal, kmax: int = KMAX,
             extra: Callable[[list[State], list[Step], Config], z3.BoolRef] | None = None,
             knobs: Knobs = DEFAULT_KNOBS,
             ) -> tuple[dict[str, Any] | None, float]:
    """Iterative deepening: the first k with a witness gives a shortest trace.

    Each depth is a fresh query over the shared, cached step terms (an
    incremental push/pop version measured the same on these depths, and was
    slower on deep UNSAT queries, so the simple form stays).
    """
    total = 0.0
    for k in range(1, kmax + 1):
        r, m, dt, states, steps, cfg = bmc(v, asm, goal, k, exact=True, extra=extra,
                                           knobs=knobs)
        total += dt
        if r == z3.sat and m is not None:
            return render_trace(m, states, steps, cfg, v), total
    return None, total


# --------------------------------------------------------------------------
# The inductive invariant
# --------------------------------------------------------------------------


def wf(s: State) -> z3.BoolRef:
    """Well-formedness of every reachable state (inductive on its own)."""
    mem, ret_sst = s.rs == MEM, z3.Or(s.rs == RET, s.rs == SST, s.rs == GONE)
    # generations hf .. cg-1 are skipped (a failed flush, H14; nsk batches), cg .. cur-1
    # frozen and flushable (nfl batches); R in memory below hf is an orphaned skipped one
    unflushed = s.nsk + s.nfl
    return z3.And(
        s.ep >= 1, s.hf >= 1, s.cg >= s.hf, s.cur >= s.cg, s.av >= 0, s.av <= s.ac,
        s.nfl >= s.cur - s.cg, s.nsk >= s.cg - s.hf, s.rs >= NONE, s.rs <= GONE,
        # WAL: positions below nw handed out, up to nd durable; the pending ones are
        # unflushed batches (a flush syncs first)
        z3.Implies(s.cg == s.cur, s.nfl == 0), z3.Implies(s.hf == s.cg, s.nsk == 0),
        s.nd >= 0, s.nd <= s.nw - 1, s.nw - 1 - s.nd <= unflushed + s.ac,
        s.nw - 1 >= unflushed + s.ac,
        z3.Implies(z3.Not(s.sx), z3.And(s.cur == 1, s.cg == 1, s.hf == 1, s.ac == 0,
                                         s.av == 0, s.nfl == 0, s.nsk == 0, s.rs == NONE)),
        z3.Implies(mem, z3.And(
            s.rg >= 1, s.rg <= s.cur, s.ri >= 0, s.ri < s.gc, s.gv >= 0, s.gv <= s.gc,
            s.ra == (s.rg == s.cur), s.rw >= 1, s.rw < s.nw,
            z3.Implies(s.rg >= s.cg, s.below >= s.nsk + s.rg - s.cg),
            z3.Implies(s.rg == s.cg, s.below == s.nsk),
            z3.Implies(s.rg == s.hf, s.below == 0),
            # replayable batches hold the last positions, in generation order
            z3.Implies(s.rg >= s.hf, s.rw == s.nw - (unflushed + s.ac) + s.below + s.ri),
            z3.Implies(s.rg < s.hf, s.rw <= s.nw - 1 - (unflushed + s.ac)),
            z3.Implies(s.ra, z3.And(s.gc == s.ac, s.gv == s.av, s.below == unflushed)),
            z3.Implies(z3.And(z3.Not(s.ra), s.rg >= s.cg),
                       z3.And(s.below + s.gc <= unflushed,
                              unflushed - s.below - s.gc >= s.cur - s.rg - 1)),
            z3.Implies(z3.And(s.rg >= s.hf, s.rg < s.cg),
                       z3.And(s.below >= s.rg - s.hf, s.below + s.gc <= s.nsk,
                              s.nsk - s.below - s.gc >= s.cg - s.rg - 1)),
            # a write not yet durable lies in the pending tail, past every replayable
            # batch before it
            z3.Implies(s.rw > s.nd, s.rg >= s.hf),
        )),
        z3.Implies(ret_sst, z3.And(s.rg < s.hf, s.ri >= 0, s.ri < s.gc, z3.Not(s.ra),
                                   s.rw <= s.nd, s.rw >= 1,
                                   s.rw <= s.nw - 1 - (unflushed + s.ac))),
        z3.Implies(s.rs == RET, s.gv == s.gc),
    )


def sound_inv(design: Design, s: State, cfg: Config) -> z3.BoolRef:
    """After the arm: where an unobserved R can be (the heart of the proof).

    as_of_cut / fresh_tier_watermark (A1–A4): the epoch is the arm's, the
    next append position ``(cur, ac)`` is at or past the cut ``(A, N)``
    lexicographically, and an unobserved R sits at or past the cut too.
    exact_cut (no assumptions): while the epoch is the arm's, the next append
    position is at or past the active entry ``(xa, xn)``, and an unobserved R
    has append index ≥ the count observed for its generation.
    """
    live = z3.Or(s.rs == MEM, s.rs == RET, s.rs == SST)
    if design is Design.PINNED_CUT:
        # positions only grow, and R's position is in the cut only if the arm read R
        return z3.And(s.nw >= s.nw_a, z3.Implies(s.rin, s.obs))
    if design is Design.EXACT_CUT:
        same = s.ep == s.ep_a
        return z3.And(
            s.ep >= s.ep_a,
            z3.Implies(same, z3.Or(s.cur > s.xa, z3.And(s.cur == s.xa, s.ac >= s.xn))),
            z3.Implies(z3.And(same, s.sx_a, z3.Not(s.obs), s.rs != NONE), s.ri >= s.oc),
        )
    return z3.And(
        s.ep == s.ep_a, s.nread, s.A >= 0, z3.Not(cfg.stale),
        z3.Or(s.cur > s.A, z3.And(s.cur == s.A, s.ac >= s.N)),
        z3.Implies(z3.And(z3.Not(s.obs), live),
                   z3.Or(s.rg > s.A, z3.And(s.rg == s.A, s.ri >= s.N))),
    )


def invariant(design: Design, s: State, cfg: Config) -> z3.BoolRef:
    """``Inv = wf ∧ (armed ⇒ sound_inv)``; the as-of designs (A3-sstables) add
    that the arm never read its SSTable list apart from its memtable refs."""
    skew = z3.BoolVal(True) if design in RECORDS_READ else z3.Not(s.man_taken)
    # pinned_cut: WAL positions are never handed out twice while writes turn
    # durable before visible (a crash then loses no position, H9)
    durable = (z3.Implies(z3.Not(cfg.dav), s.nd == s.nw - 1) if design is Design.PINNED_CUT
               else z3.BoolVal(True))
    return z3.And(wf(s), skew, durable, z3.Implies(s.armed, sound_inv(design, s, cfg)))


def tight_inv(design: Design, s: State) -> z3.BoolRef:
    """After the arm: what keeps an *observed* row admitted (outside the exclusions).

    pinned_cut: R's position stays in the cut and R stays reachable (read
    before the pin, so never merged into the pinned base).  exact_cut: while
    the epoch is the arm's, R's index is below its generation's observed
    count.  as_of_cut / fresh_tier_watermark (A1–A4: no replay after the arm,
    N read with the scan): R sits strictly below the cut or inside its prefix,
    and (watermark) stays visible.
    """
    seen = z3.And(s.sx_a, s.rs != NONE)
    if design is Design.PINNED_CUT:
        return z3.Implies(s.obs, z3.And(seen, s.rin, s.pin_r))
    if design is Design.EXACT_CUT:
        return z3.Implies(z3.And(s.obs, s.ep == s.ep_a), z3.And(seen, s.ri < s.oc))
    mem = z3.Or(s.rs == MEM, s.rs == RET)
    return z3.Implies(s.obs, z3.And(
        seen, z3.Or(s.rg < s.A, z3.And(s.rg == s.A, s.ri < s.N)),
        z3.Implies(mem, s.ri < s.gv)))


def tight_invariant(design: Design, s: State, cfg: Config) -> z3.BoolRef:
    """``Inv_t = Inv ∧ (armed ⇒ tight_inv)``."""
    return z3.And(invariant(design, s, cfg), z3.Implies(s.armed, tight_inv(design, s)))


def inductive(v: Variant, asm: frozenset[str]) -> list[Result]:
    """The three UNSAT queries of the unbounded soundness proof."""
    d = v.design
    s, t = State.fresh("s"), State.fresh("t")
    st, cfg = Step.fresh("x"), Config()
    tr = transition(s, t, st, cfg, asm, v.bugs)
    queries = [
        ("sound.init", "init ⇒ Inv", z3.And(init(s), config_ok(cfg, asm),
                                              z3.Not(invariant(d, s, cfg)))),
        ("sound.step", "Inv ∧ step ⇒ Inv′ (every event, one symbolic step)",
         z3.And(invariant(d, s, cfg), config_ok(cfg, asm), tr, z3.Not(invariant(d, t, cfg)))),
        ("sound.check", "Inv ∧ check ⇒ (admitted ⇒ observed)",
         z3.And(invariant(d, s, cfg), config_ok(cfg, asm), over_count(v, s, cfg, asm))),
    ]
    inv_t = functools.partial(tight_invariant, d)
    excl = DESIGN_EXCLUSIONS.get(d)
    if excl is not None:
        but = f"except {', '.join(excl)}" if excl else "no exclusion"
        queries += [
            ("tight.init", "init ⇒ Inv_t (Inv ∧ tightness invariant)",
             z3.And(init(s), config_ok(cfg, asm), z3.Not(inv_t(s, cfg)))),
            ("tight.step", "Inv_t ∧ step ⇒ Inv_t′ (every event, one symbolic step)",
             z3.And(inv_t(s, cfg), config_ok(cfg, asm), tr, z3.Not(inv_t(t, cfg)))),
            ("tight.check", f"Inv_t ∧ check ⇒ (observed ∧ present ⇒ admitted), {but}",
             z3.And(inv_t(s, cfg), config_ok(cfg, asm),
                    under_count_except(excl)(v, s, cfg, asm))),
        ]
    out = []
    for name, stmt, q in queries:
        r, _, dt = _solve(q)
        out.append(Result(name, stmt, _status(r), r == z3.unsat, dt))
    return out


def _status(r: z3.CheckSatResult, *, sat_word: str = "counterexample") -> str:
    if r == z3.unsat:
        return "proved"
    if r == z3.sat:
        return sat_word
    return "unknown"


# --------------------------------------------------------------------------
# Traces a reviewer can follow
# --------------------------------------------------------------------------


def _val(m: z3.ModelRef, e: z3.ExprRef) -> Any:
    v = m.eval(e, model_completion=True)
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    return v.as_long()  # type: ignore[attr-defined]


def render_trace(m: z3.ModelRef, states: list[State], steps: list[Step], cfg: Config,
                 v: Variant) -> dict[str, Any]:
    """A model as data: numbered events with PKs (the row under test is ``r``)."""
    cap = CAPTURES[_val(m, cfg.cap)]
    grace0, stale = _val(m, cfg.grace0), _val(m, cfg.stale)
    two, dav, skip, pap = (_val(m, x) for x in (cfg.two, cfg.dav, cfg.skip, cfg.pap))
    events: list[dict[str, Any]] = []
    pk_n = 0
    cut: dict[str, Any] = {}
    # the row under test is the write followed at the check: a write followed
    # earlier and lost in a crash (H9, H14) is another key's
    takes = [i for i, st in enumerate(steps) if OPS[_val(m, st.op)] == "put"
             and _val(m, states[i].rs) == NONE and _val(m, states[i + 1].rs) != NONE]
    for i, st in enumerate(steps):
        s, t = states[i], states[i + 1]
        op = OPS[_val(m, st.op)]
        ev: dict[str, Any] = {"n": len(events) + 1, "op": op, "shard": "s"}
        if op == "noop":
            continue
        if op == "put":
            is_r = bool(takes) and i == takes[-1]
            if is_r:
                pk = "r"
            else:
                pk_n += 1
                pk = f"p{pk_n}"
            tomb = bool(_val(m, st.dl)) and pap  # a delete differs from a put under pap only
            ev.update(pk=pk, generation=_val(m, s.cur), append_index=_val(m, s.ac),
                      creates_shard=not _val(m, s.sx), row_under_test=is_r, tombstone=tomb)
            if tomb:
                ev["op"] = "delete"
            shown = _val(m, t.av) > _val(m, s.av) and (pap or dav)
            ev["text"] = (f"{'delete' if tomb else 'put'} {pk!r} → shard s gen "
                          f"{ev['generation']} idx {ev['append_index']} "
                          + ("(a tombstone; " if tomb else "(")
                          + ("committed and published at once)" if shown
                             else "committed, not yet visible)")
                          + (f" at WAL position {_val(m, s.nw)}" if dav else "")
                          + (" [creates shard s]" if ev["creates_shard"] else "")
                          + ("  ← row under test" if is_r else ""))
        elif op == "publish":
            ev["text"] = "publish shard s: every in-memory generation visible := committed"
        elif op == "freeze":
            ev.update(generation=_val(m, s.cur))
            ev["text"] = (f"freeze gen {_val(m, s.cur)} ({_val(m, s.ac)} batches, "
                          f"{_val(m, s.av)} visible); active := gen {_val(m, t.cur)}")
        elif op == "flush":
            ev.update(generation=_val(m, s.cg))
            ev["text"] = (f"flush gen {_val(m, s.cg)} → SSTable "
                          + ("(released at flush: grace = 0)" if grace0
                             else "(retained in memory)"))
        elif op == "release":
            ev["text"] = "release flushed memtables from memory"
        elif op == "compact":
            ev["text"] = "compact shard s's SSTables into the base table"
        elif op == "crash":
            ev.update(epoch=_val(m, t.ep), generation=_val(m, t.cur))
            lost = (f"; WAL writes past position {_val(m, s.nd)} were never durable: lost, "
                    f"new writes take positions from {_val(m, t.nw)}" if dav else "")
            ev["text"] = (f"crash + reopen: epoch {_val(m, t.ep)}, every durable batch past "
                          f"the newest flushed generation replayed into gen {_val(m, t.cur)} "
                          f"(renumbered, all visible){lost}")
        elif op == "sync":
            ev["text"] = f"sync shard s's WAL: positions up to {_val(m, t.nd)} durable"
        elif op == "fail_flush":
            ev.update(generation=_val(m, s.cg))
            ev["text"] = (f"flush of gen {_val(m, s.cg)} FAILS: it stays frozen in memory; "
                          f"later flushes skip it")
        elif op == "manifest":
            ev["text"] = "read arm reads the manifest's SSTable list (before memtable refs)"
        elif op == "arm":
            # (a write the solver followed then and a crash lost is not r)
            obs = _val(m, t.obs) and not any(j > i for j in takes)
            if v.design is Design.EXACT_CUT:
                cut = {"kind": "ExactCut", "epoch": _val(m, t.ep_a),
                       "active": [_val(m, t.xa), _val(m, t.xn)]}
            elif v.design is Design.PINNED_CUT:
                cut = {"kind": "PinnedCut", "horizon": _val(m, t.nw_a)}
            elif _val(m, t.sx_a):
                cut = {"kind": "AsOfCut", "active_generation": _val(m, t.A),
                       "active_batch_count": _val(m, t.N)}
            else:
                cut = {"kind": "absent"}
            ev.update(cut=dict(cut), reads_r=obs, capture=cap.value, second_instant=two)
            how = f"{cap.value}, counts taken again later" if two else cap.value
            ev["text"] = (f"read arm ({how}): cut {_cut_text(cut)}; "
                          + ("reads r" if obs else "does NOT read r"))
        elif op == "read_n":
            if cut.get("kind") == "ExactCut":
                cut["active"] = [_val(m, t.xa), _val(m, t.xn)]
            elif cut.get("kind") == "AsOfCut":
                cut["active_batch_count"] = _val(m, t.N)
            ev.update(active_batch_count=_val(m, t.N))
            if not two:
                ev["text"] = f"arm re-reads N after its scan: N := {_val(m, t.N)}"
            elif v.design is Design.EXACT_CUT:
                ev["text"] = (f"arm reads the cut's counts at a second instant: active := "
                              f"[{_val(m, t.xa)}, {_val(m, t.xn)}]")
            elif v.design is Design.PINNED_CUT:
                ev["text"] = ("arm reads the cut's WAL positions at a second instant"
                              + (": r's position now in the cut" if _val(m, t.rin)
                                 and not _val(m, s.rin) else ""))
            else:
                ev["text"] = f"arm reads the cut's counts at a second instant: N := {_val(m, t.N)}"
        events.append(ev)
    last = states[-1]
    adm = _val(m, admitted(v, last, cfg, frozenset()))
    outcome = "missing_row" if not _val(m, last.obs) else "duplicate"
    check = {"n": len(events) + 1, "op": "check", "shard": "s", "pk": "r",
             "row": {"generation": _val(m, last.rg), "append_index": _val(m, last.ri),
                     "status": STATUS[_val(m, last.rs)], "epoch": _val(m, last.ep)},
             "stale_sstable_list": stale}
    if outcome == "missing_row":
        check["text"] = ("check contains_pks_as_of(['r'], cut): r admitted → base row 'r' "
                         "dropped, but the arm delivered no version of 'r': MISSING ROW")
    else:
        check["text"] = (f"check contains_pks_as_of(['r'], cut): r "
                         f"{'admitted' if adm else 'not admitted'} → base row 'r' survives "
                         f"beside the arm's 'r': DUPLICATE (under-count)")
    if stale:  # the one input the events above do not show: say it where it acts
        check["text"] = check["text"].replace(
            "check contains_pks_as_of(['r'], cut):",
            f"check contains_pks_as_of(['r'], cut) with a stale SSTable list (it still lists "
            f"gen {_val(m, last.rg)}, already merged into the base table):", 1)
    events.append(check)
    knobs = {"arm_visibility": "two_instants" if two else "one_instant",
             "durability": "after_visible" if dav else "before_visible",
             "flush_failure": "skip" if skip else "retry",
             "publish_after_put": pap,
             "row_under_test_is_tombstone": bool(_val(m, last.rt)) and pap}
    return {
        "design": v.design.value,
        "capture": cap.value,
        **knobs,
        "visibility": "lagged",
        "release": "at_flush" if grace0 else "explicit",
        "base_pks": ["r"],
        "cut": cut,
        "missing_pk": "r",
        "outcome": outcome,
        "events": events,
    }


def _cut_text(cut: dict[str, Any]) -> str:
    if cut.get("kind") == "AsOfCut":
        return f"s: AsOfCut(A={cut['active_generation']}, N={cut['active_batch_count']})"
    if cut.get("kind") == "ExactCut":
        return f"s: ExactCut(epoch={cut['epoch']}, active={cut['active']})"
    if cut.get("kind") == "PinnedCut":
        return f"s: PinnedCut(WAL positions read, all < {cut['horizon']})"
    return "no entry for s (shard unseen)"


def trace_lines(trace: dict[str, Any]) -> list[str]:
    """Numbered event lines."""
    return [f"{e['n']}. {e['text']}" for e in trace["events"]]


# --------------------------------------------------------------------------
# Obligations per design
# --------------------------------------------------------------------------

#: what each dropped assumption should break, and how its witness is pinned: the
#: capture of N, and whether the arm reads its counts at a second instant (H15).
#: A cut that records what its scan read (``RECORDS_READ``) has no N to capture:
#: the second instant is its one way to lose A1, and the one drop it is asked
#: for; the as-of designs are asked for the two captures (the H8 and H15 columns
#: show their other ways).
DROPS: dict[str, tuple[str, Capture | None, bool]] = {
    "A1 (len)": ("A1", Capture.LEN, False),
    "A1 (after_scan)": ("A1", Capture.AFTER_SCAN, False),
    "A1 (two_instants)": ("A1", Capture.VISIBLE_COUNT, True),
    "A2": ("A2", None, False),
    "A3-shards": ("A3-shards", None, False),
    "A3-sstables": ("A3-sstables", None, False),
    "A4": ("A4", None, False),
    "A5": ("A5", None, False),
}


def _pin_cap(cap: Capture | None, two: bool | None = None,
             ) -> Callable[[list[State], list[Step], Config], z3.BoolRef]:
    def extra(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        parts = [z3.BoolVal(True)]
        if cap is not None:
            parts.append(cfg.cap == CAP[cap])
        if two is not None:
            parts.append(cfg.two == two)
        return z3.And(parts)

    return extra


def _sometime_after_arm(op: str) -> Callable[[list[State], list[Step], Config], z3.BoolRef]:
    def extra(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        return z3.Or([z3.And(states[i].armed, st.op == OP[op]) for i, st in enumerate(steps)])

    return extra


@dataclass
class DesignReport:
    """All obligations of one design variant."""

    variant: Variant
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every obligation has its expected status."""
        return all(r.ok for r in self.results)


def obligation_thunks(v: Variant, *, deepen: bool = True) -> list[Callable[[], list[Result]]]:
    """The obligations of one design, cheapest first, as deferred queries.

    Deferred so that a planted-bug run can stop at the first failure.
    """
    d = v.design
    asm = SOUNDNESS_ASSUMPTIONS[d]
    excl = DESIGN_EXCLUSIONS[d]

    def sound_bmc() -> list[Result]:
        r, _, dt, *_ = bmc(v, asm, over_count, K)
        return [Result(f"sound.bmc.K{K}", f"no over-count in any interleaving of ≤ {K} events",
                       _status(r), r == z3.unsat, dt)]

    def tight() -> list[Result]:
        r, _, dt, *_ = bmc(v, asm, under_count_except(excl), K)
        but = f"except {', '.join(excl)}" if excl else "no exclusion"
        out = [Result(f"tight.bmc.K{K}",
                      f"observed ∧ present ⇒ admitted, {but} (≤ {K} events)",
                      _status(r), r == z3.unsat, dt)]
        for e in excl:
            others = tuple(x for x in excl if x != e)
            r, _, dt, *_ = bmc(v, asm, under_count_except(others), K)
            out.append(Result(f"tight.gap.{e}", f"exclusion {e} is a real gap (needed)",
                              _status(r, sat_word="sat"), r == z3.sat, dt))
        if "H4" in excl:
            r, _, dt, *_ = bmc(v, asm | {"A5"}, under_count_except(("H5b",)), K)
            out.append(Result("tight.A5", f"with A5 ({ASSUMPTION_TABLE['A5'].requirement}) "
                                          "the H4 gap closes",
                              _status(r), r == z3.unsat, dt))
        return out

    return [
        lambda: inductive(v, asm),
        lambda: assumption_drops(v, asm, deepen=deepen),
        sound_bmc,
        tight,
        lambda: optimality(v, asm),
        lambda: non_vacuity(v, asm),
    ]


def design_obligations(v: Variant, *, stop_at_failure: bool = False) -> DesignReport:
    """The full obligation list for one design (possibly with planted bugs).

    A planted-bug run (``stop_at_failure``) skips the iterative deepening: any
    counterexample within ``KMAX`` decides an assumption drop.
    """
    rep = DesignReport(v)
    for thunk in obligation_thunks(v, deepen=not stop_at_failure):
        rep.results.extend(thunk())
        if stop_at_failure and not rep.ok:
            break
    return rep


def optimality(v: Variant, asm: frozenset[str]) -> list[Result]:
    """Every excluded region holds a reachable unobserved row (widening is unsound)."""
    d = v.design
    out = []
    regions: list[tuple[str, Callable[[State], z3.BoolRef]]] = []
    if d is Design.PINNED_CUT:
        regions = [
            ("shard unseen", lambda s: z3.Not(s.sx_a)),
            ("position not read", lambda s: z3.And(s.sx_a, z3.Not(s.rin))),
            ("merged before the pin", lambda s: z3.And(s.rs == GONE, z3.Not(s.pin_r))),
        ]
    elif d is Design.EXACT_CUT:
        regions = [
            ("shard unseen", lambda s: z3.Not(s.sx_a)),
            ("epoch changed", lambda s: s.ep != s.ep_a),
            ("idx ≥ observed count", lambda s: z3.And(s.sx_a, s.ep == s.ep_a, s.ri >= s.oc)),
        ]
    else:
        rules = rules_for(v.bugs)
        for (src, rel), verdict in rules.items():
            if verdict is Verdict.WHOLE:
                continue

            def region(s: State, src: Source = src, rel: Rel = rel,
                       verdict: Verdict = verdict) -> z3.BoolRef:
                mem = z3.Or(s.rs == MEM, s.rs == RET)
                src_t = mem if src is Source.MEMTABLE else s.rs == SST
                rel_t = {Rel.BELOW: s.rg < s.A, Rel.AT: s.rg == s.A,
                         Rel.ABOVE: s.rg > s.A}[rel]
                extra = s.ri >= s.N if verdict is Verdict.PREFIX else z3.BoolVal(True)
                return z3.And(src_t, rel_t, extra)

            label = f"{src.value} {rel.value}" + (" idx ≥ N" if verdict is Verdict.PREFIX else "")
            regions.append((label, region))
        if d is Design.FRESH_TIER_WATERMARK:
            regions.append(("in-memory invisible",
                            lambda s: z3.And(z3.Or(s.rs == MEM, s.rs == RET), s.ri >= s.gv)))

    for label, reg in regions:

        def goal(vv: Variant, s: State, cfg: Config, a: frozenset[str],
                 reg: Callable[[State], z3.BoolRef] = reg) -> z3.BoolRef:
            return z3.And(checkable(s), candidate(s, cfg, vv), reg(s), z3.Not(s.obs))

        r, _, dt, *_ = bmc(v, asm, goal, K)
        out.append(Result(f"optimal[{label}]",
                          f"region '{label}' holds an unobserved reachable row",
                          _status(r, sat_word="sat"), r == z3.sat, dt))
    return out


def assumption_drops(v: Variant, asm: frozenset[str], *, deepen: bool = True) -> list[Result]:
    """Each assumption the design rests on is necessary: shortest counterexample."""
    out = []
    for label, (name, cap, two) in DROPS.items():
        if name == "A1" and (v.design in RECORDS_READ) != two:
            continue  # see DROPS
        if name == "A5":
            if "H4" not in DESIGN_EXCLUSIONS[v.design]:
                continue
            goal = under_count_except(("H5b",))
            base = asm
        else:
            if name not in asm:
                continue
            goal = over_count
            base = asm - {name}
        pin = _pin_cap(cap, two if name == "A1" else None)
        if deepen:
            trace, dt = shortest(v, base, goal, extra=pin)
        else:
            r, m, dt, states, steps, cfg = bmc(v, base, goal, KMAX, extra=pin)
            trace = render_trace(m, states, steps, cfg, v) if m is not None else None
        if trace is not None:
            trace["assumption_dropped"] = label
        status = "counterexample" if trace is not None else f"none ≤ {KMAX}"
        out.append(Result(f"needs.{label}", f"without {label} the proof fails",
                          status, trace is not None, dt, trace))
    return out


def non_vacuity(v: Variant, asm: frozenset[str]) -> list[Result]:
    """The configurations the proofs talk about are reachable."""

    def reach(label: str, a: frozenset[str], goal: Goal,
              extra: Callable[[list[State], list[Step], Config], z3.BoolRef] | None = None,
              ) -> Result:
        r, _, dt, *_ = bmc(v, a, goal, K, extra=extra)
        return Result(f"reach[{label}]", f"reachable: {label}",
                      _status(r, sat_word="sat"), r == z3.sat, dt)

    def admits_observed(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return z3.And(checkable(s), admitted(vv, s, cfg, a), s.obs)

    def cut_inside(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        if vv.design is Design.EXACT_CUT:
            return z3.And(checkable(s), s.xn > 0, s.rg == s.xa, s.ri >= s.xn, s.rs == MEM)
        if vv.design is Design.PINNED_CUT:  # an unread write below the horizon: a hole
            return z3.And(checkable(s), s.rs == MEM, z3.Not(s.obs), s.rw < s.nw_a)
        return z3.And(checkable(s), s.N > 0, s.rg == s.A, s.ri >= s.N, s.rs == MEM)

    def checked(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return z3.And(checkable(s), s.obs)

    def armed(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return checkable(s)

    def new_shard(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return z3.And(checkable(s), z3.Not(s.sx_a), s.rs == MEM)

    def crashed(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return z3.And(checkable(s), s.obs, s.ep != s.ep_a, s.rs == MEM)

    def tail(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        return z3.Or([z3.And(states[i].armed, st.op == OP["publish"], states[i].rs == MEM,
                             z3.Not(states[i].ra), states[i].ri >= states[i].gv)
                      for i, st in enumerate(steps)])

    return [
        reach("an observed row admitted", asm, admits_observed),
        reach("cut inside a memtable", asm, cut_inside),
        reach("flush between arm and check", asm, checked, _sometime_after_arm("flush")),
        # H14's situation, inside the induction's own setup (``skip`` is left free)
        reach("failed flush between arm and check", asm, checked,
              _sometime_after_arm("fail_flush")),
        reach("frozen tail published after the arm (no A2)", asm - {"A2"}, armed, tail),
        reach("new shard after the arm", asm, new_shard),
        reach("crash between arm and check (no A4)", asm - {"A4"}, crashed),
    ]


# --------------------------------------------------------------------------
# Verdict matrix
# --------------------------------------------------------------------------

#: the columns: ``model.hazards.HAZARDS`` (the one hazard table); the solver
#: computes a verdict for the rows with ``solver`` set, the baseline first.
COLUMNS: tuple[str, ...] = solver_columns()
DESIGNS = tuple(Design)

#: the matrix's words.  A cell's own queries are bounded (BMC, ``K`` events of one
#: shard, following one row); ``NO_CEX`` is all they can say.  ``PROVED`` is earned
#: only where the design's induction (``sound.*``, ``tight.*``) ran, held, and asks a
#: question at least as wide as the cell's (``induction_covers``; ``proofs.run``);
#: such a cell gets no bounded query of its own (the design's ``*.bmc.K6`` cross-check
#: the induction at the widest setup).
PROVED, NO_CEX, CEX, UNDER = "proved (induction)", "no cex ≤ K", "cex", "under-count"
WORDS = (PROVED, NO_CEX, CEX, UNDER)
#: a matrix job's answer for a cell the induction covers: no bounded query is run
#: for it; ``proofs.run`` turns it into ``PROVED`` iff the design's induction held
BY_INDUCTION = "(induction)"


def _verdict_extra(cap: Capture | None, fresh_list: bool,
                   ) -> Callable[[list[State], list[Step], Config], z3.BoolRef]:
    def extra(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        parts = [_pin_cap(cap)(states, steps, cfg)]
        if fresh_list:
            parts.append(z3.Not(cfg.stale))
        return z3.And(parts)

    return extra


def tombstone_over_count(v: Variant, s: State, cfg: Config, asm: frozenset[str]) -> z3.BoolRef:
    """R is a delete the check admits and the arm never read: the check drops the base
    row of R's key while the arm delivered no version of it (H13)."""
    return z3.And(over_count(v, s, cfg, asm), s.rt)


def cell_goals(knobs: Knobs, excl: tuple[str, ...]) -> tuple[Goal, Goal]:
    """A cell's over-count and under-count goals.  Where puts are published at once
    (``pap``, H13) the row under test of an over-count is a tombstone."""
    over = tombstone_over_count if dict(knobs).get("pap") else over_count
    return over, under_count_except(excl)


@functools.cache
def _verdict_query(v: Variant, base: frozenset[str], cap: Capture | None, fresh_list: bool,
                   excl: tuple[str, ...], knobs: Knobs) -> tuple[str, float]:
    """One cell's two bounded queries (cached: cells with the same setup share them)."""
    extra = _verdict_extra(cap, fresh_list)
    over, under = cell_goals(knobs, excl)

    def either(vv: Variant, s: State, cfg: Config, a: frozenset[str]) -> z3.BoolRef:
        return z3.Or(over(vv, s, cfg, a), under(vv, s, cfg, a))

    # one query for both goals (most cells are UNSAT for both, or an over-count);
    # an under-count witness still leaves the over-count to ask on its own
    r, m, t1, states, *_ = bmc(v, base, either, K, extra=extra, knobs=knobs)
    if r == z3.unsat:
        return NO_CEX, t1
    if r == z3.sat and m is not None and z3.is_false(m.eval(states[-1].obs,
                                                             model_completion=True)):
        return CEX, t1
    r2, _, t2, *_ = bmc(v, base, over, K, extra=extra, knobs=knobs)
    if r2 == z3.sat:
        return CEX, t1 + t2
    if r == z3.sat and r2 == z3.unsat:
        return UNDER, t1 + t2
    return "unknown", t1 + t2


def verdict(v: Variant, column: str = "baseline") -> tuple[str, float]:
    """Solver-computed verdict of one design under one column (``HAZARDS`` key).

    ``cex``: an over-count (a missing row) within ``K`` events; else
    ``under-count``: an observed, present row the check misses outside the
    exclusions the column keeps; else ``no cex ≤ K`` (both UNSAT at depth ``K``).
    The matrix (``matrix_row``) asks this only of cells the induction does not cover.
    """
    return _verdict_query(v, *cell_setup(v.design, column))


def cell_knobs(column: str) -> Knobs:
    """The encoding's knobs a column switches, read from its row of ``HAZARDS``:
    ``two`` (the arm's ``arm_visibility``), ``dav`` (``durability``), ``skip``
    (``flush_failure``), ``pap`` (``publish_after_put``)."""
    h = HAZARDS[column]
    return (("two", h.option("arm_visibility") == "two_instants"),
            ("dav", h.option("durability") == "after_visible"),
            ("skip", h.option("flush_failure") == "skip"),
            ("pap", h.publish_after_put))


def cell_setup(design: Design, column: str) -> tuple[frozenset[str], Capture | None, bool,
                                                      tuple[str, ...], Knobs]:
    """What a matrix cell keeps: assumptions, pinned capture, current list, exclusions, knobs.

    Read from the column's row of ``model.hazards.HAZARDS`` (``breaks``,
    ``capture``, ``fresh_list``, ``gap``, ``options``, ``publish_after_put``) and
    nothing else.  The one place a cell's question is built: ``verdict`` asks
    it, and ``proofs.cells`` asks the same question for the cell's own shortest trace.
    """
    h = HAZARDS[column]
    base = ALL - {"A5"}
    if h.breaks is not None:
        base = base - {h.breaks}
    if design in RECORDS_READ:
        # the cut records what the scan read: the capture of N is moot, and the
        # knob ``two`` (pinned from the row) is the one way it loses A1
        base = base - {"A1"}
    excl = tuple(e for e in ("H4", "H5b", "epoch") if e != h.gap)
    return base, h.capture, h.fresh_list, excl, cell_knobs(column)


def induction_covers(design: Design, column: str) -> bool:
    """The design's induction answers this cell's question (a setup comparison only).

    It does when the cell keeps every assumption the induction assumed, pins
    the capture and knobs the induction allowed (A1: visible count, one
    instant; ``DEFAULT_KNOBS``), and excuses at least the design's named
    exclusions.  Whether the induction ran and held is ``proofs.run``'s to say.
    """
    if design not in DESIGN_EXCLUSIONS:
        return False
    base, cap, _, excl, knobs = cell_setup(design, column)
    asm = SOUNDNESS_ASSUMPTIONS[design]
    on = dict(knobs)
    # a cell of a design that records its counts drops A1 for the capture's sake
    # only: it still pins the capture and ``two``, which is what A1 pinned
    kept = base | {"A1"} if design in RECORDS_READ else base
    if not asm <= kept:
        return False
    if "A1" in asm and (on["two"] or cap is not Capture.VISIBLE_COUNT):
        return False
    if any(on[k] != v for k, v in DEFAULT_KNOBS):
        return False
    return set(DESIGN_EXCLUSIONS[design]) <= set(excl)


def matrix_row(design: Design) -> dict[str, str]:
    """One design's row as the matrix job computes it: the bounded verdict of every
    cell, except ``BY_INDUCTION`` where the induction covers the cell's question
    (the design's ``sound.*``/``tight.*`` queries answer it, and say more)."""
    return {c: BY_INDUCTION if induction_covers(design, c) else verdict(Variant(design), c)[0]
            for c in COLUMNS}


def verdict_matrix() -> tuple[dict[str, dict[str, str]], float]:
    """design → column → verdict, plus the total solve time."""
    out: dict[str, dict[str, str]] = {}
    total = 0.0
    for d in DESIGNS:
        row: dict[str, str] = {}
        for h in COLUMNS:
            verd, dt = verdict(Variant(d), h)
            total += dt
            row[h] = verd
        out[d.value] = row
    return out, total


# --------------------------------------------------------------------------
# Planted bugs
# --------------------------------------------------------------------------

#: bug → the designs whose obligations it is planted into (a divergence: none,
#: the conformance check is its judge).
PLANTED: dict[Bug, tuple[Design, ...]] = {
    Bug.SST_GT: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.PREFIX_LE: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.FREEZE_NO_BUMP: SOUND,
    Bug.REPLAY_NO_RENUMBER: (),
    Bug.EXACT_NO_EPOCH: (Design.EXACT_CUT,),
    Bug.CRASH_KEEPS_EPOCH: (Design.EXACT_CUT,),
    Bug.NEVER_RELEASE: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.PUT_INDEX_OFF_BY_ONE: SOUND,
    Bug.PUBLISH_STALE_COUNT: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.PUBLISH_SKIPS_FROZEN: (),
    Bug.FLUSH_IGNORES_GRACE: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.COMPACT_RENUMBERS: SOUND,
    Bug.MANIFEST_LISTS_MEMTABLES: (),
    Bug.ARM_N_COMMITTED: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.READ_N_ANY_GENERATION: (),
    Bug.CRASH_REUSES_WAL: (Design.PINNED_CUT,),
    Bug.REPLAY_NEW_WAL: (Design.PINNED_CUT,),
    Bug.PIN_NO_MERGED: (Design.PINNED_CUT,),
    Bug.SST_BELOW_NONE: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.EXACT_SHORT: (Design.EXACT_CUT,),
    Bug.INCLUSIVE_NO_FLOOR: (),
    Bug.SYNC_NOOP: (),
    # both break the induction's step (the replayed batches no longer hold the last
    # WAL positions, which ``wf`` states), though a bounded search finds no missing row
    Bug.CRASH_REPLAYS_PENDING: (Design.AS_OF_CUT,),
    Bug.FAIL_FLUSH_FLUSHES: (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK),
    Bug.CRASH_REPLAYS_SKIPPED: (Design.AS_OF_CUT,),
    Bug.RECOUNT_KEEPS_EXACT: (),
    Bug.PUT_PUBLISH_IGNORES_FROZEN: (),
}


def soundness_and_tightness(v: Variant) -> list[Result]:
    """The obligations a planted bug must break, bounded ones first (their failure
    is a concrete trace): soundness (BMC), tightness, then the inductive proof.
    Stops at the first failure."""
    thunks = obligation_thunks(v, deepen=False)
    inductive_, _, sound_bmc, tight = thunks[:4]
    out: list[Result] = []
    for thunk in (sound_bmc, tight, inductive_):
        out += thunk()
        if not all(r.ok for r in out):
            break
    return out


def planted(bug: Bug) -> tuple[bool, list[str], float]:
    """Plant ``bug``; detected iff a soundness or tightness obligation of some design
    fails, or, for a divergence (``encode.DIVERGENCES``), iff the conformance check
    with the model fails."""
    failed: list[str] = []
    total = 0.0
    if bug in DIVERGENCES:
        from .conformance import explore, search_space

        t0 = time.perf_counter()
        depth, setups = search_space(bug)
        _, failures = explore(frozenset({bug}), depth, setups, stop_at_failure=True)
        return bool(failures), [f"conformance: {f.what}" for f in failures[:1]], (
            time.perf_counter() - t0)
    for d in PLANTED[bug]:
        results = soundness_and_tightness(Variant(d, frozenset({bug})))
        total += sum(r.seconds for r in results)
        failed += [f"{d.value}:{r.name}" for r in results if not r.ok]
        if failed:
            break
    return bool(failed), failed, total
