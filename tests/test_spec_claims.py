"""What docs/SPEC.md (and the other documents) claim, held against the tables and the proofs.

``test_spec_current`` shows the generated regions are what the producers
render now; this module reads the *claims* back out of the text and checks
them against the sources the producers are supposed to follow, so a producer
(or a hand-written sentence) that says something the proofs contradict fails:

* "sound under": the designs table and the verdict say, per design, which
  assumptions its soundness rests on.  That must be what the proofs
  established: ``proofs.obligations.SOUNDNESS_ASSUMPTIONS``, which itself must
  be what the obligations show (the induction ``sound.*`` proved under that
  set, and every member needed: its ``needs.*`` drop is a missing row), or
  "unsound" where the solver's baseline cell is a counterexample;
* the assumption table in SPEC.md is ``model.hazards.ASSUMPTIONS`` row for
  row, and what a row says it protects is what dropping it does in the proofs
  (a soundness assumption's drop is a missing row, a tightness one's only a
  duplicate, and no design's soundness rests on it);
* prose: a sentence about soundness naming a range of assumptions must not
  take in one that only protects tightness ("sound under A1–A5"); a sentence
  about A2 must not state it for every lower generation (the encoding
  constrains the row under test's generation only); a sentence stating A5 by
  the grace must state the latency ("grace > 0" is not the requirement);
* every hazard cited (``H8``) in the documents is a row of
  ``model.hazards.HAZARDS`` (or names a family of rows: ``H5`` = H5a, H5b);
* every word in the solver's verdict matrix has a legend entry, and the
  legend says what K counts;
* no design is called sound under its set while a judge (the solver's matrix
  or the model's) finds a missing row in a column that breaks none of that set,
  unless the verdict names the column as an exception;
* each "Lance as shipped" row names hazard columns that break the assumption
  it decides.

Each check is a function from text to a list of problems; the planted tests
feed it a contradiction and show it is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from asofcut import specdoc
from asofcut.lance_map import SHIPPED, Shipped
from model.designs import Design
from model.hazards import ASSUMPTIONS, HAZARDS
from proofs.obligations import CEX, SOUNDNESS_ASSUMPTIONS, Result
from proofs.run import Report, run_all
from stateful_tests.hazards import PROOF_TO_MACHINE_VERDICT as TO_MODEL
from stateful_tests.hazards import expectation_table

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
ASSUMPTION_NAME = re.compile(r"\bA\d(?:-(?:shards|sstables))?\b")
_RANGE = re.compile(r"\bA(\d)\s*[–-]\s*A(\d)\b")
SOUNDNESS = {a for a, x in ASSUMPTIONS.items() if x.protects == "soundness"}
TIGHTNESS = {a for a, x in ASSUMPTIONS.items() if x.protects == "tightness"}


def _expand(lo: int, hi: int) -> set[str]:
    return {a for a in ASSUMPTIONS if lo <= int(a[1]) <= hi}


def spec_text() -> str:
    return specdoc.SPEC_PATH.read_text(encoding="utf-8")


def _report() -> Report:
    return run_all()


def expected_sound_under() -> dict[str, frozenset[str] | None]:
    """What the proofs say each design's soundness rests on (None: unsound whatever holds)."""
    matrix = _report().matrix
    return {d.value: None if matrix[d.value]["baseline"] == CEX else SOUNDNESS_ASSUMPTIONS[d]
            for d in Design}


def _names(cell: str) -> frozenset[str] | None:
    """The assumptions a cell names, ranges ("A1–A4") expanded; None: it says "unsound"."""
    if "unsound" in cell.lower() or "nothing suffices" in cell.lower():
        return None
    names = set(ASSUMPTION_NAME.findall(_RANGE.sub("", cell)))
    for m in _RANGE.finditer(cell):
        names |= _expand(int(m.group(1)), int(m.group(2)))
    return frozenset(names)


# --------------------------------------------------------------------------
# Parsing the claims out of SPEC.md
# --------------------------------------------------------------------------


def designs_table_claims(text: str) -> dict[str, frozenset[str] | None]:
    """design → the assumptions the designs table's "sound under" column names."""
    body = specdoc.regions(text)["designs"]
    lines = body.splitlines()
    head = next(i for i, ln in enumerate(lines) if "sound under" in ln)
    col = [c.strip() for c in lines[head].strip("|").split("|")].index(
        next(c.strip() for c in lines[head].strip("|").split("|") if "sound under" in c))
    out = {}
    for ln in lines[head + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        out[cells[0].strip("`")] = _names(cells[col])
    return out


def verdict_claims(text: str) -> dict[str, frozenset[str] | None]:
    """design → the assumptions the verdict page lists under "sound if"."""
    body = specdoc.regions(text)["verdict"]
    out: dict[str, frozenset[str] | None] = {}
    for block in re.split(r"\n(?=\*\*`)", body):
        m = re.match(r"\*\*`(\w+)`\*\*", block)
        if m is None:
            continue
        if "**Unsound" in block:
            out[m.group(1)] = None
            continue
        listed = re.findall(r"^ +- \*\*(A[\w-]+)\*\*", block, flags=re.MULTILINE)
        out[m.group(1)] = frozenset(listed)
    return out


def assumption_table_claims(text: str) -> dict[str, tuple[str, str]]:
    """name → (statement, protects) as SPEC.md's assumption table prints them."""
    body = specdoc.regions(text)["assumptions"]
    out = {}
    for ln in body.splitlines()[2:]:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if len(cells) > 2:
            out[cells[0]] = (cells[1], cells[2])
    return out


def sound_under_problems(text: str) -> list[str]:
    """Every "sound under" claim of the designs table and the verdict the proofs contradict."""
    want = expected_sound_under()
    out = []
    for where, claims in (("designs table", designs_table_claims(text)),
                          ("verdict", verdict_claims(text))):
        if set(claims) != set(want):
            out.append(f"{where}: designs {sorted(claims)} != {sorted(want)}")
        for design, said in claims.items():
            if design in want and said != want[design]:
                out.append(f"{where}: {design} sound under {said}, the proofs: {want[design]}")
    return out


def assumption_table_problems(text: str) -> list[str]:
    """SPEC.md's assumption table against ``model.hazards.ASSUMPTIONS``."""
    said = assumption_table_claims(text)
    out = [] if list(said) == list(ASSUMPTIONS) else [f"rows {list(said)} != {list(ASSUMPTIONS)}"]
    for name, (statement, protects) in said.items():
        a = ASSUMPTIONS.get(name)
        if a is not None and (statement, protects) != (a.statement, a.protects):
            out.append(f"{name}: prints ({statement!r}, {protects!r}), the table says "
                       f"({a.statement!r}, {a.protects!r})")
    return out


# --------------------------------------------------------------------------
# Prose
# --------------------------------------------------------------------------

#: A5 stated by the grace alone (the requirement is a grace above the arm-to-check latency)
_GRACE_SHORTHAND = re.compile(r"grace\s*>\s*0|positive grace|grace (?:period )?is positive|"
                              r"non-?zero grace")


def _sentences(text: str) -> list[str]:
    """Sentences, with each table row and list item its own."""
    out = []
    for para in re.split(r"\n\s*\n|\n(?=\s*[|*-] |\s*\d+\. )", text):
        out += re.split(r"(?<=[.;])\s+(?=[A-Z*`(])", para.replace("\n", " "))
    return out


def prose_problems(text: str) -> list[str]:
    """Hand-written (or rendered) sentences that state an assumption the proofs contradict."""
    out = []
    for s in _sentences(text):
        low = s.lower()
        if "sound" in low.replace("unsound", ""):
            for m in _RANGE.finditer(s):
                extra = _expand(int(m.group(1)), int(m.group(2))) & TIGHTNESS
                if extra:
                    out.append(f"soundness claimed under {m.group(0)}, which takes in "
                               f"{sorted(extra)} (tightness only): {s[:120]!r}")
        if re.search(r"\bA2\b", s) and re.search(
                r"every (lower generation|generation below)|lower generations were fully", low):
            out.append(f"A2 stated for every lower generation (the table: the row's "
                       f"generation): {s[:120]!r}")
        if (_GRACE_SHORTHAND.search(low) and "latency" not in low
                and (re.search(r"\bA5\b", s) or "tightness" in low or "h4 gap" in low)):
            out.append(f"A5 stated by the grace without the arm-to-check latency: {s[:120]!r}")
    return out


_HAZARD = re.compile(r"\bH(\d+)([a-z]?)\b")


def hazard_citation_problems(text: str) -> list[str]:
    """Hazards cited that are no row of ``HAZARDS`` (nor a family of rows, H5 = H5a, H5b)."""
    out = []
    for m in _HAZARD.finditer(text):
        name = m.group(0)
        family = not m.group(2) and any(re.fullmatch(rf"{name}[a-z]", h) for h in HAZARDS)
        if name not in HAZARDS and not family:
            out.append(f"{name} cited but not a hazard row: "
                       f"{text[max(0, m.start() - 40):m.end() + 20]!r}")
    return out


def legend_problems(text: str) -> list[str]:
    """Every word of the solver's matrix has a legend entry; the legend says what K counts."""
    body = specdoc.regions(text)["verdict_matrix"]
    defined = set(re.findall(r"^- `([^`]+)`:", body, flags=re.MULTILINE))
    rows = [ln for ln in body.splitlines() if ln.startswith("| ")][1:]
    used = {c.strip() for ln in rows for c in ln.strip().strip("|").split("|")[1:]}
    out = [f"matrix word {w!r} has no legend entry" for w in sorted(used - defined)]
    if "K counts" not in body:
        out.append("the legend does not say what K counts")
    return out


# --------------------------------------------------------------------------
# The proofs' own sets, against the obligations
# --------------------------------------------------------------------------


def proof_set_problems(sets: Mapping[Design, frozenset[str]],
                       obligations: Mapping[str, list[Result]]) -> list[str]:
    """``sets`` is what the obligations establish: the induction holds under it, each member
    is needed (its drop is a missing row), and no tightness assumption is in it."""
    out = []
    for design, results in obligations.items():
        if design == "u64":
            continue
        asm = sets[Design(design)]
        by = {r.name: r for r in results}
        for step in ("sound.init", "sound.step", "sound.check"):
            if by.get(step) is None or by[step].status != "proved":
                out.append(f"{design}: {step} is not proved under {sorted(asm)}")
        for a in asm:
            drops = [r for r in results if r.name.split(" ")[0] == f"needs.{a}"]
            if not drops or not all(r.trace and r.trace["outcome"] == "missing_row"
                                    for r in drops):
                out.append(f"{design}: soundness said to rest on {a}, but dropping it gives no "
                           "missing row")
        for a in asm & TIGHTNESS:
            out.append(f"{design}: soundness said to rest on {a}, which protects tightness only")
        for r in results:
            name = r.name.removeprefix("needs.").split(" ")[0]
            if r.name.startswith("needs.") and name in TIGHTNESS and r.trace is not None \
                    and r.trace["outcome"] != "duplicate":
                out.append(f"{design}: dropping {name} (tightness only) gives "
                           f"{r.trace['outcome']}")
    return out


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


def test_sound_under_in_spec_is_what_the_proofs_established() -> None:
    assert sound_under_problems(spec_text()) == []
    said = designs_table_claims(spec_text())
    # the designs that record what their scan read rest on A1's arm half only: their
    # counts are the scan's own, read once (an arm that reads twice breaks them: H15)
    assert said["exact_cut"] == said["pinned_cut"] == frozenset({"A1"})


def test_the_proofs_sets_are_what_the_obligations_show() -> None:
    assert proof_set_problems(SOUNDNESS_ASSUMPTIONS, _report().obligations) == []


def test_the_assumption_table_in_spec_is_the_one_table() -> None:
    assert assumption_table_problems(spec_text()) == []
    # "protects soundness" means: some sound design's soundness rests on it, and nothing
    # protecting tightness only is among those sets
    rests = set().union(*(asm for d, asm in expected_sound_under().items() if asm is not None))
    assert rests == SOUNDNESS


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_document_states_an_assumption_the_table_contradicts(doc: Path) -> None:
    assert prose_problems(doc.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_hazard_cited_is_a_row_of_the_hazard_table(doc: Path) -> None:
    assert hazard_citation_problems(doc.read_text(encoding="utf-8")) == []


def test_every_word_of_the_verdict_matrix_has_a_legend() -> None:
    assert legend_problems(spec_text()) == []


def uncovered_problems(text: str) -> list[str]:
    """A design said sound under its set, while a judge finds a missing row in a column that
    breaks none of that set: the verdict must name the column as an exception."""
    body = specdoc.regions(text)["verdict"]
    matrix, model = _report().matrix, _model_cells()
    out = []
    for design, asm in expected_sound_under().items():
        if asm is None:
            continue
        block = re.search(rf"\*\*`{design}`\*\*.*?(?=\n\*\*|\Z)", body, flags=re.DOTALL)
        line = next((ln for ln in (block.group(0) if block else "").splitlines()
                     if ln.startswith("- sound")), "")
        for h, hz in HAZARDS.items():
            lost = matrix[design].get(h) == CEX or model[(design, h)] == TO_MODEL[CEX]
            if lost and hz.breaks not in asm and not re.search(rf"\b{h}\b", line):
                out.append(f"{design}: sound under {sorted(asm)} claimed without naming {h}, "
                           "where a judge finds a missing row")
    return out


def _model_cells() -> dict[tuple[str, str], str]:
    return expectation_table()


def test_no_design_is_called_sound_where_a_judge_finds_a_missing_row() -> None:
    assert uncovered_problems(spec_text()) == []


def test_planted_verdict_hiding_an_exception_is_caught() -> None:
    text = spec_text()
    line = next(ln for ln in specdoc.regions(text)["verdict"].splitlines()
                if ln.startswith("- sound") and "**except**" in ln)
    planted = _replace_in_region(text, "verdict", line, line.split(" — **except**")[0] + ":")
    assert uncovered_problems(planted)


def test_the_verdict_states_each_requirement_with_its_owner() -> None:
    body = specdoc.regions(spec_text())["verdict"]
    for a in set().union(*SOUNDNESS_ASSUMPTIONS.values()) & SOUNDNESS:
        x = ASSUMPTIONS[a]
        assert f"**{a}** — the {x.owner}: {x.requirement}" in body


# -- planted contradictions: each check reports one ---------------------------


def _replace_in_region(text: str, region: str, old: str, new: str) -> str:
    body = specdoc.regions(text)[region]
    assert old in body, (region, old)
    return text.replace(body, body.replace(old, new, 1), 1)


def test_planted_exact_cut_sound_under_no_assumption_is_caught() -> None:
    """The old claim ("no assumption") is now a contradiction: the induction needs A1."""
    text = spec_text()
    row = next(ln for ln in specdoc.regions(text)["designs"].splitlines()
               if ln.startswith("| `exact_cut`"))
    planted = _replace_in_region(text, "designs", row, row.rsplit("|", 2)[0] + "| — |")
    assert any("exact_cut sound under" in p for p in sound_under_problems(planted))


def test_planted_range_in_the_designs_table_is_expanded_and_caught() -> None:
    text = spec_text()
    row = next(ln for ln in specdoc.regions(text)["designs"].splitlines()
               if ln.startswith("| `as_of_cut`"))
    planted = _replace_in_region(text, "designs", row, row.rsplit("|", 2)[0] + "| A1–A5 |")
    assert designs_table_claims(planted)["as_of_cut"] == frozenset(ASSUMPTIONS)
    assert any("as_of_cut sound under" in p for p in sound_under_problems(planted))


def test_planted_a5_among_the_verdicts_soundness_requirements_is_caught() -> None:
    text = spec_text()
    a5 = ASSUMPTIONS["A5"]
    planted = _replace_in_region(
        text, "verdict", "    - **A4**",
        f"    - **A5** — the {a5.owner}: {a5.requirement}\n    - **A4**")
    assert any("as_of_cut sound under" in p for p in sound_under_problems(planted))


def test_planted_a5_protecting_soundness_is_caught() -> None:
    text = spec_text()
    row = next(ln for ln in specdoc.regions(text)["assumptions"].splitlines()
               if ln.startswith("| A5 |"))
    planted = _replace_in_region(text, "assumptions", row, row.replace("| tightness |",
                                                                       "| soundness |"))
    assert any(p.startswith("A5:") for p in assumption_table_problems(planted))


def test_planted_proof_set_with_a5_or_an_unneeded_assumption_is_caught() -> None:
    obligations = _report().obligations
    with_a5 = {**SOUNDNESS_ASSUMPTIONS,
               Design.AS_OF_CUT: SOUNDNESS_ASSUMPTIONS[Design.AS_OF_CUT] | {"A5"}}
    assert any("A5" in p for p in proof_set_problems(with_a5, obligations))
    exact_a2 = {**SOUNDNESS_ASSUMPTIONS, Design.EXACT_CUT: frozenset({"A1", "A2"})}
    assert any(p.startswith("exact_cut: soundness said to rest on A2")
               for p in proof_set_problems(exact_a2, obligations))


@pytest.mark.parametrize("sentence", [
    "Soundness of the PR's cut holds only under the conditions A1–A5 below.",
    "The cut is sound only under A1-A5.",
    "A2: every lower generation was fully visible when the arm ran.",
    "A5: the cut's active generation is still in memory at check (grace > 0).",
    "With A5 (a positive grace) the H4 gap closes.",
])
def test_planted_prose_contradiction_is_caught(sentence: str) -> None:
    assert prose_problems(spec_text() + "\n" + sentence + "\n")


@pytest.mark.parametrize("sentence", [
    "Soundness rests on A1–A4; A5 protects tightness only.",
    "A5 needs a grace above the arm-to-check latency.",
    "The unsound designs fail with A1–A5 all held.",
])
def test_true_sentences_are_not_flagged(sentence: str) -> None:
    assert prose_problems(sentence + "\n") == []


def test_planted_undefined_hazard_is_caught_and_a_family_is_not() -> None:
    assert hazard_citation_problems("the H16 column") != []
    assert hazard_citation_problems("H5 (H5a, H5b) and H1–H15") == []


def test_planted_word_without_a_legend_is_caught() -> None:
    text = spec_text()
    body = specdoc.regions(text)["verdict_matrix"]
    line = next(ln for ln in body.splitlines() if ln.startswith("- `cex`"))
    assert legend_problems(_replace_in_region(text, "verdict_matrix", line + "\n", ""))
    assert legend_problems(_replace_in_region(text, "verdict_matrix", "K counts", "K is"))


# -- Lance as shipped: its rows agree with the hazard and assumption tables ----


def shipped_problems(shipped: Mapping[str, Shipped]) -> list[str]:
    """Each ``SHIPPED`` row's columns are hazards that break the assumption it decides."""
    out = []
    for key, row in shipped.items():
        a, cols = row.assumption, row.columns
        if a not in ASSUMPTIONS:
            out.append(f"{key}: {a} is no assumption")
        for c in cols:
            if c not in HAZARDS or HAZARDS[c].breaks != a:
                out.append(f"{key}: column {c} does not break {a}")
    return out


def test_lance_as_shipped_agrees_with_the_hazard_table() -> None:
    assert shipped_problems(SHIPPED) == []
    body = specdoc.regions(spec_text())["verdict"]
    for row in SHIPPED.values():
        assert row.default in body and row.setting in body


def test_planted_shipped_row_naming_the_wrong_column_is_caught() -> None:
    wrong = {**SHIPPED, "grace": replace(SHIPPED["grace"], columns=("H6",))}
    assert shipped_problems(wrong) == ["grace: column H6 does not break A5"]
