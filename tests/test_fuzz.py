"""`asofcut fuzz` and the shared example database, without a server.

The plan (who runs which cell), the new / replayed / surprise rules, bad
input, and the default directory database end to end: a failure one worker
saves is replayed by a fresh worker, by ``run_cell`` (the ``pytest`` path)
and by ``asofcut matrix --db``.  The Redis server variant is
``test_fuzz_redis.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

from asofcut import fuzz
from stateful_tests import exampledb, matrix, profiles
from stateful_tests.hazards import DESIGNS, HAZARDS

CELLS = tuple((d.value, h) for h in HAZARDS for d in DESIGNS)
CELL = ("live_tier", "baseline")
SEED = 7  # worker 0's first run of CELL finds the violation (fixed: deterministic)


# ------------------------------------------------------------------ the plan


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_every_worker_walks_every_cell_from_its_own_start(workers: int) -> None:
    plan = fuzz.Plan(cells=CELLS, workers=workers, seconds=1, db=None)
    starts = []
    for i in range(workers):
        mine = plan.cells_of(i)
        assert sorted(mine) == sorted(CELLS)
        k = CELLS.index(mine[0])
        assert mine == list(CELLS[k:] + CELLS[:k]), "round-robin from its start"
        starts.append(k)
    assert len(set(starts)) == workers, "N workers start on N different cells"


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_a_replay_shares_the_cells_out_once_each(workers: int) -> None:
    plan = fuzz.Plan(cells=CELLS, workers=workers, seconds=1, db=None, replay=True)
    shares = [plan.cells_of(i) for i in range(workers)]
    assert sorted(c for share in shares for c in share) == sorted(CELLS)


# ------------------------------------------------------- new, replayed, surprise


def _run(verdict: str, expected: str = "VIOLATION", saved: int = 0, case: int = 1) -> fuzz.Run:
    return fuzz.Run(0, *CELL, verdict, verdict, expected, 10, 1.0, 0.9, 0.0, 0.5, saved, case, "")


def test_a_failure_within_the_saved_examples_is_replayed_else_new() -> None:
    assert _run("VIOLATION", saved=2, case=2).replayed
    assert not _run("VIOLATION", saved=2, case=3).replayed, "found by generation after them"
    assert not _run("VIOLATION", saved=0, case=1).replayed, "nothing was saved"
    assert not _run("sound", saved=2).replayed and not _run("sound", saved=2).failed


@pytest.mark.parametrize(
    ("verdict", "expected", "surprise"),
    [
        ("VIOLATION", "VIOLATION", False),
        ("sound", "VIOLATION", False),  # a short random run may miss it: matrix gates that
        ("VIOLATION", "sound", True),
        ("VIOLATION", "under-count", True),
        ("under-count", "sound", True),
        ("under-count", "under-count", False),
        ("sound", "under-count", False),
        ("MISMATCH", "sound", True),
        ("ERROR", "VIOLATION", True),
    ],
)
def test_a_surprise_is_a_run_off_the_models_expectation(
    verdict: str, expected: str, surprise: bool
) -> None:
    assert _run(verdict, expected).surprise is surprise


def test_the_summary_pairs_a_new_failure_with_another_workers_replay() -> None:
    new = dataclasses.replace(_run("VIOLATION", saved=0), worker=0, found_at=10.0)
    own = dataclasses.replace(_run("VIOLATION", saved=1), worker=0, found_at=11.0)
    other = dataclasses.replace(_run("VIOLATION", saved=1), worker=1, found_at=13.5)
    summary = fuzz.Summary(fuzz.Plan(cells=(CELL,), workers=2, seconds=1, db=None),
                           [other, own, new], 4.0, {})
    assert summary.propagation() == {CELL: (new, other)}
    text = summary.render()
    assert "failures 3: new 1, replayed 2" in text
    assert "found by w0, replayed by w1 3.5 s later" in text


def test_the_summary_names_a_failure_saved_before_the_campaign() -> None:
    old = [dataclasses.replace(_run("VIOLATION", saved=1), worker=w) for w in (1, 0, 1)]
    summary = fuzz.Summary(fuzz.Plan(cells=(CELL,), workers=2, seconds=1, db=None), old, 4.0, {})
    assert summary.propagation() == {}
    assert "live_tier × baseline: VIOLATION saved before, replayed by w0, w1" in summary.render()


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--workers", "0"], "must be > 0"),
        (["--seconds", "-1"], "must be > 0"),
        (["--minutes", "x"], "is not a number"),
        (["--seconds", "1", "--minutes", "1"], "not allowed with"),
        (["--design", "no_such"], "invalid choice"),
        (["--hazard", "H99"], "invalid choice"),
        (["--profile", "weekly"], "no such profile"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        fuzz.parse_plan(argv)
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


@pytest.mark.parametrize(
    "url", ["ftp://example.invalid/db", "redis://127.0.0.1:1/0", "redis://127.0.0.1:x/0"]
)
def test_a_database_that_cannot_be_used_is_refused_with_its_url(url: str) -> None:
    with pytest.raises(exampledb.DatabaseError, match=url.replace(".", r"\.")):
        exampledb.open_database(url, check=True)


def test_a_password_in_the_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    url = "redis://:s3cret@127.0.0.1:1/0"
    assert exampledb.shown(url) == "redis://:***@127.0.0.1:1/0"
    assert exampledb.shown("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"
    with pytest.raises(exampledb.DatabaseError) as error:
        exampledb.open_database(url, check=True)
    assert "s3cret" not in str(error.value) and "***" in str(error.value)


def test_a_file_is_not_a_directory_database(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(exampledb.DatabaseError, match="not a directory"):
        exampledb.open_database(str(tmp_path / "f"))


def test_fuzz_with_a_bad_database_exits_2_and_runs_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert fuzz.main(["--db", "ftp://example.invalid/db", "--seconds", "1"]) == 2
    captured = capsys.readouterr()
    assert "ftp://example.invalid/db" in captured.err and captured.out == ""


def test_matrix_with_a_bad_database_exits_2_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        matrix.main(["--design", CELL[0], "--hazard", CELL[1], "--db", "ftp://example.invalid/db"])
    assert exit_.value.code == 2
    assert "ftp://example.invalid/db" in capsys.readouterr().err


def test_every_cell_has_its_own_key_the_same_in_every_process() -> None:
    keys = {exampledb.cell_key(d, h) for d, h in CELLS}
    assert len(keys) == len(CELLS)
    assert exampledb.cell_key(*CELL) == b"cell/live_tier/baseline"  # a literal: no process state


# -------------------------------------------- the directory database, end to end


def test_a_failure_saved_in_a_directory_is_replayed_by_every_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(tmp_path / "db")
    a = fuzz.campaign(fuzz.Plan(cells=(CELL,), workers=1, seconds=0.1, db=url, seed=SEED,
                                shrink=False), lambda _: None)
    assert [(r.verdict, r.replayed) for r in a.runs] == [("VIOLATION", False)]

    # a fresh worker, generation disabled
    b = fuzz.campaign(fuzz.Plan(cells=(CELL,), workers=1, seconds=0.1, db=url, replay=True),
                      lambda _: None)
    assert [(r.verdict, r.replayed) for r in b.runs] == [("VIOLATION", True)]

    # pytest's path: ASOFCUT_DB points the loaded profile at the database; the saved
    # example runs first (case 1), then is shrunk
    monkeypatch.setenv(exampledb.ENV, url)
    try:
        profiles.load()
        assert settings.default is not None
        assert isinstance(settings.default.database, DirectoryBasedExampleDatabase)
        cell = matrix.run_cell(*CELL)
    finally:
        monkeypatch.delenv(exampledb.ENV)
        profiles.load()
    assert (cell.verdict, cell.cases_to_failure) == ("VIOLATION", 1)

    # asofcut matrix --db
    assert matrix.main(["--design", CELL[0], "--hazard", CELL[1], "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"database {url}" in out and "every cell as expected" in out

