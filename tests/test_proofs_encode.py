"""The z3 terms and model/designs.py's predicates agree on concrete inputs.

If the mirror drifts from the Python predicate, the proofs prove something
about a predicate nobody runs; this differential test is what ties them.
"""

from __future__ import annotations

from typing import Any

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from model import designs as d
from proofs import encode as e
from proofs.bv64 import MAX, bv_table

ints = st.integers(min_value=0, max_value=40)
u64 = st.one_of(st.integers(0, MAX), st.sampled_from([0, 1, MAX - 1, MAX]))


def _eval(term: z3.BoolRef) -> bool:
    v = z3.simplify(term)
    assert z3.is_true(v) or z3.is_false(v), v
    return z3.is_true(v)


def test_live_tier_and_wal_position_map_admit_every_candidate() -> None:
    """Both take no argument: nothing about a row or a cut changes their answer."""
    assert _eval(e.z3_admit_live_tier()) is d.admit_live_tier() is True
    assert _eval(e.z3_admit_wal_position_map()) is d.admit_wal_position_map() is True


@settings(deadline=None)
@given(st.booleans(), st.booleans(), ints, ints, ints, ints)
def test_as_of_cut(in_cut: bool, mem: bool, g: int, i: int, a: int, n: int) -> None:
    kw: dict[str, Any] = dict(in_cut=in_cut, in_memory=mem, generation=g, append_index=i,
                              active_generation=a, active_batch_count=n)
    assert _eval(e.z3_admit_as_of_cut(**kw)) == d.admit_as_of_cut(**kw)


@settings(deadline=None)
@given(st.booleans(), st.booleans(), st.booleans(), ints, ints, ints, ints)
def test_fresh_tier_watermark(in_cut: bool, mem: bool, vis: bool, g: int, i: int, a: int,
                              n: int) -> None:
    kw: dict[str, Any] = dict(in_cut=in_cut, in_memory=mem, visible=vis, generation=g,
                              append_index=i, active_generation=a, active_batch_count=n)
    assert _eval(e.z3_admit_fresh_tier_watermark(**kw)) == d.admit_fresh_tier_watermark(**kw)


@settings(deadline=None)
@given(st.booleans(), ints, ints, ints, ints)
def test_exact_cut(in_cut: bool, ep: int, cep: int, i: int, oc: int) -> None:
    kw: dict[str, Any] = dict(in_cut=in_cut, epoch=ep, cut_epoch=cep, append_index=i,
                              observed_count=oc)
    assert _eval(e.z3_admit_exact_cut(**kw)) == d.admit_exact_cut(**kw)


@settings(deadline=None)
@given(st.booleans(), st.booleans(), ints, ints, ints)
def test_pinned_cut(in_cut: bool, pinned: bool, w: int, lo: int, hi: int) -> None:
    kw: dict[str, Any] = dict(in_cut=in_cut, pinned=pinned, wal_position=w, wal_lo=lo, wal_hi=hi)
    assert _eval(e.z3_admit_pinned_cut(**kw)) == d.admit_pinned_cut(**kw)


@settings(deadline=None)
@given(st.booleans(), u64, u64, u64, u64)
def test_u64_table_matches_python(mem: bool, g: int, i: int, a: int, n: int) -> None:
    """u64.compare: unsigned BitVec(64) comparisons = Python ints on the u64 range."""
    bv = bv_table(z3.BoolVal(mem), z3.BitVecVal(g, 64), z3.BitVecVal(i, 64),
                  z3.BitVecVal(a, 64), z3.BitVecVal(n, 64), signed=False)
    assert _eval(bv) == d.admit_as_of_cut(in_cut=True, in_memory=mem, generation=g,
                                          append_index=i, active_generation=a,
                                          active_batch_count=n)


small = st.integers(min_value=0, max_value=3)  # small, so g = A and idx = N come up often


@settings(deadline=None)
@given(st.booleans(), small, small, small, small)
def test_planted_rule_bugs_differ_exactly_on_their_cell(mem: bool, g: int, i: int, a: int,
                                                       n: int) -> None:
    """A planted rule bug is a parameter (the shipped table is never edited) and it
    changes the predicate on its own cell and nowhere else: ``SST_GT`` on SSTable
    rows with g = A, ``PREFIX_LE`` on the memtable row at idx = N of generation A."""
    assert e.rules_for(frozenset()) == d.GENERATION_RULES
    kw: dict[str, Any] = dict(in_cut=True, in_memory=mem, generation=g, append_index=i,
                              active_generation=a, active_batch_count=n)
    shipped = d.admit_as_of_cut(**kw)
    sst_gt = _eval(e.z3_admit_as_of_cut(**kw, rules=e.rules_for(frozenset({e.Bug.SST_GT}))))
    prefix_le = _eval(e.z3_admit_as_of_cut(**kw, prefix_le=True))
    assert (sst_gt != shipped) == (not mem and g == a)
    assert (prefix_le != shipped) == (mem and g == a and i == n)
