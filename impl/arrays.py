"""Constant and counting columns, built by pyarrow alone.

Row-id columns (generation, append index, row in batch) are made of runs of
constants and counters.  Building them vectorized keeps scans and membership
free of per-row Python loops, without pulling numpy in as a dependency.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

_INT64 = pa.int64()


def full(n: int, value: int | bool, type: pa.DataType = _INT64) -> pa.Array:
    """``n`` copies of ``value``."""
    return pa.repeat(_scalar(value, type), n)


@functools.lru_cache(maxsize=256)
def _scalar(value: int | bool, type: pa.DataType) -> pa.Scalar:
    # scalars are immutable; building one costs more than repeating it
    return pa.scalar(value, type)


@functools.lru_cache(maxsize=1024)
def arange(n: int, start: int = 0) -> pa.Array:
    """``start, start + 1, …, start + n - 1`` as int64 (cached: arrays are immutable,
    and every batch of n rows asks for the same row numbers)."""
    if n == 0:
        return pa.array([], pa.int64())
    return pc.add(pc.cumulative_sum(full(n, 1)), start - 1)


def runs(sizes: Sequence[int], start: int = 0) -> tuple[pa.Array, pa.Array]:
    """For consecutive runs of ``sizes``: each element's run index (from ``start``)
    and its position inside its run — a batch's append index and row in batch."""
    run_index = [full(size, start + i) for i, size in enumerate(sizes)]
    within = [arange(size) for size in sizes]
    if not sizes:
        empty = pa.array([], pa.int64())
        return empty, empty
    return pa.concat_arrays(run_index), pa.concat_arrays(within)
