"""Hostile input, table-driven: a typed error naming the problem, and nothing changed.

Why: every bad input must be rejected *before* any state or disk mutation
(impl/__init__.py's rule), so a rejected call is indistinguishable from no call
— both in the scan and byte for byte on disk.  ``test_impl_errors.py`` covers
the first 26 bad writes/probes; this file adds the rest of the issue's list:
schema drift, oversize batches (``max_batch_rows``), odd key containers,
non-conforming shard ids, call-level malformed cuts, garbage options, and
on-disk damage seen by ``open`` (corrupt WAL bytes in the middle, gaps,
truncated manifests, a root that is not a table).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import SCHEMA, rows

from impl import (
    AsOfCut,
    AsOfCutError,
    BatchTooLargeError,
    CorruptManifestError,
    CorruptWalError,
    Cut,
    ExactCut,
    InvalidOptionError,
    InvalidShardIdError,
    MalformedCutError,
    MemWal,
    MemWalOptions,
    MissingPrimaryKeyError,
    NotATableError,
    NullPrimaryKeyError,
    PinnedCut,
    PrimaryKeyTypeError,
    SchemaMismatchError,
    WalPositionCut,
)

LIMIT = 100


def _listing(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _build(root: Path) -> MemWal:
    """Base 1..3; shard s: SSTable 1 = [1], [2]; WAL entries 3, 4, 5 unflushed."""
    wal = MemWal.create(root, SCHEMA, "id", MemWalOptions(max_batch_rows=LIMIT),
                        base=rows([1, 2, 3], "b"))
    s = wal.shard("s")
    s.put(rows([1]))
    s.put(rows([2]))
    s.freeze()
    s.flush()
    for pk in (3, 4, 5):
        s.put(rows([pk], "x"))
    return wal


def _entry(root: Path, position: int) -> Path:
    return root / "_mem_wal" / "s" / "wal" / f"{position:020d}.arrow"


Call = Callable[[MemWal], object]
LIVE: list[tuple[str, Call, type[AsOfCutError], str]] = [
    ("columns reordered", lambda w: w.shard("s").put(rows([9]).select(["v", "id"])),
     SchemaMismatchError, "differ"),
    ("column missing", lambda w: w.shard("s").put(pa.table({"id": [9]})),
     SchemaMismatchError, "missing ['v']"),
    ("pk is string", lambda w: w.shard("s").put(pa.table({"id": ["9"], "v": ["a"]})),
     PrimaryKeyTypeError, "string"),
    ("pk is uint64", lambda w: w.shard("s").put(
        pa.table({"id": pa.array([9], pa.uint64()), "v": ["a"]})), PrimaryKeyTypeError, "uint64"),
    ("value large_string", lambda w: w.shard("s").put(
        pa.table({"id": [9], "v": pa.array(["a"], pa.large_string())})),
     SchemaMismatchError, "large_string"),
    ("pk all null", lambda w: w.shard("s").put(
        pa.table({"id": pa.nulls(2, pa.int64()), "v": ["a", "b"]})), NullPrimaryKeyError, "row 0"),
    ("record batch null pk", lambda w: w.shard("s").put(
        pa.RecordBatch.from_pylist([{"id": 1, "v": "a"}, {"id": 2, "v": "b"},
                                    {"id": None, "v": "c"}], schema=SCHEMA)),
     NullPrimaryKeyError, "row 2"),
    ("pk name case", lambda w: w.shard("s").put(pa.table({"ID": [9], "v": ["a"]})),
     MissingPrimaryKeyError, "'id'"),
    ("put None", lambda w: w.shard("s").put(None), SchemaMismatchError, "NoneType"),  # type: ignore[arg-type]
    ("put over max_batch_rows", lambda w: w.shard("s").put(rows(list(range(LIMIT + 1)))),
     BatchTooLargeError, f"max_batch_rows={LIMIT}"),
    ("delete over max_batch_rows", lambda w: w.shard("s").delete(list(range(LIMIT + 1))),
     BatchTooLargeError, f"delete of {LIMIT + 1} rows"),
    ("oversize first write of a new shard", lambda w: w.shard("n").put(
        rows(list(range(LIMIT + 1)))), BatchTooLargeError, "exceeds"),
    ("delete a string", lambda w: w.shard("s").delete("1"), PrimaryKeyTypeError, "str"),  # type: ignore[arg-type]
    ("delete bools", lambda w: w.shard("s").delete([True]), PrimaryKeyTypeError, "True"),
    ("delete floats", lambda w: w.shard("s").delete([1.5]), PrimaryKeyTypeError, "1.5"),
    ("delete None", lambda w: w.shard("s").delete(None), PrimaryKeyTypeError, "NoneType"),  # type: ignore[arg-type]
    ("delete chunked int32", lambda w: w.shard("s").delete(pa.chunked_array([[1]], pa.int32())),
     PrimaryKeyTypeError, "int32"),
    ("shard id empty", lambda w: w.shard(""), InvalidShardIdError, "''"),
    ("shard id too long", lambda w: w.shard("a" * 65), InvalidShardIdError, "a" * 65),
    ("shard id slash", lambda w: w.shard("a/b"), InvalidShardIdError, "'a/b'"),
    ("shard id dot first", lambda w: w.shard(".hidden"), InvalidShardIdError, "'.hidden'"),
    ("shard id non-ascii", lambda w: w.shard("shärd"), InvalidShardIdError, "'shärd'"),
    ("cut entry of another design", lambda w: w.contains_pks_as_of(
        [1], Cut("as_of_cut", {"s": WalPositionCut(1)})), MalformedCutError, "AsOfCut"),
    ("cut shard key not a str", lambda w: w.contains_pks_as_of([1], {1: AsOfCut(1, 1)}),
     MalformedCutError, "1"),
    ("cut None", lambda w: w.contains_pks_as_of([1], None), MalformedCutError, "NoneType"),
    ("block list cut a list", lambda w: w.fresh_tier_block_list([AsOfCut(1, 1)]),
     MalformedCutError, "list"),
    ("exact cut observed garbage", lambda w: w.contains_pks_as_of(
        [1], Cut("exact_cut", {"s": ExactCut(1, "x")})), MalformedCutError, "'x'"),  # type: ignore[arg-type]
    ("exact cut past u64", lambda w: w.contains_pks_as_of(
        [1], Cut("exact_cut", {"s": ExactCut(1, ((1, 2**64),))})), MalformedCutError, "2**64-1"),
    ("negative cut in a dict", lambda w: w.contains_pks_as_of([1], {"s": AsOfCut(2, -1)}),
     MalformedCutError, "-1"),
    ("pinned cut base version 0", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(0, 0, ())})), MalformedCutError,
     "PinnedCut.base_version=0"),
    ("pinned cut negative compacted_through", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, -1, ())})), MalformedCutError,
     "PinnedCut.pinned_through=-1"),
    ("pinned cut range from position 0", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, ((0, 2),))})), MalformedCutError,
     "PinnedCut range start=0"),
    ("pinned cut range end garbage", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, ((1, "9"),))})), MalformedCutError,  # type: ignore[arg-type]
     "PinnedCut range end must be an int"),
    ("pinned cut range of three", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, ((1, 2, 3),))})), MalformedCutError,  # type: ignore[arg-type]
     "(1, 2, 3) is not a pair"),
    ("pinned cut range not a pair", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, (5,))})), MalformedCutError,  # type: ignore[arg-type]
     "5 is not a pair"),
    ("pinned cut adjacent ranges", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, ((1, 3), (3, 5)))})),
     MalformedCutError, "maximal"),
    ("pinned cut empty range", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, ((1, 1),))})), MalformedCutError, "[1, 1)"),
    ("pinned cut overlapping ranges", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, ((1, 4), (3, 5)))})),
     MalformedCutError, "disjoint"),
    ("pinned cut ranges garbage", lambda w: w.contains_pks_as_of(
        [1], Cut("pinned_cut", {"s": PinnedCut(1, 0, "x")})), MalformedCutError, "'x'"),  # type: ignore[arg-type]
    ("pinned cut entry for exact", lambda w: w.contains_pks_as_of(
        [1], Cut("exact_cut", {"s": PinnedCut(1, 0, ())})), MalformedCutError, "ExactCut"),
    ("two-phase design", lambda w: w.two_phase_read("nope"), InvalidOptionError, "'nope'"),
    ("two-phase capture", lambda w: w.two_phase_read("as_of_cut", 3), InvalidOptionError, "3"),  # type: ignore[arg-type]
    ("release negative gen", lambda w: w.shard("s").release(-1), InvalidOptionError, "-1"),
    ("publish bool gen", lambda w: w.shard("s").publish(True), InvalidOptionError, "True"),
    ("option max_batch_rows 0", lambda w: MemWalOptions(max_batch_rows=0),
     InvalidOptionError, "max_batch_rows=0"),
    ("option max_batch_rows str", lambda w: MemWalOptions(max_batch_rows="9"),  # type: ignore[arg-type]
     InvalidOptionError, "'9'"),
    ("open with garbage options", lambda w: MemWal.open(w.root, "fast"),  # type: ignore[arg-type]
     InvalidOptionError, "str"),
    ("open with garbage disk", lambda w: MemWal.open(w.root, disk="d"),  # type: ignore[arg-type]
     InvalidOptionError, "disk"),
]


@pytest.mark.parametrize("name,call,error,needle", LIVE, ids=[c[0] for c in LIVE])
def test_hostile_call_is_rejected_and_changes_nothing(
    tmp_path: Path, name: str, call: Call, error: type[AsOfCutError], needle: str
) -> None:
    wal = _build(tmp_path / "t")
    scan, stats, files = wal.scan().table, wal.shard("s").stats(), _listing(wal.root)
    with pytest.raises(error) as info:
        call(wal)
    assert isinstance(info.value, AsOfCutError), name
    assert needle in str(info.value), (name, str(info.value))
    assert wal.scan().table.equals(scan)
    assert wal.shard("s").stats() == stats
    assert wal.shards() == ["s"]
    assert _listing(wal.root) == files


def _flip_middle(p: Path) -> None:
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 16] = b"\xff" * 16
    p.write_bytes(bytes(data))


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


Damage = Callable[[Path], object]
ON_DISK: list[tuple[str, Damage, type[AsOfCutError], Callable[[Path], str]]] = [
    ("wal bytes corrupt in the middle entry", lambda r: _flip_middle(_entry(r, 4)),
     CorruptWalError, lambda r: str(_entry(r, 4))),
    ("wal middle entry garbage", lambda r: _entry(r, 4).write_bytes(b"garbage"),
     CorruptWalError, lambda r: "not the tail"),
    ("wal middle entry truncated", lambda r: _truncate(_entry(r, 4)),
     CorruptWalError, lambda r: _entry(r, 4).name),
    ("wal gap", lambda r: _entry(r, 4).unlink(), CorruptWalError, lambda r: "gap"),
    ("wal entry of another schema", lambda r: _entry(r, 4).write_bytes(_other_schema_entry()),
     CorruptWalError,
     lambda r: _entry(r, 4).name),
    ("shard manifest truncated", lambda r: _truncate(r / "_mem_wal" / "s" / "manifest.json"),
     CorruptManifestError, lambda r: str(r / "_mem_wal" / "s" / "manifest.json")),
    ("shard manifest negative epoch", lambda r: _edit(r / "_mem_wal" / "s" / "manifest.json",
                                                      writer_epoch=-1),
     CorruptManifestError, lambda r: "out-of-range"),
    ("base manifest truncated", lambda r: _truncate(r / "base" / "manifest.json"),
     CorruptManifestError, lambda r: "base manifest"),
    ("base data file missing", lambda r: (r / "base" / "v0000000001.arrow").unlink(),
     CorruptManifestError, lambda r: "missing"),
    ("table descriptor truncated", lambda r: _truncate(r / "table.json"),
     CorruptManifestError, lambda r: "table descriptor"),
    ("table descriptor wrong format", lambda r: _edit(r / "table.json", format="parquet/9"),
     CorruptManifestError, lambda r: "'parquet/9'"),
    ("root not a table", lambda r: (r / "table.json").unlink(), NotATableError,
     lambda r: "holds no table"),
]


def _edit(p: Path, **fields: object) -> None:
    doc = json.loads(p.read_text())
    doc.update(fields)
    p.write_text(json.dumps(doc))


def _other_schema_entry() -> bytes:
    from impl.storage import ipc_bytes

    t = pa.table({"id": [4], "w": [1.0], "_tombstone": [False]})
    return ipc_bytes(t, {"asofcut.writer_epoch": "1", "asofcut.wal_position": "4"})


@pytest.mark.parametrize("name,damage,error,needle", ON_DISK, ids=[c[0] for c in ON_DISK])
def test_damaged_table_fails_open_typed_and_untouched(
    tmp_path: Path, name: str, damage: Damage, error: type[AsOfCutError],
    needle: Callable[[Path], str],
) -> None:
    """Open validates everything before its first write, so a failed open changes no byte."""
    root = tmp_path / "t"
    wal = _build(root)
    scan = wal.scan().table
    wal.crash()
    pristine = _listing(root)
    damage(root)
    damaged = _listing(root)
    with pytest.raises(error) as info:
        MemWal.open(root)
    assert isinstance(info.value, AsOfCutError), name
    assert needle(root) in str(info.value), (name, str(info.value))
    assert _listing(root) == damaged
    for rel, data in pristine.items():  # repair: the table was never modified by the attempt
        (root / rel).write_bytes(data)
    assert MemWal.open(root).scan().table.equals(scan)


def test_root_that_is_a_file_is_not_a_table(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(NotATableError, match="holds no table"):
        MemWal.open(f)
    assert f.read_bytes() == b"x"


def test_cut_naming_an_unknown_shard_has_no_effect(tmp_path: Path) -> None:
    """Decision (SEMANTICS.md "Reading"): an entry for a shard the table does not have is
    ignored — such a shard has no candidate rows, so the entry can neither over- nor
    under-count, and the model (``model/read.py``) treats it the same way."""
    wal = _build(tmp_path / "t")
    cut = wal.scan(with_base=False).cut
    extra = Cut(cut.design, {**cut.shards, "ghost": AsOfCut(1, 0)})
    probes = [1, 2, 3, 4, 5, 6]
    assert wal.contains_pks_as_of(probes, extra).equals(wal.contains_pks_as_of(probes, cut))
    assert "ghost" not in wal.shards()
