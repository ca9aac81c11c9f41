"""Typed errors of the fresh tier.

Why one base class: callers (and the state machines) catch ``AsOfCutError`` to
tell a rejected input from a bug; the subclass says *what* was wrong and the
message names the offending column, value, shard or file.  Every error raised
for a bad input is raised before any state or disk mutation.
"""

from __future__ import annotations


class AsOfCutError(Exception):
    """Base class of every error the fresh tier raises on purpose."""


class InvalidOptionError(AsOfCutError, ValueError):
    """An option or argument has a value outside its domain."""


class SchemaMismatchError(AsOfCutError, ValueError):
    """A batch's columns or types differ from the table schema."""


class MissingPrimaryKeyError(AsOfCutError, KeyError):
    """The primary-key column is absent (from a schema or a batch)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class NullPrimaryKeyError(AsOfCutError, ValueError):
    """A primary key (written or probed) is null."""


class PrimaryKeyTypeError(AsOfCutError, TypeError):
    """A primary key has a type other than the table's PK type (or PK type unsupported)."""


class EmptyBatchError(AsOfCutError, ValueError):
    """A put or delete carries no rows."""


class BatchTooLargeError(AsOfCutError, ValueError):
    """A put or delete has more rows than the ``max_batch_rows`` option allows."""


class MalformedCutError(AsOfCutError, ValueError):
    """A cut is not well formed (wrong types, negative fields, wrong entry for its design)."""


class UnknownShardError(AsOfCutError, KeyError):
    """The shard has never been written to."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidShardIdError(AsOfCutError, ValueError):
    """A shard id does not match ``^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$``."""


class CorruptWalError(AsOfCutError):
    """A WAL entry before the tail cannot be read (the tail alone is truncated, not fatal)."""


class CorruptManifestError(AsOfCutError):
    """A shard manifest, base manifest or table descriptor cannot be parsed."""


class NotATableError(AsOfCutError):
    """``open`` was given a directory that holds no table (or ``create`` one that does)."""


class ClosedError(AsOfCutError):
    """The MemWal was closed or crashed; reopen it with ``MemWal.open``."""


class PinnedVersionGoneError(AsOfCutError):
    """A pinned cut needs a base version or a merged SSTable that is no longer on disk."""


class FlushFailedError(AsOfCutError):
    """A flush failed (injected by ``ShardWriter.fail_next_flush``) and committed nothing."""
