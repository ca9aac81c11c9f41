"""SPEC.md's argument is the proof's: its conjuncts are the invariant, its uses are computed."""

from __future__ import annotations

import dataclasses

import pytest
import z3

from model.designs import Design
from proofs import argument
from proofs.encode import OPS, Config, State
from proofs.obligations import SOUNDNESS_ASSUMPTIONS, invariant


def _equivalent(a: z3.BoolRef, b: z3.BoolRef) -> bool:
    s = z3.Solver()
    s.add(a != b)
    return s.check() == z3.unsat


@pytest.mark.parametrize("design", argument.AS_OF, ids=lambda d: d.value)
def test_the_table_of_conjuncts_is_the_invariant_the_proof_uses(design: Design) -> None:
    s, cfg = State.fresh("s"), Config()
    assert _equivalent(argument.invariant_from_table(s, cfg), invariant(design, s, cfg))


@pytest.mark.parametrize("name", [c.name for c in argument.CONJUNCTS])
def test_every_conjunct_is_needed_for_the_equivalence(name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted: drop one conjunct from the table; the equivalence must fail."""
    fewer = tuple(c for c in argument.CONJUNCTS if c.name != name)
    monkeypatch.setattr(argument, "CONJUNCTS", fewer)
    s, cfg = State.fresh("s"), Config()
    assert not _equivalent(argument.invariant_from_table(s, cfg),
                           invariant(Design.AS_OF_CUT, s, cfg))


def test_a_conjunct_moved_before_the_arm_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted: claim 'same epoch' holds always (it holds only after the arm)."""
    moved = tuple(dataclasses.replace(c, after_arm=False) if c.name == "same epoch" else c
                  for c in argument.CONJUNCTS)
    monkeypatch.setattr(argument, "CONJUNCTS", moved)
    s, cfg = State.fresh("s"), Config()
    assert not _equivalent(argument.invariant_from_table(s, cfg),
                           invariant(Design.AS_OF_CUT, s, cfg))


def test_every_event_of_the_encoding_has_a_reason_and_no_other() -> None:
    assert list(argument.STEP_REASONS) == list(OPS)


@pytest.mark.parametrize("design", argument.AS_OF, ids=lambda d: d.value)
def test_every_assumption_the_design_rests_on_is_used_somewhere(design: Design) -> None:
    used = {u.assumption for u in argument.uses(design)}
    assert used == set(SOUNDNESS_ASSUMPTIONS[design])
    for u in argument.uses(design):
        assert u.where in (*OPS, argument.CHECK)
        assert u.conjunct in {c.name for c in argument.CONJUNCTS} | {"admitted ⇒ observed"}


def test_where_the_key_assumptions_are_used() -> None:
    """The facts SPEC.md's prose states, as the solver computes them."""
    uses = set(argument.uses(Design.AS_OF_CUT))
    assert argument.Use("A4", "crash", "same epoch") in uses
    assert argument.Use("A2", "arm", "unread R at/past cut") in uses
    assert argument.Use("A3-shards", "check", "admitted ⇒ observed") in uses
    assert {u.where for u in uses if u.assumption == "A1"} == {"arm"}
