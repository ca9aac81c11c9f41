"""The soundness argument as data: the invariant's conjuncts, each step's reason, and
where each assumption is used (computed by z3).

SPEC.md states the inductive invariant in words; this module is where those
words come from, and the three kinds of fact in it are held to the proof:

* :data:`CONJUNCTS` names each conjunct of the as-of designs' invariant with
  its meaning.  ``tests/test_proofs_argument.py`` proves, with z3, that the
  conjunction of this table *is* ``proofs.obligations.invariant`` (equivalent,
  not just similar), so the prose cannot describe an invariant the proof does
  not use.  The formulas printed in SPEC.md are the z3 terms themselves.
* :data:`STEP_REASONS` says why each event of the encoding preserves the
  invariant; a test holds its keys to ``proofs.encode.OPS``.
* :func:`uses` computes where each assumption is used: for every assumption
  X the design rests on, which step of the induction (init, an event, or the
  check) fails once X is dropped, and which conjunct it breaks.  Nothing in
  that table is written by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields

import z3

from model.designs import Design

from .docs import md_table
from .encode import MEM, OPS, RET, SST, Config, State, Step, Variant, config_ok, transition
from .obligations import SOUNDNESS_ASSUMPTIONS, over_count, wf

Term = Callable[[State, Config], z3.BoolRef]


@dataclass(frozen=True)
class Conjunct:
    """One conjunct of ``Inv``: its name, its term, what it means."""

    name: str
    term: Term
    meaning: str
    after_arm: bool = True  # holds once the arm has run (``armed ⇒ …``)


def _live(s: State) -> z3.BoolRef:
    return z3.Or(s.rs == MEM, s.rs == RET, s.rs == SST)


#: Inv of as_of_cut and fresh_tier_watermark, conjunct by conjunct.
CONJUNCTS: tuple[Conjunct, ...] = (
    Conjunct("well-formed", lambda s, cfg: wf(s),
             "the counters describe a real tier: visible ≤ committed, the row under test R "
             "sits inside its generation, flushed generations lie below the manifest's "
             "current generation", after_arm=False),
    Conjunct("no early manifest", lambda s, cfg: z3.Not(s.man_taken),
             "the arm never read its SSTable list apart from its memtable refs", after_arm=False),
    Conjunct("same epoch", lambda s, cfg: s.ep == s.ep_a,
             "the writer epoch is still the one the arm saw: no replay renumbered anything"),
    Conjunct("N final", lambda s, cfg: s.nread,
             "the cut's count N is final: nothing re-reads it after the scan"),
    Conjunct("cut in range", lambda s, cfg: s.A >= 0,
             "the cut's generation is a generation (0 for a shard the arm did not see)"),
    Conjunct("list current", lambda s, cfg: z3.Not(cfg.stale),
             "the check's SSTable list is current (no stale list offers a compacted SSTable)"),
    Conjunct("next append at/past cut",
             lambda s, cfg: z3.Or(s.cur > s.A, z3.And(s.cur == s.A, s.ac >= s.N)),
             "the next append position (cur, ac) is at or past the cut (A, N), "
             "lexicographically: every later write lands outside the cut"),
    Conjunct("unread R at/past cut",
             lambda s, cfg: z3.Implies(z3.And(z3.Not(s.obs), _live(s)),
                                       z3.Or(s.rg > s.A, z3.And(s.rg == s.A, s.ri >= s.N))),
             "if the arm did not read R and R is still in the fresh tier, R's position "
             "(generation, append index) is at or past the cut"),
)


def invariant_from_table(s: State, cfg: Config) -> z3.BoolRef:
    """``Inv`` assembled from :data:`CONJUNCTS` (a test proves it equals the proof's)."""
    always = [c.term(s, cfg) for c in CONJUNCTS if not c.after_arm]
    armed = [c.term(s, cfg) for c in CONJUNCTS if c.after_arm]
    return z3.And(*always, z3.Implies(s.armed, z3.And(armed)))


#: why each event keeps Inv (the solver's sound.step checks all of them at once).
STEP_REASONS: dict[str, str] = {
    "noop": "changes nothing.",
    "put": "appends at (cur, ac) and moves ac to ac + 1: the new row lands at the old next "
           "append position, which is at or past the cut, so an unread new row is outside it; "
           "the next position only grows.",
    "publish": "changes visibility, not positions: nothing moves relative to the cut.",
    "freeze": "cur := cur + 1, ac := 0: (cur + 1, 0) is past (cur, ac), so the next position "
              "stays at or past the cut.",
    "flush": "keeps row ids (generation and append index); a row moves from memory to an "
             "SSTable without changing its position.",
    "release": "drops an in-memory copy; positions unchanged.",
    "compact": "moves SSTable rows into the base table, where the check never looks (its "
               "SSTable list is current: A3-sstables): an unread row that leaves the fresh "
               "tier cannot be admitted.",
    "crash": "renumbers every unflushed batch into one memtable and bumps the epoch; allowed "
             "only before the arm (A4), when the invariant says nothing about positions yet.",
    "manifest": "the arm reading its SSTable list early exists only without A3-sstables.",
    "arm": "establishes the invariant: A := cur and N := the visible count it scanned (A1), "
           "so the next position is (A, ac) with ac ≥ N; every row it did not read is in "
           "generation A at index ≥ N (the visible prefix was read) or above A, because a row's "
           "generation, if below A, was fully visible (A2) and its SSTable listed "
           "(A3-sstables).",
    "read_n": "the cut's second read exists only without A1 (capture after_scan, or the "
              "two-instant arm of H15).",
    "sync": "makes WAL writes durable: positions and visibility unchanged.",
    "fail_flush": "leaves the failed generation frozen in memory with its row ids (H14); the "
                  "next flush skips it, so nothing moves relative to the cut.",
}

#: the last step of the induction: Inv ∧ check ⇒ (admitted ⇒ observed)
CHECK = "check"


@dataclass(frozen=True)
class Use:
    """Dropping ``assumption`` breaks ``conjunct`` at ``where`` (an event, or the check)."""

    assumption: str
    where: str
    conjunct: str


def named_state() -> State:
    """A state whose constants carry the bare field names (for printing terms)."""
    kw = {f.name: (z3.Bool(f.name) if f.type == "z3.BoolRef" else z3.Int(f.name))
          for f in fields(State)}
    return State(**kw)  # type: ignore[arg-type]


def formula(c: Conjunct) -> str:
    """The conjunct's z3 term, printed over bare field names."""
    cfg = Config(cap=z3.Int("cap"), grace0=z3.Bool("grace0"), stale=z3.Bool("stale"))
    return " ".join(str(c.term(named_state(), cfg)).split())


def _sat(*parts: z3.BoolRef) -> bool:
    s = z3.Solver()
    s.set(timeout=20000)
    s.add(*parts)
    r = s.check()
    if r == z3.unknown:
        raise RuntimeError("z3 returned unknown on an argument query")
    return r == z3.sat


@functools.cache
def uses(design: Design) -> tuple[Use, ...]:
    """Every (assumption, step, conjunct) where dropping the assumption breaks the induction.

    For each assumption X of the design: ``Inv ∧ step ⇒ c′`` per event and
    conjunct c, with X dropped from the transition and the config; and
    ``Inv ∧ check ⇒ (admitted ⇒ observed)`` with X dropped from the check.
    """
    full = SOUNDNESS_ASSUMPTIONS[design]
    v = Variant(design)
    s, t = State.fresh("s"), State.fresh("t")
    st, cfg = Step.fresh("x"), Config()
    out: list[Use] = []
    for x in sorted(full):
        asm = full - {x}
        inv = invariant_from_table(s, cfg)
        tr = transition(s, t, st, cfg, asm, frozenset())
        for op in OPS:
            step = z3.And(inv, config_ok(cfg, asm), tr, st.op == OPS.index(op))
            if not _sat(step, z3.Not(invariant_from_table(t, cfg))):
                continue
            for c in CONJUNCTS:
                after = c.term(t, cfg) if not c.after_arm else z3.Implies(t.armed,
                                                                           c.term(t, cfg))
                if _sat(step, z3.Not(after)):
                    out.append(Use(x, op, c.name))
        if _sat(inv, config_ok(cfg, asm), over_count(v, s, cfg, asm)):
            out.append(Use(x, CHECK, "admitted ⇒ observed"))
    return tuple(out)


# --------------------------------------------------------------------------
# SPEC.md region
# --------------------------------------------------------------------------

AS_OF = (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK)


def _shown(c: Conjunct) -> str:
    if c.name == "well-formed":
        n = len(wf(named_state()).children())
        return f"`wf(s)` ({n} clauses, `proofs/obligations.py`)"
    return f"`{formula(c)}`"


def _uses_rows(design: Design) -> list[list[str]]:
    rows = []
    for x in sorted(SOUNDNESS_ASSUMPTIONS[design]):
        mine = [u for u in uses(design) if u.assumption == x]
        where: dict[str, list[str]] = {}
        for u in mine:
            where.setdefault(u.where, []).append(u.conjunct)
        rows.append([x, "; ".join(f"`{w}` breaks {', '.join(cs)}" for w, cs in where.items())
                     or "**nowhere** (not needed)"])
    return rows


def argument() -> str:
    """The invariant's conjuncts, each event's reason, and each assumption's uses."""
    out = ["`Inv = well-formed ∧ no early manifest ∧ (armed ⇒ the rest)`, conjunct by "
           "conjunct (`proofs/argument.py`; a test proves this conjunction equal to the "
           "`invariant` the proof's `sound.*` queries use). Field names: `cur`/`ac` = active "
           "generation and its committed count, `A`/`N` = the cut, `rg`/`ri` = R's generation "
           "and append index, `rs` = R's status (1 memtable, 2 flushed and retained, 3 SSTable), "
           "`obs` = the arm read R, `ep`/`ep_a` = writer epoch now and at the arm.", ""]
    out.append(md_table(["conjunct", "holds", "z3 term", "meaning"],
                        [[c.name, "after the arm" if c.after_arm else "always", _shown(c),
                          c.meaning] for c in CONJUNCTS]))
    out.append("Why each event preserves it (`sound.step` proves all of them in one "
               "symbolic step):\n")
    out.append(md_table(["event", "why Inv still holds after it"],
                        [[f"`{op}`", why] for op, why in STEP_REASONS.items()]))
    same = uses(AS_OF[0]) == uses(AS_OF[1])
    which = ("identical for " + " and ".join(f"`{d.value}`" for d in AS_OF)) if same else (
        "per design")
    out.append("Where each assumption is used, computed: the assumption is dropped, and z3 "
               "finds the step of the induction that then fails and the conjunct it breaks "
               f"({which}):\n")
    for d in AS_OF[:1] if same else AS_OF:
        if not same:
            out.append(f"`{d.value}`:\n")
        out.append(md_table(["assumption", "used at (event: conjunct it keeps)"],
                            _uses_rows(d)))
    return "\n".join(out)


SECTIONS: dict[str, Callable[[], str]] = {"argument": argument}
