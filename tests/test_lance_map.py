"""docs/LANCE_MAP.md's table covers the model exactly, and every 'tested' claim names real tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asofcut import lance_map
from asofcut.lance_map import CALLER, EXTRA, MAP, READ, TESTED, VERSIONS, MapRow
from model.events import EVENTS

ROOT = Path(__file__).resolve().parent.parent


def missing_tests(row: MapRow) -> list[str]:
    """The tests ``row`` names that do not exist as a test function in the named file."""
    out = []
    for ref in row.tests:
        path, _, name = ref.partition("::")
        f = ROOT / path
        if not f.is_file() or not re.search(rf"^def {re.escape(name)}\(", f.read_text(), re.M):
            out.append(ref)
    return out


def test_every_model_event_has_exactly_one_map_row() -> None:
    subjects = [r.subject for r in MAP]
    for name in EVENTS:
        assert subjects.count(name) == 1, f"event {name!r} has {subjects.count(name)} rows"


def test_every_map_row_is_an_event_or_a_named_extra_once() -> None:
    subjects = [r.subject for r in MAP]
    assert len(subjects) == len(set(subjects))
    assert set(subjects) == set(EVENTS) | set(EXTRA)


def test_the_arm_capture_and_the_check_are_mapped() -> None:
    subjects = {r.subject for r in MAP}
    assert {"read arm", "supersession check", "arm's capture of (A, N)"} <= subjects


@pytest.mark.parametrize("row", MAP, ids=[r.subject for r in MAP])
def test_every_row_is_pinned_to_known_versions_and_says_how_it_is_known(row: MapRow) -> None:
    assert row.read_at and set(row.read_at) <= set(VERSIONS)
    assert row.known in (TESTED, READ, CALLER)
    if row.known == TESTED:
        assert row.tests and row.what_tested, "a tested row names its tests and what they run"
        assert "pylance 14.0.2" in row.read_at
        assert missing_tests(row) == []
    else:
        assert not row.tests and not row.what_tested


#: a citation of a test that does not exist, built so that the repository's own
#: reference check (tests/test_references.py) does not read it as a real citation
PLANTED = "tests/test_lance_deviations.py" + "::" + "test_no_such_test"


def test_a_row_naming_a_test_that_does_not_exist_is_caught() -> None:
    """Planted: a 'tested' row citing a renamed test."""
    bad = MapRow("put", "m", "l", ("pylance 14.0.2",), "—", TESTED,
                 (PLANTED,), "x")
    assert missing_tests(bad) == [PLANTED]


def test_facts_no_python_binding_reaches_are_marked_read_not_tested() -> None:
    by = {r.subject: r for r in MAP}
    for subject in ("supersession check", "publish", "release"):
        assert by[subject].known == READ


def test_the_rendered_map_has_one_line_per_row() -> None:
    lines = [ln for ln in lance_map.map_region().splitlines() if ln.startswith("| ")]
    assert len(lines) == 1 + len(MAP)
