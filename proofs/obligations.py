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
    Design.EXACT_CUT: frozenset(),
    Design.PINNED_CUT: frozenset(),
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
        ) -> tuple[z3.CheckSatResult, z3.ModelRef | None, float, list[State], list[Step], Config]:
    """Is ``goal`` reachable within ``k`` events (exactly ``k`` if ``exact``)?"""
    tr = unroll(k, asm, v.bugs)
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
             ) -> tuple[dict[str, Any] | None, float]:
    """Iterative deepening: the first k with a witness gives a shortest trace.

    Each depth is a fresh query over the shared, cached step terms (an
    incremental push/pop version measured the same on these depths, and was
    slower on deep UNSAT queries, so the simple form stays).
    """
    total = 0.0
    for k in range(1, kmax + 1):
        r, m, dt, states, steps, cfg = bmc(v, asm, goal, k, exact=True, extra=extra)
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
    return z3.And(
        s.ep >= 1, s.cg >= 1, s.cur >= s.cg, s.av >= 0, s.av <= s.ac,
        s.nfl >= s.cur - s.cg, s.rs >= NONE, s.rs <= GONE,
        z3.Implies(z3.Not(s.sx), z3.And(s.cur == 1, s.cg == 1, s.ac == 0, s.av == 0,
                                         s.nfl == 0, s.rs == NONE)),
        z3.Implies(mem, z3.And(
            s.rg >= s.cg, s.rg <= s.cur, s.ri >= 0, s.ri < s.gc, s.gv >= 0, s.gv <= s.gc,
            s.ra == (s.rg == s.cur), s.below >= s.rg - s.cg,
            z3.Implies(s.ra, z3.And(s.gc == s.ac, s.gv == s.av, s.below == s.nfl)),
            z3.Implies(z3.Not(s.ra), z3.And(s.below + s.gc <= s.nfl,
                                             s.nfl - s.below - s.gc >= s.cur - s.rg - 1)),
        )),
        z3.Implies(ret_sst, z3.And(s.rg < s.cg, s.ri >= 0, s.ri < s.gc, z3.Not(s.ra))),
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
    return z3.And(wf(s), skew, z3.Implies(s.armed, sound_inv(design, s, cfg)))


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
    events: list[dict[str, Any]] = []
    pk_n = 0
    cut: dict[str, Any] = {}
    for i, st in enumerate(steps):
        s, t = states[i], states[i + 1]
        op = OPS[_val(m, st.op)]
        ev: dict[str, Any] = {"n": len(events) + 1, "op": op, "shard": "s"}
        if op == "noop":
            continue
        if op == "put":
            is_r = _val(m, s.rs) == NONE and _val(m, t.rs) != NONE
            if is_r:
                pk = "r"
            else:
                pk_n += 1
                pk = f"p{pk_n}"
            ev.update(pk=pk, generation=_val(m, s.cur), append_index=_val(m, s.ac),
                      creates_shard=not _val(m, s.sx), row_under_test=is_r)
            ev["text"] = (f"put {pk!r} → shard s gen {ev['generation']} idx "
                          f"{ev['append_index']} (committed, not yet visible)"
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
            ev.update(epoch=_val(m, t.ep), generation=_val(m, s.cg))
            ev["text"] = (f"crash + reopen: epoch {_val(m, t.ep)}, every unflushed batch "
                          f"replayed into gen {_val(m, s.cg)} (renumbered, all visible)")
        elif op == "manifest":
            ev["text"] = "read arm reads the manifest's SSTable list (before memtable refs)"
        elif op == "arm":
            obs = _val(m, t.obs)
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
            ev.update(cut=dict(cut), reads_r=obs, capture=cap.value)
            ev["text"] = (f"read arm ({cap.value}): cut {_cut_text(cut)}; "
                          + ("reads r" if obs else "does NOT read r"))
        elif op == "read_n":
            cut["active_batch_count"] = _val(m, t.N)
            ev.update(active_batch_count=_val(m, t.N))
            ev["text"] = f"arm re-reads N after its scan: N := {_val(m, t.N)}"
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
    events.append(check)
    return {
        "design": v.design.value,
        "capture": cap.value,
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

#: what each dropped assumption should break, and how its witness is pinned.
DROPS: dict[str, tuple[str, Capture | None]] = {
    "A1 (len)": ("A1", Capture.LEN),
    "A1 (after_scan)": ("A1", Capture.AFTER_SCAN),
    "A2": ("A2", None),
    "A3-shards": ("A3-shards", None),
    "A3-sstables": ("A3-sstables", None),
    "A4": ("A4", None),
    "A5": ("A5", None),
}


def _pin_cap(cap: Capture | None) -> Callable[[list[State], list[Step], Config], z3.BoolRef]:
    def extra(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        return z3.BoolVal(True) if cap is None else cfg.cap == CAP[cap]

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
    for label, (name, cap) in DROPS.items():
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
        if deepen:
            trace, dt = shortest(v, base, goal, extra=_pin_cap(cap))
        else:
            r, m, dt, states, steps, cfg = bmc(v, base, goal, KMAX, extra=_pin_cap(cap))
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

#: the matrix's words
PROVED, CEX, UNDER = "proved", "cex", "under-count"


def _verdict_extra(cap: Capture | None, fresh_list: bool,
                   ) -> Callable[[list[State], list[Step], Config], z3.BoolRef]:
    def extra(states: list[State], steps: list[Step], cfg: Config) -> z3.BoolRef:
        parts = [_pin_cap(cap)(states, steps, cfg)]
        if fresh_list:
            parts.append(z3.Not(cfg.stale))
        return z3.And(parts)

    return extra


@functools.cache
def _verdict_query(v: Variant, base: frozenset[str], cap: Capture | None, fresh_list: bool,
                   excl: tuple[str, ...]) -> tuple[str, float]:
    """One cell's two bounded queries (cached: H3 and H13 are the same query)."""
    extra = _verdict_extra(cap, fresh_list)
    r, _, t1, *_ = bmc(v, base, over_count, K, extra=extra)
    if r == z3.sat:
        return CEX, t1
    r2, _, t2, *_ = bmc(v, base, under_count_except(excl), K, extra=extra)
    if r2 == z3.sat:
        return UNDER, t1 + t2
    if r == z3.unsat and r2 == z3.unsat:
        return PROVED, t1 + t2
    return "unknown", t1 + t2


def verdict(v: Variant, column: str = "baseline") -> tuple[str, float]:
    """Solver-computed verdict of one design under one column (``HAZARDS`` key).

    ``cex``: an over-count (a missing row) within ``K`` events; else
    ``under-count``: an observed, present row the check misses outside the
    exclusions the column keeps; else ``proved`` (both UNSAT at depth ``K``).
    """
    return _verdict_query(v, *cell_setup(v.design, column))


def cell_setup(design: Design, column: str) -> tuple[frozenset[str], Capture | None, bool,
                                                      tuple[str, ...]]:
    """What a matrix cell keeps: assumptions, pinned capture, current list, exclusions.

    Read from the column's row of ``model.hazards.HAZARDS`` (``breaks``,
    ``capture``, ``fresh_list``, ``gap``) and nothing else.  The one place a
    cell's question is built: ``verdict`` asks it, and ``proofs.cells`` asks
    the same question for the cell's own shortest trace.
    """
    h = HAZARDS[column]
    base = ALL - {"A5"}
    if h.breaks is not None:
        base = base - {h.breaks}
    if design in RECORDS_READ:
        base = base - {"A1"}  # the cut records what the scan read
    excl = tuple(e for e in ("H4", "H5b", "epoch") if e != h.gap)
    return base, h.capture, h.fresh_list, excl


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
        from .conformance import explore

        t0 = time.perf_counter()
        _, failures = explore(frozenset({bug}), stop_at_failure=True)
        return bool(failures), [f"conformance: {f.what}" for f in failures[:1]], (
            time.perf_counter() - t0)
    for d in PLANTED[bug]:
        results = soundness_and_tightness(Variant(d, frozenset({bug})))
        total += sum(r.seconds for r in results)
        failed += [f"{d.value}:{r.name}" for r in results if not r.ok]
        if failed:
            break
    return bool(failed), failed, total
