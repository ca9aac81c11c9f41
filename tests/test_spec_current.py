"""docs/SPEC.md's generated regions match what the model and the proofs render now."""

from __future__ import annotations

from pathlib import Path

import pytest

from asofcut import spec, specdoc


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
