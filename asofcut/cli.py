"""The ``asofcut`` command line.

Subcommands are thin: each imports its module lazily, so ``asofcut demo`` does
not pay for z3 and ``asofcut prove`` does not pay for pyarrow.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand → (module, function, help).  The function takes the parsed
#: argument list that follows the subcommand and returns an exit code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("asofcut.demo", "main", "replay PR #7215's missing row on the real impl"),
    "fuzz": ("asofcut.fuzz", "main", "N workers fuzz the matrix, sharing one example database"),
    "matrix": ("stateful_tests.matrix", "main", "design x hazard matrix of the state machine"),
    "prove": ("proofs.cli", "main", "z3 proofs: obligations, verdict matrix, planted bugs"),
    "repro": ("asofcut.repro", "main", "a matrix cell's shrunk failure as a plain pytest file"),
    "spec": ("asofcut.spec", "main", "render docs/SPEC.md's generated regions (--check: CI)"),
    "verify": ("asofcut.verify", "main", "proofs + design x hazard matrix + spec check"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="asofcut", description="A formal-model-guided harness for Lance MemWAL's as-of cut."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, _, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    module_name, func_name, _ = COMMANDS[args.command]
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(list(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
