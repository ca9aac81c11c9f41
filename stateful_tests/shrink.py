"""Shrinking a failing script by replaying it: the matrix's shrinker.

Hypothesis finds a failing example fast and then spends most of a violating
cell's time shrinking it: every shrink attempt is a whole test case under the
engine, and the hazard-window macro (lists of moves inside one rule) is hard
for it to cut.  The machine already records every step it ran in ``replay``'s
vocabulary (``Harness.script``), so a failing run hands us a plain script, and
this module minimises that script directly, each attempt one cheap replay:

1. **delete** chunks of steps, halving the chunk size down to single steps
   (delta debugging); deleting an arm deletes the checks of its cut, and the
   later arms' numbers move down so every check still names its own arm;
2. **simplify** what is left, one step at a time: a batch loses rows, an arm
   loses the write that landed inside it, a two-phase read loses moves or
   becomes one of them, and a write becomes a freeze of its shard (an
   auto-freeze takes several writes; an explicit freeze is one step);
3. repeat while anything changed.

An attempt is kept only if its replay fails with the same kind of finding
(``SoundnessViolation`` stays a violation, ``Disagreement`` a disagreement).
The result is 1-minimal: no single step can be deleted and no single
simplification applied without losing the failure.  Replays are
deterministic (one process, one story), so the shrink is too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from model.designs import Design
from stateful_tests.hazards import Hazard
from stateful_tests.machine import BackendFactory, Finding, Step, impl_backend, replay

#: steps that take a new arm number (``Harness.arms``)
ARMING = ("arm", "two_phase")
MAX_ROUNDS = 8  # a safety bound; in practice two or three rounds reach a fixed point


@dataclass(frozen=True)
class Shrunk:
    """The minimised script, the failure it still raises, and how many replays it took."""

    script: tuple[Step, ...]
    finding: Finding
    replays: int

    @property
    def story(self) -> str:
        return str(self.finding)


def fails(design: Design, hazard: Hazard, script: Sequence[Step], kind: type[Finding],
          backend: BackendFactory = impl_backend) -> Finding | None:
    """Replay ``script``; the finding it raises if it is a ``kind``, else None."""
    try:
        replay(design, hazard, script, backend)
    except kind as e:
        return e
    except Finding:  # another kind of finding
        return None
    return None


def without(script: Sequence[Step], drop: set[int]) -> tuple[Step, ...]:
    """``script`` without the steps at ``drop``, with checks renumbered to their own arms."""
    arm_of: dict[int, int] = {}  # old arm number → new one (arms kept)
    old = new = 0
    for i, s in enumerate(script):
        if s[0] in ARMING:
            old += 1
            if i not in drop:
                new += 1
                arm_of[old] = new
    out: list[Step] = []
    for i, s in enumerate(script):
        if i in drop:
            continue
        if s[0] == "check":
            if s[1] not in arm_of:
                continue  # its arm is gone
            s = ("check", arm_of[s[1]], s[2])
        out.append(s)
    return tuple(out)


def replaced(script: Sequence[Step], i: int, step: Step) -> tuple[Step, ...]:
    """``script`` with step ``i`` replaced by ``step``; when that takes away an arm (a
    two-phase read becoming its move), the checks are renumbered as by ``without``."""
    if script[i][0] in ARMING and step[0] not in ARMING:
        rest = without(script, {i})
        return (*rest[:i], step, *rest[i:])
    return (*script[:i], step, *script[i + 1:])


def simpler(step: Step) -> Iterator[Step]:
    """Each one-notch simplification of ``step`` (fewer rows, no inner write, fewer moves)."""
    kind = step[0]
    if len(step) == 2 and not isinstance(step[1], int) and kind not in ("arm", "two_phase"):
        keys = tuple(step[1])
        if kind not in ("put", "delete"):  # any key stands for its shard: keep the first
            yield (kind, keys[0])
        elif len(keys) > 1:
            for i in range(len(keys)):
                rest = keys[:i] + keys[i + 1:]
                yield (kind, rest[0] if len(rest) == 1 else rest)
    if kind in ("put", "delete"):
        first = step[1] if isinstance(step[1], int) else step[1][0]
        yield ("freeze", first)
    elif kind == "arm" and len(step) > 1 and step[1] is not None:
        yield ("arm", None)
    elif kind == "two_phase":
        ops = tuple(step[1])
        for i in range(len(ops)):
            yield ("two_phase", ops[:i] + ops[i + 1:])
        for op in ops:  # the read itself may be noise around the move that matters
            yield tuple(op)
        for i, (op, keys) in enumerate(ops):
            for s in simpler((op, keys)):
                yield ("two_phase", ops[:i] + (s,) + ops[i + 1:])


def shrink(design: Design, hazard: Hazard, script: Sequence[Step], kind: type[Finding],
           backend: BackendFactory = impl_backend) -> Shrunk:
    """Minimise a script whose replay raises ``kind`` (see the module docstring)."""
    best = tuple(script)
    replays = 1
    finding = fails(design, hazard, best, kind, backend)
    if finding is None:
        raise ValueError(f"the script does not fail with {kind.__name__} on replay: {best}")

    def attempt(candidate: tuple[Step, ...]) -> bool:
        nonlocal best, finding, replays
        if candidate == best:
            return False
        replays += 1
        f = fails(design, hazard, candidate, kind, backend)
        if f is None:
            return False
        best, finding = candidate, f
        return True

    for _ in range(MAX_ROUNDS):
        changed = False
        size = max(1, len(best) // 2)
        while size >= 1:
            i = len(best) - size  # from the end: late steps are the likeliest to be noise
            while i >= 0:
                if attempt(without(best, set(range(i, min(i + size, len(best)))))):
                    changed = True
                i -= size
            size //= 2
        for i in range(len(best)):
            for s in simpler(best[i]):
                if attempt(replaced(best, i, s)):
                    changed = True
                    break
        if not changed:
            break
    assert finding is not None
    return Shrunk(best, finding, replays)
