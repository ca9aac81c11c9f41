"""The repository stands alone: everything its code, tests and documents cite is in it.

A reader has only the repository, so every reference must resolve inside it:

* a cited heading, ``docs/SEMANTICS.md "Reading"`` (the form this repository
  uses), names a heading of that in-repo document: equal to it, or its start
  followed by a non-word character (``"Crash, close and reopen"`` cites
  ``Crash, close and reopen (generation numbering after replay)``);
* a ``§`` citation names an in-repo document and a heading of it; a bare
  section sign, or one after a name that is no in-repo document, cites
  nothing a reader has;
* a cited heading stays on one line (a broken one could not be checked);
* a cited file (``tests/test_x.py``, ``docs/X.md``, ``model/designs.py``,
  optionally ``::name``) exists, and ``name`` is defined in it;
* any ``*.md`` named exists in the repository;
* nothing names a sibling checkout or a machine path (``../`` + a sibling's
  name, ``/work/``, ``/home/``, ``/Users/``).

``dangling(text, root)`` finds the problems in one text; the test runs it over
every tracked text file, and the planted-reference tests show that each kind
of dangling reference is caught.  This file is the one place the banned forms
must appear (as planted examples), so it is not scanned itself; the examples
are assembled from parts (``SECTION``, ``SIBLING``) so that no plain search of
the repository for outside citations finds one here either.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELF = Path(__file__).resolve()
#: which tracked files are text a reader follows references in
SCANNED_SUFFIXES = (".py", ".md", ".ini", ".toml", ".cfg", ".txt", ".json", ".yml", ".yaml")
SCANNED_NAMES = (".ci/run",)
#: top-level directories whose files can be cited by path
CITABLE_DIRS = ("model", "impl", "proofs", "asofcut", "stateful_tests", "tests", "bench", "docs",
                ".ci")

HEADING_REF = re.compile(r'(?P<doc>[\w./-]*\w\.md)`?,? "(?P<heading>[^"\n]+)"')
#: a cited heading broken over two lines could not be checked: not allowed
BROKEN_HEADING_REF = re.compile(r'(?P<doc>[\w./-]*\w\.md)`?,? "[^"\n]*\n')
SECTION_REF = re.compile(r"(?:(?P<doc>[\w./-]*\w\.md)`?,? )?§ ?(?P<sec>[\w.-]*\w)")
FILE_REF = re.compile(
    r"(?<![\w/.-])(?P<path>(?:" + "|".join(re.escape(d) for d in CITABLE_DIRS)
    + r")/[\w./-]*\w\.(?:py|md|json|ini|toml|txt))(?:::(?P<name>\w+))?"
)
MD_NAME = re.compile(r"(?<![\w/.-])(?P<path>[\w./-]*\w\.md)\b")
OUTSIDE = re.compile(r"\.\./shared|(?<![\w.])/(?:work|home|Users)/")


@cache
def headings(doc: Path) -> tuple[str, ...]:
    """The heading texts of a markdown document (``#`` lines outside code fences)."""
    out, fenced = [], False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            out.append(line.lstrip("#").strip())
    return tuple(out)


def resolve_doc(name: str, root: Path) -> Path | None:
    """An in-repo document cited as ``docs/X.md`` or ``X.md`` (docs/ or the root)."""
    for candidate in (root / name, root / "docs" / Path(name).name):
        if candidate.is_file():
            return candidate
    return None


def cites(heading: str, cited: str) -> bool:
    """``cited`` is ``heading``, or its start followed by a non-word character."""
    return heading == cited or (
        heading.startswith(cited) and not heading[len(cited)].isalnum()
    )


def dangling(text: str, root: Path = ROOT) -> list[str]:
    """Every reference in ``text`` that a reader of the repository at ``root`` cannot follow."""
    problems: list[str] = []
    for m in OUTSIDE.finditer(text):
        problems.append(f"points outside the repository: {m.group(0)!r}")
    for m in BROKEN_HEADING_REF.finditer(text):
        problems.append(f"a heading cited from {m['doc']} is broken over two lines")
    for m in HEADING_REF.finditer(text):
        doc = resolve_doc(m["doc"], root)
        if doc is not None and not any(cites(h, m["heading"]) for h in headings(doc)):
            problems.append(f"{m['doc']} has no heading {m['heading']!r}")
    for m in SECTION_REF.finditer(text):
        doc = resolve_doc(m["doc"], root) if m["doc"] else None
        if doc is None:
            problems.append(f"§{m['sec']} cites no in-repo document: {m.group(0)!r}")
        elif not any(cites(h, m["sec"]) for h in headings(doc)):
            problems.append(f"{m['doc']} has no section {m['sec']!r}")
    for m in MD_NAME.finditer(text):
        if resolve_doc(m["path"], root) is None:
            problems.append(f"no such document in the repository: {m['path']}")
    for m in FILE_REF.finditer(text):
        path = root / m["path"]
        if not path.exists():
            problems.append(f"no such file: {m['path']}")
        elif m["name"] and not re.search(
            rf"^\s*(?:async )?(?:def|class) {m['name']}\b", path.read_text(encoding="utf-8"),
            re.MULTILINE,
        ):
            problems.append(f"{m['path']} defines no {m['name']!r}")
    return problems


def tracked_text_files(root: Path = ROOT) -> list[Path]:
    """Tracked (and new, unignored) files whose references a reader follows."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.split()
    return [
        root / f for f in listed
        if (f.endswith(SCANNED_SUFFIXES) or f in SCANNED_NAMES)
        and (root / f).is_file() and (root / f).resolve() != SELF
    ]


def test_the_scan_covers_code_tests_and_docs() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in tracked_text_files()}
    assert {"README.md", "docs/DESIGN.md", "model/designs.py", "tests/conftest.py",
            "stateful_tests/machine.py", "tox.ini", ".ci/run"} <= names
    assert "tests/test_references.py" not in names


def test_no_dangling_reference_anywhere() -> None:
    found = [
        f"{p.relative_to(ROOT)}: {problem}"
        for p in tracked_text_files()
        for problem in dangling(p.read_text(encoding="utf-8"))
    ]
    assert found == []


# ------------------------------------------------------------------ planted references


def test_well_formed_references_resolve() -> None:
    text = (
        'see docs/SEMANTICS.md "Reading" and `docs/SPEC.md`, '
        '"Appendix: real Lance (pylance 14.0.2)";\n'
        'SEMANTICS.md "Crash, close and reopen" is a prefix of its heading;\n'
        "tests/test_proofs_encode.py::test_u64_table_matches_python, model/designs.py, README.md\n"
    )
    assert dangling(text) == []


#: the section sign and a sibling checkout's path, kept apart from the words they follow
SECTION = "\u00a7"
SIBLING = ".." + "/" + "shared"


@pytest.mark.parametrize(
    ("planted", "caught"),
    [
        (f"vocabulary is DESIGN.md {SECTION}1's", "has no section '1'"),
        (f"the hazards of reference {SECTION}8", "cites no in-repo document"),
        (f"why (practice {SECTION}1.6)", "cites no in-repo document"),
        (f"measured (probe {SECTION}4)", "cites no in-repo document"),
        ('docs/SEMANTICS.md "Writing"', "has no heading 'Writing'"),
        ('docs/LANCE.md "H1"', None),  # a real heading: not a problem
        ('docs/LANCE.md "H"', "has no heading 'H'"),  # "H" is a prefix of "H1:" only mid-word
        ("a differential test: tests/test_proofs_bv64.py", "no such file"),
        ("tests/test_proofs_encode.py::test_bv64_table", "defines no 'test_bv64_table'"),
        ("the reference is in practice.md", "no such document"),
        ("``/work/" + "shared/" + "reference/pylance-memwal.md``",
         "points outside the repository"),
        (f"see {SIBLING}/DESIGN.md", "points outside the repository"),
        ("/home/someone/notes.txt", "points outside the repository"),
        ('see LANCE.md "Flush happens in\n    the background"', "broken over two lines"),
    ],
)
def test_a_planted_reference_is_caught(planted: str, caught: str | None) -> None:
    problems = dangling(planted)
    if caught is None:
        assert problems == []
    else:
        assert any(caught in p for p in problems), problems


def test_a_planted_file_fails_the_repository_scan(tmp_path: Path) -> None:
    """The whole-repository check, on a copy with one dangling reference added, fails."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "SEMANTICS.md").write_text("# Semantics\n\n## Reading\n")
    (tmp_path / "model").mkdir()
    good = '"""Reads follow docs/SEMANTICS.md "Reading"."""\n'
    (tmp_path / "model" / "read.py").write_text(good)
    assert dangling(good, tmp_path) == []
    bad = good + f"# the designs of DESIGN.md {SECTION}4\n"
    assert dangling(bad, tmp_path) == [
        f"{SECTION}4 cites no in-repo document: 'DESIGN.md {SECTION}4'",
        "no such document in the repository: DESIGN.md",
    ]
