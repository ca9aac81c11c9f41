"""Shared fixtures for the impl tests: a small int-PK table and a row builder."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])


def rows(ids: list[int], tag: str = "v") -> pa.Table:
    """One batch of rows ``id -> f"{tag}{id}"``."""
    return pa.table({"id": ids, "v": [f"{tag}{i}" for i in ids]}, schema=SCHEMA)


@pytest.fixture
def make_wal(tmp_path: Path) -> Callable[..., object]:
    """Build a MemWal under a fresh directory: ``make_wal(base_ids=None, **options)``."""
    from impl import MemWal, MemWalOptions

    counter = iter(range(1000))

    def _make(base_ids: list[int] | None = None, **options: object) -> MemWal:
        base = rows(base_ids, "b") if base_ids is not None else None
        root = tmp_path / f"t{next(counter)}"
        return MemWal.create(root, SCHEMA, "id", MemWalOptions(**options), base=base)  # type: ignore[arg-type]

    return _make


def pytest_sessionstart(session: pytest.Session) -> None:
    """The z3 term caches are per process: a mutation-testing worker forked from a
    warm process (mutmut) must rebuild them from the code under test, not reuse
    terms built from the unmutated encoding."""
    for name in ("proofs.encode", "proofs.conformance", "proofs.obligations"):
        module = sys.modules.get(name)
        for attr in vars(module).values() if module is not None else ():
            clear = getattr(attr, "cache_clear", None)
            if callable(clear):
                clear()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, one proofs report per run: the workers share a directory
    (beside their own temp dirs, so pytest removes it with them) in which the first
    to ask computes ``proofs.run.run_all`` and the others read it."""
    from proofs.run import SHARE_ENV

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and config.option.basetemp:
        share = Path(config.option.basetemp).parent / "proofs-report"
        os.environ[SHARE_ENV] = str(share)
