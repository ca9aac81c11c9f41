"""``asofcut spec [--check]``: render docs/SPEC.md's generated regions.

Producers: ``asofcut.model_docs.SECTIONS`` (lifecycle, designs, assumptions:
read off the tables the model runs on) and
``proofs.docs.SECTIONS`` (obligations, verdict matrix, counterexamples,
planted bugs: computed by z3 now), ``proofs.argument.SECTIONS`` (the
invariant's conjuncts and where each assumption is used, computed by z3) and
``asofcut.pictures.SECTIONS`` (the regions embedding the SVG timelines and
the rule grid) and ``asofcut.verdict.SECTIONS`` (the verdict page and the
hazard table, computed from the tables and both judges' matrices).
``docs/LANCE_MAP.md`` is a second document with generated regions
(``asofcut.lance_map.SECTIONS``), checked the same way.  This module only merges
them and splices them into the document with :mod:`asofcut.specdoc`,
and writes the pictures under ``docs/img/`` (``asofcut.pictures.svg_files``);
``--check`` is what CI runs, so a change to the model or the proofs that is
not reflected in the document or its pictures fails the build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from asofcut import lance_map, pictures, specdoc, verdict


def producers() -> dict[str, Callable[[], str]]:
    """Every generated region's producer, model's and proofs'."""
    from asofcut.model_docs import SECTIONS as MODEL_SECTIONS
    from proofs.argument import SECTIONS as ARGUMENT_SECTIONS
    from proofs.docs import SECTIONS as PROOF_SECTIONS

    groups = (MODEL_SECTIONS, PROOF_SECTIONS, ARGUMENT_SECTIONS, pictures.SECTIONS,
              verdict.SECTIONS)
    names = [n for g in groups for n in g]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise specdoc.SpecError(f"two producers for regions: {', '.join(sorted(clash))}")
    return {n: p for g in groups for n, p in g.items()}


def _map_stale(docs: Path) -> list[str]:
    path = docs / lance_map.LANCE_MAP_PATH_NAME
    old = specdoc.stale_regions(path.read_text(encoding="utf-8"),
                                specdoc.collect(lance_map.SECTIONS))
    return [f"{lance_map.LANCE_MAP_PATH_NAME}:{name}" for name in old]


def _map_write(docs: Path) -> list[str]:
    old = _map_stale(docs)
    path = docs / lance_map.LANCE_MAP_PATH_NAME
    path.write_text(specdoc.render(path.read_text(encoding="utf-8"),
                                   specdoc.collect(lance_map.SECTIONS)), encoding="utf-8")
    return old


def stale(path: Path = specdoc.SPEC_PATH, docs: Path = pictures.DOCS) -> list[str]:
    """Regions of ``path`` and of the map, and pictures under ``docs``, that differ from
    what is rendered now."""
    regions = specdoc.stale_regions(path.read_text(encoding="utf-8"),
                                    specdoc.collect(producers()))
    return regions + _map_stale(docs) + pictures.stale_files(pictures.svg_files(), docs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asofcut spec", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if SPEC.md is stale")
    parser.add_argument("--path", type=Path, default=specdoc.SPEC_PATH)
    parser.add_argument("--docs", type=Path, default=pictures.DOCS,
                        help="the directory holding LANCE_MAP.md and img/ (the generated SVGs)")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    sections = specdoc.collect(producers())
    files = pictures.svg_files()
    old = specdoc.stale_regions(text, sections)
    if args.check:
        old += _map_stale(args.docs) + pictures.stale_files(files, args.docs)
        if old:
            print(
                f"{args.path} is stale in: {', '.join(old)}; run `asofcut spec`", file=sys.stderr
            )
            return 1
        print(f"{args.path}: every generated region and picture is current")
        return 0
    args.path.write_text(specdoc.render(text, sections), encoding="utf-8")
    old += _map_write(args.docs) + pictures.write_files(files, args.docs)
    print(f"{args.path}: rewrote {', '.join(old) or 'nothing (already current)'}")
    return 0
