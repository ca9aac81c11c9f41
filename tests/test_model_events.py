"""The event table against the code, the docs against the model, model/ against its rules."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from asofcut import model_docs as docs
from asofcut import specdoc
from model.events import EVENTS, run, step
from model.read import observe
from model.state import Config, State, Status, initial

MODEL = Path(__file__).resolve().parent.parent / "model"


def _statuses(st: State) -> dict[tuple[str, int], Status]:
    return {(sid, g.number): g.status for sid, s in st.shards for g in s.generations}


def _ready(name: str) -> State:
    """A state in which event ``name`` is enabled for shard "s" (generations retained)."""
    st = initial(config=Config(lagged=True, release_at_flush=False,
                               durable_after_visible=name == "sync", flush_skip=True))
    if name == "new shard":
        return st
    st = run(st, [("put", {"shard": "s", "batch": (("a", 1),)}), ("freeze", {"shard": "s"})])
    st = run(st, [("flush", {"shard": "s"}), ("put", {"shard": "s", "batch": (("b", 2),)})])
    if name in ("flush", "crash", "fail flush"):
        st = step(st, "freeze", shard="s")
    return st


CALLS: dict[str, dict[str, object]] = {
    "new shard": {"shard": "s", "batch": (("a", 1),)},
    "put": {"shard": "s", "batch": (("c", 3),)},
    "delete": {"shard": "s", "pks": ("a",)},
    "crash": {},
}


@pytest.mark.parametrize("name", [n for n, e in EVENTS.items() if e.mutates])
def test_each_event_moves_generations_exactly_as_its_table_row_says(name: str) -> None:
    event = EVENTS[name]
    before = _ready(name)
    assert event.enabled(before, "s"), f"{name} not enabled in its ready state"
    after = step(before, name, **CALLS.get(name, {"shard": "s"}))
    assert after != before, f"{name} enabled but changed nothing"
    old, new = _statuses(before), _statuses(after)
    moved = {k for k in old if old[k] in event.source and new.get(k) != old[k]}
    if event.source:
        assert moved, f"{name}: no generation left {event.source}"
        assert all(new.get(k) in (event.target, None) for k in moved), (name, old, new)
    else:  # no status changes, except a new shard's first active generation
        assert all(new.get(k) == v for k, v in old.items())
    if event.target is not None:
        assert event.target in new.values()


@pytest.mark.parametrize("name", ["publish", "freeze", "flush", "release", "compact"])
def test_each_event_is_a_noop_when_not_enabled(name: str) -> None:
    st = initial()
    assert not EVENTS[name].enabled(st, "s")
    assert step(st, name, shard="s") == st


def test_reads_are_not_steps() -> None:
    with pytest.raises(ValueError):
        step(initial(), "read arm")
    assert EVENTS["read arm"].apply is observe


def _stale_model_regions(text: str) -> list[str]:
    return specdoc.stale_regions(text, specdoc.collect(docs.SECTIONS), complete=False)


def test_spec_regions_rendered_from_the_model_are_fresh() -> None:
    text = specdoc.SPEC_PATH.read_text(encoding="utf-8")
    assert _stale_model_regions(text) == [], "run `asofcut spec`"


def test_a_hand_edit_of_a_generated_region_is_reported_stale() -> None:
    text = specdoc.SPEC_PATH.read_text(encoding="utf-8").replace("| `freeze` |", "| `thaw` |")
    assert _stale_model_regions(text) == ["lifecycle"]


def test_sections_render_markdown_tables() -> None:
    for name, produce in docs.SECTIONS.items():
        out = produce()
        assert out.endswith("\n") and "|---|" in out, name


def test_model_imports_only_the_standard_library_and_itself() -> None:
    for path in MODEL.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top == "model" or top in sys.stdlib_module_names, f"{path.name}: {name}"
