"""Cuts: what the read arm records so the supersession check can be pinned to it.

One entry type per design family:

* ``AsOfCut(active_generation, active_batch_count)`` — PR #7215, used by
  ``as_of_cut`` and ``fresh_tier_watermark``.  ``AsOfCut(0, 0)`` is allowed:
  it is the explicit "exclude everything" entry of the H6 mitigation (every
  in-memory generation is > 0, every SSTable ≥ 0).
* ``ExactCut(writer_epoch, observed)`` — ours: per generation, the batches read.
* ``WalPositionCut(wal_position)`` — the earlier approach (one past the highest
  WAL position the arm read from memory).
* ``PinnedCut(base_version, pinned_through, wal_ranges)`` — ours, pinned: the
  base version the arm's snapshot was taken at, the shard's
  ``compacted_through`` in that version, and the maximal ``[lo, hi)`` runs of
  WAL positions the arm read (one run when every generation it read was fully
  visible).  A WAL position names one write for the life of the shard, so the
  check admits a row iff its position is in a run, wherever the write lives now.

``Cut(design, shards)`` maps shard id → entry; a shard absent from the map is
"live tier" for the PR's designs and "excluded" for ``exact_cut``/``pinned_cut``.
All fields are validated on construction (MalformedCutError) so a malformed
cut can never reach the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from impl.errors import InvalidShardIdError, MalformedCutError
from impl.options import DESIGNS
from impl.schema import check_shard_id

U64_MAX = 2**64 - 1


def _count(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedCutError(f"{name} must be an int, got {value!r}")
    if value < minimum or value > U64_MAX:
        raise MalformedCutError(f"{name}={value} is outside [{minimum}, 2**64-1]")
    return value


@dataclass(frozen=True)
class AsOfCut:
    """Per shard: the active generation A the arm saw and its batch count N."""

    active_generation: int
    active_batch_count: int

    def __post_init__(self) -> None:
        _count("AsOfCut.active_generation", self.active_generation)
        _count("AsOfCut.active_batch_count", self.active_batch_count)


@dataclass(frozen=True)
class ExactCut:
    """Per shard: the writer epoch and (generation, batches read) for every generation read."""

    writer_epoch: int
    observed: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        _count("ExactCut.writer_epoch", self.writer_epoch)
        obs = self.observed
        if isinstance(obs, Mapping):
            obs = tuple(sorted(obs.items()))
        if not isinstance(obs, (tuple, list)):
            raise MalformedCutError(f"ExactCut.observed must be pairs, got {obs!r}")
        pairs: list[tuple[int, int]] = []
        for item in obs:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise MalformedCutError(f"ExactCut.observed item {item!r} is not a pair")
            g = _count("ExactCut generation", item[0], minimum=1)
            n = _count("ExactCut batch count", item[1])
            pairs.append((g, n))
        gens = [g for g, _ in pairs]
        if len(set(gens)) != len(gens):
            raise MalformedCutError(f"ExactCut.observed repeats a generation: {gens}")
        object.__setattr__(self, "observed", tuple(sorted(pairs)))

    def observed_count(self, generation: int) -> int:
        """Batches of ``generation`` the arm read; 0 if it saw none."""
        for g, n in self.observed:
            if g == generation:
                return n
        return 0


@dataclass(frozen=True)
class WalPositionCut:
    """Per shard: one past the highest WAL position among in-memory batches read."""

    wal_position: int

    def __post_init__(self) -> None:
        _count("WalPositionCut.wal_position", self.wal_position)


@dataclass(frozen=True)
class PinnedCut:
    """Per shard: the pinned base version, its ``compacted_through``, the WAL runs read."""

    base_version: int
    pinned_through: int
    wal_ranges: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        _count("PinnedCut.base_version", self.base_version, minimum=1)
        _count("PinnedCut.pinned_through", self.pinned_through)
        runs = self.wal_ranges
        if not isinstance(runs, (tuple, list)):
            raise MalformedCutError(f"PinnedCut.wal_ranges must be pairs, got {runs!r}")
        pairs: list[tuple[int, int]] = []
        for item in runs:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise MalformedCutError(f"PinnedCut.wal_ranges item {item!r} is not a pair")
            lo = _count("PinnedCut range start", item[0], minimum=1)
            hi = _count("PinnedCut range end", item[1], minimum=1)
            if hi <= lo:
                raise MalformedCutError(f"PinnedCut range [{lo}, {hi}) is empty")
            if pairs and lo <= pairs[-1][1]:
                raise MalformedCutError(
                    f"PinnedCut.wal_ranges must be ascending, disjoint and maximal: {runs!r}"
                )
            pairs.append((lo, hi))
        object.__setattr__(self, "wal_ranges", tuple(pairs))


CutEntry = AsOfCut | ExactCut | WalPositionCut | PinnedCut

#: The entry type each design's cut carries (live_tier carries none).
ENTRY_TYPE: dict[str, type | None] = {
    "live_tier": None,
    "wal_position_map": WalPositionCut,
    "as_of_cut": AsOfCut,
    "fresh_tier_watermark": AsOfCut,
    "exact_cut": ExactCut,
    "pinned_cut": PinnedCut,
}


@dataclass(frozen=True)
class Cut:
    """A design name plus its per-shard entries (immutable mapping)."""

    design: str
    shards: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise MalformedCutError(
                f"unknown cut design {self.design!r}; expected one of {DESIGNS}"
            )
        if not isinstance(self.shards, Mapping):
            raise MalformedCutError(
                f"Cut.shards must be a mapping, got {type(self.shards).__name__}"
            )
        want = ENTRY_TYPE[self.design]
        for shard, entry in self.shards.items():
            try:
                check_shard_id(shard)
            except InvalidShardIdError as e:
                raise MalformedCutError(f"cut names an invalid shard id {shard!r}") from e
            if want is None:
                raise MalformedCutError(
                    f"a {self.design} cut carries no entries, got one for shard {shard!r}"
                )
            if not isinstance(entry, want):
                raise MalformedCutError(
                    f"{self.design} cut entry for shard {shard!r} must be {want.__name__}, "
                    f"got {entry!r}"
                )
        object.__setattr__(self, "shards", MappingProxyType(dict(self.shards)))

    def __hash__(self) -> int:
        return hash((self.design, tuple(sorted(self.shards.items()))))

    @staticmethod
    def coerce(cut: object) -> Cut:
        """Accept a Cut, or a plain ``dict[str, AsOfCut]`` meaning an ``as_of_cut`` cut."""
        if isinstance(cut, Cut):
            return cut
        if isinstance(cut, Mapping):
            return Cut("as_of_cut", cut)
        raise MalformedCutError(
            f"a cut must be a Cut or a dict of shard -> AsOfCut, got {type(cut).__name__}"
        )
