"""The event table: the generation lifecycle as data (h11's ``EVENT_TRIGGERED_TRANSITIONS``).

One row per event of the state machines' alphabet.  Code dispatches through
it (``step``), docs/SPEC.md renders it (``asofcut.model_docs``), proofs/ reads the
from → to statuses, and tests/test_model_events.py checks every row against
what its function really does.  Adding an event means adding a row here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from model import read, state
from model.state import State, Status


def _shard_has(pred: Callable[[state.Generation], bool]) -> Callable[[State, str], bool]:
    def enabled(st: State, shard: str) -> bool:
        s = st.shard(shard)
        return s is not None and any(pred(g) for g in s.generations)

    return enabled


@dataclass(frozen=True)
class Event:
    """One event: its function, when it does something, and what it does to whom."""

    name: str
    apply: Callable[..., Any]
    enabled: Callable[[State, str], bool]  # (state, shard) -> does the event change anything
    source: tuple[Status, ...]  # statuses a generation leaves; () when none changes
    target: Status | None
    precondition: str
    effect: str
    hazard: str
    mutates: bool = True  # False: a read (returns an answer, not a State)


def _always(st: State, shard: str) -> bool:
    return True


def _absent(st: State, shard: str) -> bool:
    return st.shard(shard) is None


def _nonempty_active(g: state.Generation) -> bool:
    return g.status is Status.ACTIVE and g.committed > 0


def _invisible_tail(g: state.Generation) -> bool:
    return g.in_memory and g.visible < g.committed


def _retained(g: state.Generation) -> bool:
    return g.status is Status.RETAINED


def _on_disk(g: state.Generation) -> bool:
    return g.status in (Status.SSTABLE, Status.RETAINED)


def _pending(st: State, shard: str) -> bool:
    s = st.shard(shard)
    return s is not None and s.durable_wal < s.next_wal - 1


def _flushable(st: State, shard: str) -> bool:
    s = st.shard(shard)
    return s is not None and any(state._flushable(s, g) for g in s.generations)


def _skippable(st: State, shard: str) -> bool:
    """A failed flush changes the state only if later flushes skip it (``flush_skip``)."""
    return st.config.flush_skip and _flushable(st, shard)


EVENTS: dict[str, Event] = {
    e.name: e
    for e in (
        Event(
            "new shard", state.put, _absent,
            (), Status.ACTIVE, "shard absent",
            "first put/delete creates it: active generation 1, writer epoch 1",
            "H6: a shard born after the arm is absent from its cut (live tier)",
        ),
        Event(
            "put", state.put, _always, (), None, "non-empty batch, no null PK",
            "append one batch at append index = committed count; visible now unless lagged; "
            "auto-freeze at M batches",
            "H1, H2: committed runs ahead of visible",
        ),
        Event(
            "delete", state.delete, _always, (), None, "at least one PK",
            "append one tombstone batch (tombstones are members)",
            "H13: a tombstone in a frozen tail",
        ),
        Event(
            "publish", state.publish, _shard_has(_invisible_tail),
            (), None, "an in-memory generation has invisible batches",
            "visible_count := committed_count, frozen tails included",
            "H3: a frozen tail becomes visible after the arm",
        ),
        Event(
            "freeze", state.freeze, _shard_has(_nonempty_active),
            (Status.ACTIVE,), Status.FROZEN, "active memtable non-empty",
            "seal it; new active generation g + 1; visibility unchanged",
            "H3: sealed before fully visible",
        ),
        Event(
            "flush", state.flush, _flushable,
            (Status.FROZEN,), Status.RETAINED, "a frozen memtable whose flush did not fail",
            "oldest such: WAL synced, tail published, SSTable g written with its row ids; "
            "release='at_flush' also releases it in the same step",
            "H4 (with release at flush)",
        ),
        Event(
            "fail flush", state.fail_flush, _skippable,
            (), None, "flush_skip, and a frozen memtable whose flush did not fail",
            "its flush fails: it stays frozen and served; with flush_skip later flushes "
            "pass it by (else the next flush retries it)",
            "H14: a crash then does not replay it",
        ),
        Event(
            "sync", state.sync, _pending,
            (), None, "WAL writes pending (durable_after_visible)",
            "every WAL write so far lands: durable",
            "H9: rows served before this are lost by a crash",
        ),
        Event(
            "release", state.release, _shard_has(_retained),
            (Status.RETAINED,), Status.SSTABLE, "a flushed generation is retained",
            "drop the in-memory copy; readers use the SSTable",
            "H4: the arm's active generation leaves memory",
        ),
        Event(
            "compact", state.compact, _shard_has(_on_disk),
            (Status.SSTABLE, Status.RETAINED), Status.COMPACTED, "an SSTable exists",
            "merge SSTables into base in ascending generation order; compacted_through := max",
            "H5b: observed rows leave the fresh tier",
        ),
        Event(
            "crash", state.crash, _always, (Status.ACTIVE, Status.FROZEN), Status.ACTIVE, "none",
            "epoch + 1; retained → sstable only; durable WAL after the highest flushed "
            "generation replayed into ONE active memtable there, all visible",
            "H7: generations renumbered, G and G+1 collapse",
        ),
        Event(
            "read arm", read.observe, _always, (), None, "none",
            "observation O (rows read up to each visible count, SSTables whole) and a cut",
            "H1 (count read after the scan), H2 (count = len)", mutates=False,
        ),
        Event(
            "supersession check", read.membership, _always, (), None, "a cut from an arm",
            "PKs with a candidate row the design admits under the cut",
            "over-count → missing row; under-count → duplicate", mutates=False,
        ),
    )
}  # fmt: skip


def step(st: State, name: str, **kwargs: Any) -> State:
    """Apply the write-side event ``name`` through the table."""
    event = EVENTS[name]
    if not event.mutates:
        raise ValueError(f"{name!r} is a read; call model.read directly")
    result: State = event.apply(st, **kwargs)
    return result


def run(st: State, events: Iterable[tuple[str, Mapping[str, Any]]]) -> State:
    """Apply a sequence of ``(event name, kwargs)`` through the table: a trace, replayed."""
    for name, kwargs in events:
        st = step(st, name, **kwargs)
    return st
