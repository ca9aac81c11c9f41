"""Benchmark: this tree against an older one, on the same machine, in one run.

Why: this VM's speed drifts by a quarter within minutes and by more than
half from one day to the next, so a rate measured today cannot be held
against a rate measured on another day.  A speed goal set as "N steps/s"
on the day the older tree made M steps/s is a goal of N/M times that tree;
this bench measures that ratio directly, with both trees on this machine at
the same minutes.

What it does:

* Extracts ``--tree`` (default ``4fa46ea``, the first version's last commit,
  before any of the speed work) and this tree's ``HEAD`` (committed work only:
  uncommitted edits are not measured) with ``git archive`` into a temporary
  folder, and installs each into a venv of its own exactly
  as the README does (``python -m venv``, ``pip install -q -e .``): each tree
  runs with the packages its own ``pyproject.toml`` asks for, as a newcomer
  gets it (the speed work added a dependency: without ``python-dateutil``
  pyarrow pays a failed import at every conversion).  ``--same-env`` instead
  runs both trees under this interpreter, which compares the code alone (a
  subprocess started in a tree's folder imports that tree's packages first:
  an editable install's finder comes after the path).
* **steps/s, paired rounds.**  Round k runs the same measurement code in each
  tree: the baseline column's machine of each sound design (as_of_cut,
  fresh_tier_watermark, exact_cut), ``--examples`` test cases of ``--steps``
  steps, Hypothesis seed k, the ``dev`` profile; the round's rate is the
  median over the designs.  The two trees alternate which goes first.  A step
  is one rule plus the invariants after it, in both trees.  Printed per
  round: both rates and their ratio; at the end the median of each tree's
  rates and the median paired ratio (with its range).
* ``--verify`` also times ``asofcut verify`` once in each tree (wall clock,
  older tree first) and prints the cells its matrix ran and its last line
  (this tree's says the CPU time; the older tree's matrix holds fewer
  cells).

Run: ``python bench/versus_tree.py [--tree REV] [--rounds 9] [--verify] [--same-env]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from stateful_steps import SOUND  # the designs whose steps/s the goal is read on

ROOT = Path(__file__).resolve().parent.parent

#: The measurement, the same text in both trees: only names both trees have.
MEASURE = """
import json, sys, time
from hypothesis import seed, settings
from hypothesis.stateful import get_state_machine_test
from stateful_tests import profiles
from stateful_tests.machine import machine_for
profiles.load("dev")
rep, examples, steps, designs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
rates = []
for design in designs:
    cls = machine_for(design, "baseline")
    s = settings(cls.TestCase.settings, max_examples=examples, stateful_step_count=steps,
                 derandomize=False, database=None)
    test = seed(rep)(get_state_machine_test(cls, settings=s))
    t = time.perf_counter()
    test()
    rates.append(cls.COUNTERS["steps"] / (time.perf_counter() - t))
print(json.dumps(rates))
"""


def extract(rev: str, into: Path) -> Path:
    """The tree at ``rev`` (a commit of this repository) as plain files under ``into``."""
    tree = into / rev
    tree.mkdir()
    archive = into / f"{rev}.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                       stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def install(tree: Path) -> str:
    """A venv of the tree's own, installed as the README says: its Python."""
    subprocess.run([sys.executable, "-m", "venv", str(tree / ".venv")], check=True)
    python = str(tree / ".venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-e", str(tree)], check=True,
                   capture_output=True)
    return python


def rate(tree: Path, python: str, rep: int, examples: int, steps: int) -> float:
    """One round in ``tree``: the median steps/s over the sound designs."""
    out = subprocess.run([python, "-c", MEASURE, str(rep), str(examples), str(steps),
                          *SOUND], cwd=tree, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measurement failed in {tree}:\n{out.stderr[-2000:]}")
    return float(statistics.median(json.loads(out.stdout)))


def verify(tree: Path, python: str) -> str:
    """``asofcut verify`` in ``tree``: its wall time, cells and last line."""
    t = time.perf_counter()
    out = subprocess.run([python, "-c", "import sys; from asofcut.cli import main; "
                          "sys.exit(main(['verify']))"], cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - t
    text = out.stdout + out.stderr
    cells = re.search(r"(\d+) cells", text)
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "(no output)"
    return f"{wall:.0f} s wall, {cells.group(1) if cells else '?'} cells: {last}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tree", default="4fa46ea", help="the older commit (default: 4fa46ea)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--examples", type=int, default=40)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--verify", action="store_true", help="also time asofcut verify in each tree")
    p.add_argument("--same-env", action="store_true",
                   help="run both trees under this interpreter (the code alone, no venvs)")
    args = p.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="asofcut-versus-") as tmp:
        old, new = extract(args.tree, Path(tmp)), extract("HEAD", Path(tmp))
        if args.same_env:
            pythons = {old: sys.executable, new: sys.executable}
            print(f"both trees under {sys.executable} (the code alone)")
        else:
            pythons = {old: install(old), new: install(new)}
            print("each tree in a venv of its own, installed as the README says")
        olds, news, ratios = [], [], []
        for k in range(args.rounds):
            order = (old, new) if k % 2 == 0 else (new, old)
            got = {tree: rate(tree, pythons[tree], k, args.examples, args.steps)
                   for tree in order}
            olds.append(got[old])
            news.append(got[new])
            ratios.append(got[new] / got[old])
            print(f"round {k} (seed {k}): {args.tree} {got[old]:6.0f} steps/s, HEAD "
                  f"{got[new]:6.0f} steps/s, ratio {ratios[-1]:.2f}", flush=True)
        print(f"median: {args.tree} {statistics.median(olds):.0f} steps/s, HEAD "
              f"{statistics.median(news):.0f} steps/s; median paired ratio "
              f"{statistics.median(ratios):.2f} (range {min(ratios):.2f} to {max(ratios):.2f})")
        if args.verify:
            for name, tree in ((args.tree, old), ("HEAD", new)):
                print(f"asofcut verify, {name}: {verify(tree, pythons[tree])}", flush=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
