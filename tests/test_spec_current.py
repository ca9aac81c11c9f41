"""docs/SPEC.md's generated regions match what the model and the proofs render now."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from asofcut import lance_map, pictures, spec, specdoc


def test_every_generated_region_of_spec_md_is_current() -> None:
    assert spec.stale() == [], "docs/SPEC.md is stale: run `asofcut spec`"


def test_spec_check_fails_on_a_hand_edited_region(tmp_path: Path) -> None:
    text = specdoc.SPEC_PATH.read_text(encoding="utf-8")
    edited = tmp_path / "SPEC.md"
    edited.write_text(text.replace("| `as_of_cut` |", "| `as_of_cut (edited)` |", 1), "utf-8")
    assert spec.main(["--check", "--path", str(edited)]) == 1


def test_a_region_nobody_renders_is_an_error(tmp_path: Path) -> None:
    text = specdoc.SPEC_PATH.read_text(encoding="utf-8")
    orphan = text + "\n<!-- BEGIN GENERATED: nobody -->\n<!-- END GENERATED: nobody -->\n"
    with pytest.raises(specdoc.SpecError, match="nobody"):
        specdoc.render(orphan, specdoc.collect(spec.producers()))


def _docs_copy(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    (docs / pictures.IMG).mkdir(parents=True)
    shutil.copy(specdoc.SPEC_PATH, docs / "SPEC.md")
    shutil.copy(pictures.DOCS / lance_map.LANCE_MAP_PATH_NAME, docs)
    for svg in (pictures.DOCS / pictures.IMG).glob("*.svg"):
        shutil.copy(svg, docs / pictures.IMG / svg.name)
    return docs, docs / "SPEC.md"


def test_spec_check_covers_the_svg_pictures(tmp_path: Path) -> None:
    """A stale, hand-edited, missing or orphaned SVG under docs/img/ fails the check."""
    docs, spec_md = _docs_copy(tmp_path)
    check = ["--check", "--path", str(spec_md), "--docs", str(docs)]
    assert spec.main(check) == 0  # the copy is current: what follows is the plant alone
    grid = docs / pictures.IMG / pictures.GRID_NAME
    good = grid.read_text(encoding="utf-8")
    grid.write_text(good.replace("#2b6cb0", "#2b6cb1", 1), encoding="utf-8")  # stale
    assert spec.main(check) == 1
    grid.write_text(good, encoding="utf-8")
    assert spec.main(check) == 0
    orphan = docs / pictures.IMG / "cex-old-name.svg"
    orphan.write_text(good, encoding="utf-8")
    assert spec.main(check) == 1
    orphan.unlink()
    next(p for p in (docs / pictures.IMG).glob("cex-*.svg")).unlink()  # missing
    assert spec.main(check) == 1
    assert spec.main(["--path", str(spec_md), "--docs", str(docs)]) == 0  # regenerate
    assert spec.main(check) == 0


def test_every_violating_cell_of_the_matrix_has_a_picture_showing_its_verdict() -> None:
    rows = pictures.cell_pictures()
    assert rows, "the matrix has violating cells"
    drawn = {pictures.file_name(t): t for t in pictures.svg_traces()}
    for design, col, verdict, pic, why in rows:
        assert pic in drawn, f"{design} × {col} has no picture"
        want = "missing_row" if verdict == "cex" else "duplicate"
        assert drawn[pic]["outcome"] == want, (design, col, why)
