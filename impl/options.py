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

#: Arm-side capture variants: the correct one, H2 and H1.
CAPTURES: tuple[str, ...] = ("visible_count", "len", "after_scan")

VISIBILITIES: tuple[str, ...] = ("immediate", "lagged")
RELEASES: tuple[str, ...] = ("at_flush", "explicit")


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
    flushed memtable in memory until ``release`` (grace > 0).  ``design`` and
    ``capture`` are the defaults of ``scan``/``contains_pks_as_of``.
    ``fsync`` makes every write durable against power loss (slow; off in tests).
    ``max_batch_rows`` (None: unlimited) rejects a put/delete of more rows with
    ``BatchTooLargeError`` before anything is written: one WAL entry is one
    batch, so an unbounded batch is an unbounded single write.
    """

    visibility: Literal["immediate", "lagged"] = "immediate"
    max_memtable_batches: int | None = None
    release: Literal["at_flush", "explicit"] = "at_flush"
    design: str = "as_of_cut"
    capture: str = "visible_count"
    fsync: bool = False
    max_batch_rows: int | None = None

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
