"""A seeded cell is the same run in every process, whatever modules that process loaded.

Now and then Hypothesis draws an integer from the constants found in the source of
the project's loaded modules (those of magnitude >= 100).  A choice among 100
values or more could therefore draw differently in a pytest worker (which imports
more of the project) than in ``asofcut verify``'s processes, and the gate would
not be deterministic.  The machine keeps every alphabet under 100 values
(``machine.weighted``); this checks the outcome, and plants a wide alphabet to
show the check can fail.

Each comparison runs in a fresh interpreter: the constants a process has seen
are never forgotten, so importing the probe module here would change the draws
of every later test in this worker that draws from a wide range.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stateful_tests.machine import MAX_ALPHABET, weighted

ROOT = Path(__file__).resolve().parent.parent

#: run in a fresh interpreter: one short budgeted search of a cell, before and after
#: importing a module whose source holds every integer in [100, 400); ``wide`` adds a
#: rule drawing from 400 values (the planted bug)
SCRIPT = r"""
import importlib, json, sys
from hypothesis import strategies as st
from hypothesis.stateful import rule
from stateful_tests import machine, profiles
from stateful_tests.matrix import _run_budgeted

wide = sys.argv[2] == "wide"


def counters():
    base = machine.machine_for("exact_cut", "H13")
    namespace = {"COUNTERS": machine.Counter()}
    if wide:
        @rule(k=st.sampled_from(range(400)))
        def put_wide(self, k):
            self._run(lambda: self.h.apply("put", k % len(machine.PKS)))
        namespace["put_wide"] = put_wide
    cls = type("Probe", (base,), namespace)
    _run_budgeted(cls, profiles.Budget(steps=400), 0)
    return dict(cls.COUNTERS)


before = counters()
sys.path.insert(0, sys.argv[1])
importlib.import_module("asofcut_constants_probe")
print(json.dumps([before, counters()]))
"""


def _before_and_after(tmp_path: Path, variant: str) -> tuple[dict[str, int], dict[str, int]]:
    (tmp_path / "asofcut_constants_probe.py").write_text(
        "WIDE = (" + ", ".join(str(v) for v in range(100, 400)) + ")\n")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), variant], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=300)
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    return before, after


def test_a_seeded_cell_does_not_depend_on_the_modules_a_process_loaded(tmp_path: Path) -> None:
    before, after = _before_and_after(tmp_path, "machine")
    assert before["steps"] > 0
    assert after == before


def test_planted_wide_alphabet_makes_the_run_depend_on_the_modules_loaded(
        tmp_path: Path) -> None:
    before, after = _before_and_after(tmp_path, "wide")
    assert after != before


def test_an_alphabet_of_100_values_is_refused() -> None:
    weighted([(v, 1) for v in range(MAX_ALPHABET)])
    with pytest.raises(ValueError, match="at most 99"):
        weighted([(v, 1) for v in range(MAX_ALPHABET + 1)])
