"""A failing story as a plain pytest file: the regression test a reviewer can run alone.

The machine records the steps it ran (``Harness.script``, the format
``replay`` takes).  ``render(design, hazard, script)`` replays them once more
on ``impl`` through a recording backend and writes what happened as a test
that needs only ``impl`` and pyarrow — no Hypothesis, no model:

* every backend call of a step becomes the same ``impl`` call (a write
  landing inside an arm or a two-phase read becomes a ``between`` function);
* every arm asserts the cut and the observed PKs it returned, every check
  the members it answered, every two-phase read the base rows it dropped:
  literals, as observed in this run, where impl and model agreed;
* the failing step ends the test.  A ``SoundnessViolation`` is pinned: the
  last assertion is that the check claims PKs its arm never observed, so the
  file passes while the design over-counts on this story and fails once it
  does not.  A ``Disagreement`` asserts the model's values (still literals),
  so the file fails until impl is fixed, like any regression test.

``stateful_tests.machine`` notes the rendered file when a machine fails (the
final, shrunk run only), and ``asofcut repro`` writes it to disk.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from model import read as mread
from model.designs import Design
from stateful_tests.backend import (
    ArmView,
    Backend,
    CutKey,
    ShardView,
    TwoPhaseView,
    model_cut_key,
    model_stats,
)
from stateful_tests.hazards import HAZARDS, Hazard, impl_options, splits_arm
from stateful_tests.machine import (
    BASE,
    PKS,
    BackendFactory,
    Disagreement,
    Finding,
    Harness,
    SoundnessViolation,
    impl_backend,
    run_step,
)

CUT_TYPES = ("AsOfCut", "Cut", "ExactCut", "WalPositionCut")
#: Backend methods that are one ``impl`` call on one shard, emitted as ``wal.shard(s).<name>()``.
SHARD_MOVES = ("publish", "freeze", "flush", "release", "sync")


class NotReproduced(RuntimeError):
    """The script ran clean on a fresh impl: there is no failure to write down."""


@dataclass
class Call:
    """One backend call: its name, arguments, answer, and the calls made inside it."""

    name: str
    args: tuple[Any, ...]
    invariant: bool  # made by the after-step checks, not by the step itself
    result: Any = None
    inner: list[Call] = field(default_factory=list)


class Recorder:
    """A ``Backend`` over ``ImplBackend`` that writes down every call and its answer."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self.steps: list[list[Call]] = []  # calls per script step
        self.invariant = False
        self._sink: list[Call] = []

    def start_step(self) -> None:
        self._sink = []
        self.steps.append(self._sink)
        self.invariant = False

    def _call(self, name: str, args: tuple[Any, ...], fn: Callable[..., Any],
              between: Callable[[], None] | None = None) -> Any:
        call = Call(name, args, self.invariant)
        self._sink.append(call)
        inner_between = None
        if between is not None:

            def inner_between() -> None:
                outer, self._sink = self._sink, call.inner
                try:
                    between()
                finally:
                    self._sink = outer

        call.result = fn(inner_between) if name in ("arm", "two_phase") else fn()
        return call.result

    def put(self, shard: str, rows: Sequence[tuple[int, str]]) -> None:
        self._call("put", (shard, tuple(rows)), lambda: self.inner.put(shard, rows))

    def delete(self, shard: str, pks: Sequence[int]) -> None:
        self._call("delete", (shard, tuple(pks)), lambda: self.inner.delete(shard, pks))

    def publish(self, shard: str) -> None:
        self._call("publish", (shard,), lambda: self.inner.publish(shard))

    def freeze(self, shard: str) -> None:
        self._call("freeze", (shard,), lambda: self.inner.freeze(shard))

    def flush(self, shard: str) -> None:
        self._call("flush", (shard,), lambda: self.inner.flush(shard))

    def release(self, shard: str) -> None:
        self._call("release", (shard,), lambda: self.inner.release(shard))

    def sync(self, shard: str) -> None:
        self._call("sync", (shard,), lambda: self.inner.sync(shard))

    def fail_flush(self, shard: str) -> None:
        self._call("fail_flush", (shard,), lambda: self.inner.fail_flush(shard))

    def compact(self) -> None:
        self._call("compact", (), self.inner.compact)

    def crash_reopen(self) -> None:
        self._call("crash_reopen", (), self.inner.crash_reopen)

    def shards(self) -> list[str]:
        result: list[str] = self._call("shards", (), self.inner.shards)
        return result

    def stats(self, shard: str) -> ShardView:
        result: ShardView = self._call("stats", (shard,), lambda: self.inner.stats(shard))
        return result

    def scan(self) -> dict[int, str]:
        result: dict[int, str] = self._call("scan", (), self.inner.scan)
        return result

    def arm(self, design: str, capture: str,
            between: Callable[[], None] | None = None) -> ArmView:
        result: ArmView = self._call(
            "arm", (design, capture), lambda b: self.inner.arm(design, capture, b), between)
        return result

    def check(self, pks: Iterable[int], arm: ArmView, *, wide: bool = False) -> frozenset[int]:
        keys = tuple(pks)
        result: frozenset[int] = self._call(
            "check", (keys, arm, wide), lambda: self.inner.check(keys, arm, wide=wide))
        return result

    def two_phase(self, design: str, capture: str,
                  between: Callable[[], None] | None = None) -> TwoPhaseView:
        result: TwoPhaseView = self._call(
            "two_phase", (design, capture), lambda b: self.inner.two_phase(design, capture, b),
            between)
        return result

    def close(self) -> None:
        self.inner.close()


# ---------------------------------------------------------------------------
# Running the script again, and what the model said at the failing step
# ---------------------------------------------------------------------------


@dataclass
class Run:
    """The recorded replay: calls per step, the story, the finding, the model's answers."""

    design: Design
    hazard: Hazard
    recorder: Recorder
    story: list[str]
    told: list[int]  # story lines told by the end of each step
    finding: Finding
    #: at the failing step, for a Disagreement: what the model said, per recorded call
    model: dict[int, Any] = field(default_factory=dict)

    @property
    def split(self) -> bool:
        """The arm's between-window is the H5a/H15 one (``between_reads``), not H1's."""
        return splits_arm(impl_options(self.hazard))


def record(design: Design | str, hazard: Hazard | str, script: Sequence[tuple[Any, ...]],
           backend: BackendFactory = impl_backend) -> Run:
    """Replay ``script`` on a fresh impl, recording every call, up to its ``Finding``."""
    d = Design(design)
    h_ = HAZARDS[hazard] if isinstance(hazard, str) else hazard
    holder: list[Recorder] = []

    def factory(hz: Hazard) -> Backend:
        holder.append(Recorder(backend(hz)))
        return holder[0]

    h = Harness(d, h_, factory)
    rec = holder[0]
    told: list[int] = []
    try:
        for step in script:
            before = h.state
            rec.start_step()
            try:
                run_step(h, step)
                rec.invariant = True
                h.agree()
                h.check_all_live()
                told.append(len(h.story))
            except Finding as e:
                run = Run(d, h_, rec, list(h.story), [*told, len(h.story)], e)
                if isinstance(e, Disagreement):
                    run.model = _model_answers(h, rec.steps[-1], before)
                return run
    finally:
        h.close()
    raise NotReproduced(f"{d.value} × {h_.name}: the script ran clean on a fresh impl")


def _model_answers(h: Harness, calls: list[Call], before: Any) -> dict[int, Any]:
    """The model's answer to each call of the failing step, keyed by ``id(call)``."""
    out: dict[int, Any] = {}
    cuts = {id(live.view): live for live in h.live.values() if live.view is not None}
    for c in calls:
        if c.name == "shards":
            out[id(c)] = [sid for sid, _ in h.state.shards]
        elif c.name == "stats":
            s = h.state.shard(c.args[0])
            out[id(c)] = model_stats(s) if s is not None else None
        elif c.name == "scan":
            out[id(c)] = mread.scan(h.state, with_base=True)
        elif c.name == "check" and id(c.args[1]) in cuts:
            live = cuts[id(c.args[1])]
            out[id(c)] = mread.membership(h.design, live.cut, h.state, c.args[0],
                                          same_width=not c.args[2])
        elif c.name in ("arm", "two_phase"):
            obs = mread.observe(before)
            later = h.state if c.name == "arm" and c.inner else None
            cut = mread.capture(h.design, obs, h.capture, later)
            out[id(c)] = (model_cut_key(h.design, cut), obs.pks)
            if c.name == "two_phase":
                view: TwoPhaseView = c.result
                want = mread.two_phase(h.design, obs, cut, h.state, view.base)
                out[id(c)] += (frozenset(view.base) - frozenset(want.base_kept),)
    return out


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def _cut_literal(design: str, key: CutKey) -> str:
    """impl's ``Cut`` for a cut key (``backend.impl_cut_key``'s shape), as source."""
    entries = []
    for sid, value in key:
        v: tuple[Any, ...] = value  # type: ignore[assignment]
        if v[0] == "AsOfCut":
            entries.append(f"{sid!r}: AsOfCut({v[1]}, {v[2]})")
        elif v[0] == "ExactCut":
            entries.append(f"{sid!r}: ExactCut({v[1]}, {tuple(v[2])!r})")
        else:
            entries.append(f"{sid!r}: WalPositionCut({v[1]})")
    return f"Cut({design!r}, {{{', '.join(entries)}}})"


def _set(values: Iterable[Any]) -> str:
    items = sorted(values)
    return "{" + ", ".join(map(repr, items)) + "}" if items else "set()"


class _Writer:
    """Turns recorded calls into test-body lines."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.names: dict[int, str] = {}  # id(ArmView) -> variable holding impl's result
        self.count = 0
        self.lines: list[str] = []
        self.last_claim: tuple[str, str, frozenset[int]] | None = None
        self.cut_types: set[str] = {"Cut"}

    def emit(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)

    def comment(self, text: str) -> None:
        for line in textwrap.wrap(text, 92, subsequent_indent="    "):
            self.emit(f"# {line}")

    def moves(self, calls: list[Call], indent: int) -> None:
        for c in calls:
            if c.name == "put":
                shard, rows = c.args
                self.emit(f"put(wal, {shard!r}, {list(rows)!r})", indent)
            elif c.name == "delete":
                self.emit(f"wal.shard({c.args[0]!r}).delete({list(c.args[1])!r})", indent)
            elif c.name in SHARD_MOVES:
                self.emit(f"wal.shard({c.args[0]!r}).{c.name}()", indent)
            elif c.name == "compact":
                self.emit("wal.compact()", indent)
            elif c.name == "crash_reopen":
                self.emit("wal.crash()", indent)
                self.emit("wal = MemWal.open(root, OPTIONS)", indent)
            elif c.name == "fail_flush":
                self.emit(f"fail_flush(wal, {c.args[0]!r})", indent)
            else:  # pragma: no cover - reads never happen inside a between window
                raise ValueError(c.name)

    def step(self, calls: list[Call], final: bool) -> None:
        model = self.run.model if final else {}
        for c in calls:
            # The after-step checks of a passing step saw impl = model: not repeated.  At the
            # failing step, a violation shows its checks; a disagreement everything compared.
            if c.invariant and not (final and (model or c.name == "check")):
                continue
            if c.name in ("arm", "two_phase"):
                self.read(c, model.get(id(c)))
            elif c.name == "check":
                self.check(c, model.get(id(c)))
            elif c.name == "scan":
                self.emit(f"assert scan(wal) == {model.get(id(c), c.result)!r}")
            elif c.name == "stats" and final and id(c) in model:
                self.emit(f"assert stats(wal, {c.args[0]!r}) == {_stats(model[id(c)])}")
            elif c.name == "shards":
                self.emit(f"assert wal.shards() == {model.get(id(c), c.result)!r}")
            elif c.name != "stats":
                self.moves([c], 1)

    def read(self, c: Call, model: Any) -> None:
        self.count += 1
        between = "None"
        if c.inner:
            between = f"between_{self.count}"
            self.emit(f"def {between}() -> None:")
            self.moves(c.inner, 2)
        if c.name == "arm":
            var, view = f"arm{self.count}", c.result
            split = "between_reads" if self.run.split else "between_scan_and_capture"
            window = "" if between == "None" else f", {split}={between}"
            self.emit(f"{var} = wal.scanner(DESIGN, CAPTURE).scan(with_base=False{window})")
            result = var
        else:
            var = f"read{self.count}"
            self.emit(f"{var} = wal.two_phase_read(DESIGN, CAPTURE, {between})")
            view = c.result.arm
            result = f"{var}.arm"
        self.names[id(c.result)] = var
        key, pks = model[:2] if model else (view.cut_key, view.observed_pks)
        if self.run.design is Design.PINNED_CUT:
            # the pinned base version number is impl's own: compare what the cut key holds
            want = {sid: (v[1], tuple(v[2])) for sid, v in key}  # type: ignore[index]
            self.emit(f"assert {{sid: (e.pinned_through, e.wal_ranges) for sid, e in "
                      f"{result}.cut.shards.items()}} == {want!r}")  # type: ignore[union-attr]
        else:
            literal = _cut_literal(self.run.design.value, key)
            self.cut_types.update(t for t in CUT_TYPES if f"{t}(" in literal)
            self.emit(f"assert {result}.cut == {literal}")
        self.emit(f"assert observed({result}) == {_set(pks)}")
        if c.name == "two_phase":
            tp: TwoPhaseView = c.result
            dropped = model[2] if model else tp.superseded
            self.emit(f"assert dropped({var}) == {_set(dropped)}")
            self.last_claim = (f"dropped({var})", f"observed({var}.arm)",
                               tp.superseded - tp.arm.observed_pks)

    def check(self, c: Call, model: Any) -> None:
        keys, view, wide = c.args
        var = self.names[id(view)]
        members = c.result if model is None else model
        call = f"members(wal, {var}.cut{', wide=True' if wide else ''})"
        self.emit(f"assert {call} == {_set(members)}")
        self.last_claim = (call, f"observed({var})", c.result - view.observed_pks)


def _stats(s: ShardView | None) -> str:
    if s is None:
        return "None"
    return repr((s.epoch, s.active_generation, s.active_committed, s.active_visible,
                 s.frozen, s.retained, s.sstables, s.compacted_through))


HEADER = '''"""Regression: {design} × {hazard}, a story shrunk by the state machine.

{about}

{story}

{verdict}
"""

from pathlib import Path

import pyarrow as pa

from impl import {imports}

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
BASE = {base!r}
OPTIONS = MemWalOptions(**{options!r})
DESIGN, CAPTURE = {design!r}, {capture!r}
PKS = {pks!r}


{helpers}def test_{name}(tmp_path: Path) -> None:
    root = tmp_path / "t"
    base = pa.table({{"id": list(BASE), "v": list(BASE.values())}}, schema=SCHEMA)
    wal = MemWal.create(root, SCHEMA, "id", OPTIONS, base=base)
'''

#: helper functions a generated test may use, each emitted only if the test body calls it
HELPERS: dict[str, str] = {
    "put": """def put(wal: MemWal, shard: str, rows: list[tuple[int, str]]) -> None:
    table = pa.table({"id": [k for k, _ in rows], "v": [v for _, v in rows]}, schema=SCHEMA)
    wal.shard(shard).put(table)
""",
    "observed": """def observed(arm: ScanResult) -> set[int]:
    return set(arm.observed_pks.to_pylist())
""",
    "members": """def members(wal: MemWal, cut: Cut, wide: bool = False) -> set[int]:
    scanner = wal.scanner()
    probe = pa.array(PKS, pa.int32()) if wide else PKS  # wide: keys of another width (H12)
    if cut.design == "live_tier":
        hit = scanner.contains_pks(probe)
    else:
        hit = scanner.contains_pks_as_of(probe, cut)
    return {k for k, h in zip(PKS, hit.to_pylist(), strict=True) if h}
""",
    "dropped": """def dropped(read: TwoPhaseResult) -> set[int]:
    base = read.base.column("id").to_pylist()
    return {k for k, s in zip(base, read.superseded.to_pylist(), strict=True) if s}
""",
    "fail_flush": """def fail_flush(wal: MemWal, shard: str) -> None:
    wal.shard(shard).fail_next_flush()
    try:
        wal.shard(shard).flush()
    except FlushFailedError:
        return
    raise AssertionError("the injected flush failure did not fail the flush")
""",
    "scan": """def scan(wal: MemWal) -> dict[int, str]:
    t = wal.scanner("live_tier").scan(with_base=True).table
    return dict(zip(t.column("id").to_pylist(), t.column("v").to_pylist(), strict=True))
""",
    "stats": """def stats(wal: MemWal, shard: str) -> tuple[object, ...]:
    s = wal.shard(shard).stats()
    return (s.writer_epoch, s.active_generation, s.active_committed, s.active_visible,
            tuple(s.frozen), tuple(s.retained), tuple(s.sstables), s.compacted_through)
""",
}
#: impl names each helper needs imported
HELPER_IMPORTS = {"observed": "ScanResult", "members": "Cut", "dropped": "TwoPhaseResult",
                  "fail_flush": "FlushFailedError"}


VIOLATION = """The check claims a PK its read arm never observed, so the base row of that PK
would be dropped with no replacement (a missing row). The last assertion pins that violation:
this test passes while `{design}` over-counts on this story and fails once it does not."""

DISAGREEMENT = """impl and the model disagreed. The assertions of the failing step expect the
model's values, so this test fails until impl (or the model) is fixed."""


def render(design: Design | str, hazard: Hazard | str, script: Sequence[tuple[Any, ...]],
           backend: BackendFactory = impl_backend) -> str:
    """The pytest file for ``script``'s failure on a fresh impl (see the module docstring).

    ``backend`` is what the story is replayed on to record it (a test may plant a bug there);
    the file itself always runs on ``impl``.
    """
    run = record(design, hazard, script, backend)
    d, h = run.design, run.hazard
    w = _Writer(run)
    steps = run.recorder.steps
    for i, calls in enumerate(steps):
        for line in run.story[run.told[i - 1] if i else 0 : run.told[i]]:
            w.comment(line)  # the story lines this step told, above its code
        w.step(calls, final=i == len(steps) - 1)
    w.comment(f"✗ {str(run.finding).splitlines()[-1].removeprefix('✗ ')}")
    if isinstance(run.finding, SoundnessViolation):
        if w.last_claim is None:  # pragma: no cover - a violation is always found by a check
            raise NotReproduced("a violation without a check")
        claimed, observed, over = w.last_claim
        w.emit(f"assert {claimed} - {observed} == {_set(over)}  # never observed: over-count")
        verdict = VIOLATION.format(design=d.value)
    else:
        verdict = DISAGREEMENT
    body = "\n".join(w.lines) + "\n"
    used = [name for name in HELPERS if re.search(rf"(?<![\w.]){name}\(", body)]
    imports = w.cut_types | {"MemWal", "MemWalOptions"} | {
        HELPER_IMPORTS[n] for n in used if n in HELPER_IMPORTS}
    about = (f"Column {h.name}: {h.title}. Generated by `asofcut repro {d.value} {h.name}`; it "
             "replays the story on impl with plain asserts (no Hypothesis, no model). The story, "
             "as the machine told it:")
    header = HEADER.format(
        about=textwrap.fill(about, 96),
        design=d.value, hazard=h.name, title=h.title,
        story="\n".join(
            "\n".join(textwrap.wrap(line, 96, initial_indent="    ", subsequent_indent="      "))
            for line in str(run.finding).splitlines()),
        verdict=verdict, base=BASE, options=impl_options(h), capture=h.capture.value,
        pks=list(PKS),
        name=f"{d.value}_{h.name}_story".lower(),
        imports=", ".join(sorted(imports)),
        helpers="".join(HELPERS[n] + "\n\n" for n in used),
    )
    return header + body
