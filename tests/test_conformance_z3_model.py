"""The z3 step relation does what model/ does, state by state (proofs/conformance.py).

``asofcut prove`` proves things about ``proofs/encode.py``; these tests tie
that encoding to ``model/events.py`` and ``model/read.py``, with no golden
file involved:

1. every world reachable in ``DEPTH`` events from an empty tier, under every
   visibility × release configuration and every arm capture, is encoded in
   z3; each event's encoded step reaches the model's successor and nothing
   else, and at every complete cut each design's z3 check admits the row
   under test iff the model's check does;
2. longer generated traces (multi-row batches, deletes, auto-freeze) do the
   same, step by step;
3. every planted bug of the encoding (one or more per transition) fails (1).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.designs import Capture
from model.state import Config
from proofs import conformance as c
from proofs.encode import BUG_TRANSITION, CAPTURES, OPS, Bug

DEPTH = c.DEPTH


def test_every_world_within_the_bound_conforms() -> None:
    t0 = time.perf_counter()
    stats, failures = c.explore(depth=DEPTH, stop_at_failure=True)
    took = time.perf_counter() - t0
    print(f"\nconformance: {stats.worlds} worlds, {stats.steps} steps, "
          f"{stats.checks} complete cuts × 5 designs, {took:.1f} s")
    assert failures == [], "\n".join(map(str, failures[:5]))
    # non-vacuity: every op of the encoding moved the model at least once, and
    # the one documented narrowing was met (and is exactly "z3 cannot move")
    assert set(OPS) - {"noop"} <= set(stats.moves), stats.moves
    assert stats.moves["read_n (narrower)"] > 0
    assert stats.checks > 500


def test_bugs_cover_every_transition_and_the_check() -> None:
    assert set(BUG_TRANSITION.values()) == set(OPS) - {"noop"} | {"check"}
    assert set(BUG_TRANSITION) == set(Bug)


@pytest.mark.parametrize("bug", list(Bug), ids=lambda b: b.name)
def test_every_planted_bug_fails_conformance(bug: Bug) -> None:
    """Each bug is searched for where it can show (``conformance.SEARCH``)."""
    depth, setups = c.search_space(bug)
    _, failures = c.explore(frozenset({bug}), depth=depth, setups=setups, stop_at_failure=True)
    assert failures, f"{bug.name} ({bug.value}) survives the conformance check"


# --------------------------------------------------------------------------
# Beyond the bound: generated traces
# --------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c"])
tier_event = st.one_of(
    st.tuples(st.sampled_from(["put", "delete"]),
              st.lists(keys, min_size=1, max_size=3).map(tuple), st.booleans()),
    st.tuples(st.sampled_from(c.TIER_EVENTS + c.KNOB_EVENTS + ("manifest", "read_n")),
              st.none(), st.just(False)),
    st.tuples(st.just("arm"), st.sampled_from([cap.value for cap in CAPTURES]
                                              + [c.TWO_INSTANTS]), st.just(False)),
)
setups = st.builds(
    # pap runs on a lagged tier, durable_after_visible on an immediate one (its hazard)
    lambda lagged, grace0, m, dav, skip, pap: c.Setup(
        Config(lagged=(lagged or pap) and not dav, release_at_flush=grace0,
               max_memtable_batches=m, durable_after_visible=dav and not pap,
               flush_skip=skip), pap=pap),
    st.booleans(), st.booleans(), st.sampled_from([None, 1, 2, 3]), st.booleans(),
    st.booleans(), st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups, st.lists(tier_event, min_size=1, max_size=16))
def test_generated_traces_conform(setup: c.Setup, events: list[c.Ev]) -> None:
    _, failures = c.run_trace(frozenset(), setup, events)
    assert failures == [], "\n".join(map(str, failures))


def test_generated_traces_catch_a_planted_bug() -> None:
    """The trace checker is the same check: a planted bug fails a fixed trace."""
    setup = c.Setup(Config(lagged=True, release_at_flush=True, max_memtable_batches=2))
    trace: list[c.Ev] = [("put", ("a", "b"), True), ("put", ("c",), False),
                         ("put", ("a",), False), ("publish", None, False)]
    assert c.run_trace(frozenset(), setup, trace)[1] == []
    assert c.run_trace(frozenset({Bug.PUBLISH_SKIPS_FROZEN}), setup, trace)[1]


def test_a_lost_write_is_forgotten_and_its_position_reused() -> None:
    """H9 in the conformance world: a crash loses a visible, non-durable R; the next
    put takes R's old WAL position, and is another write the arm did not read."""
    setup = c.Setup(Config(durable_after_visible=True))
    w = c.World(c.ms.initial(config=setup.config))
    for ev in [("put", "c", False), ("sync", None, False), ("put", "a", True),
               ("arm", Capture.VISIBLE_COUNT.value, False), ("crash", None, False)]:
        (w,), fails = c.check_step(frozenset(), w, setup, ev, ())
        assert fails == []
    assert w.r is None and not w.seen_r
    (w,), fails = c.check_step(frozenset(), w, setup, ("put", "b", True), ())
    assert fails == [] and w.r == 2 and not w.seen_r
    abstract, _ = c.abstract(w, setup)
    assert abstract["rin"] and not abstract["obs"]  # the pinned cut holds a write it never read
