"""The shared example database: one URL names it, one key names each cell.

Hypothesis keeps every failing example it finds in an *example database* and
replays the saved ones first on the next run (the ``reuse`` phase).  Many
workers — processes on one machine, or many machines — can share one
database, so a failure found by any of them is replayed first by all the
others, and by any ``pytest`` or ``asofcut matrix`` run pointed at it.  Two
rules make that work:

* **One URL names the database** (``open_database``): ``redis://``,
  ``rediss://`` and ``unix://`` URLs are a ``RedisExampleDatabase`` on a real
  server (the ``redis`` package: ``pip install 'asofcut[fuzz]'``), the way
  several machines share one; anything else is a directory
  (``DirectoryBasedExampleDatabase``; writes are atomic renames, so processes
  on one machine can share it).  ``ASOFCUT_DB`` in the environment names it
  for ``pytest`` (``profiles.load``), ``--db`` for the commands.
* **One key per cell** (``cell_key``).  Hypothesis files a test's examples
  under a digest of the test function's source; a state-machine test's digest
  rests on its class, and ``machine_for`` builds the classes at run time, so
  that digest would rest on whatever ``inspect`` happens to find for a class
  with no source.  ``matrix.run_cell`` — the one runner behind ``pytest``,
  ``asofcut matrix``, ``asofcut verify`` and ``asofcut fuzz`` — files every
  cell under ``cell/<design>/<hazard>`` instead: the same key in every
  process, on every machine, from every entry point, readable in
  ``redis-cli``.  Hypothesis adds ``.secondary`` (the not-yet-minimal
  failing examples of that cell) and ``.pareto`` to it.

Every machine sharing one database must run the same commit: a worker whose
machine no longer fails on a saved example deletes it (Hypothesis clears
examples that stopped failing).
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

#: URL schemes that name a Redis server (the ``redis`` package's ``Redis.from_url``)
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
#: every key this project writes to a Redis server starts with this
REDIS_KEY_PREFIX = b"asofcut:"
#: the environment variable that points ``pytest`` (and the commands' ``--db``) at a database
ENV = "ASOFCUT_DB"
#: the directory database when none is named (shared by the processes of one checkout)
DEFAULT_DIRECTORY = ".hypothesis/asofcut-shared"
#: how long an example nobody fetched stays in Redis (Hypothesis's default, a week and a day)
EXPIRE_DAYS = 8


class DatabaseError(ValueError):
    """The example-database URL cannot be used (names the URL and why)."""


def cell_key(design: str, hazard: str) -> bytes:
    """The database key of one matrix cell: the same in every process and on every machine."""
    return f"cell/{design}/{hazard}".encode()


def shown(url: str | None) -> str:
    """``url`` as the commands print it: the password (``redis://:secret@host``) masked."""
    if not url:
        return DEFAULT_DIRECTORY
    parts = urlparse(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def open_database(url: str | None = None, *, check: bool = False) -> ExampleDatabase:
    """The database ``url`` names (default: ``DEFAULT_DIRECTORY``).

    ``check=True`` pings a Redis server now, so a wrong host or port fails here
    with the URL in the message, not later inside a Hypothesis run.
    """
    if not url:
        return DirectoryBasedExampleDatabase(DEFAULT_DIRECTORY)
    scheme = urlparse(url).scheme
    if scheme in REDIS_SCHEMES:
        return _redis_database(url, check)
    if scheme and scheme != "file" and len(scheme) > 1:  # one letter: a Windows drive
        raise DatabaseError(
            f"example database {url!r}: unknown scheme {scheme!r} "
            f"(use redis://host:port/N, rediss://, unix://, or a directory path)"
        )
    path = urlparse(url).path if scheme == "file" else url
    if os.path.exists(path) and not os.path.isdir(path):
        raise DatabaseError(f"example database {url!r}: {path!r} exists and is not a directory")
    return DirectoryBasedExampleDatabase(path)


def from_env() -> ExampleDatabase | None:
    """The database ``ASOFCUT_DB`` names, or None when it is unset or empty."""
    url = os.environ.get(ENV)
    return open_database(url) if url else None


def saved(db: ExampleDatabase, design: str, hazard: str) -> int:
    """How many failing examples ``db`` holds for a cell (primary + secondary corpus)."""
    key = cell_key(design, hazard)
    return sum(1 for _ in db.fetch(key)) + sum(1 for _ in db.fetch(key + b".secondary"))


def _redis_database(url: str, check: bool) -> ExampleDatabase:
    from datetime import timedelta

    try:
        import redis
    except ImportError as e:
        raise DatabaseError(
            f"example database {shown(url)!r} needs the redis package: "
            "pip install 'asofcut[fuzz]'"
        ) from e
    from hypothesis.extra.redis import RedisExampleDatabase

    try:
        client = redis.Redis.from_url(url)
    except ValueError as e:
        raise DatabaseError(f"example database {shown(url)!r}: {e}") from e
    if check:
        try:
            client.ping()
        except redis.RedisError as e:
            raise DatabaseError(
                f"example database {shown(url)!r}: no Redis server answers ({e})") from e
    return RedisExampleDatabase(
        client, expire_after=timedelta(days=EXPIRE_DAYS), key_prefix=REDIS_KEY_PREFIX
    )
