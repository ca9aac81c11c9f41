"""Laws of the model itself, over random event sequences (plain @given, not stateful).

If one of these fails, the model is wrong before any impl is compared with it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from model.designs import Capture, Design
from model.events import run
from model.invariants import UNEXPLAINED, assumptions, soundness, tightness
from model.read import Cut, admitted, capture, membership, observe, two_phase
from model.state import Config, State, Status, initial, rows

Trace = list[tuple[str, dict[str, Any]]]
SHARDS = st.sampled_from(["s", "t"])
PKS = st.sampled_from(["a", "b", "c", "d"])
BATCHES = st.lists(st.tuples(PKS, st.integers(0, 9)), min_size=1, max_size=3).map(tuple)
QUIET = ["publish", "freeze", "flush", "release", "compact"]


def events(crash: bool = True) -> st.SearchStrategy[Trace]:
    one = st.one_of(
        st.tuples(st.just("put"), st.fixed_dictionaries({"shard": SHARDS, "batch": BATCHES})),
        st.tuples(
            st.just("delete"),
            st.fixed_dictionaries({"shard": SHARDS, "pks": st.lists(PKS, min_size=1).map(tuple)}),
        ),
        st.tuples(st.sampled_from(QUIET), st.fixed_dictionaries({"shard": SHARDS})),
        *([st.tuples(st.just("crash"), st.just({}))] if crash else []),
    )
    return st.lists(one, max_size=14)


CONFIGS = st.builds(
    Config,
    lagged=st.booleans(),
    release_at_flush=st.booleans(),
    max_memtable_batches=st.none() | st.integers(1, 4),
)
BASES = st.dictionaries(PKS, st.just("base"))


def start(config: Config, base: dict[str, str]) -> State:
    return initial(base=base, config=config)


@given(CONFIGS, events(), events(crash=False))
def test_a_cut_never_moves_backwards_within_a_shard(config: Config, pre: Trace, mid: Trace) -> None:
    t0 = run(initial(config=config), pre)
    t1 = run(t0, mid)
    c0 = capture(Design.AS_OF_CUT, observe(t0))
    c1 = capture(Design.AS_OF_CUT, observe(t1))
    for sid, sc in c0.shards:
        later = c1.get(sid)
        assert later is not None
        assert (sc.active_generation, sc.active_batch_count) <= (
            later.active_generation,
            later.active_batch_count,
        )


@given(CONFIGS, events(), st.sampled_from(QUIET), SHARDS)
def test_freeze_flush_release_compact_and_publish_preserve_row_ids(
    config: Config, pre: Trace, name: str, shard: str
) -> None:
    before = run(initial(config=config), pre)
    after = run(before, [(name, {"shard": shard})])

    def ids(s: State) -> set[tuple[object, ...]]:
        return {(r.id, r.wal, r.pk, r.op) for r in rows(s)}

    assert ids(before) == ids(after)


@given(CONFIGS, BASES, events(), events(crash=False))
def test_exact_cut_admits_exactly_the_observation_minus_compacted_rows(
    config: Config, base: dict[str, str], pre: Trace, mid: Trace
) -> None:
    t0 = run(start(config, base), pre)
    arm = observe(t0)
    t1 = run(t0, mid)
    taken = {r.identity for r in admitted(Design.EXACT_CUT, capture(Design.EXACT_CUT, arm), t1)}
    gone = {r.identity for r in rows(t1) if r.status is Status.COMPACTED}
    assert taken == arm.identities - gone


@given(CONFIGS, events())
def test_live_tier_is_the_union_of_all_sources(config: Config, trace: Trace) -> None:
    st_ = run(initial(config=config), trace)
    union = {
        pk
        for _, s in st_.shards
        for g in s.generations
        if g.status is not Status.COMPACTED
        for batch in g.batches
        for pk, _ in batch
    }
    probe = ["a", "b", "c", "d", "zz"]
    assert membership(Design.LIVE_TIER, Cut(), st_, probe) == union
    assert membership(Design.AS_OF_CUT, Cut(), st_, probe) == union  # absent shard → live


@settings(max_examples=300)
@given(CONFIGS, BASES, events(), events(), st.sampled_from(list(Capture)))
def test_as_of_cut_and_watermark_are_sound_under_a1_to_a4(
    config: Config, base: dict[str, str], pre: Trace, mid: Trace, variant: Capture
) -> None:
    t0 = run(start(config, base), pre)
    arm = observe(t0)
    t1 = run(t0, mid)
    names = [n for n, _ in mid]
    for design in (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK):
        cut = capture(design, arm, variant, later=t1)
        held = assumptions(arm, cut, t1, names)
        if held["A1"] and held["A2"] and held["A3"] and held["A4"]:
            assert soundness(design, arm, cut, t1) == []
            assert two_phase(design, arm, cut, t1).missing == frozenset()


@settings(max_examples=300)
@given(CONFIGS, BASES, events(), events())
def test_exact_cut_is_sound_after_any_events_including_crash(
    config: Config, base: dict[str, str], pre: Trace, mid: Trace
) -> None:
    t0 = run(start(config, base), pre)
    arm = observe(t0)
    t1 = run(t0, mid)
    cut = capture(Design.EXACT_CUT, arm)
    assert soundness(Design.EXACT_CUT, arm, cut, t1) == []
    assert two_phase(Design.EXACT_CUT, arm, cut, t1).missing == frozenset()


@given(CONFIGS, events(), events(), st.sampled_from(list(Design)), st.sampled_from(list(Capture)))
def test_every_tightness_shortfall_has_a_named_reason(
    config: Config, pre: Trace, mid: Trace, design: Design, variant: Capture
) -> None:
    t0 = run(initial(config=config), pre)
    arm = observe(t0)
    t1 = run(t0, mid)
    cut = capture(design, arm, variant, later=t1)
    assert all(s.reason != UNEXPLAINED for s in tightness(design, arm, cut, t1))
