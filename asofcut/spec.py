"""``asofcut spec [--check]``: render docs/SPEC.md's generated regions.

Producers: ``asofcut.model_docs.SECTIONS`` (lifecycle, designs, assumptions:
read off the tables the model runs on) and
``proofs.docs.SECTIONS`` (obligations, verdict matrix, counterexamples,
planted bugs: computed by z3 now).  This module only merges them and splices
them into the document with :mod:`asofcut.specdoc`; ``--check`` is what CI
runs, so a change to the model or the proofs that is not reflected in the
document fails the build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from asofcut import specdoc


def producers() -> dict[str, Callable[[], str]]:
    """Every generated region's producer, model's and proofs'."""
    from asofcut.model_docs import SECTIONS as MODEL_SECTIONS
    from proofs.docs import SECTIONS as PROOF_SECTIONS

    clash = set(MODEL_SECTIONS) & set(PROOF_SECTIONS)
    if clash:
        raise specdoc.SpecError(f"two producers for regions: {', '.join(sorted(clash))}")
    return {**MODEL_SECTIONS, **PROOF_SECTIONS}


def stale(path: Path = specdoc.SPEC_PATH) -> list[str]:
    """Regions of ``path`` that differ from what the producers render now."""
    return specdoc.stale_regions(path.read_text(encoding="utf-8"), specdoc.collect(producers()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asofcut spec", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if SPEC.md is stale")
    parser.add_argument("--path", type=Path, default=specdoc.SPEC_PATH)
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    sections = specdoc.collect(producers())
    old = specdoc.stale_regions(text, sections)
    if args.check:
        if old:
            print(
                f"{args.path} is stale in: {', '.join(old)}; run `asofcut spec`", file=sys.stderr
            )
            return 1
        print(f"{args.path}: every generated region is current")
        return 0
    args.path.write_text(specdoc.render(text, sections), encoding="utf-8")
    print(f"{args.path}: rewrote {', '.join(old) or 'nothing (already current)'}")
    return 0
