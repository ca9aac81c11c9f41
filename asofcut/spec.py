"""``asofcut spec [--check]``: render docs/SPEC.md's generated regions.

Producers live next to what they describe: ``model.docs.SECTIONS`` (lifecycle,
designs, assumptions: read off the tables the model runs on) and
``proofs.docs.SECTIONS`` (obligations, verdict matrix, counterexamples,
planted bugs: computed by z3 now), ``proofs.argument.SECTIONS`` (the
invariant's conjuncts and where each assumption is used, computed by z3) and
``asofcut.pictures.SECTIONS`` (the regions embedding the SVG timelines and
the rule grid).  This module only
merges them and splices them into the document with :mod:`asofcut.specdoc`,
and writes the pictures under ``docs/img/`` (``asofcut.pictures.svg_files``);
``--check`` is what CI runs, so a change to the model or the proofs that is
not reflected in the document or its pictures fails the build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from asofcut import pictures, specdoc


def producers() -> dict[str, Callable[[], str]]:
    """Every generated region's producer, model's and proofs'."""
    from model.docs import SECTIONS as MODEL_SECTIONS
    from proofs.argument import SECTIONS as ARGUMENT_SECTIONS
    from proofs.docs import SECTIONS as PROOF_SECTIONS

    groups = (MODEL_SECTIONS, PROOF_SECTIONS, ARGUMENT_SECTIONS, pictures.SECTIONS)
    names = [n for g in groups for n in g]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise specdoc.SpecError(f"two producers for regions: {', '.join(sorted(clash))}")
    return {n: p for g in groups for n, p in g.items()}


def stale(path: Path = specdoc.SPEC_PATH, docs: Path = pictures.DOCS) -> list[str]:
    """Regions of ``path`` and pictures under ``docs`` that differ from what is rendered now."""
    regions = specdoc.stale_regions(path.read_text(encoding="utf-8"),
                                    specdoc.collect(producers()))
    return regions + pictures.stale_files(pictures.svg_files(), docs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asofcut spec", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if SPEC.md is stale")
    parser.add_argument("--path", type=Path, default=specdoc.SPEC_PATH)
    parser.add_argument("--docs", type=Path, default=pictures.DOCS,
                        help="the directory whose img/ holds the generated SVGs")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    sections = specdoc.collect(producers())
    files = pictures.svg_files()
    old = specdoc.stale_regions(text, sections)
    if args.check:
        old += pictures.stale_files(files, args.docs)
        if old:
            print(
                f"{args.path} is stale in: {', '.join(old)}; run `asofcut spec`", file=sys.stderr
            )
            return 1
        print(f"{args.path}: every generated region and picture is current")
        return 0
    args.path.write_text(specdoc.render(text, sections), encoding="utf-8")
    old += pictures.write_files(files, args.docs)
    print(f"{args.path}: rewrote {', '.join(old) or 'nothing (already current)'}")
    return 0
