"""`asofcut demo` tells the PR's story on the real impl, and checks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from asofcut import demo
from asofcut.cli import main


def test_live_tier_drops_a_base_row_the_arm_never_delivered(tmp_path: Path) -> None:
    outcome = demo.run_story("live_tier", tmp_path / "live")
    assert outcome.missing == [demo.LATE_PK]
    assert demo.LATE_PK not in outcome.rows


def test_as_of_cut_keeps_the_base_row(tmp_path: Path) -> None:
    outcome = demo.run_story("as_of_cut", tmp_path / "fixed")
    assert outcome.missing == []
    assert outcome.cut is not None
    assert (outcome.cut.active_generation, outcome.cut.active_batch_count) == (1, 1)
    assert outcome.rows[demo.LATE_PK] == f"base-{demo.LATE_PK}"


def test_demo_command_prints_both_outcomes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "MISSING ROW: base row id 7 dropped" in out
    assert "AsOfCut(active_generation=1, active_batch_count=1)" in out
    assert out.count("no row missing") == 1
