"""Options of a MemWal, and the names of designs and capture variants.

Options are runtime configuration (not persisted): reopening with other
options is allowed, exactly as a Lance writer may restart with a new config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from impl.errors import InvalidOptionError

#: The cut designs (same names as everywhere in the project).
DESIGNS: tuple[str, ...] = (
    "live_tier",
    "wal_position_map",
    "as_of_cut",
    "fresh_tier_watermark",
    "exact_cut",
    "pinned_cut",
)

#: Arm-side capture variants: the correct one, H2, H1 and H8.
CAPTURES: tuple[str, ...] = ("visible_count", "len", "after_scan", "inclusive_position")

VISIBILITIES: tuple[str, ...] = ("immediate", "lagged")
RELEASES: tuple[str, ...] = ("at_flush", "explicit")

# The hazard knobs (H5a, H9-H15).  The first value of each is the default: today's
# behaviour, which the knob's other value departs from the way a Lance version did.
DURABILITIES: tuple[str, ...] = ("before_visible", "after_visible")  # H9
PROBE_KEY_TYPES: tuple[str, ...] = ("strict", "lance")  # H12
FLUSH_FAILURES: tuple[str, ...] = ("retry", "skip")  # H14
ARM_VISIBILITIES: tuple[str, ...] = ("one_instant", "two_instants")  # H15
ARM_SOURCES: tuple[str, ...] = ("snapshot", "manifest_first")  # H5a
#: widths of the PK hash (H10): a w-bit prefix of a 64-bit digest
PK_HASH_BITS: tuple[int, int] = (1, 64)

#: The string-valued hazard knobs and their allowed values (validated alike).
_CHOICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("durability", DURABILITIES),
    ("probe_key_types", PROBE_KEY_TYPES),
    ("flush_failure", FLUSH_FAILURES),
    ("arm_visibility", ARM_VISIBILITIES),
    ("arm_sources", ARM_SOURCES),
)


def check_design(design: object) -> str:
    """Return ``design`` if it names a design, else raise InvalidOptionError."""
    if not isinstance(design, str) or design not in DESIGNS:
        raise InvalidOptionError(f"unknown design {design!r}; expected one of {DESIGNS}")
    return design


def check_capture(capture: object) -> str:
    """Return ``capture`` if it names a capture variant, else raise InvalidOptionError."""
    if not isinstance(capture, str) or capture not in CAPTURES:
        raise InvalidOptionError(f"unknown capture {capture!r}; expected one of {CAPTURES}")
    return capture


@dataclass(frozen=True)
class MemWalOptions:
    """How the fresh tier behaves.

    ``visibility="lagged"`` keeps committed batches invisible until ``publish``
    (models Lance's index/durability lag, H2/H3).  ``max_memtable_batches``
    auto-freezes the active memtable when its committed count reaches it.
    ``release="at_flush"`` is Lance's zero grace; ``"explicit"`` keeps a
    flushed memtable in memory until ``release`` (a positive grace).  ``design`` and
    ``capture`` are the defaults of ``scan``/``contains_pks_as_of``.
    ``fsync`` makes every write durable against power loss (slow; off in tests).
    ``max_batch_rows`` (None: unlimited) rejects a put/delete of more rows with
    ``BatchTooLargeError`` before anything is written: one WAL entry is one
    batch, so an unbounded batch is an unbounded single write.

    Hazard knobs (docs/SEMANTICS.md "Hazard knobs").  Each default is the
    behaviour above; the other value reproduces how some Lance version behaves,
    so the hazard it names becomes reachable on this tier:

    * ``capture="inclusive_position"`` (H8): N = highest visible append index
      + 1 with the index read as 0 when nothing is visible, i.e.
      ``max(visible_count, 1)`` (Lance's older inclusive cursor).
    * ``durability="after_visible"`` (H9): a put/delete is visible at once but
      its WAL entry stays pending until ``ShardWriter.sync()`` (``flush`` syncs
      first); a put is acknowledged only by ``sync()``.  A crash loses the
      pending entries and their WAL positions are handed out again.
    * ``pk_hash_bits=w`` (H10; None = by value): the ``as_of_cut`` check compares
      w-bit PK hashes (``impl.pk_hash``), so colliding keys are members.
    * ``memtable_pk_index=False`` (H11): under ``fresh_tier_watermark``
      in-memory generations block nothing; only SSTables count.
    * ``probe_key_types="lance"`` (H12): a pyarrow integer probe array of
      another integer type than the PK matches nothing instead of raising.
    * ``flush_failure="skip"`` (H14, with ``ShardWriter.fail_next_flush``): a
      failed generation stays frozen in memory while later ones flush and move
      the manifest past it; a reopen does not replay it (its rows are lost).
      ``"retry"`` retries the same generation and loses nothing.
    * ``arm_visibility="two_instants"`` (H15): the arm scans rows at one instant
      and takes its cut from counts read again at a second one.
    * ``arm_sources="manifest_first"`` (H5a): the arm lists SSTables before it
      takes the memtable refs, so a flush in between can hide a generation.
    """

    visibility: Literal["immediate", "lagged"] = "immediate"
    max_memtable_batches: int | None = None
    release: Literal["at_flush", "explicit"] = "at_flush"
    design: str = "as_of_cut"
    capture: str = "visible_count"
    fsync: bool = False
    max_batch_rows: int | None = None
    durability: Literal["before_visible", "after_visible"] = "before_visible"
    pk_hash_bits: int | None = None
    memtable_pk_index: bool = True
    probe_key_types: Literal["strict", "lance"] = "strict"
    flush_failure: Literal["retry", "skip"] = "retry"
    arm_visibility: Literal["one_instant", "two_instants"] = "one_instant"
    arm_sources: Literal["snapshot", "manifest_first"] = "snapshot"

    def __post_init__(self) -> None:
        if self.visibility not in VISIBILITIES:
            raise InvalidOptionError(
                f"visibility={self.visibility!r}; expected one of {VISIBILITIES}"
            )
        m = self.max_memtable_batches
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise InvalidOptionError(f"max_memtable_batches={m!r}; expected None or an int >= 1")
        if self.release not in RELEASES:
            raise InvalidOptionError(f"release={self.release!r}; expected one of {RELEASES}")
        check_design(self.design)
        check_capture(self.capture)
        r = self.max_batch_rows
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 1):
            raise InvalidOptionError(f"max_batch_rows={r!r}; expected None or an int >= 1")
        if not isinstance(self.fsync, bool):
            raise InvalidOptionError(f"fsync={self.fsync!r}; expected a bool")
        for name, allowed in _CHOICES:
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise InvalidOptionError(f"{name}={value!r}; expected one of {allowed}")
        w, (lo, hi) = self.pk_hash_bits, PK_HASH_BITS
        if w is not None and (isinstance(w, bool) or not isinstance(w, int) or not lo <= w <= hi):
            raise InvalidOptionError(
                f"pk_hash_bits={w!r}; expected None or an int in [{lo}, {hi}]"
            )
        if not isinstance(self.memtable_pk_index, bool):
            raise InvalidOptionError(
                f"memtable_pk_index={self.memtable_pk_index!r}; expected a bool"
            )

