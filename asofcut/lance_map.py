"""The model ↔ Lance map, as data: every model event, the arm's capture and the check.

One row per subject.  A subject is either an event of ``model.events.EVENTS``
(a test holds the two together: every event has exactly one row, and no row
names an event that does not exist) or one of :data:`EXTRA` — what the cut
depends on that is not an event of the tier: how the arm captures (A, N),
what a shard absent from the cut gets, which SSTable list the check sees,
whether the cut knows the writer epoch.

Each row names the Lance function or field the subject corresponds to, the
version it was read at (a label of :data:`VERSIONS`, which says where each
label was read), what changed across versions, and how the project knows:
``TESTED`` rows name the tests that run it on pylance 14.0.2 (a test checks
that each named test exists), ``READ`` rows were read in Lance's source and
are **not tested** here, ``CALLER`` rows are not Lance's at all (the caller
owns them, so this project cannot say what a given caller does).

``docs/LANCE_MAP.md`` is rendered from these tables (``asofcut spec``
writes it, ``--check`` fails when it is stale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asofcut.specdoc import table

#: how a row is known
TESTED = "tested on pylance 14.0.2"
READ = "read, not tested"
CALLER = "the caller's (not in Lance)"

#: version label → (what it is, where it was read)
VERSIONS: dict[str, tuple[str, str]] = {
    "V-AsOf": ("PR #7215: `AsOfCut`, `contains_pks_as_of`, flushed generations as "
               "`FlushedMemTable`, membership as 64-bit PK-hash sets",
               "`scanner/block_list.rs` of the PR branch; the `AsOfCut` struct and "
               "`contains_pks_as_of` themselves are in no public version (shape inferred "
               "from `block_list.rs`, which reads both fields)"),
    "V-Pre": ("the block-list before any cut: `GenMembership::{Index, Set}`",
              "hamersaw/lance b065eb67"),
    "V-FTW": ("the merged successor: `FreshTierWatermark`, `contains_pks_at`, `SsTable`, "
              "`GenMembership::{InMemory, OnDisk}`, `frozen_memtable_grace`",
              "lance-format/lance 610fa4d1 and d7f3ea2d"),
    "V-Latest": ("the later collector: in-memory sources carry the `visible_count` read once "
                 "at collection", "lance-format/lance 38b86004"),
    "WAL-old": ("the older write path: inclusive visibility cursor, index insert during the "
                "WAL flush, single-memtable replay",
                "`batch_store.rs` 0359c69a, `index.rs` 02490a41, `memtable.rs` fda7cd74"),
    "WAL-new": ("the newer write path: exclusive `visible_count`, visible = indexed and "
                "durable, replay that rotates like the live path",
                "`wal.rs` (`WriterCursors`) and `write.rs` at the V-FTW / V-Latest commits"),
    "pylance 14.0.2": ("the newest Python release; what this project runs", "PyPI wheel"),
}


@dataclass(frozen=True)
class MapRow:
    """One subject of the model and its counterpart in Lance."""

    subject: str  # an EVENTS name, or a key of EXTRA
    model: str  # what the model does (its function or field)
    lance: str  # the Lance function or field
    read_at: tuple[str, ...]  # VERSIONS labels
    changed: str  # behaviour that differs across versions ("—": none found)
    known: str  # TESTED, READ or CALLER
    tests: tuple[str, ...] = ()  # for TESTED: "path::test_name"
    what_tested: str = ""  # for TESTED: the part of the row the tests run; the rest is read


#: subjects that are not tier events but decide what the cut means
EXTRA: dict[str, str] = {
    "arm's capture of (A, N)": "which counts the cut carries, and when they are read (A1)",
    "shard absent from the cut": "what the check does for a shard the cut has no entry for "
                                 "(A3-shards)",
    "SSTable list at the check": "which flushed generations the check's collector sees "
                                 "(A3-sstables)",
    "writer epoch in the cut": "whether the cut notices a replay (A4)",
}

@dataclass(frozen=True)
class Shipped:
    """What Lance does by default at one point the cut depends on: the one place it is said.

    The verdict at the top of docs/SPEC.md renders these rows (with the
    assumption's requirement from ``model.hazards.ASSUMPTIONS`` and the
    counterexample of ``column``); the map rows below quote ``default``.
    """

    setting: str  # the Lance setting, field or behaviour
    default: str  # what Lance does unless the caller or operator changes it
    read_at: tuple[str, ...]  # VERSIONS labels
    assumption: str  # the model.hazards.ASSUMPTIONS row it decides
    holds: str  # whether the assumption holds with the default, in a few words
    columns: tuple[str, ...]  # the model.hazards.HAZARDS columns it shows up as


#: Lance as shipped, one row per assumption the defaults decide
SHIPPED: dict[str, Shipped] = {
    "grace": Shipped(
        "`ShardWriterConfig::frozen_memtable_grace`",
        "zero: a frozen memtable leaves memory when its flush commits",
        ("V-FTW",), "A5", "fails with the default once the cut's generation flushes", ("H4",)),
    "absent shard": Shipped(
        "a shard with no entry in the watermark map",
        "gets the live tier, unbounded (no zero cut is added for it)",
        ("V-AsOf", "V-FTW"), "A3-shards", "holds only if the zero cuts are added",
        ("H6",)),
    "capture": Shipped(
        "the arm's capture of N",
        "not in Lance: the caller builds the cut (which count the PR's caller reads: "
        "docs/LANCE_MAP.md)",
        ("V-AsOf", "V-FTW"), "A1", "cannot be decided from Lance's code", ("H1", "H2", "H8")),
    "collector": Shipped(
        "the scan collector's visibility read",
        "V-Latest stores the `visible_count` read once at collection in each in-memory source "
        "(the collector fix); before it, block lists and memtable scans read it separately",
        ("V-FTW", "V-Latest"), "A1", "holds from V-Latest on (the arm's side of A1)",
        ("H15",)),
    "freeze": Shipped(
        "sealing a memtable",
        "a memtable is sealed while its index apply and WAL flush are still queued",
        ("V-FTW",), "A2", "not guaranteed by the tier", ("H3", "H13")),
    "sstable list": Shipped(
        "the SSTable list at the check",
        "the collector trusts the list it is given",
        ("V-AsOf", "V-FTW", "V-Latest"), "A3-sstables",
        "holds only if the arm reads refs and list in one snapshot", ("H5a",)),
    "epoch": Shipped(
        "the writer epoch in the cut",
        "neither `AsOfCut` nor `FreshTierWatermark` carries one",
        ("V-AsOf", "V-FTW"), "A4", "holds only if the cut is voided after a reopen",
        ("H7", "H9")),
}


_DEV = "tests/test_lance_deviations.py"
_MACHINE = "stateful_tests/test_lance_machine.py"

MAP: tuple[MapRow, ...] = (
    MapRow("new shard", "`state.put` on an absent shard: generation 1, epoch 1",
           "a shard is a writer opened by UUID (`Dataset.mem_wal_writer(shard_id)`, "
           "`ShardWriter`); its manifest `_mem_wal/{shard}/manifest/` holds `writer_epoch` and "
           "`current_generation`; `LsmGeneration::memtable(g)` starts at 1 (0 is the base)",
           ("V-FTW", "pylance 14.0.2"),
           "shards were called regions earlier (`RegionSnapshot`, `region_id`)",
           TESTED, (f"{_DEV}::test_stats_generation_and_batch_count_exact",),
           "a new writer starts at generation 1 and its stats match the model's"),
    MapRow("put", "`state.put`: one batch at append index = committed count; visible later "
                  "when lagged; auto-freeze at M batches",
           "`ShardWriter::put` → `BatchStore::append` (publishes `committed_len`) under the "
           "writer's state lock; one batch per Arrow record batch; freeze checked after the "
           "insert",
           ("WAL-old", "WAL-new", "pylance 14.0.2"),
           "older: the index insert ran with the WAL flush (timer, 100 ms), in parallel with "
           "the WAL write, so a row could be visible before it was durable; newer: each put "
           "schedules its own index apply and, with `durable_write`, waits until visible",
           TESTED, (f"{_DEV}::test_stats_generation_and_batch_count_exact",
                    f"{_MACHINE}::test_lance_machine_settled"),
           "one batch per record batch, generation and batch count after every put, the "
           "auto-freeze at `max_memtable_batches`; visibility lag is not observable (settled)"),
    MapRow("delete", "`state.delete`: a tombstone batch, a member like any write",
           "`ShardWriter::delete` appends a batch with `_tombstone = true`; membership counts "
           "tombstones (V-FTW: any visible version of the key; V-AsOf: every hashed row)",
           ("V-AsOf", "V-FTW", "pylance 14.0.2"),
           "whether deletes existed at the V-AsOf snapshot cannot be told from public files; "
           "replay marks pre-delete WAL entries `_tombstone = false` in the V-FTW era",
           TESTED, (f"{_MACHINE}::test_lance_machine_settled",),
           "a tombstone masks the base row in the scan; membership itself has no binding"),
    MapRow("publish", "`state.publish`: visible_count := committed_count, frozen tails too",
           "the visibility cursor on `IndexStore`: older `max_visible_batch_position` "
           "(inclusive); newer `visible_count` (exclusive), derived as "
           "min(`indexed_count`, durable − `global_offset`) with `durable_write`",
           ("WAL-old", "WAL-new"),
           "what \"visible\" means changed: older = indexed (possibly not yet durable; an "
           "inclusive 0 meant both \"nothing\" and \"batch 0\", H8); newer = indexed **and** "
           "durable, and 0 means nothing visible",
           READ),
    MapRow("freeze", "`state.freeze`: seal the active memtable, new active generation g + 1",
           "`SharedWriterState::freeze_memtable`: new active at g + 1, old one pushed onto "
           "`frozen_memtables`; its pending index apply and WAL flush are queued, so its tail "
           "can become visible after the freeze (H3); triggered inside `put` by the size and "
           "batch thresholds, by `force_seal_active()` and `close()`",
           ("V-FTW", "pylance 14.0.2"),
           "frozen memtables stay readable until their flush commits since lance #6814; "
           "pylance 14.0.2's `writer.lsm_scanner()` still leaves them out "
           "(docs/LANCE_FINDINGS.md, finding 2)",
           TESTED, (f"{_DEV}::test_stats_generation_and_batch_count_exact",
                    f"{_DEV}::test_frozen_memtable_visible_to_scan"),
           "freeze inside the put that reaches the batch threshold; 14.0.2's scan missing "
           "frozen memtables (a strict expected failure)"),
    MapRow("flush", "`state.flush`: oldest frozen generation → SSTable g with its row ids",
           "`MemTableFlushHandler::flush_memtable` → `MemTableFlusher::flush`: waits for the "
           "WAL, writes one dataset `_mem_wal/{shard}/{random8}_gen_{g}/` with `_pk_index/`, "
           "commits it to the shard manifest",
           ("V-AsOf", "V-FTW", "pylance 14.0.2"),
           "flushed generations were `FlushedMemTable`, later `SsTable`; early flushes wrote "
           "rows newest first, later ones in insert order plus a deletion vector (lance #6929)",
           TESTED, (f"{_DEV}::test_scan_equals_expectation_after_settle",),
           "the background flush lands (waited for) and the scan then equals the model's"),
    MapRow("fail flush", "`state.fail_flush`: the oldest frozen generation stays frozen and "
                         "served; with `flush_skip` a later generation's flush passes it by",
           "`MemTableFlushHandler::flush_memtable` on an error: the frozen memtable is kept, "
           "unstamped, until a later flush or a WAL replay on reopen; a later generation's "
           "flush can still commit and move `current_generation` and "
           "`replay_after_wal_entry_position` past it",
           ("V-FTW",),
           "— (whether a restart then replays the failed generation is our inference, H14)",
           READ),
    MapRow("sync", "`state.sync`: every WAL write so far lands (durable)",
           "the WAL append on the `max_wal_flush_interval` ticker; newer: visible = "
           "min(`indexed_count`, durable − `global_offset`) with `durable_write`, so nothing "
           "is served before it is durable",
           ("WAL-old", "WAL-new"),
           "older: the flusher ran the index insert beside the WAL write, so rows were served "
           "before they were durable and a crash could lose them (H9); newer: visibility waits "
           "for durability",
           READ),
    MapRow("release", "`state.release` (or release at flush): the in-memory copy is dropped",
           f"{SHIPPED['grace'].setting}: {SHIPPED['grace'].default} (the default); with a "
           "positive grace, about the grace later (a sweep ticker evicts it)",
           ("V-AsOf", "V-FTW"),
           "V-AsOf has no grace: always released at commit; the grace knob is not among "
           "pylance 14.0.2's writer options",
           READ),
    MapRow("compact", "`state.compact`: SSTables merged into base in ascending generation order",
           "the caller's `merge_insert` carrying `mark_sstables_as_compacted` (the MemWAL "
           "index's `merged_generations`, later `compacted_sstables`); readers must skip "
           "compacted generations, the scan collector itself never consults the marker",
           ("V-FTW", "pylance 14.0.2"),
           "the marker was renamed with the SSTable rename; no compactor ships in Lance",
           TESTED, (f"{_DEV}::test_compaction_equals_expected_base",
                    f"{_DEV}::test_stale_compaction_marker_rejected"),
           "the caller-side merge and its marker give the model's base; a stale marker is "
           "refused; what readers skip is read only"),
    MapRow("crash", "`state.crash`: epoch + 1, unflushed WAL replayed into ONE memtable at "
                    "1 + highest flushed generation (the older replay)",
           "reopening a writer claims the next epoch and runs `replay_memtable_from_wal` from "
           "`replay_after_wal_entry_position + 1`",
           ("WAL-old", "WAL-new", "pylance 14.0.2"),
           "older replay: everything into one memtable at `current_generation`, not marked "
           "durable (rows indexed twice across crashes); newer replay: rotates at the live "
           "thresholds at entry boundaries, flushes full memtables during replay, advances "
           "the durable cursor. Both renumber generations; the model encodes the older one",
           TESTED, (f"{_DEV}::test_close_and_crash_lose_nothing",),
           "a crash after a settle replays the active memtable under the same generation "
           "and loses no durable write; a crash with unflushed frozen generations (where the "
           "two replays differ) is not run"),
    MapRow("read arm", "`read.observe`: rows read up to each visible count, SSTables whole, "
                       "and a cut",
           "an LSM scan over the collector's sources (base, each shard's SSTable list, the "
           "memtable refs from `ShardWriter::in_memory_memtable_refs`, one read lock); each "
           "`MemTableScanner` captures its visibility when it is built",
           ("V-FTW", "V-Latest", "pylance 14.0.2"),
           "V-Latest stores the `visible_count` read once at collection in the source, so the "
           "whole query reads one visibility; V-FTW skips an SSTable whose generation is still "
           "in memory; pylance 14.0.2's scanner reads the active memtable and the manifest's "
           "SSTables only",
           TESTED, (f"{_DEV}::test_scan_equals_expectation_after_settle",
                    f"{_MACHINE}::test_lance_machine_settled"),
           "the settled scan equals the model's newest row per key; the per-source "
           "visibility capture is read only"),
    MapRow("supersession check", "`read.membership` under `model.designs.admits`",
           "`LsmScanner::contains_pks_as_of(pks, as_of)` (V-AsOf) → "
           "`contains_pks_at(pks, watermarks)` (V-FTW), both through `fresh_tier_block_list` "
           "and its generation rules",
           ("V-AsOf", "V-FTW"),
           "V-AsOf counts every committed in-memory row as 64-bit hashes; V-FTW probes PK "
           "indexes by value, visible rows only (except the active generation, bounded by N "
           "alone); the generation rules are the same table in both",
           READ),
    MapRow("arm's capture of (A, N)", "`model.read.capture` (`visible_count`, `len`, "
                                      "`after_scan`)",
           "`FreshTierWatermark { active_generation, active_batch_count }` (V-FTW), "
           "`AsOfCut` (V-AsOf); Lance builds neither outside its tests",
           ("V-AsOf", "V-FTW"),
           "the PR text takes N from `batch_store.len()` (committed, hazard H2); the field's "
           "doc says \"batch count at snapshot time\" without saying which count",
           CALLER),
    MapRow("shard absent from the cut", "`model.designs.admits(..., cut=None)`",
           f"{SHIPPED['absent shard'].setting} {SHIPPED['absent shard'].default} "
           "(`watermarks = None`: every shard)",
           ("V-AsOf", "V-FTW"),
           "—; the proofs' A3-shards gives such a shard an explicit zero cut (A = 0, N = 0), "
           "which the caller must add itself",
           READ),
    MapRow("SSTable list at the check", "the check's sources (`model.state`)",
           "the collector takes the SSTable list it is given (a manifest or a MemWAL-index "
           "snapshot) and trusts it",
           ("V-AsOf", "V-FTW", "V-Latest"),
           "V-FTW stops listing an SSTable whose generation is still in memory; V-Latest "
           "extends that to the active generation",
           READ),
    MapRow("writer epoch in the cut", "`exact_cut`'s `cut_epoch`; the as-of cut has none",
           f"{SHIPPED['epoch'].default}",
           ("V-AsOf", "V-FTW"), "—", READ),
)

#: behaviours that changed across versions and bear on the cut
CHANGES: tuple[tuple[str, str, str, str], ...] = (
    ("what \"visible\" means", "indexed (the index insert ran with the WAL write, so a row "
     "could be read before it was durable)", "indexed **and** durable (with `durable_write`)",
     "A1 (N must be what the scan read), H9"),
    ("visibility cursor", "inclusive `max_visible_batch_position`: 0 meant nothing *or* "
     "batch 0", "exclusive `visible_count`: 0 means nothing", "H8"),
    ("WAL replay after a crash", "every unflushed batch into one memtable at "
     "`current_generation`, not marked durable", "rotates like the live path, flushes full "
     "memtables during replay, advances the durable cursor", "A4, H7 (both renumber)"),
    ("a frozen memtable after its flush", "dropped at commit (no grace)",
     f"kept for `frozen_memtable_grace` (default {SHIPPED['grace'].default})", "A5, H4"),
    ("an SSTable also held in memory", "both listed (V-AsOf era collector)",
     "served from memory only (V-FTW; V-Latest for the active generation too)",
     "A3-sstables, H5"),
    ("membership representation", "64-bit PK hashes of every committed row (collisions "
     "possible)", "PK index probes by value, visible rows only", "H10, H11"),
)


def _known(row: MapRow) -> str:
    if row.known != TESTED:
        return f"**{row.known}**" if row.known == READ else row.known
    names = ", ".join(f"`{t.split('::')[-1]}`" for t in row.tests)
    return f"{TESTED}: {row.what_tested} ({names}); the rest read, not tested"


def map_region() -> str:
    """The map, one row per subject."""
    from model.events import EVENTS

    order = [*EVENTS, *EXTRA]
    rows = sorted(MAP, key=lambda r: order.index(r.subject))
    return table(["model", "what the model does", "Lance", "read at", "changed across "
                  "versions", "how we know"],
                 [[f"`{r.subject}`" if r.subject in EVENTS else f"*{r.subject}*", r.model,
                   r.lance, ", ".join(r.read_at), r.changed, _known(r)] for r in rows])


def versions_region() -> str:
    """Where each version label was read."""
    return table(["label", "what it is", "read at"],
                 [[f"`{k}`", what, where] for k, (what, where) in VERSIONS.items()])


def changes_region() -> str:
    """The behaviours that changed, old against new."""
    return table(["behaviour", "older", "newer", "bears on"], [list(c) for c in CHANGES])


LANCE_MAP_PATH_NAME = "LANCE_MAP.md"

SECTIONS: dict[str, Callable[[], str]] = {
    "lance_map": map_region,
    "lance_versions": versions_region,
    "lance_changes": changes_region,
}
