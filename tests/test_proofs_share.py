"""The processes of one test run share one proofs report (``proofs.run.SHARE_ENV``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofs import run


def _report(wall: float) -> run.Report:
    return run.Report({}, {"as_of_cut": {"baseline": "proved"}}, {}, wall)


def test_the_first_process_computes_the_report_and_the_others_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[int] = []

    def compute(workers: int) -> run.Report:
        computed.append(workers)
        return _report(float(len(computed)))

    monkeypatch.setattr(run, "_compute", compute)
    first = run._shared(tmp_path / "share", 2)
    again = run._shared(tmp_path / "share", 2)  # another process, later: a read
    assert computed == [2] and again == first
    run._shared(tmp_path / "other run", 2)  # another run's directory: its own report
    assert computed == [2, 2]


def test_without_a_shared_directory_each_process_computes_its_own(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(run.SHARE_ENV, raising=False)
    monkeypatch.setattr(run, "_compute", lambda workers: _report(-1.0))
    monkeypatch.setattr(run, "_shared", lambda d, w: pytest.fail("shared without a directory"))
    # the function under its cache: this process's cached report stays as it is
    assert run._run_all.__wrapped__(3).wall == -1.0
