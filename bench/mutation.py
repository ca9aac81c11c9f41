"""Mutation score with mutmut, per package (``tox -e mutation``; a nightly job).

Each package is mutated in its own scratch copy of the repository
(``.mutation/<package>/``, git-ignored) with its own ``[tool.mutmut]`` section,
because each needs its own fast, targeted test selection (``PACKAGES``):
mutmut runs, for every mutant, only the selected tests that execute the
mutated function, so the selection bounds the run.  Hypothesis runs with a
fixed seed, so a mutant's verdict does not depend on luck.

Prints, per package, killed / total, the score, the runtime, and every
survivor (``mutmut results``); docs/MUTATION.md explains each survivor that
stays.  Exit status 0 iff every package reaches ``GOAL``.

    python bench/mutation.py [impl|model|proofs ...] [--children N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutation"
COPY = ("model", "impl", "proofs", "stateful_tests", "tests", "asofcut", "docs", "pyproject.toml")
GOAL = 0.95
CONFORMANCE = "tests/test_conformance_z3_model.py"


@dataclass(frozen=True)
class Package:
    """What to mutate and which tests judge it."""

    sources: tuple[str, ...]
    tests: tuple[str, ...]
    #: tests that cannot run on mutated code (they read the import graph mutmut changes)
    deselect: tuple[str, ...] = ()


#: package → sources to mutate and the targeted test selection
PACKAGES: dict[str, Package] = {
    "impl": Package(
        ("impl/block_list.py", "impl/memtable.py", "impl/batch_store.py", "impl/scanner.py",
         "impl/cut.py", "impl/collector.py", "impl/two_phase.py"),
        # the block-list differential's grid and planted tests, not its random one:
        # a random failure shrinks for minutes (each example is a tier on disk)
        ("tests/test_impl_designs.py", "tests/test_impl_memtable_collector.py",
         *(f"tests/test_impl_block_list_differential.py::{t}" for t in (
             "test_block_list_on_a_grid_of_states_and_cuts", "test_planted_state_agrees")),
         "tests/test_impl_lifecycle.py", "tests/test_impl_errors.py",
         "tests/test_impl_reopen.py", "tests/test_hostile_input.py",
         "tests/test_impl_lance_scenarios.py", "tests/test_impl_hazard_knobs.py",
         *(f"tests/test_reliability_threads.py::{t}" for t in (
             "test_a_release_between_arm_and_check_is_explained_as_h4",
             "test_a_compaction_between_arm_and_check_is_explained_as_h5b",
             "test_an_under_count_for_no_named_reason_is_unexplained"))),
    ),
    "model": Package(
        ("model/state.py", "model/events.py", "model/designs.py", "model/read.py",
         "model/invariants.py", "model/hazards.py"),
        ("tests/test_model_events.py", "tests/test_model_laws.py", "tests/test_model_hazards.py",
         "tests/test_model_scenarios.py", "tests/test_model_details.py",
         "tests/test_proofs_encode.py",
         "stateful_tests/test_alignment.py",
         f"{CONFORMANCE}::test_every_world_within_the_bound_conforms",
         f"{CONFORMANCE}::test_generated_traces_conform"),
        ("tests/test_model_events.py::test_model_imports_only_the_standard_library_and_itself",),
    ),
    "proofs": Package(
        ("proofs/encode.py",),
        ("tests/test_proofs_encode.py",
         f"{CONFORMANCE}::test_every_world_within_the_bound_conforms",
         f"{CONFORMANCE}::test_generated_traces_conform"),
    ),
}


def _config(pkg: Package) -> str:
    def arr(xs: tuple[str, ...] | list[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

    args = ["-q", "-p", "no:cacheprovider", "--hypothesis-seed=0",
            *(f"--deselect={t}" for t in pkg.deselect)]
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {arr(pkg.sources)}\n"
        f"pytest_add_cli_args_test_selection = {arr(pkg.tests)}\n"
        f"pytest_add_cli_args = {arr(args)}\n"
        "also_copy = [\"model\", \"impl\", \"proofs\", \"stateful_tests\", \"asofcut\", \"docs\"]\n"
    )


def prepare(name: str) -> Path:
    """A fresh scratch copy of the repository with this package's mutmut config."""
    where = SCRATCH / name
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    for item in COPY:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, where / item, ignore=shutil.ignore_patterns(
                "__pycache__", ".hypothesis", ".pytest_cache"))
        else:
            shutil.copy2(src, where / item)
    pyproject = where / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + _config(PACKAGES[name]))
    return where


def run(name: str, children: int) -> tuple[int, int, float, list[str]]:
    """(killed, total, seconds, survivor lines) for one package."""
    where = prepare(name)
    env = {**os.environ, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    mutmut = [sys.executable, "-m", "mutmut"]
    t0 = time.perf_counter()
    with open(where / "mutmut-run.log", "w") as log:  # the progress spinner, kept out of sight
        subprocess.run([*mutmut, "run", "--max-children", str(children)], cwd=where, env=env,
                       check=False, stdout=log, stderr=subprocess.STDOUT)
    took = time.perf_counter() - t0
    out = subprocess.run([*mutmut, "results", "--all", "true"], cwd=where, env=env,
                         check=True, capture_output=True, text=True).stdout
    verdicts = re.findall(r"^\s+(\S+): (.+)$", out, flags=re.M)
    killed = sum(1 for _, v in verdicts if v in ("killed", "timeout", "caught by type check"))
    survivors = [f"{k}: {v}" for k, v in verdicts
                 if v not in ("killed", "timeout", "caught by type check")]
    return killed, len(verdicts), took, survivors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("packages", nargs="*", choices=[*PACKAGES, []], default=list(PACKAGES))
    ap.add_argument("--children", type=int, default=2)
    args = ap.parse_args(argv)
    ok = True
    lines = []
    for name in args.packages or list(PACKAGES):
        killed, total, took, survivors = run(name, args.children)
        score = killed / total if total else 0.0
        ok &= score >= GOAL
        lines.append(f"{name:7} {killed:5} / {total:<5} killed  {score:6.1%}  {took:7.0f} s")
        for s in survivors:
            lines.append(f"          {s}")
    print(f"\nMUTATION SCORE (goal ≥ {GOAL:.0%})")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
