"""Fixed-width (u64) checks: where Rust's arithmetic could differ from ℤ.

The transition system is proved over unbounded integers.  Lance stores
generations and batch counts as ``u64``/``usize``, so two questions remain:

* **Comparisons.** The rule table compares ``g`` with ``A`` and an append
  index with ``N``.  With *unsigned* 64-bit comparisons the table agrees
  with the integer encoding on the whole u64 range, including the
  ``N = u64::MAX`` "whole generation" sentinel.  A signed comparison would
  not (planted below as the contrast).
* **Increments.** ``freeze`` computes ``generation + 1`` and ``put``
  ``count + 1``.  The one-step lemma "the next append position never moves
  backwards, and the appended row sorts below it" holds in ``BitVec(64)``
  only with the bound ``generation, count < u64::MAX``; without it the
  solver returns the wrap-around (``u64::MAX + 1 = 0``), which would put new
  rows *below* the cut.  The bound is the documented precondition.
"""

from __future__ import annotations

import time

import z3

from model.designs import GENERATION_RULES, Rel, Source, Verdict

from .obligations import Result

W = 64
MAX = (1 << W) - 1


def bv_table(mem: z3.BoolRef, g: z3.BitVecRef, i: z3.BitVecRef, a: z3.BitVecRef,
              n: z3.BitVecRef, *, signed: bool) -> z3.BoolRef:
    lt = (lambda x, y: x < y) if signed else z3.ULT
    gt = (lambda x, y: x > y) if signed else z3.UGT
    cells = []
    for (src, rel), verdict in GENERATION_RULES.items():
        s = mem if src is Source.MEMTABLE else z3.Not(mem)
        r = {Rel.BELOW: lt(g, a), Rel.AT: g == a, Rel.ABOVE: gt(g, a)}[rel]
        v = {Verdict.WHOLE: z3.BoolVal(True), Verdict.PREFIX: lt(i, n),
             Verdict.NONE: z3.BoolVal(False)}[verdict]
        cells.append(z3.And(s, r, v))
    return z3.Or(cells)


def _timed(name: str, statement: str, q: z3.BoolRef, *, expect_unsat: bool) -> Result:
    s = z3.Solver()
    s.add(q)
    t0 = time.perf_counter()
    r = s.check()
    dt = time.perf_counter() - t0
    status = "proved" if r == z3.unsat else ("counterexample" if r == z3.sat else "unknown")
    return Result(name, statement, status, (r == z3.unsat) == expect_unsat, dt)


def obligations() -> list[Result]:
    """The u64 obligations (the last two are expected counterexamples)."""
    mem = z3.Bool("mem")
    g, i, a, n = (z3.BitVec(x, W) for x in ("g", "i", "a", "n"))
    # (u64.compare, the table against the integer predicate on random u64
    # values, is a differential test, tests/test_proofs_encode.py::test_u64_table_matches_python;
    # BV2Int makes
    # the symbolic version slow for no extra confidence.)
    out = [
        _timed("u64.sentinel", "N = u64::MAX admits every index of generation A in memory",
               z3.And(mem, g == a, n == MAX, i != MAX,
                      z3.Not(bv_table(mem, g, i, a, n, signed=False))), expect_unsat=True),
    ]
    # one-step lemma over the next append position (gen, cnt) vs the cut (A, N)
    gen, cnt, op = z3.BitVec("gen", W), z3.BitVec("cnt", W), z3.Bool("freeze")
    gen2 = z3.If(op, gen + 1, gen)
    cnt2 = z3.If(op, z3.BitVecVal(0, W), cnt + 1)
    at_or_past = z3.Or(z3.UGT(gen, a), z3.And(gen == a, z3.UGE(cnt, n)))
    at_or_past2 = z3.Or(z3.UGT(gen2, a), z3.And(gen2 == a, z3.UGE(cnt2, n)))
    row_excluded = z3.Not(bv_table(z3.BoolVal(True), gen, cnt, a, n, signed=False))
    lemma = z3.And(at_or_past2, row_excluded)
    bound = z3.And(z3.ULT(gen, MAX), z3.ULT(cnt, MAX))
    out.append(_timed("u64.lemma", "with gen, count < u64::MAX the next position stays "
                      "at/past the cut and new rows are excluded",
                      z3.And(at_or_past, bound, z3.Not(lemma)), expect_unsat=True))
    out.append(_timed("u64.wrap", "without the bound, generation + 1 wraps to 0 (expected cex)",
                      z3.And(at_or_past, z3.Not(lemma)), expect_unsat=False))
    out.append(_timed("u64.signed", "a signed compare misreads N = u64::MAX (expected cex)",
                      z3.And(mem, g == a, n == MAX, i == 0,
                             z3.Not(bv_table(mem, g, i, a, n, signed=True))),
                      expect_unsat=False))
    return out
