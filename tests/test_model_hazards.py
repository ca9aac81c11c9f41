"""Each hazard (docs/LANCE.md "Hazards") as a hand-written trace, with the model's verdict.

A verdict is ``violation: <pks>`` (soundness fails: an over-count), ``under-count:
<reasons>`` (tightness shortfall with its named exclusion) or ``clean``.  The
traces are the shortest we could write; they read like the spec.
"""

from __future__ import annotations

from collections.abc import Sequence

from model.designs import Capture, Design
from model.events import run
from model.invariants import assumptions, verdict
from model.read import Observation, capture, membership, observe, two_phase
from model.state import Config, State, initial

LAGGED = Config(lagged=True)
RETAIN = Config(release_at_flush=False)


def put(pk: str, shard: str = "s") -> tuple[str, dict[str, object]]:
    return ("put", {"shard": shard, "batch": ((pk, f"v-{pk}"),)})


def delete(pk: str, shard: str = "s") -> tuple[str, dict[str, object]]:
    return ("delete", {"shard": shard, "pks": (pk,)})


def ev(name: str, shard: str = "s") -> tuple[str, dict[str, object]]:
    return (name, {"shard": shard})


def verdicts(
    arm: Observation,
    check: State,
    variant: Capture = Capture.VISIBLE_COUNT,
    later: State | None = None,
) -> dict[str, str]:
    """Every design's verdict for one (arm, check), the cut captured per ``variant``."""
    return {d.value: verdict(d, arm, capture(d, arm, variant, later), check) for d in Design}


def broken(
    arm: Observation,
    check: State,
    variant: Capture = Capture.VISIBLE_COUNT,
    ev: Sequence[str] = (),
) -> set[str]:
    """The assumptions A1–A5 that fail for ``as_of_cut`` on this (arm, check)."""
    cut = capture(Design.AS_OF_CUT, arm, variant, later=check)
    return {name for name, ok in assumptions(arm, cut, check, ev).items() if not ok}


def test_h1_count_read_after_the_scan_overcounts_every_asof_cut() -> None:
    t0 = run(initial(config=LAGGED), [put("a"), ev("publish"), put("b")])
    arm = observe(t0)  # reads a only: b is committed, not visible
    t1 = run(t0, [ev("publish")])  # b becomes visible, then the caller reads N
    assert verdicts(arm, t1, Capture.AFTER_SCAN, later=t1) == {
        "live_tier": "violation: b",
        "wal_position_map": "violation: b",
        "as_of_cut": "violation: b",
        "fresh_tier_watermark": "violation: b",
        "exact_cut": "clean",  # a variant changes only AsOfCut's N; exact_cut records what it read
        "pinned_cut": "clean",  # so does pinned_cut: its WAL ranges are what it read
    }
    assert verdicts(arm, t1)["as_of_cut"] == "clean"  # N read with the scan: sound
    assert broken(arm, t1, Capture.AFTER_SCAN) == {"A1"} and broken(arm, t1) == set()


def test_h2_count_from_len_overcounts_as_of_cut_now_and_watermark_after_publish() -> None:
    t0 = run(initial(config=LAGGED), [put("a"), ev("publish"), put("b")])
    arm = observe(t0)
    assert verdicts(arm, t0, Capture.LEN) == {
        "live_tier": "violation: b",
        "wal_position_map": "violation: b",
        "as_of_cut": "violation: b",  # reads raw committed batches
        "fresh_tier_watermark": "clean",  # b is not visible yet
        "exact_cut": "clean",  # records the counts it read, whatever the variant
        "pinned_cut": "clean",
    }
    t1 = run(t0, [ev("publish")])
    assert verdicts(arm, t1, Capture.LEN)["fresh_tier_watermark"] == "violation: b"
    assert verdicts(arm, t1)["fresh_tier_watermark"] == "clean"
    assert broken(arm, t1, Capture.LEN) == {"A1"}


def test_h3_frozen_tail_published_after_arm_overcounts_as_of_cut() -> None:
    t0 = run(initial(config=LAGGED), [put("a"), ev("publish"), put("b"), ev("freeze")])
    arm = observe(t0)  # cut {A=2, N=0}; gen 1 read up to its visible count: a only
    t1 = run(t0, [ev("publish")])
    assert verdicts(arm, t1) == {
        "live_tier": "violation: b",
        "wal_position_map": "violation: b",
        "as_of_cut": "violation: b",
        "fresh_tier_watermark": "violation: b",
        "exact_cut": "clean",
        "pinned_cut": "clean",  # b's WAL position is in a hole of the ranges read
    }
    assert broken(arm, t1) == {"A2"}


def test_h3_flushing_the_frozen_generation_does_not_help() -> None:
    t0 = run(initial(config=LAGGED), [put("a"), ev("publish"), put("b"), ev("freeze")])
    arm = observe(t0)
    t1 = run(t0, [ev("flush")])  # SSTable 1 < A: included whole
    assert verdicts(arm, t1)["as_of_cut"] == "violation: b"
    assert verdicts(arm, t1)["fresh_tier_watermark"] == "violation: b"
    assert verdicts(arm, t1)["exact_cut"] == "clean"


def test_h4_active_generation_flushed_and_released_undercounts_as_of_cut() -> None:
    t0 = run(initial(), [put("a")])
    arm = observe(t0)  # cut {A=1, N=1}
    t1 = run(t0, [ev("freeze"), ev("flush")])  # grace = 0: released at flush commit
    assert verdicts(arm, t1) == {
        "live_tier": "clean",
        "wal_position_map": "clean",
        "as_of_cut": "under-count: released",
        "fresh_tier_watermark": "under-count: released",
        "exact_cut": "clean",  # row ids survive flush
        "pinned_cut": "clean",  # so do WAL positions
    }
    assert broken(arm, t1) == {"A5"}
    base = {"a": "old"}
    assert two_phase(Design.AS_OF_CUT, arm, capture(Design.AS_OF_CUT, arm), t1, base).duplicates
    assert not two_phase(Design.EXACT_CUT, arm, capture(Design.EXACT_CUT, arm), t1, base).duplicates


def test_h4_grace_keeps_the_generation_in_memory_until_release() -> None:
    t0 = run(initial(config=RETAIN), [put("a")])
    arm = observe(t0)
    t1 = run(t0, [ev("freeze"), ev("flush")])
    assert verdicts(arm, t1)["as_of_cut"] == "clean"
    t2 = run(t1, [ev("release")])
    assert verdicts(arm, t2)["as_of_cut"] == "under-count: released"


def test_h5b_compaction_between_arm_and_check_undercounts_every_design() -> None:
    t0 = run(initial(base={"a": "old"}), [put("a"), ev("freeze"), ev("flush"), put("b")])
    arm = observe(t0)  # reads SSTable 1 (a) and gen 2 (b)
    t1 = run(t0, [ev("compact")])
    every = verdicts(arm, t1)
    assert every.pop("pinned_cut") == "clean"  # it probes SSTable 1 as of its pinned base
    assert set(every.values()) == {"under-count: compacted"}
    assert broken(arm, t1) == set()  # a named exclusion, not a broken assumption
    read = two_phase(Design.EXACT_CUT, arm, capture(Design.EXACT_CUT, arm), t1)
    assert read.duplicates == {"a"} and read.base_kept == {"a": "v-a"} and not read.missing
    pinned = two_phase(Design.PINNED_CUT, arm, capture(Design.PINNED_CUT, arm), t1)
    assert pinned.base_kept == {} and not pinned.duplicates and not pinned.missing


def test_h6_shard_created_after_arm_overcounts_as_of_cut_through_the_live_tier() -> None:
    t0 = run(initial(base={"x": "old"}), [put("a")])
    arm = observe(t0)
    t1 = run(t0, [put("x", shard="t")])
    assert verdicts(arm, t1) == {
        "live_tier": "violation: x",
        "wal_position_map": "violation: x",
        "as_of_cut": "violation: x",
        "fresh_tier_watermark": "violation: x",
        "exact_cut": "clean",  # shards the arm did not see are excluded
        "pinned_cut": "clean",
    }
    assert broken(arm, t1) == {"A3-shards"}
    read = two_phase(Design.AS_OF_CUT, arm, capture(Design.AS_OF_CUT, arm), t1)
    assert read.missing == {"x"}


def test_h7_replay_collapses_generations_and_overcounts_as_of_cut() -> None:
    t0 = run(initial(base={"c": "old"}), [put("a"), ev("freeze"), put("b")])
    arm = observe(t0)  # cut {A=2, N=1}
    t1 = run(t0, [put("c"), ("crash", {})])  # gen 1 now holds a, b, c; 1 < A: whole
    assert verdicts(arm, t1) == {
        # b is renumbered, (s,2,0,0) became (s,1,1,0), but it is the write the arm
        # read (same WAL position): only c, written after the arm, is a violation
        "live_tier": "violation: c",
        "wal_position_map": "violation: c",
        "as_of_cut": "violation: c",
        "fresh_tier_watermark": "violation: c",
        "exact_cut": "under-count: epoch changed",
        "pinned_cut": "clean",  # a and b by WAL position, c's position is past the ranges
    }
    assert broken(arm, t1, ev=["put", "crash"]) == {"A4", "A5"}  # gen 2 collapsed into 1
    read = two_phase(Design.AS_OF_CUT, arm, capture(Design.AS_OF_CUT, arm), t1)
    assert read.missing == {"c"}  # the PK-level loss: c's base row dropped, c never delivered


def test_h13_tombstone_in_the_observed_prefix_deletes_the_base_row() -> None:
    t0 = run(initial(base={"a": "old"}), [delete("a")])
    arm = observe(t0)
    assert set(verdicts(arm, t0).values()) == {"clean"}
    read = two_phase(Design.AS_OF_CUT, arm, capture(Design.AS_OF_CUT, arm), t0)
    assert read.base_kept == {} and read.fresh == {} and not read.missing


def test_h13_tombstone_after_the_arm_is_excluded_by_n() -> None:
    t0 = run(initial(base={"a": "old"}), [put("x")])
    arm = observe(t0)
    t1 = run(t0, [delete("a")])
    assert verdicts(arm, t1)["as_of_cut"] == "clean"
    assert membership(Design.AS_OF_CUT, capture(Design.AS_OF_CUT, arm), t1, ["a"]) == set()
    assert verdicts(arm, t1)["live_tier"] == "violation: a"


def test_h13_tombstone_in_a_frozen_tail_overcounts_as_of_cut() -> None:
    steps = [put("x"), ev("publish"), delete("a"), ev("freeze")]
    t0 = run(initial(base={"a": "old"}, config=LAGGED), steps)
    arm = observe(t0)  # the arm shows a alive in no tier... and base a is still there
    t1 = run(t0, [ev("publish")])
    assert verdicts(arm, t1)["as_of_cut"] == "violation: a"
    assert verdicts(arm, t1)["exact_cut"] == "clean"
    assert broken(arm, t1) == {"A2"}
    read = two_phase(Design.AS_OF_CUT, arm, capture(Design.AS_OF_CUT, arm), t1)
    assert read.missing == {"a"}
