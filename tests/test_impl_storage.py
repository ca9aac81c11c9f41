"""Every disk write goes through Disk.before_write, with a site name; failures change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCHEMA, rows

from impl import SITES, Disk, MemWal, MemWalOptions


class RecordingDisk(Disk):
    """Records every (site, file name) and can fail the k-th write."""

    def __init__(self, root: Path, fail_at: int | None = None) -> None:
        super().__init__(root)
        self.log: list[tuple[str, str]] = []
        self.fail_at = fail_at

    def before_write(self, site: str, path: Path) -> None:
        assert site in SITES
        if self.fail_at is not None and len(self.log) == self.fail_at:
            raise OSError(f"injected failure at write {self.fail_at} ({site})")
        self.log.append((site, path.name))


def test_every_write_is_gated_with_its_site(tmp_path: Path) -> None:
    disk = RecordingDisk(tmp_path / "t")
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", disk=disk)
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    s.flush()
    wal.compact()
    sites = [site for site, _ in disk.log]
    assert sites == [
        "base_write",
        "base_manifest_replace",
        "table_create",
        "wal_append",
        "sstable_write",
        "pk_sidecar",
        "manifest_replace",
        "base_write",
        "base_manifest_replace",
        "manifest_replace",
    ]
    on_disk = {p.name for p in (tmp_path / "t").rglob("*") if p.is_file()}
    assert {name for _, name in disk.log} == on_disk  # nothing written around the gate
    assert not [n for n in on_disk if ".tmp-" in n]


def test_a_failed_wal_append_acknowledges_nothing(tmp_path: Path) -> None:
    disk = RecordingDisk(tmp_path / "t", fail_at=3)
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", disk=disk)
    with pytest.raises(OSError, match="injected"):
        wal.shard("s").put(rows([1]))
    assert wal.shards() == []
    disk.fail_at = None
    assert wal.shard("s").put(rows([1])).wal_position == 1


def test_a_failed_manifest_commit_keeps_the_frozen_memtable(tmp_path: Path) -> None:
    disk = RecordingDisk(tmp_path / "t")
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", disk=disk)
    s = wal.shard("s")
    s.put(rows([1]))
    s.freeze()
    disk.fail_at = len(disk.log) + 2  # sstable, sidecar, then the manifest fails
    with pytest.raises(OSError):
        s.flush()
    st = s.stats()
    assert (st.frozen, st.sstables, st.current_generation) == (((1, 1, 1),), (), 1)
    wal.crash()
    wal2 = MemWal.open(tmp_path / "t")  # the orphan SSTable is ignored; the WAL replays
    st = wal2.shard("s").stats()
    assert (st.active_generation, st.active_committed, st.sstables) == (1, 1, ())


def test_fsync_option_writes_the_same_files(tmp_path: Path) -> None:
    wal = MemWal.create(tmp_path / "t", SCHEMA, "id", MemWalOptions(fsync=True))
    wal.shard("s").put(rows([1]))
    assert wal.scan().table.num_rows == 1
