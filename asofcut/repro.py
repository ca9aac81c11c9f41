"""``asofcut repro <design> <hazard> [-o FILE]``: a matrix cell's failure as a plain pytest file.

Runs the cell as the gate does (``matrix.run_cell``: the seeded step budget,
``--seed`` for another seed; no example database), takes its shrunk failing
script (``Harness.script``, minimised by ``stateful_tests.shrink``), and writes the regression
test ``stateful_tests.repro.render`` makes of it: the story replayed on
``impl`` with literal expectations, runnable with plain pytest.  The machine
prints the same text when it fails, so this command is how to get it without
reading Hypothesis output.  Exit code 1 when the cell does not fail.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.designs import Design


class CellPassed(RuntimeError):
    """The cell ran its whole budget without a failure: there is no story to write."""


def failing_script(design: Design | str, hazard: str, seed: int = 0) -> list[tuple[Any, ...]]:
    """The shrunk failing script of one cell under the gate's budget (``matrix.run_cell``)."""
    from stateful_tests.matrix import run_cell

    cell = run_cell(Design(design).value, hazard, seed=seed)
    if cell.verdict in ("VIOLATION", "MISMATCH"):
        return list(cell.script)
    if cell.verdict == "ERROR":
        raise RuntimeError(f"{Design(design).value} × {hazard}: {cell.message}")
    raise CellPassed(f"{Design(design).value} × {hazard}: no failure within the budget")


def repro(design: Design | str, hazard: str, seed: int = 0) -> str:
    """The regression test for one cell's shrunk failure."""
    from stateful_tests.repro import render

    return render(design, hazard, failing_script(design, hazard, seed))


def main(argv: Sequence[str] | None = None) -> int:
    from stateful_tests import profiles
    from stateful_tests.hazards import HAZARDS

    p = argparse.ArgumentParser(prog="asofcut repro", description=__doc__.splitlines()[0])
    p.add_argument("design", choices=[d.value for d in Design])
    p.add_argument("hazard", choices=list(HAZARDS))
    p.add_argument("-o", "--output", type=Path, help="write the test here (default: stdout)")
    p.add_argument("--seed", type=int, default=0, help="the budget's seed (default: the gate's, 0)")
    args = p.parse_args(list(argv or []))
    profiles.load()
    try:
        text = repro(args.design, args.hazard, args.seed)
    except CellPassed as e:
        print(f"asofcut repro: {e}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({args.design} × {args.hazard})", file=sys.stderr)
    return 0
