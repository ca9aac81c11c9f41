"""`asofcut fuzz` on a real Redis server: workers share what they find, and keep it.

A real ``redis-server`` (Debian's package; ``.ci/run`` installs it) is started
on 127.0.0.1 and a free port; each test uses its own Redis database number.
No fake Redis: the point is the real server's behaviour under real processes.

* A worker finds a ``live_tier`` violation and saves it; a second worker,
  started fresh with generation disabled (phases explicit + reuse), reproduces
  it from the server alone — and so does a plain ``run_cell`` in this process,
  the path ``pytest`` and ``asofcut matrix`` take.  With an empty database,
  or under a per-process key (the planted bug), the same replay finds nothing.
* A worker is killed with SIGKILL right after its failure reached the server
  (while it shrinks); the campaign reports the death and goes on, and the
  replay still reproduces the failure: nothing saved was lost.

Without the server binary or the ``redis`` package, these tests fail under
``CI=true`` (CI must prove the feature) and skip elsewhere with the install
line as the reason (a newcomer without root still gets the rest of the suite).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn, cast

import pytest
from hypothesis import settings

from asofcut import fuzz
from stateful_tests import exampledb
from stateful_tests.matrix import run_cell

CELL = ("live_tier", "baseline")
#: a fixed base seed: worker 0's first run of CELL finds the violation (deterministic)
SEED = 7
START_SECONDS = 15.0
FOUND_SECONDS = 180.0  # generous: the machine is shared; a first failure takes ~1 s idle


def _missing(what: str) -> NoReturn:
    message = f"{what} (Debian: apt-get install redis-server; Python: pip install -e '.[fuzz]')"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the Redis tests: {message}", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1 and a free port; yields ``redis://127.0.0.1:PORT``."""
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not on PATH")
    try:
        import redis
    except ImportError:
        _missing("the redis package is not installed")
    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                logfile = workdir / "redis.log"
                log = logfile.read_text() if logfile.exists() else ""
                pytest.fail(f"redis-server did not start on port {port}:\n{log}", pytrace=False)
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _db(url: str, n: int) -> str:
    """Redis database number ``n`` on the test server (one per test: isolation)."""
    return f"{url}/{n}"


def _redis_keys(url: str) -> set[bytes]:
    import redis

    # decode_responses is off, so every key comes back as bytes (redis-py types it bytes | str)
    return set(cast(list[bytes], redis.Redis.from_url(url).keys(b"*")))


def _replay_in_process(url: str) -> str:
    """What a ``pytest``/``asofcut matrix`` run pointed at ``url`` sees: replay only."""
    only_replay = settings(settings.default, phases=fuzz.REPLAY_PHASES)
    return run_cell(*CELL, run_settings=only_replay,
                    database=exampledb.open_database(url)).verdict


def test_a_failure_found_by_one_worker_is_replayed_by_a_fresh_one(redis_server: str) -> None:
    url = _db(redis_server, 1)
    out: list[str] = []
    t0 = time.perf_counter()
    a = fuzz.campaign(fuzz.Plan(cells=(CELL,), workers=1, seconds=0.1, db=url, seed=SEED,
                                shrink=False), out.append)
    [found] = a.runs
    assert found.verdict == "VIOLATION" and not found.replayed, "\n".join(out)
    key = exampledb.REDIS_KEY_PREFIX + exampledb.cell_key(*CELL)
    assert key in _redis_keys(url), "the failure is on the server, under the cell's key"

    b = fuzz.campaign(fuzz.Plan(cells=(CELL,), workers=1, seconds=0.1, db=url, replay=True),
                      out.append)
    [again] = b.runs
    assert again.verdict == "VIOLATION" and again.replayed, "\n".join(out)
    # generation disabled: the saved examples, plus the one final run that reports the failure
    assert again.examples <= again.saved_before + 1, (again.examples, again.saved_before)
    assert "✗" in again.message and "never observed" in again.message
    assert _replay_in_process(url) == "VIOLATION"
    assert found.found_at is not None and again.found_at is not None
    print(f"found by A → replayed by B: {again.found_at - found.found_at:.1f} s; "
          f"test {time.perf_counter() - t0:.1f} s")


def test_replay_from_an_empty_database_finds_nothing(redis_server: str) -> None:
    """The control: the replay's failure came from the server, not from generation."""
    url = _db(redis_server, 2)
    summary = fuzz.campaign(fuzz.Plan(cells=(CELL,), workers=1, seconds=0.1, db=url,
                                      replay=True), lambda _: None)
    [run] = summary.runs
    assert (run.verdict, run.label, run.examples) == ("sound", "nothing saved", 0)


def test_a_per_process_key_would_lose_the_failure(
    redis_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planted bug: keys that differ between processes (as a digest of a class built at
    run time may) leave another process nothing to replay."""
    url = _db(redis_server, 3)
    fuzz.campaign(fuzz.Plan(cells=(CELL,), workers=1, seconds=0.1, db=url, seed=SEED,
                            shrink=False), lambda _: None)
    assert _replay_in_process(url) == "VIOLATION"
    monkeypatch.setattr(exampledb, "cell_key", lambda d, h: f"pid{os.getpid()}/{d}/{h}".encode())
    assert _replay_in_process(url) != "VIOLATION"


class _Lines:
    """A subprocess's stdout, read by a thread, searchable while it runs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def pid_of(self, worker: int) -> int | None:
        for line in self.lines:
            if line.startswith(f"[w{worker}] ready, pid "):
                return int(line.rsplit(" ", 1)[1])
        return None

    def __str__(self) -> str:
        return "\n".join(self.lines)


def test_sigkill_mid_run_loses_no_saved_failure(redis_server: str, tmp_path: Path) -> None:
    url = _db(redis_server, 4)
    key = exampledb.REDIS_KEY_PREFIX + exampledb.cell_key(*CELL)
    # w0 starts on CELL, w1 on a sound cell (Plan.cells_of): w0 is the first to save CELL;
    # with shrinking on, as in a campaign: w0 dies while it shrinks (moving examples around)
    cmd = [sys.executable, "-m", "asofcut", "fuzz", "--workers", "2", "--db", url,
           "--design", CELL[0], "--design", "exact_cut", "--hazard", CELL[1],
           "--seconds", "5", "--examples", "10", "--seed", str(SEED)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    out = _Lines(proc)
    try:
        deadline = time.monotonic() + FOUND_SECONDS
        while key not in _redis_keys(url):
            assert proc.poll() is None and time.monotonic() < deadline, f"never saved:\n{out}"
            time.sleep(0.02)
        victim = out.pid_of(0)
        assert victim is not None, str(out)
        os.kill(victim, signal.SIGKILL)  # mid-run: the failure was just saved, w0 shrinks it
        code = proc.wait(timeout=FOUND_SECONDS + fuzz.GRACE_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = str(out)
    print(text)  # shown with -s: the kill, w1 going on, the summary
    assert code == 1, text  # a worker died: the campaign says so in its status
    assert "[w0] killed by SIGKILL" in text and "worker w0 killed by SIGKILL" in text, text
    assert any(line.startswith("[w1 +") for line in out.lines), f"w1 went on:\n{text}"
    assert _replay_in_process(url) == "VIOLATION", "the failure w0 saved survived its death"
