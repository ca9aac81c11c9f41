"""Fault injection for crash-consistency tests: a ``Disk`` that "crashes" at the k-th write.

Why in ``impl``: crash states belong in the operation alphabet of every test
layer (ShardStore's ``DirtyReboot``), so the property tests and the state
machines share one definition of "the process died during write k".

``CrashingDisk(root, crash_at=k, mode=...)`` counts every gated write
(``write_bytes``/``write_ipc``/``write_json``/``remove``, 0-based) and at write
``k`` raises ``SimulatedCrash``:

* ``"before"`` — the write never happens (the process died just before it);
* ``"torn"`` — the process died *during* the write.  Because ``Disk`` writes a
  temp file and renames it, what a real crash leaves is a partial temp file
  (``.{name}.tmp-crash``), never a partial file under the final name.  For the
  sites that create a new, never-replaced file (``wal_append``,
  ``sstable_write``, ``pk_sidecar``, ``base_write``) ``torn_final=True`` also
  models a store without atomic create (a rename that reached disk before the
  data): half the bytes under the final name.  Replace sites
  (``manifest_replace``, ``base_manifest_replace``, ``table_create``) are
  atomic by contract and are never torn under their final name;
* ``"after"`` — the write completed but the process died before the caller
  saw it return (a durable but unacknowledged write).

Once crashed, every later write raises too, so nothing written by a dead
process can leak out (e.g. from a ``finally``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from impl.storage import Disk

CrashMode = Literal["before", "torn", "after"]
CRASH_MODES: tuple[CrashMode, ...] = ("before", "torn", "after")

#: Sites whose target is a new file that is never replaced (tearable under its final name).
NEW_FILE_SITES: frozenset[str] = frozenset(
    {"wal_append", "sstable_write", "pk_sidecar", "base_write"}
)


class SimulatedCrash(BaseException):  # noqa: N818 - a crash is not an "error"
    """The process died at an injected point.

    A ``BaseException`` (like ``KeyboardInterrupt``) on purpose: no ``except
    Exception`` in the code under test may swallow a crash and carry on.
    """

    def __init__(self, write: int, site: str, path: Path, mode: str) -> None:
        super().__init__(f"simulated crash at write {write} ({site} {path.name}, {mode})")
        self.write = write
        self.site = site
        self.path = path
        self.mode = mode


class CrashingDisk(Disk):
    """A ``Disk`` that crashes at write ``crash_at`` (None: never) in ``mode``."""

    def __init__(
        self,
        root: Path | str,
        crash_at: int | None = None,
        mode: CrashMode = "before",
        *,
        torn_final: bool = False,
    ) -> None:
        super().__init__(root)
        if mode not in CRASH_MODES:
            raise ValueError(f"mode={mode!r}; expected one of {CRASH_MODES}")
        self.crash_at = crash_at
        self.mode = mode
        self.torn_final = torn_final
        self.crashed: SimulatedCrash | None = None
        self.log: list[tuple[str, Path]] = []

    def _due(self) -> bool:
        return self.crashed is None and self.crash_at is not None and self.writes == self.crash_at

    def _crash(self, site: str, path: Path) -> SimulatedCrash:
        assert self.crash_at is not None
        self.crashed = SimulatedCrash(self.crash_at, site, path, self.mode)
        return self.crashed

    def before_write(self, site: str, path: Path) -> None:
        if self.crashed is not None:
            raise SimulatedCrash(self.writes, site, path, "dead")
        self.log.append((site, path))

    def write_bytes(self, site: str, path: Path, data: bytes) -> None:
        if not self._due():
            super().write_bytes(site, path, data)
            return
        if self.mode == "after":
            super().write_bytes(site, path, data)
            raise self._crash(site, path)
        if self.mode == "torn":
            self.before_write(site, path)
            path.parent.mkdir(parents=True, exist_ok=True)
            torn = path if self.torn_final and site in NEW_FILE_SITES else (
                path.with_name(f".{path.name}.tmp-crash")
            )
            torn.write_bytes(data[: len(data) // 2])
        raise self._crash(site, path)

    def remove(self, site: str, path: Path) -> None:
        if not self._due():
            super().remove(site, path)
            return
        if self.mode == "after":
            super().remove(site, path)
        raise self._crash(site, path)
