"""``asofcut repro <design> <hazard> [-o FILE]``: a matrix cell's failure as a plain pytest file.

Runs the cell's state machine derandomized (the selected profile's budget,
``--profile`` to change it; no example database), takes the shrunk failing
story the machine recorded (``Harness.script``), and writes the regression
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


def failing_script(design: Design | str, hazard: str) -> list[tuple[Any, ...]]:
    """The shrunk failing script of one cell, derandomized, under the loaded profile."""
    from hypothesis import settings
    from hypothesis.reporting import with_reporter
    from hypothesis.stateful import get_state_machine_test

    from stateful_tests.machine import Finding, machine_for

    cls = machine_for(design, hazard)
    s = settings(cls.TestCase.settings, derandomize=True, database=None, print_blob=False)
    test = get_state_machine_test(cls, settings=s)
    try:
        with with_reporter(lambda _: None):  # the notes are the file we are about to write
            test()
    except Finding:
        return list(cls.last_failure_script)
    raise CellPassed(f"{Design(design).value} × {hazard}: no failure within the budget")


def repro(design: Design | str, hazard: str) -> str:
    """The regression test for one cell's shrunk failure."""
    from stateful_tests.repro import render

    return render(design, hazard, failing_script(design, hazard))


def main(argv: Sequence[str] | None = None) -> int:
    from stateful_tests import profiles
    from stateful_tests.hazards import HAZARDS

    p = argparse.ArgumentParser(prog="asofcut repro", description=__doc__.splitlines()[0])
    p.add_argument("design", choices=[d.value for d in Design])
    p.add_argument("hazard", choices=list(HAZARDS))
    p.add_argument("-o", "--output", type=Path, help="write the test here (default: stdout)")
    p.add_argument("--profile", default=None, help="dev / ci / nightly (default: selected)")
    args = p.parse_args(list(argv or []))
    profiles.load(args.profile)
    try:
        text = repro(args.design, args.hazard)
    except CellPassed as e:
        print(f"asofcut repro: {e}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({args.design} × {args.hazard})", file=sys.stderr)
    return 0
