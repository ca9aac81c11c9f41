"""A shrunk failing story becomes a plain pytest file that replays it on impl.

What must hold (``stateful_tests.repro``, ``asofcut repro``):

* a violating cell's file runs green under plain pytest, in a directory that
  has neither the model nor Hypothesis on its mind, and it really pins the
  violation: the same story under the design that fixes it fails;
* a disagreement's file expects the model's values, not what the faulty
  backend answered;
* a failing machine prints that very file (its final, shrunk run), and the
  script it recorded replays to the same story.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import get_state_machine_test

from asofcut import repro as cli
from model.designs import Design
from stateful_tests.backend import ArmView, ImplBackend
from stateful_tests.hazards import HAZARDS
from stateful_tests.machine import (
    Disagreement,
    SoundnessViolation,
    impl_backend,
    machine_for,
    replay,
)
from stateful_tests.repro import render

#: as_of_cut over-counts a lower generation's invisible tail (H3): V-AsOf reads committed
#: rows, so the check claims PK 0 of the frozen generation 1 the arm could not see
H3_STORY = [("put", 0), ("freeze", 0), ("arm", None)]


def pytest_file(tmp_path: Path, text: str, name: str = "test_story.py") -> tuple[int, str]:
    """Run one generated file with plain pytest in its own directory: (exit code, output)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    return r.returncode, r.stdout + r.stderr


def test_a_violation_file_is_plain_and_runs_green(tmp_path: Path) -> None:
    text = render("as_of_cut", "H3", H3_STORY)
    assert "hypothesis" not in text.split('"""', 2)[2]  # nothing after the docstring
    assert "from model" not in text and "import model" not in text
    assert "assert members(wal, arm1.cut) - observed(arm1) == {0}" in text
    code, out = pytest_file(tmp_path, text)
    assert code == 0, out


#: (design, column, story) of the new columns whose files need their knobs and moves:
#: H9's sync, crash and reused WAL position under the pinned cut; H5a's split arm
KNOB_STORIES = [
    ("pinned_cut", "H9", [("put", 5), ("sync", 5), ("put", 5), ("arm", None), ("crash", 0),
                          ("put", 2)]),
    ("as_of_cut", "H5a", [("put", 3), ("freeze", 0), ("arm", 0)]),
]


@pytest.mark.parametrize(("design", "hazard", "story"), KNOB_STORIES,
                         ids=[f"{d}-{h}" for d, h, _ in KNOB_STORIES])
def test_a_file_for_a_knob_column_runs_green(tmp_path: Path, design: str, hazard: str,
                                             story: list[tuple[object, ...]]) -> None:
    text = render(design, hazard, story)
    assert "MemWalOptions(**{" in text and "never observed: over-count" in text
    code, out = pytest_file(tmp_path, text)
    assert code == 0, out


def test_the_violation_file_fails_once_the_design_stops_over_counting(tmp_path: Path) -> None:
    """fresh_tier_watermark is as_of_cut bounded by visibility: the fix for exactly this story.

    Every earlier assertion (the put, the freeze, the arm's cut and observation) still holds;
    the file fails at the membership the violation rests on.
    """
    text = render("as_of_cut", "H3", H3_STORY).replace("as_of_cut", "fresh_tier_watermark")
    code, out = pytest_file(tmp_path, text)
    assert code == 1, out
    assert "assert members(wal, arm1.cut) == {0}" in out
    assert "observed(arm1) == set()" not in out.split("AssertionError")[-1]


class LyingBackend(ImplBackend):
    """impl, except that the check never claims PK 0: a planted disagreement."""

    def check(self, pks: Iterable[int], arm: ArmView, *, wide: bool = False) -> frozenset[int]:
        return super().check(pks, arm, wide=wide) - {0}


lying_backend = partial(impl_backend, cls=LyingBackend)


def test_a_disagreement_file_expects_the_models_values(tmp_path: Path) -> None:
    script = [("put", 0), ("arm", None), ("check", 1, True)]
    with pytest.raises(Disagreement):
        replay(Design.EXACT_CUT, HAZARDS["baseline"], script, backend=lying_backend)
    text = render("exact_cut", "baseline", script, backend=lying_backend)
    assert "impl and the model disagreed" in text
    assert "assert members(wal, arm1.cut) == {0}" in text  # the model's answer, not the lie
    code, out = pytest_file(tmp_path, text)  # the real impl agrees with the model
    assert code == 0, out


def test_a_failing_machine_prints_the_file_and_its_script_replays(tmp_path: Path) -> None:
    cls = machine_for("as_of_cut", "H3")
    run = get_state_machine_test(
        cls, settings=settings(cls.TestCase.settings, derandomize=True, database=None))
    with pytest.raises(SoundnessViolation) as failure:
        run()
    text = render("as_of_cut", "H3", cls.last_failure_script)
    assert text in getattr(failure.value, "__notes__", [])  # Hypothesis' notes of the final run
    story = str(failure.value).splitlines()[:-1]
    assert replay_story(cls.last_failure_script) == story
    code, out = pytest_file(tmp_path, text)
    assert code == 0, out


def replay_story(script: list[tuple[object, ...]]) -> list[str]:
    """The story ``replay`` tells for ``script`` under as_of_cut × H3, up to its finding."""
    try:
        replay(Design.AS_OF_CUT, HAZARDS["H3"], script)
    except SoundnessViolation as e:
        return str(e).splitlines()[:-1]
    raise AssertionError("the recorded script did not fail again")


def test_the_command_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "failing_script", lambda d, h, seed=0: H3_STORY)
    out = tmp_path / "test_h3.py"
    assert cli.main(["as_of_cut", "H3", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render("as_of_cut", "H3", H3_STORY)


def test_the_command_fails_for_a_cell_without_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def passed(d: str, h: str, seed: int = 0) -> list[tuple[object, ...]]:
        raise cli.CellPassed(f"{d} × {h}: no failure within the budget")

    monkeypatch.setattr(cli, "failing_script", passed)
    assert cli.main(["exact_cut", "baseline"]) == 1
    assert "no failure within the budget" in capsys.readouterr().err
