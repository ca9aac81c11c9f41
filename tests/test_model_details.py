"""The model's small print: what ``enabled`` means, who is newest, how a shortfall
is named, and exactly when each assumption A3–A5 fails.

Each test pins one rule the larger laws and scenarios happen not to reach
(found by mutation testing, ``tox -e mutation``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.designs import Design
from model.events import EVENTS, run, step
from model.invariants import (
    COMPACTED,
    EPOCH_CHANGED,
    RELEASED,
    UNEXPLAINED,
    a3_shards,
    a3_sstables,
    a4_no_epoch_change,
    soundness,
    tightness,
    verdict,
)
from model.read import capture, newest, observe, scan
from model.state import TOMBSTONE, Config, Row, RowId, Status, initial, put

Trace = list[tuple[str, dict[str, Any]]]
QUIET = ("publish", "freeze", "flush", "release", "compact")
one: st.SearchStrategy[tuple[str, dict[str, Any]]] = st.one_of(
    st.tuples(st.just("put"), st.fixed_dictionaries(
        {"shard": st.sampled_from(["s", "t"]), "batch": st.just((("a", 1),))})),
    st.tuples(st.sampled_from(QUIET), st.fixed_dictionaries({"shard": st.just("s")})),
    st.tuples(st.just("crash"), st.just({})),
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([Config(lagged=True, release_at_flush=False), Config()]),
       st.lists(one, max_size=10))
def test_an_event_is_enabled_exactly_when_it_changes_the_tier(config: Config,
                                                              trace: Trace) -> None:
    """The event table's ``enabled`` is "does the event change anything" (shard s)."""
    st_ = run(initial(config=config), trace)
    for name in QUIET:
        assert EVENTS[name].enabled(st_, "s") == (step(st_, name, shard="s") != st_), name
    assert EVENTS["new shard"].enabled(st_, "s") == (st_.shard("s") is None)


def test_the_tombstone_prints_as_its_name() -> None:
    assert repr(TOMBSTONE) == "TOMBSTONE"


def _row(shard: str, generation: int, op: object) -> Row:
    return Row(RowId(shard, generation, 0, 0), 1, "k", op, Status.ACTIVE, True)


def test_newest_is_by_generation_across_shards_not_by_shard_name() -> None:
    assert newest([_row("b", 1, "old"), _row("a", 2, "new")]) == {"k": "new"}
    assert newest([_row("a", 2, TOMBSTONE), _row("b", 1, "old")]) == {}


def test_scan_leaves_the_base_out_unless_asked() -> None:
    st_ = put(initial({"b": "base"}), "s", (("a", 1),))
    assert scan(st_) == {"a": 1}
    assert scan(st_, with_base=True) == {"a": 1, "b": "base"}


def test_violations_and_shortfalls_name_their_rows() -> None:
    st_ = put(initial(), "s", (("a", 1),))
    arm = observe(st_)
    cut = capture(Design.LIVE_TIER, arm)
    later = put(st_, "s", (("b", 2),))
    assert [(v.row, v.pk) for v in soundness(Design.LIVE_TIER, arm, cut, later)] == [
        (RowId("s", 1, 1, 0), "b")]
    flushed = run(st_, [("freeze", {"shard": "s"}), ("flush", {"shard": "s"})])
    cut = capture(Design.AS_OF_CUT, arm)
    assert tightness(Design.AS_OF_CUT, arm, cut, flushed) == [(RowId("s", 1, 0, 0), RELEASED)]


@pytest.mark.parametrize(
    ("design", "after", "reason"),
    [
        (Design.AS_OF_CUT, [("freeze", {"shard": "s"}), ("flush", {"shard": "s"})], RELEASED),
        (Design.AS_OF_CUT, [("freeze", {"shard": "s"}), ("flush", {"shard": "s"}),
                            ("compact", {"shard": "s"})], COMPACTED),
        (Design.EXACT_CUT, [("crash", {})], EPOCH_CHANGED),
        # the exact cut after a crash names the epoch even once the row is flushed
        (Design.EXACT_CUT, [("crash", {}), ("freeze", {"shard": "s"}),
                            ("flush", {"shard": "s"})], EPOCH_CHANGED),
        # not released: the as-of cut in memory misses nothing, so no shortfall at all
        (Design.AS_OF_CUT, [("crash", {})], None),
    ],
)
def test_each_shortfall_carries_the_exclusion_that_explains_it(
        design: Design, after: Trace, reason: str | None) -> None:
    st_ = put(initial(config=Config(release_at_flush=True)), "s", (("a", 1),))
    arm = observe(st_)
    cut = capture(design, arm)
    short = tightness(design, arm, cut, run(st_, after))
    assert [s.reason for s in short] == ([] if reason is None else [reason])


def test_an_unexplained_shortfall_is_called_so() -> None:
    """A cut from another design family (as-of fields read as an exact cut) misses a
    row for no named reason."""
    st_ = put(initial(), "s", (("a", 1),))
    arm = observe(st_)
    short = tightness(Design.EXACT_CUT, arm, capture(Design.LIVE_TIER, arm), st_)
    assert [s.reason for s in short] == [UNEXPLAINED]
    from model.designs import ShardCut
    from model.read import Cut

    # a cut that has the shard, same epoch, but claims nothing was read: still unexplained
    blind = Cut((("s", ShardCut(1, 0, epoch=1, observed=())),))
    assert [s.reason for s in tightness(Design.EXACT_CUT, arm, blind, st_)] == [UNEXPLAINED]


def test_a_verdict_lists_every_reason() -> None:
    st_ = put(put(initial(config=Config(release_at_flush=True)), "s", (("a", 1),)),
              "t", (("b", 2),))
    st_ = run(st_, [("freeze", {"shard": "t"}), ("flush", {"shard": "t"})])
    arm = observe(st_)
    cut = capture(Design.AS_OF_CUT, arm)
    later = run(st_, [("freeze", {"shard": "s"}), ("flush", {"shard": "s"}),
                      ("compact", {"shard": "t"})])
    assert verdict(Design.AS_OF_CUT, arm, cut, later) == "under-count: compacted, released"


def test_a3_fails_for_a_shard_the_cut_lacks_and_for_an_unread_generation_below_a() -> None:
    st_ = put(initial(), "s", (("a", 1),))
    arm = observe(st_)
    cut = capture(Design.AS_OF_CUT, arm)
    assert a3_shards(arm, cut, st_, ()) and a3_sstables(arm, cut, st_, ())
    assert not a3_shards(arm, cut, put(st_, "t", (("b", 1),)), ())  # H6
    # the cut claims generation 2 is active, but generation 1 was never read
    from model.designs import ShardCut
    from model.read import Cut

    skewed = Cut((("s", ShardCut(2, 0, observed=((2, 0),))),))
    assert not a3_sstables(arm, skewed, st_, ())
    compacted = run(st_, [("freeze", {"shard": "s"}), ("flush", {"shard": "s"}),
                          ("compact", {"shard": "s"})])
    assert a3_sstables(arm, skewed, compacted, ())  # compacted: not a source any more


def test_a4_fails_on_a_crash_even_when_the_arm_saw_no_shard() -> None:
    empty = initial()
    arm = observe(empty)
    cut = capture(Design.AS_OF_CUT, arm)
    assert a4_no_epoch_change(arm, cut, empty, ())
    assert not a4_no_epoch_change(arm, cut, run(empty, [("crash", {})]), ["crash"])
    st_ = put(empty, "s", (("a", 1),))
    arm = observe(st_)
    crashed = run(st_, [("crash", {})])
    assert not a4_no_epoch_change(arm, capture(Design.AS_OF_CUT, arm), crashed, ())


def test_bad_writes_are_refused_with_what_was_wrong() -> None:
    from model.state import ModelError

    with pytest.raises(ModelError, match="^bad shard id 'bad id!'$"):
        put(initial(), "bad id!", (("a", 1),))
    with pytest.raises(ModelError, match="^empty batch or null primary key$"):
        put(initial(), "s", ())
    with pytest.raises(ModelError, match="^empty batch or null primary key$"):
        put(initial(), "s", (("a", 1), (None, 2)))
    with pytest.raises(ValueError, match="'read arm' is a read"):
        step(initial(), "read arm")


def test_put_auto_freezes_at_the_threshold_and_not_before() -> None:
    st_ = initial(config=Config(max_memtable_batches=2))
    one = put(st_, "s", (("a", 1),))
    two = put(one, "s", (("b", 2),))
    assert one.shard("s").active.number == 1  # type: ignore[union-attr]
    s = two.shard("s")
    assert s is not None and s.active.number == 2 and s.active.committed == 0
    assert [(g.number, g.status) for g in s.generations] == [(1, Status.FROZEN),
                                                             (2, Status.ACTIVE)]


def test_publish_of_one_generation_leaves_the_others_alone() -> None:
    st_ = run(initial(config=Config(lagged=True)), [
        ("put", {"shard": "s", "batch": (("a", 1),)}), ("freeze", {"shard": "s"}),
        ("put", {"shard": "s", "batch": (("b", 2),)})])
    from model.state import publish

    s = publish(st_, "s", 1).shard("s")
    assert s is not None
    assert [(g.number, g.visible) for g in s.generations] == [(1, 1), (2, 0)]


def test_compaction_of_one_shard_merges_its_rows_and_deletes_into_base() -> None:
    st_ = run(initial({"x": "old", "y": "old"}), [
        ("put", {"shard": "s", "batch": (("a", 1),)}),
        ("delete", {"shard": "t", "pks": ("x",)}),
        ("put", {"shard": "t", "batch": (("y", 2),)}),
        *[(e, {"shard": sh}) for sh in ("s", "t") for e in ("freeze", "flush")],
    ])
    done = run(st_, [("compact", {"shard": "t"})])
    assert done.base_rows() == {"y": 2}
    t, s = done.shard("t"), done.shard("s")
    assert t is not None and s is not None
    assert t.compacted_through == 1 and s.compacted_through == 0
    assert [g.status for g in s.generations if g.number == 1] == [Status.SSTABLE]
    # a crash leaves compacted generations compacted (only retained ones move to disk)
    crashed = run(done, [("crash", {})]).shard("t")
    assert crashed is not None and crashed.generation(1).status is Status.COMPACTED  # type: ignore[union-attr]


def test_after_scan_reads_nothing_again_once_the_epoch_changed() -> None:
    from model.designs import Capture

    st_ = put(initial(), "s", (("a", 1),))
    arm = observe(st_)
    later = run(st_, [("put", {"shard": "s", "batch": (("b", 2),)}), ("crash", {})])
    cut = capture(Design.AS_OF_CUT, arm, Capture.AFTER_SCAN, later=later).get("s")
    assert cut is not None and cut.active_batch_count == 1
    grown = put(st_, "s", (("b", 2),))
    cut = capture(Design.AS_OF_CUT, arm, Capture.AFTER_SCAN, later=grown).get("s")
    assert cut is not None and cut.active_batch_count == 2  # same epoch: read again (H1)


def test_a_wal_position_cut_with_nothing_read_from_memory_is_zero() -> None:
    st_ = put(initial(config=Config(lagged=True)), "s", (("a", 1),))
    cut = capture(Design.WAL_POSITION_MAP, observe(st_)).get("s")
    assert cut is not None and cut.wal_position == 0
