"""Generated regions of docs/SPEC.md.

SPEC.md is hand-written prose with generated regions between markers::

    <!-- BEGIN GENERATED: lifecycle -->
    ...rendered from model/ or proofs/...
    <!-- END GENERATED: lifecycle -->

Each region has exactly one producer (a function returning markdown).  ``asofcut
spec`` rewrites every region; ``asofcut spec --check`` fails when any region
differs from what its producer renders now, so the document cannot go stale
silently.  Prose outside the markers is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "SPEC.md"

_REGION = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w.-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(<!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)


class SpecError(Exception):
    """SPEC.md lacks a region a producer expects, or has one nobody produces."""


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table (a ``|`` inside a cell is escaped), the form every region uses."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def regions(text: str) -> dict[str, str]:
    """The generated regions of ``text``, name → body."""
    return {m.group("name"): m.group("body") for m in _REGION.finditer(text)}


def render(text: str, sections: Mapping[str, str], *, complete: bool = True) -> str:
    """``text`` with every region in ``sections`` replaced by its producer's body.

    With ``complete`` (what ``asofcut spec`` uses), a region that no producer
    renders is an error too: a renamed producer must not leave a frozen copy.
    """
    present = set(regions(text))
    missing = sorted(set(sections) - present)
    if missing:
        raise SpecError(f"SPEC.md has no region for: {', '.join(missing)}")
    orphans = sorted(present - set(sections))
    if complete and orphans:
        raise SpecError(f"SPEC.md has regions no producer renders: {', '.join(orphans)}")

    def body(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in sections:
            return m.group(0)
        out = sections[name] if sections[name].endswith("\n") else sections[name] + "\n"
        return m.group(1) + out + m.group(4)

    return _REGION.sub(body, text)


def stale_regions(text: str, sections: Mapping[str, str], *, complete: bool = True) -> list[str]:
    """Names of regions in ``sections`` whose body differs from what is rendered now."""
    fresh = regions(render(text, sections, complete=complete))
    now = regions(text)
    return sorted(name for name in sections if fresh[name] != now.get(name))


def collect(producers: Mapping[str, Callable[[], str]]) -> dict[str, str]:
    """Run each producer once."""
    return {name: produce() for name, produce in producers.items()}
