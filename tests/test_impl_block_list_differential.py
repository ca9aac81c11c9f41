"""impl's block list against model/designs.py's admit predicates, row by row.

The state machine compares impl with the model through whole traces; this
test holds the two *rule sets* together directly.  Hypothesis builds a real
fresh tier (``impl.MemWal``: multi-row batches, deletes, lagged visibility,
auto-freeze, flush, release, compaction, the test-only WAL map, crash and
reopen) and then *any* cut, not only one a read arm would capture.  For every
candidate row of impl's own snapshot, ``model.designs.admits`` (fed the row's
facts and the cut's fields) says whether the check admits it; impl's
``fresh_tier_block_list`` must list exactly those row ids, and ``contains``
must claim exactly the PKs of those rows.  impl never imports the model; only
this test reads both.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import SCHEMA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import AsOfCut, Cut, ExactCut, MemWal, MemWalOptions, WalPositionCut
from impl.block_list import contains, fresh_tier_block_list
from impl.collector import Sources, collect
from impl.schema import APPEND_INDEX, ROW
from model.designs import Design, RowFacts, ShardCut, admits

SHARDS = ("s0", "s1")
RowId = tuple[str, int, int, int]

#: op names, weighted so that flushed SSTables (freeze, then flush) are common and
#: compaction/reopen, which empty the fresh tier, are rare.  No ``mark_wal_flushed``:
#: the model, like production, never maps a batch to its WAL position (its
#: ``admit_wal_position_map`` says why); impl's mapped case has its own unit tests.
OP_NAMES = (["put"] * 4 + ["delete"] * 2 + ["publish", "release"]
            + ["freeze", "flush"] * 3 + ["compact", "reopen"])
op = st.sampled_from(OP_NAMES).flatmap(lambda name: st.tuples(
    st.just(name),
    st.just("") if name in ("compact", "reopen") else st.sampled_from(SHARDS),
    st.lists(st.integers(0, 5), min_size=1, max_size=4 if name == "put" else 3)
    if name in ("put", "delete") else st.just([]),
))
options = st.builds(
    MemWalOptions,
    visibility=st.sampled_from(["immediate", "lagged"]),
    release=st.sampled_from(["at_flush", "explicit"]),
    max_memtable_batches=st.sampled_from([None, 2, 3]),
)
gen = st.integers(0, 4)
entry = {
    "as_of_cut": st.builds(AsOfCut, gen, st.integers(0, 4)),
    "exact_cut": st.builds(
        ExactCut, st.integers(1, 3),
        st.dictionaries(st.integers(1, 4), st.integers(0, 4), max_size=4)
        .map(lambda d: tuple(sorted(d.items())))),
    "wal_position_map": st.builds(WalPositionCut, st.integers(0, 12)),
}
ENTRY_KIND = {"live_tier": None, "wal_position_map": "wal_position_map",
              "as_of_cut": "as_of_cut", "fresh_tier_watermark": "as_of_cut",
              "exact_cut": "exact_cut"}


@st.composite
def cuts(draw: st.DrawFn, design: str) -> Cut:
    kind = ENTRY_KIND[design]
    if kind is None:
        return Cut(design, {})
    chosen = draw(st.lists(st.sampled_from(SHARDS), unique=True))
    return Cut(design, {s: draw(entry[kind]) for s in chosen})


def build(root: Path, opts: MemWalOptions, ops: list[tuple[str, str, list[int]]]) -> MemWal:
    """Run ``ops`` on a fresh tier.  Each shard first gets a flushed generation and a
    row in the next one, so both shards exist and SSTables are there to judge."""
    wal = MemWal.create(root, SCHEMA, "id", opts)
    prefix = [(name, s, keys) for s in SHARDS
              for name, keys in (("put", [9, 8]), ("put", [7]), ("freeze", []), ("flush", []),
                                 ("put", [6]))]
    for name, shard, keys in [*prefix, *ops]:
        if name == "put":
            wal.shard(shard).put(pa.table({"id": keys, "v": [f"v{k}" for k in keys]},
                                          schema=SCHEMA))
        elif name == "delete":
            wal.shard(shard).delete(keys)
        elif name == "compact":
            wal.compact()
        elif name == "reopen":
            wal.crash()
            wal = MemWal.open(root, opts)
        else:
            getattr(wal.shard(shard), name)()
    return wal


def candidates(sources: Sources) -> Iterator[tuple[RowId, Any, RowFacts]]:
    """Every row the check can probe, with its PK and the facts the predicates read."""
    for sh in sources.shards.values():
        for m in sh.memtables:
            # batch by batch from the store (not through the row offsets under test)
            for ai, b in enumerate(m.memtable.store.batches(m.committed)):
                facts = RowFacts(in_memory=True, generation=m.generation, append_index=ai,
                                 visible=ai < m.visible, epoch=sh.writer_epoch)
                for r, pk in enumerate(b.data.column("id").to_pylist()):
                    yield (sh.shard, m.generation, ai, r), pk, facts
        for s in sh.sstables:
            side = s.sstable.sidecar()
            for pk, ai, r in zip(side.column(0).to_pylist(), side.column(APPEND_INDEX).to_pylist(),
                                 side.column(ROW).to_pylist(), strict=True):
                facts = RowFacts(in_memory=False, generation=s.generation, append_index=ai,
                                 visible=True, epoch=sh.writer_epoch)
                yield (sh.shard, s.generation, ai, r), pk, facts


def shard_cut(e: object) -> ShardCut | None:
    """impl's cut entry as the model's ``ShardCut`` (each design reads its own fields)."""
    if e is None:
        return None
    if isinstance(e, AsOfCut):
        return ShardCut(e.active_generation, e.active_batch_count)
    if isinstance(e, ExactCut):
        return ShardCut(0, 0, epoch=e.writer_epoch, observed=e.observed)
    assert isinstance(e, WalPositionCut)
    return ShardCut(0, 0, wal_position=e.wal_position)


def mismatches(sources: Sources, cut: Cut) -> list[str]:
    """Where impl's block list or membership differs from the model's predicates."""
    design = cut.design
    rows = list(candidates(sources))
    want = {rid for rid, _, facts in rows
            if admits(Design(design), facts, shard_cut(cut.shards.get(rid[0])))}
    got = {tuple(r.values()) for gm in fresh_tier_block_list(sources, cut, design)
           for r in gm.row_ids.to_pylist()}
    out = [f"{design} {dict(cut.shards)}: block list {sorted(got - want)} not admitted, "
           f"{sorted(want - got)} missing"] if got != want else []
    probes = sorted({pk for _, pk, _ in rows} | {100})
    members = {pk for rid, pk, _ in rows if rid in want}
    claimed = contains(sources, cut, design, pa.array(probes, pa.int64())).to_pylist()
    if {pk for pk, c in zip(probes, claimed, strict=True) if c} != members:
        out.append(f"{design} {dict(cut.shards)}: contains {claimed} for {probes}, "
                   f"model members {sorted(members)}")
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options, st.lists(op, max_size=20), st.data())
def test_block_list_admits_exactly_what_the_predicates_admit(
        opts: MemWalOptions, ops: list[tuple[str, str, list[int]]], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as d:
        wal = build(Path(d) / "t", opts, ops)
        sources = collect(wal._tier)
        for design in ENTRY_KIND:
            for _ in range(3):
                cut = data.draw(cuts(design))
                assert mismatches(sources, cut) == []
        wal.close()


#: fixed states (after the prefix of ``build``) that reach every rule: lagged
#: tails, retained and released SSTables, multi-row batches (no WAL map: the model,
#: like production, maps nothing; impl's mapped case has its own unit tests)
GRID_STATES: dict[str, tuple[MemWalOptions, list[tuple[str, str, list[int]]]]] = {
    "lagged, retained": (
        MemWalOptions(visibility="lagged", release="explicit"),
        [("put", "s0", [1, 2]), ("publish", "s0", []), ("put", "s0", [3]), ("freeze", "s0", []),
         ("put", "s0", [4, 5]), ("put", "s0", [11])]),
    "released, reopened": (
        MemWalOptions(release="at_flush"),
        [("put", "s1", [1, 2, 3]), ("freeze", "s1", []), ("flush", "s1", []),
         ("put", "s1", [4]), ("reopen", "", []), ("put", "s1", [5, 6])]),
}


def grid_cuts() -> Iterator[Cut]:
    """Every cut over small values, for every design, shard s0 or s1 or both or neither."""
    entries: dict[str, list[object]] = {
        "as_of_cut": [AsOfCut(a, n) for a in range(5) for n in range(4)],
        "exact_cut": [ExactCut(e, obs) for e in (1, 2)
                      for obs in ((), ((1, 1),), ((1, 3), (2, 1)), ((2, 2), (3, 1)))],
        "wal_position_map": [WalPositionCut(w) for w in range(9)],
    }
    for design, kind in ENTRY_KIND.items():
        if kind is None:
            yield Cut(design, {})
            continue
        for e in entries[kind]:
            for shards in (("s0",), ("s1",), SHARDS, ()):
                yield Cut(design, {s: e for s in shards})


@pytest.mark.parametrize("name", list(GRID_STATES))
def test_block_list_on_a_grid_of_states_and_cuts(tmp_path: Path, name: str) -> None:
    """Deterministic and quick: every small cut on states that reach every rule."""
    opts, ops = GRID_STATES[name]
    wal = build(tmp_path / "t", opts, ops)
    sources = collect(wal._tier)
    bad = [m for cut in grid_cuts() for m in mismatches(sources, cut)]
    assert bad == [], bad[:3]
    wal.close()


# --------------------------------------------------------------------------
# The comparison can fail: planted bugs in impl's rules
# --------------------------------------------------------------------------

PLANTED_STATE = [("put", "s0", [1, 2, 3]), ("put", "s0", [4]), ("freeze", "s0", []),
                 ("flush", "s0", []), ("put", "s0", [5, 6]), ("put", "s0", [7])]


def _planted_mismatches(tmp_path: Path, plant: Callable[[], None] = lambda: None) -> list[str]:
    """Build the state with the real impl, plant the bug, then compare."""
    wal = build(tmp_path / "t", MemWalOptions(release="at_flush"), PLANTED_STATE)
    plant()
    sources = collect(wal._tier)
    out = []
    # s0: generations 1 and 2 flushed, 3 active with batches [5, 6] and [7]
    for cut in (Cut("as_of_cut", {"s0": AsOfCut(3, 1)}), Cut("as_of_cut", {"s0": AsOfCut(2, 9)}),
                Cut("exact_cut", {"s0": ExactCut(1, ((1, 1), (2, 1), (3, 1)))})):
        out += mismatches(sources, cut)
    wal.close()
    return out


def test_planted_state_agrees(tmp_path: Path) -> None:
    assert _planted_mismatches(tmp_path) == []


def test_a_batch_bound_taken_as_a_row_bound_is_caught(tmp_path: Path, monkeypatch) -> None:
    """A cut inside a memtable of multi-row batches, bounded by N *rows*."""
    from impl.batch_store import BatchStore

    def plant() -> None:
        monkeypatch.setattr(BatchStore, "row_offset",
                            lambda self, count: min(count, self.num_rows))

    assert _planted_mismatches(tmp_path, plant)


def test_an_sstable_at_the_active_generation_admitted_is_caught(tmp_path: Path,
                                                                monkeypatch) -> None:
    """The ``SST_GT`` bug in impl: an SSTable with g = A admitted whole."""
    import impl.block_list as bl

    def buggy(design: str, s: Any, e: object | None) -> int:
        if isinstance(e, AsOfCut) and s.generation <= e.active_generation:
            return int(s.batches)
        return original(design, s, e)

    original = bl._sstable_bound
    assert _planted_mismatches(tmp_path, lambda: monkeypatch.setattr(bl, "_sstable_bound", buggy))
