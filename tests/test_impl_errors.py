"""Every bad input: a typed error whose message names the culprit, and no state change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import SCHEMA, rows

from impl import (
    AsOfCut,
    AsOfCutError,
    Cut,
    EmptyBatchError,
    ExactCut,
    InvalidOptionError,
    InvalidShardIdError,
    MalformedCutError,
    MemWal,
    MemWalOptions,
    MissingPrimaryKeyError,
    NullPrimaryKeyError,
    PrimaryKeyTypeError,
    SchemaMismatchError,
    WalPositionCut,
)


def _listing(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture
def wal(make_wal) -> MemWal:
    w = make_wal(base_ids=[1, 2], visibility="lagged")
    s = w.shard("s")
    s.put(rows([1]))
    s.publish()
    s.freeze()
    s.put(rows([3]))
    return w


BAD_WRITES: list[tuple[str, Callable[[MemWal], object], type[AsOfCutError], str]] = [
    ("empty put", lambda w: w.shard("s").put(rows([])), EmptyBatchError, "empty"),
    (
        "null pk",
        lambda w: w.shard("s").put(pa.table({"id": [1, None], "v": ["a", "b"]}, schema=SCHEMA)),
        NullPrimaryKeyError,
        "row 1",
    ),
    (
        "missing pk",
        lambda w: w.shard("s").put(pa.table({"v": ["a"]})),
        MissingPrimaryKeyError,
        "'id'",
    ),
    (
        "pk type",
        lambda w: w.shard("s").put(pa.table({"id": pa.array([1], pa.int32()), "v": ["a"]})),
        PrimaryKeyTypeError,
        "int32",
    ),
    (
        "extra column",
        lambda w: w.shard("s").put(pa.table({"id": [1], "v": ["a"], "x": [1]})),
        SchemaMismatchError,
        "'x'",
    ),
    (
        "column type",
        lambda w: w.shard("s").put(pa.table({"id": [1], "v": [1]})),
        SchemaMismatchError,
        "'v'",
    ),
    ("not a batch", lambda w: w.shard("s").put({"id": [1]}), SchemaMismatchError, "dict"),
    ("empty delete", lambda w: w.shard("s").delete([]), EmptyBatchError, "delete"),
    ("null delete", lambda w: w.shard("s").delete([1, None]), NullPrimaryKeyError, "position 1"),
    ("delete type", lambda w: w.shard("s").delete(["x"]), PrimaryKeyTypeError, "'x'"),
    (
        "delete arrow type",
        lambda w: w.shard("s").delete(pa.array([1], pa.int8())),
        PrimaryKeyTypeError,
        "int8",
    ),
    ("new shard, bad put", lambda w: w.shard("n").put(rows([])), EmptyBatchError, "empty"),
    ("shard id", lambda w: w.shard("../x"), InvalidShardIdError, "'../x'"),
    ("shard id type", lambda w: w.shard(3), InvalidShardIdError, "3"),  # type: ignore[arg-type]
    ("publish gen", lambda w: w.shard("s").publish(0), InvalidOptionError, "0"),
    ("release gen", lambda w: w.shard("s").release("1"), InvalidOptionError, "'1'"),  # type: ignore[arg-type]
    ("probe type", lambda w: w.contains_pks(["a"]), PrimaryKeyTypeError, "'a'"),
    ("probe null", lambda w: w.contains_pks([None]), NullPrimaryKeyError, "null"),
    (
        "probe arrow type",
        lambda w: w.contains_pks(pa.array([1], pa.int32())),
        PrimaryKeyTypeError,
        "int32",
    ),
    ("probe scalar", lambda w: w.contains_pks(5), PrimaryKeyTypeError, "int"),
    (
        "probe overflow",
        lambda w: w.contains_pks([2**70]),
        PrimaryKeyTypeError,
        "int64",
    ),
    ("cut type", lambda w: w.contains_pks_as_of([1], [1]), MalformedCutError, "list"),
    (
        "cut entry",
        lambda w: w.contains_pks_as_of([1], {"s": (1, 2)}),
        MalformedCutError,
        "'s'",
    ),
    (
        "cut entry for design",
        lambda w: w.contains_pks_as_of([1], Cut("exact_cut", {"s": AsOfCut(1, 1)})),
        MalformedCutError,
        "ExactCut",
    ),
    ("design", lambda w: w.scanner("nope"), InvalidOptionError, "'nope'"),
    ("capture", lambda w: w.scanner("as_of_cut", "later"), InvalidOptionError, "'later'"),
]


@pytest.mark.parametrize(
    "name,call,error,needle", BAD_WRITES, ids=[b[0] for b in BAD_WRITES]
)
def test_bad_input_raises_typed_error_and_changes_nothing(
    wal: MemWal, name: str, call: Callable[[MemWal], object], error: type, needle: str
) -> None:
    del name
    table_before = wal.scan().table
    stats_before = wal.shard("s").stats()
    files_before = _listing(wal.root)
    with pytest.raises(error) as info:
        call(wal)
    assert needle in str(info.value)
    assert isinstance(info.value, AsOfCutError)
    assert wal.scan().table.equals(table_before)
    assert wal.shard("s").stats() == stats_before
    assert wal.shards() == ["s"]
    assert _listing(wal.root) == files_before


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda: AsOfCut(-1, 0), "AsOfCut.active_generation=-1"),
        (lambda: AsOfCut(1, -1), "AsOfCut.active_batch_count=-1"),
        (lambda: AsOfCut(True, 0), "AsOfCut.active_generation must be an int"),
        (lambda: AsOfCut(1, 2**64), "AsOfCut.active_batch_count=18446744073709551616"),
        (lambda: AsOfCut(1.0, 0), "AsOfCut.active_generation must be an int"),  # type: ignore[arg-type]
        (lambda: ExactCut(-1, ()), "ExactCut.writer_epoch=-1"),
        (lambda: ExactCut(1, ((0, 1),)), "ExactCut generation=0 is outside [1,"),
        (lambda: ExactCut(1, ((1, -2),)), "ExactCut batch count=-2"),
        (lambda: ExactCut(1, ((1, 1), (1, 2))), "ExactCut.observed repeats a generation: [1, 1]"),
        (lambda: ExactCut(1, ((1,),)), "ExactCut.observed item (1,) is not a pair"),  # type: ignore[arg-type]
        (lambda: WalPositionCut(-3), "WalPositionCut.wal_position=-3"),
        (lambda: Cut("nope", {}), "unknown cut design 'nope'"),
        (lambda: Cut("live_tier", {"s": AsOfCut(1, 1)}), "carries no entries"),
        (lambda: Cut("as_of_cut", {"bad id!": AsOfCut(1, 1)}), "invalid shard id 'bad id!'"),
        (lambda: Cut("as_of_cut", [("s", AsOfCut(1, 1))]), "must be a mapping, got list"),  # type: ignore[arg-type]
    ],
)
def test_malformed_cuts_are_rejected_on_construction(make: Callable[[], object],
                                                     names: str) -> None:
    """Rejected with a message that names the field and the bad value."""
    with pytest.raises(MalformedCutError) as info:
        make()
    assert names in str(info.value)


def test_cuts_accept_the_extremes() -> None:
    assert AsOfCut(0, 0).active_generation == 0  # H6's explicit "exclude everything"
    assert AsOfCut(1, 2**64 - 1).active_batch_count == 2**64 - 1
    assert ExactCut(1, {2: 1, 1: 3}).observed == ((1, 3), (2, 1))  # type: ignore[arg-type]  # a mapping is normalised


@pytest.mark.parametrize(
    "kwargs",
    [
        {"visibility": "sometimes"},
        {"max_memtable_batches": 0},
        {"max_memtable_batches": True},
        {"release": "never"},
        {"design": "nope"},
        {"capture": "nope"},
        {"fsync": "yes"},
    ],
)
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidOptionError):
        MemWalOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "schema,pk,error",
    [
        (SCHEMA, "nope", MissingPrimaryKeyError),
        (pa.schema([("id", pa.float64())]), "id", PrimaryKeyTypeError),
        (pa.schema([("id", pa.int64()), ("_tombstone", pa.bool_())]), "id", SchemaMismatchError),
        ("not a schema", "id", SchemaMismatchError),
    ],
)
def test_bad_create_writes_nothing(tmp_path: Path, schema: object, pk: str, error: type) -> None:
    root = tmp_path / "t"
    with pytest.raises(error):
        MemWal.create(root, schema, pk)  # type: ignore[arg-type]
    assert not root.exists()


def test_bad_base_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "t"
    dup = pa.table({"id": [1, 1], "v": ["a", "b"]}, schema=SCHEMA)
    with pytest.raises(SchemaMismatchError, match="duplicate"):
        MemWal.create(root, SCHEMA, "id", base=dup)
    assert not root.exists()


def test_string_primary_keys(tmp_path: Path) -> None:
    schema = pa.schema([("k", pa.string()), ("n", pa.int32())])
    wal = MemWal.create(tmp_path / "t", schema, "k")
    wal.shard("s").put(pa.table({"k": ["a", "b"], "n": [1, 2]}, schema=schema))
    assert wal.contains_pks(["b", "c"]).to_pylist() == [True, False]
    with pytest.raises(PrimaryKeyTypeError):
        wal.contains_pks([1])
