"""z3's shortest counterexamples, replayed on the real fresh tier and on the model.

``proofs/traces.json`` holds, for every assumption the solver dropped, the
shortest trace (iterative deepening) that breaks the design, as numbered
events.  A proof about a symbolic tier is only as good as its encoding, so
each trace is replayed here, event by event, on ``impl/`` and on ``model/``:

* the outcome the solver predicted must happen on both — a **missing row**
  (the check claims the PK, the arm delivered no version of it) or a
  **duplicate** (the arm delivered it, the check does not claim it);
* the same events under ``exact_cut`` must lose no row.

Traces whose events the real tier cannot perform are listed in
``NOT_REPLAYABLE`` with the reason, and a test pins that list, so nothing is
skipped silently: impl's collector snapshots the memtable refs and the SSTable
list atomically and its readers skip compacted SSTables, so an arm that reads
its manifest early (H5a) or a check that sees a stale SSTable list cannot be
staged on it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from impl import MemWal, MemWalOptions
from model.designs import Capture, Design
from model.events import run
from model.invariants import verdict
from model.read import capture, observe
from model.state import Config, initial

TRACES_PATH = Path(__file__).resolve().parent.parent / "proofs" / "traces.json"
TRACES: list[dict[str, Any]] = json.loads(TRACES_PATH.read_text(encoding="utf-8"))
SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("val", pa.string())])


def _why_not_replayable(trace: dict[str, Any]) -> str | None:
    ops = {e["op"] for e in trace["events"]}
    if "manifest" in ops:
        return "the arm reads its manifest before its memtable refs (H5a): impl collects atomically"
    if any(e.get("stale_sstable_list") for e in trace["events"]):
        return "the check sees a stale SSTable list: impl's readers skip compacted SSTables"
    if _two_instants(trace) and "arm_visibility" not in MemWalOptions.__dataclass_fields__:
        return "the arm reads its counts at a second instant (H15): impl has no such arm yet"
    return None


def _two_instants(trace: dict[str, Any]) -> bool:
    return bool(trace.get("arm_visibility") == "two_instants")


NOT_REPLAYABLE = {t["name"]: r for t in TRACES if (r := _why_not_replayable(t))}
REPLAYABLE = [t for t in TRACES if t["name"] not in NOT_REPLAYABLE]


@dataclass
class Replay:
    """What one replay ended with: the check's answer and what the arm delivered."""

    claimed: bool
    delivered: bool

    @property
    def outcome(self) -> str:
        if self.claimed and not self.delivered:
            return "missing_row"
        if self.delivered and not self.claimed:
            return "duplicate"
        return "clean"


Event = dict[str, Any]


def _segments(events: list[Event]) -> Iterator[tuple[Event, list[Event]]]:
    """Each event, with the events that run inside an after_scan arm's window."""
    i = 0
    while i < len(events):
        e = events[i]
        if e["op"] == "arm" and (e.get("capture") == "after_scan" or e.get("second_instant")):
            j = next(k for k in range(i, len(events)) if events[k]["op"] == "read_n")
            yield e, events[i + 1 : j]
            i = j + 1
        else:
            yield e, []
            i += 1


# ------------------------------------------------------------------ impl


def replay_on_impl(trace: dict[str, Any], design: str, capture_variant: str) -> Replay:
    options = MemWalOptions(
        visibility=trace["visibility"],
        release=trace["release"],
        design=design,
        capture=capture_variant,
        arm_visibility="two_instants" if _two_instants(trace) else "one_instant",
    )
    base = pa.table(
        {"id": trace["base_pks"], "val": [f"base-{pk}" for pk in trace["base_pks"]]},
        schema=SCHEMA,
    )
    with tempfile.TemporaryDirectory(prefix="asofcut-trace-") as tmp:
        root = Path(tmp) / "t"
        wal = MemWal.create(root, SCHEMA, "id", options, base=base)
        arm = cut = None
        claimed = False
        try:
            def do(e: dict[str, Any]) -> None:
                nonlocal wal
                op, shard = e["op"], e.get("shard", "s")
                if op == "put":
                    batch = pa.table({"id": [e["pk"]], "val": [f"v-{e['pk']}"]}, schema=SCHEMA)
                    wal.shard(shard).put(batch)
                elif op in ("publish", "freeze", "flush", "release"):
                    getattr(wal.shard(shard), op)()
                elif op == "compact":
                    wal.compact()
                elif op == "crash":
                    wal.crash()
                    wal = MemWal.open(root, options)
                else:
                    raise AssertionError(f"event {e['n']} ({op}) cannot be replayed on impl")

            for e, window in _segments(trace["events"]):
                if e["op"] == "arm":
                    def between(window: list[dict[str, Any]] = window) -> None:
                        for w in window:
                            do(w)

                    hook = between if window else None
                    if _two_instants(trace):  # the window lies between the arm's two reads
                        arm = wal.scanner(design, capture_variant).scan(
                            with_base=False, between_reads=hook)
                    else:
                        arm = wal.scanner(design, capture_variant).scan(
                            with_base=False, between_scan_and_capture=hook)
                    cut = arm.cut
                elif e["op"] == "check":
                    assert arm is not None and cut is not None, "check before the arm"
                    claimed = bool(wal.contains_pks_as_of([e["pk"]], cut)[0].as_py())
                else:
                    do(e)
        finally:
            wal.close()
        assert arm is not None
        delivered = trace["missing_pk"] in set(arm.observed_pks.to_pylist())
        return Replay(claimed, delivered)


# ----------------------------------------------------------------- model


def _model_event(e: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    op, shard = e["op"], e.get("shard", "s")
    if op == "put":
        return "put", {"shard": shard, "batch": ((e["pk"], f"v-{e['pk']}"),)}
    if op in ("compact", "crash"):
        return op, {}
    return op, {"shard": shard}


def verdict_on_model(trace: dict[str, Any], design: Design, variant: Capture) -> str:
    config = Config(lagged=trace["visibility"] == "lagged",
                    release_at_flush=trace["release"] == "at_flush")
    state = initial({pk: f"base-{pk}" for pk in trace["base_pks"]}, config)
    arm = cut = None
    for e, window in _segments(trace["events"]):
        if e["op"] == "arm":
            arm = observe(state)
            state = run(state, [_model_event(w) for w in window])
            cut = capture(design, arm, variant, later=state if window else None,
                          recount=_two_instants(trace))
        elif e["op"] == "check":
            assert arm is not None and cut is not None
            return verdict(design, arm, cut, state)
        else:
            state = run(state, [_model_event(e)])
    raise AssertionError("trace has no check")


# ----------------------------------------------------------------- tests

MODEL_WORD = {"missing_row": "violation", "duplicate": "under-count"}


def _ids(traces: list[dict[str, Any]]) -> list[str]:
    return [t["name"] for t in traces]


@pytest.mark.parametrize("trace", REPLAYABLE, ids=_ids(REPLAYABLE))
def test_solver_counterexample_happens_on_the_real_tier(trace: dict[str, Any]) -> None:
    story = "\n".join(f"  {e['n']}. {e['text']}" for e in trace["events"])
    got = replay_on_impl(trace, trace["design"], trace["capture"])
    assert got.outcome == trace["outcome"], (
        f"z3 predicts {trace['outcome']} for PK {trace['missing_pk']!r} under "
        f"{trace['design']} ({trace['capture']}); impl gave {got.outcome}:\n{story}"
    )


@pytest.mark.parametrize("trace", REPLAYABLE, ids=_ids(REPLAYABLE))
def test_solver_counterexample_is_the_models_verdict_too(trace: dict[str, Any]) -> None:
    v = verdict_on_model(trace, Design(trace["design"]), Capture(trace["capture"]))
    assert v.startswith(MODEL_WORD[trace["outcome"]]), v


ONE_INSTANT = [t for t in REPLAYABLE if not _two_instants(t)]


@pytest.mark.parametrize("trace", ONE_INSTANT, ids=_ids(ONE_INSTANT))
def test_exact_cut_loses_no_row_on_the_same_events(trace: dict[str, Any]) -> None:
    """(Not under a two-instant arm: that arm is what the exact cut's A1 excludes.)"""
    got = replay_on_impl(trace, Design.EXACT_CUT.value, Capture.VISIBLE_COUNT.value)
    assert got.outcome != "missing_row"
    v = verdict_on_model(trace, Design.EXACT_CUT, Capture.VISIBLE_COUNT)
    assert not v.startswith("violation"), v


def test_only_the_stale_sstable_list_traces_are_left_out() -> None:
    """The real tier cannot stage H5a (A3-sstables); every other trace is replayed."""
    assert set(NOT_REPLAYABLE) == {t["name"] for t in TRACES if "A3-sstables" in t["name"]
                                   or (_two_instants(t) and _why_not_replayable(t))}
    assert {t["design"] for t in REPLAYABLE} >= {"as_of_cut", "fresh_tier_watermark"}
