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
from model.read import Cut, admitted, capture, membership, observe, scan, two_phase
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
        if held["A1"] and held["A2"] and held["A3-shards"] and held["A3-sstables"] and held["A4"]:
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


@settings(max_examples=300)
@given(CONFIGS, BASES, events(), events())
def test_pinned_cut_admits_exactly_the_observation_after_any_events(
    config: Config, base: dict[str, str], pre: Trace, mid: Trace
) -> None:
    """Sound and tight with no exclusion: crash, compaction and release included."""
    t0 = run(start(config, base), pre)
    arm = observe(t0)
    t1 = run(t0, mid)
    cut = capture(Design.PINNED_CUT, arm)
    taken = {r.identity for r in admitted(Design.PINNED_CUT, cut, t1)}
    assert taken == arm.identities
    read = two_phase(Design.PINNED_CUT, arm, cut, t1)
    assert not read.missing and not read.duplicates
    # the merged result is the arm's snapshot: fresh rows over the pinned base
    assert {**read.base_kept, **read.fresh} == scan(t0, with_base=True)


#: the H5 scenario: SSTable 1 (a) compacted between the arm and the check
_H5: tuple[list[tuple[str, dict[str, Any]]], ...] = (
    [("put", {"shard": "s", "batch": (("a", 1),)}), ("freeze", {"shard": "s"}),
     ("flush", {"shard": "s"})],
    [("compact", {"shard": "s"})])


def test_planted_unpinned_check_fails_the_pinned_law(monkeypatch: Any) -> None:
    """Plant: the check does not probe generations compacted after the pin."""
    from model import read as mread

    t0 = run(start(Config(), {"a": "base"}), _H5[0])
    arm = observe(t0)
    t1 = run(t0, _H5[1])
    cut = capture(Design.PINNED_CUT, arm)
    assert not two_phase(Design.PINNED_CUT, arm, cut, t1).duplicates
    monkeypatch.setattr(mread, "PINS_BASE", frozenset())
    assert tightness(Design.PINNED_CUT, arm, cut, t1) != []
    assert two_phase(Design.PINNED_CUT, arm, cut, t1, base=t0.base_rows()).duplicates == {"a"}


def test_planted_range_off_by_one_fails_the_pinned_law(monkeypatch: Any) -> None:
    """Plant: ranges one position too long admit the unread frozen tail (H3)."""
    from model import read as mread

    real = mread.wal_ranges
    monkeypatch.setattr(mread, "wal_ranges", lambda ps: tuple((lo, hi + 1) for lo, hi in real(ps)))
    lagged = Config(lagged=True)
    pre: list[tuple[str, dict[str, Any]]] = [
        ("put", {"shard": "s", "batch": (("a", 1),)}), ("publish", {"shard": "s"}),
        ("put", {"shard": "s", "batch": (("b", 2),)}), ("freeze", {"shard": "s"})]
    t0 = run(start(lagged, {"b": "base"}), pre)
    arm = observe(t0)
    t1 = run(t0, [("publish", {"shard": "s"})])
    cut = capture(Design.PINNED_CUT, arm)
    assert [v.pk for v in soundness(Design.PINNED_CUT, arm, cut, t1)] == ["b"]
