"""The table schema, its primary key, and validation of everything written or probed.

Why a module of its own: every write path (put, delete, base at create) and
every probe path (``contains_pks*``) must reject bad input *before* touching
state, with an error that names the column/value.  Keeping the checks here
makes "validate first, mutate after" a single call at each entry point.

Internally a stored batch is the user columns (all nullable, so a tombstone
can carry nulls) plus ``_tombstone: bool``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from impl import arrays
from impl.errors import (
    EmptyBatchError,
    InvalidShardIdError,
    MissingPrimaryKeyError,
    NullPrimaryKeyError,
    PrimaryKeyTypeError,
    SchemaMismatchError,
)

TOMBSTONE = "_tombstone"
GENERATION = "_generation"
APPEND_INDEX = "_append_index"
ROW = "_row"
RESERVED = (TOMBSTONE, GENERATION, APPEND_INDEX, ROW, "_shard")

SHARD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: Row-id schema of observations and block-list row ids.
ROW_ID_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("generation", pa.int64()),
        ("append_index", pa.int64()),
        ("row", pa.int64()),
    ]
)


def check_shard_id(shard: object) -> str:
    """Return ``shard`` if it is a valid shard id, else raise InvalidShardIdError."""
    if not isinstance(shard, str) or not SHARD_ID_RE.match(shard):
        raise InvalidShardIdError(
            f"invalid shard id {shard!r}: must match {SHARD_ID_RE.pattern}"
        )
    return shard


def pk_type_supported(t: pa.DataType) -> bool:
    """PKs are integers or strings (Lance's single-column typed keys)."""
    return bool(pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t))


@dataclass(frozen=True)
class TableSchema:
    """User schema + PK name, and the derived internal (stored) schema."""

    schema: pa.Schema
    pk: str

    @staticmethod
    def build(schema: object, pk: object) -> TableSchema:
        """Validate a user schema and PK name (for ``MemWal.create``)."""
        if not isinstance(schema, pa.Schema):
            raise SchemaMismatchError(f"schema must be a pyarrow.Schema, got {type(schema)!r}")
        if not isinstance(pk, str):
            raise MissingPrimaryKeyError(f"pk must be a column name (str), got {pk!r}")
        if len(set(schema.names)) != len(schema.names):
            raise SchemaMismatchError(f"schema has duplicate column names: {schema.names}")
        for name in schema.names:
            if name in RESERVED:
                raise SchemaMismatchError(f"column name {name!r} is reserved")
        if pk not in schema.names:
            raise MissingPrimaryKeyError(
                f"primary key column {pk!r} is not in the schema {schema.names}"
            )
        t = schema.field(pk).type
        if not pk_type_supported(t):
            raise PrimaryKeyTypeError(
                f"primary key column {pk!r} has type {t}; only integer and string PKs are supported"
            )
        return TableSchema(schema.remove_metadata(), pk)

    # derived once per schema (a frozen dataclass keeps a cached_property in its
    # __dict__): readers ask for them on every batch, and a pyarrow schema is not free
    @cached_property
    def pk_type(self) -> pa.DataType:
        return self.schema.field(self.pk).type

    @cached_property
    def internal(self) -> pa.Schema:
        """Stored-batch schema: user columns (nullable) + ``_tombstone``."""
        fields = [pa.field(f.name, f.type, nullable=True) for f in self.schema]
        return pa.schema(fields + [pa.field(TOMBSTONE, pa.bool_(), nullable=False)])

    # ------------------------------------------------------------------ writes

    def to_stored_batch(self, data: object) -> pa.RecordBatch:
        """Validate a put's batch/table and return the stored batch (tombstone = false)."""
        if isinstance(data, pa.Table):
            batch = data.combine_chunks().to_batches()
            rows: pa.RecordBatch | None = batch[0] if batch else None
        elif isinstance(data, pa.RecordBatch):
            rows = data
        else:
            raise SchemaMismatchError(
                f"put expects a pyarrow.RecordBatch or Table, got {type(data).__name__}"
            )
        self._check_columns(data.schema)
        if rows is None or rows.num_rows == 0:
            raise EmptyBatchError("put of an empty batch (0 rows)")
        pk_col = rows.column(self.pk)
        if pk_col.null_count:
            bad = pc.indices_nonzero(pc.is_null(pk_col))[0].as_py()
            raise NullPrimaryKeyError(f"primary key column {self.pk!r} is null at row {bad}")
        columns = [rows.column(n) for n in self.schema.names]
        columns.append(arrays.full(rows.num_rows, False, pa.bool_()))
        return pa.RecordBatch.from_arrays(columns, schema=self.internal)

    def _check_columns(self, got: pa.Schema) -> None:
        if self.pk not in got.names:
            raise MissingPrimaryKeyError(
                f"batch has no primary key column {self.pk!r} (columns: {got.names})"
            )
        want_pk = self.pk_type
        got_pk = got.field(self.pk).type
        if got_pk != want_pk:
            raise PrimaryKeyTypeError(
                f"primary key column {self.pk!r} has type {got_pk}, expected {want_pk}"
            )
        if got.names != self.schema.names:
            missing = [n for n in self.schema.names if n not in got.names]
            extra = [n for n in got.names if n not in self.schema.names]
            raise SchemaMismatchError(
                f"batch columns {got.names} differ from schema {self.schema.names}"
                f" (missing {missing}, unexpected {extra})"
            )
        for f in self.schema:
            g = got.field(f.name)
            if g.type != f.type:
                raise SchemaMismatchError(
                    f"column {f.name!r} has type {g.type}, expected {f.type}"
                )

    def tombstone_batch(self, pks: object) -> pa.RecordBatch:
        """Validate a delete's keys and build the tombstone batch (other columns null)."""
        keys = self.coerce_keys(pks, what="delete")
        if len(keys) == 0:
            raise EmptyBatchError("delete of no keys")
        n = len(keys)
        arrays: list[pa.Array] = []
        for f in self.schema:
            arrays.append(keys if f.name == self.pk else pa.nulls(n, f.type))
        arrays.append(pa.array([True] * n, pa.bool_()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.internal)

    def validate_base(self, base: object) -> pa.Table:
        """Validate an initial base table: same schema, non-null unique PKs."""
        if not isinstance(base, pa.Table):
            raise SchemaMismatchError(f"base must be a pyarrow.Table, got {type(base).__name__}")
        self._check_columns(base.schema)
        pk_col = base.column(self.pk)
        if pk_col.null_count:
            raise NullPrimaryKeyError(f"base table has a null primary key in {self.pk!r}")
        if pc.count_distinct(pk_col).as_py() != base.num_rows:
            raise SchemaMismatchError(f"base table has duplicate primary keys in {self.pk!r}")
        table = base.select(self.schema.names).cast(self.schema).combine_chunks()
        return table.sort_by(self.pk)

    # ------------------------------------------------------------------ probes

    def foreign_int_probe(self, pks: object) -> pa.Array | None:
        """A pyarrow integer probe array of another integer type than an integer PK, or None.

        Under ``probe_key_types="lance"`` (H12) such probes are not coerced and
        match nothing, as Lance's key lookup does.  Nulls are still a typed
        error; anything else (including None here) goes through ``coerce_keys``.
        """
        if isinstance(pks, pa.ChunkedArray):
            pks = pks.combine_chunks()
        if not (isinstance(pks, pa.Array) and pa.types.is_integer(pks.type)):
            return None
        if not pa.types.is_integer(self.pk_type) or pks.type == self.pk_type:
            return None
        _reject_nulls(pks, "probe")
        return pks

    def coerce_keys(self, pks: object, *, what: str = "probe") -> pa.Array:
        """Turn probe/delete keys into a non-null array of the PK type.

        Python sequences are cast safely; a pyarrow array of another type is a
        PrimaryKeyTypeError (H12: Lance does not coerce probe keys either, so a
        silent cast here would hide the hazard).
        """
        if isinstance(pks, pa.ChunkedArray):
            arr: pa.Array = pks.combine_chunks()
        elif isinstance(pks, pa.Array):
            arr = pks
        elif isinstance(pks, (str, bytes)) or not isinstance(pks, Sequence):
            raise PrimaryKeyTypeError(
                f"{what} keys must be a list or pyarrow array of {self.pk_type}, "
                f"got {type(pks).__name__}"
            )
        else:
            stringy = pa.types.is_string(self.pk_type) or pa.types.is_large_string(self.pk_type)
            for v in pks:
                is_int = isinstance(v, int) and not isinstance(v, bool)
                ok = isinstance(v, str) if stringy else is_int
                if v is not None and not ok:
                    raise PrimaryKeyTypeError(
                        f"{what} key {v!r} is not of the primary key type {self.pk_type}"
                    )
            try:
                arr = pa.array(list(pks), type=self.pk_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as e:
                raise PrimaryKeyTypeError(
                    f"{what} keys cannot be cast to primary key type {self.pk_type}: {e}"
                ) from e
        if arr.type != self.pk_type:
            raise PrimaryKeyTypeError(
                f"{what} keys have type {arr.type}, expected the primary key type {self.pk_type}"
            )
        _reject_nulls(arr, what)
        return arr


def _reject_nulls(keys: pa.Array, what: str) -> None:
    """A null key is a typed error naming its position (``what``: probe, delete...)."""
    if keys.null_count:
        bad = pc.indices_nonzero(pc.is_null(keys))[0].as_py()
        raise NullPrimaryKeyError(f"{what} key at position {bad} is null")
