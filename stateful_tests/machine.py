"""The state machine: one alphabet drives a real fresh tier and the model together.

Design:

* **One alphabet, read from the model.**  Every write-side move — put, delete,
  publish (frozen tails included), freeze, flush, release, compact, new shard,
  crash + reopen — goes through ``Harness.apply``, which asks the ``MOVES``
  table below whether the move does anything now (its guard is the model's
  event table, ``model.events.EVENTS``: no second copy of the lifecycle) and
  which gate it needs, then runs it on the backend (``backend.Backend``;
  ``ImplBackend`` by default) *and* on the model (``model.events.step``), and
  appends a numbered line to the story.  Rules, the scan-to-capture window of
  an arm and the between-window of a two-phase read all go through it, so the
  three can never drift apart.
* **Batches of several rows.**  A put writes 1–4 rows, a delete 1–3 keys, all
  on one shard; a key may repeat inside a batch (the last row wins).  A cut
  counts *batches*, the check slices *rows*: only multi-row batches tell the
  two apart.  Batches shrink toward one row.
* **Few choices per argument.**  A batch's keys are two choices (first key,
  more rows) and a window move three (kind, offset, more rows), each from a
  weighted alphabet listed simplest first (``weighted``): Hypothesis's cost is
  per choice, and the shrinker, driving a choice toward index 0, still reaches
  one-row batches of key 0.  No alphabet reaches 100 values, so a seeded run
  does not depend on the modules a process has loaded.
* **Keys collide on purpose.**  PKs 0..5, routed by ``route`` (pk % 3) to
  shards s0..s2, base table pre-populated with PKs 0..4: versions collide
  across generations, shards and the base.  Rule arguments are plain PKs and
  shard indexes, independent of the state (good shrinking); a move that does
  not apply is a no-op (``event``-counted), never an ``assume``.
* **Gates.**  The moves that break an assumption of the cut (a release, a
  compaction, a crash, a new shard while a cut is outstanding; freezing an
  unpublished tail; a write between an arm's scan and its capture) run only
  when the column's ``Hazard`` unlocks them (``stateful_tests.hazards``).
  ``machine_for(design, hazard)`` builds the class: one machine,
  parameterised, for every cell of the matrix.
* **Hazard window** (``hazard_window_*`` rules, built by ``machine_for``): a
  macro "moves → read arm → moves while the cut is outstanding → check",
  with random kinds and PKs.  Its alphabets are the baseline writes plus the
  kinds of move in the column's scenario, weighted ``HAZARD_WEIGHT``×
  (``alphabets``); PKs are offsets from a random anchor, two in three on the
  anchor's shard, so the moves cohere.  It adds frequency, never a check:
  gates still apply move by move and the invariants run after each sub-move.
  Columns whose violation needs a longer pattern get ``COLUMN_EXAMPLES``×
  the budget's steps (``matrix.run_cell``).
* **Checked after every step** (invariants): impl's shard set, per-shard
  stats and newest-row scan equal the model's; for every outstanding cut, impl
  membership of every PK equals the model's and every member was observed by
  its arm (soundness: PK-level, what decides a missing row).  Both are
  functions of the tier, so they are compared once per tier version: after an
  arm or a check, which change nothing, there is nothing new to compare, and a
  check right after the invariant takes the membership the invariant held to
  the model at that version.
* **At every arm:** impl's cut equals the model's field by field, and so do
  the observation (row ids), observed PKs and rows.  **At every check:** the
  same membership differential and soundness, plus tightness shortfalls
  counted by reason.  **Two-phase reads** are compared row for row.
* **Failures are typed and replayable.**  ``SoundnessViolation`` (an
  over-count: the design's fault) and ``Disagreement`` (impl ≠ model: a bug in
  one of them) both carry the numbered story; ``Harness.script`` holds the
  same run in ``replay``'s vocabulary, which is what ``stateful_tests.shrink``
  minimises and the regression tests commit.
* **Non-vacuity** ("sometimes" assertions): ``COUNTERS`` (per machine class)
  counts the interesting situations that really happened before a check — a
  cut inside a memtable, a multi-row batch, a flush / freeze / new shard /
  crash / compaction between arm and check, a frozen tail published after the
  arm.  The matrix asserts the column's witness counter is non-zero.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st
from hypothesis.control import should_note
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from model import read as mread
from model.designs import Capture, Design
from model.events import EVENTS, step
from model.invariants import tightness
from model.state import TOMBSTONE, State, Status
from model.state import initial as model_initial
from stateful_tests.backend import (
    ArmView,
    Backend,
    ImplBackend,
    describe_cut,
    model_cut_key,
    model_stats,
)
from stateful_tests.hazards import HAZARDS, Hazard, impl_options, model_arm, model_config

SHARDS: tuple[str, ...] = ("s0", "s1", "s2")
PKS: tuple[int, ...] = tuple(range(6))
BASE: dict[int, str] = {pk: f"b{pk}" for pk in range(5)}
MAX_LIVE = 3  # outstanding cuts at once (each is re-checked after every step)
WRITE_KINDS = ("put", "delete", "publish", "freeze", "flush", "release", "compact")
MAX_PUT_ROWS = 4  # rows in one put batch (a key may repeat: the last row wins)
MAX_DELETE_KEYS = 3  # keys in one delete batch
SAME_SHARD_STEPS = (0, len(SHARDS))  # key steps that stay on a key's shard
#: a window move: (kind, offset of its first key from the anchor, more rows' steps)
WindowOp = tuple[str, int, tuple[int, ...]]
#: one step of a script (``replay``): ``("put", 3)``, ``("put", (0, 3))``, ``("flush", 0)``,
#: ``("compact", 0)``, ``("arm", None | pk)``, ``("check", arm number, consume)``,
#: ``("two_phase", ((kind, keys), ...))``
Step = tuple[Any, ...]


#: a gate a move needs in this state (``hazards.GATES``), or None: ungated here
Gate = Callable[[State, str], "str | None"]


@dataclass(frozen=True)
class Move:
    """One kind of write-side move: when it does anything, which gate it needs, who runs it.

    ``enabled`` is read from the model's event table (``model.events.EVENTS``),
    so the machine holds no second copy of the lifecycle's guards; a tier-wide
    move (compact, crash) is enabled when its event is enabled on some shard.
    """

    event: str  # the move's row in ``EVENTS``
    gate: Gate
    runner: str  # the ``Harness`` method that runs it on backend and model
    tier_wide: bool = False

    def enabled(self, st: State, shard: str) -> bool:
        ok = EVENTS[self.event].enabled
        if self.tier_wide:
            return any(ok(st, sid) for sid, _ in st.shards)
        return ok(st, shard)


def _new_shard(st: State, shard: str) -> str | None:
    return "new_shard" if st.shard(shard) is None else None


def _invisible_tail(st: State, shard: str) -> str | None:
    s = st.shard(shard)
    return "freeze_invisible" if s is not None and s.active.visible < s.active.committed else None


def _ungated(st: State, shard: str) -> str | None:
    return None


def _always(gate: str) -> Gate:
    return lambda st, shard: gate


#: the write-side alphabet (h11 style: the table drives ``Harness.apply``)
MOVES: dict[str, Move] = {
    "put": Move("put", _new_shard, "_put"),
    "delete": Move("delete", _new_shard, "_delete"),
    "publish": Move("publish", _ungated, "_publish"),
    "freeze": Move("freeze", _invisible_tail, "_freeze"),
    "flush": Move("flush", _ungated, "_flush"),
    "release": Move("release", _always("release"), "_release"),
    "compact": Move("compact", _always("compact"), "_compact", tier_wide=True),
    "crash": Move("crash", _always("crash"), "_crash", tier_wide=True),
    "sync": Move("sync", _ungated, "_sync"),
    "fail flush": Move("fail flush", _always("flush_fails"), "_fail_flush"),
}
#: gates that hold even with no cut outstanding (freezing an unpublished tail
#: breaks the assumption for every *later* arm, not only for outstanding ones;
#: a failed flush is the column's own fault, injected nowhere else)
ALWAYS_GATED = frozenset({"freeze_invisible", "flush_fails"})


def route(pk: int) -> str:
    """The fixed key → shard map (each key is written through one shard only)."""
    return SHARDS[pk % len(SHARDS)]


def batch_keys(first: int, more: Sequence[int]) -> tuple[int, ...]:
    """A batch's keys: ``first``, then ``first + m`` for each step ``m`` (same shard)."""
    return (first, *((first + m) % len(PKS) for m in more))


class Finding(AssertionError):
    """A failure of the machine, with its story."""


class SoundnessViolation(Finding):
    """The check claimed a PK its arm never observed: a base row would vanish."""


class Disagreement(Finding):
    """impl and model answered differently: a bug in one of them."""


BackendFactory = Callable[[Hazard], Backend]


def impl_backend(h: Hazard, cls: type[ImplBackend] = ImplBackend) -> Backend:
    """impl under column ``h``'s options; ``cls``: a planted subclass (tests pass one
    with ``functools.partial``)."""
    return cls(BASE, **impl_options(h))


@dataclass
class Live:
    """An outstanding cut: the arm's answers on both sides and what happened since."""

    number: int
    view: ArmView
    obs: mread.Observation
    cut: mread.Cut
    since: set[str] = field(default_factory=set)
    checked: int = -1  # the harness version its membership was last held to the model at
    members: frozenset[int] = frozenset()  # impl's members then (held equal to the model's)


class Harness:
    """The machine's state and moves, without Hypothesis (``replay`` uses it directly)."""

    def __init__(self, design: Design, hazard: Hazard, backend: BackendFactory) -> None:
        self.design = design
        self.hazard = hazard
        self.capture = Capture(hazard.capture)
        self.options = impl_options(hazard)
        self.backend = backend(hazard)
        self.state: State = model_initial(BASE, model_config(self.options))
        self.story: list[str] = []
        #: every top-level step, in ``replay``'s vocabulary, recorded before it runs:
        #: a failing run's script ends with the step that failed (``stateful_tests.shrink``)
        self.script: list[Step] = []
        #: moves applied so far; what was compared at a version need not be compared again
        self.version = 0
        self._agreed = -1
        self._scanned = -1  # the version whose full scan (base included) was compared
        self._base_moved = False  # a compaction or crash since: compare the full scan next
        self.live: dict[int, Live] = {}
        self.arms = 0
        self.counters: Counter[str] = Counter()
        self.undercounts = 0
        self.noting = False  # the machine sets it; ``replay`` runs outside Hypothesis
        self.context = ""  # "  ↳ between …: " while a window is open

    # ----------------------------------------------------------------- story

    def tell(self, line: str) -> None:
        self.story.append(f"{len(self.story) + 1}. {self.context}{line}")
        if self.noting:
            note(self.story[-1])

    def event(self, label: str) -> None:
        if self.noting:
            event(label)

    def fail(self, kind: type[Finding], what: str) -> None:
        raise kind("\n".join([*self.story, f"✗ {what}"]))

    def _since(self, label: str) -> None:
        for live in self.live.values():
            live.since.add(label)

    # ----------------------------------------------------------------- moves

    def unlocked(self, gate: str, outstanding: bool) -> bool:
        return gate in self.hazard.unlocks or not outstanding

    def apply(self, kind: str, pk: int | Sequence[int], *,
              outstanding: bool | None = None) -> bool:
        """One move on backend and model; False when it does not apply (a no-op).

        ``pk`` is a key (put, delete) or a batch of keys on one shard, or any key
        standing for its shard (the other kinds).  Whether the move applies is
        the model's word (``MOVES[kind].enabled``, read from the event table);
        whether it may run now is the column's (``MOVES[kind].gate``).
        """
        keys = (pk,) if isinstance(pk, int) else tuple(pk)
        shard = route(keys[0])
        if kind in ("put", "delete") and len(keys) > 1:
            self.counters["multi-row batch"] += 1
        move = MOVES[kind]
        if not move.enabled(self.state, shard):
            return False
        gate = move.gate(self.state, shard)
        out = bool(self.live) if outstanding is None else outstanding
        if gate is not None and not self.unlocked(gate, out or gate in ALWAYS_GATED):
            return False
        if not self.context:  # a move inside an arm or a two-phase read is part of that step
            self.script.append((kind, keys[0] if len(keys) == 1 else keys))
        text: str = getattr(self, move.runner)(shard, keys)
        self.version += 1
        self.tell(text)
        return True

    # One method per kind: run it on the backend and on the model, note what the
    # outstanding cuts have lived through, and return the story line.

    def _put(self, shard: str, keys: tuple[int, ...]) -> str:
        n = len(self.story) + 1
        rows = tuple((k, f"v{n}" if len(keys) == 1 else f"v{n}.{i}") for i, k in enumerate(keys))
        new = self.state.shard(shard) is None
        self.backend.put(shard, rows)
        self.state = step(self.state, "put", shard=shard, batch=rows)
        text = f"put {shard} [{', '.join(f'{k}→{v!r}' for k, v in rows)}]"
        if self.hazard.publish_after_put:
            self.backend.publish(shard)
            self.state = step(self.state, "publish", shard=shard)
            text += " + publish"
        return text + self._wrote(shard, new)

    def _delete(self, shard: str, keys: tuple[int, ...]) -> str:
        new = self.state.shard(shard) is None
        self.backend.delete(shard, keys)
        self.state = step(self.state, "delete", shard=shard, pks=keys)
        return f"delete {shard} [{', '.join(map(str, keys))}]" + self._wrote(shard, new)

    def _wrote(self, shard: str, new: bool) -> str:
        self._since("write")
        if not new:
            return ""
        self._since("new shard")
        return f" (new shard {shard})"

    def _publish(self, shard: str, keys: tuple[int, ...]) -> str:
        s = self.state.shard(shard)
        assert s is not None  # enabled: an in-memory generation has invisible batches
        tails = [g for g in s.generations if g.status is Status.FROZEN and g.visible < g.committed]
        self.backend.publish(shard)
        self.state = step(self.state, "publish", shard=shard)
        if not tails:
            return f"publish {shard}"
        self._since("frozen tail published")
        if any(op is TOMBSTONE for g in tails for bt in g.batches[g.visible:] for _, op in bt):
            self._since("tombstone tail published")
        return f"publish {shard} (frozen tail {', '.join(str(g.number) for g in tails)})"

    def _freeze(self, shard: str, keys: tuple[int, ...]) -> str:
        s = self.state.shard(shard)
        assert s is not None  # enabled: the active memtable is non-empty
        invisible = s.active.visible < s.active.committed
        self.backend.freeze(shard)
        self.state = step(self.state, "freeze", shard=shard)
        self._since("freeze")
        return f"freeze {shard} (gen {s.active.number}{', unpublished tail' if invisible else ''})"

    def _flush(self, shard: str, keys: tuple[int, ...]) -> str:
        s = self.state.shard(shard)
        assert s is not None  # enabled: a frozen memtable exists
        g = next(g for g in s.generations if g.status is Status.FROZEN)
        self.backend.flush(shard)
        self.state = step(self.state, "flush", shard=shard)
        self._since("flush")
        if g.visible < g.committed:
            self._since("frozen tail published")
        if self.state.config.release_at_flush:
            self._released(shard, g.number)
        return f"flush {shard} (gen {g.number})"

    def _fail_flush(self, shard: str, keys: tuple[int, ...]) -> str:
        s = self.state.shard(shard)
        assert s is not None  # enabled: a flushable frozen memtable exists
        g = next(g for g in s.generations if g.status is Status.FROZEN and g.number not in s.failed)
        self.backend.fail_flush(shard)
        self.state = step(self.state, "fail flush", shard=shard)
        self._since("failed flush")
        return f"flush {shard} fails (gen {g.number} stays in memory)"

    def _sync(self, shard: str, keys: tuple[int, ...]) -> str:
        self.backend.sync(shard)
        self.state = step(self.state, "sync", shard=shard)
        return f"sync {shard} (WAL writes land)"

    def _release(self, shard: str, keys: tuple[int, ...]) -> str:
        s = self.state.shard(shard)
        assert s is not None  # enabled: a flushed generation is retained
        held = [g.number for g in s.generations if g.status is Status.RETAINED]
        self.backend.release(shard)
        self.state = step(self.state, "release", shard=shard)
        for g in held:
            self._released(shard, g)
        return f"release {shard} (gen {', '.join(map(str, held))})"

    def _compact(self, shard: str, keys: tuple[int, ...]) -> str:
        self.backend.compact()
        self.state = step(self.state, "compact", shard=None)
        self._base_moved = True
        self._since("compact")
        return "compact"

    def _crash(self, shard: str, keys: tuple[int, ...]) -> str:
        self.backend.crash_reopen()
        self.state = step(self.state, "crash", shard=None)
        self._base_moved = True
        self._since("crash")
        return "crash + reopen"

    def _released(self, shard: str, generation: int) -> None:
        for live in self.live.values():
            c = live.cut.get(shard)
            if c is not None and c.active_generation == generation:
                live.since.add("active generation released")

    # ----------------------------------------------------------------- reads

    def _arm_agrees(self, view: ArmView, obs: mread.Observation, cut: mread.Cut, what: str) -> None:
        mkey = model_cut_key(self.design, cut)
        if view.cut_key != mkey:
            self.fail(Disagreement, f"{what}: impl cut {describe_cut(view.cut_key)} "
                      f"≠ model cut {describe_cut(mkey)}")
        ids = frozenset(tuple(i) for i in obs.ids)
        if view.observed != ids:
            self.fail(Disagreement, f"{what}: impl observed {sorted(view.observed ^ ids)} "
                      "in the symmetric difference with the model's observation")
        if view.observed_pks != obs.pks:
            self.fail(Disagreement, f"{what}: observed PKs impl {sorted(view.observed_pks)} "
                      f"≠ model {sorted(obs.pks)}")  # type: ignore[type-var]
        rows = mread.newest(obs.seen)
        if view.rows != rows:
            self.fail(Disagreement, f"{what}: arm rows impl {view.rows} ≠ model {rows}")

    def arm(self, write_pk: int | None = None) -> int:
        """A read arm; where the column splits the arm in two reads (H1: scan, then
        count; H5a: SSTable list, then memtables; H15: rows, then counts), a move of
        the column's ``during`` kind may land between them, on ``write_pk``'s shard."""
        self.script.append(("arm", write_pk))
        t0 = self.state
        wrote: list[bool] = []
        between = None
        if write_pk is not None and "between_reads" in self.hazard.unlocks:
            kind = next((k for k, _ in self.hazard.scenario.during), "put")

            def between() -> None:
                self.context = f"  ↳ between arm #{self.arms}'s two reads: "
                try:
                    wrote.append(self.apply(kind, write_pk, outstanding=True))
                finally:
                    self.context = ""

        self.arms += 1
        number = self.arms
        view = self.backend.arm(self.design.value, self.capture.value, between)
        obs, cut = model_arm(self.design, self.capture, self.options, t0,
                             self.state if any(wrote) else None)
        if any(wrote):
            self.counters["write between the arm's reads"] += 1
        if any(g.status is Status.ACTIVE and g.committed > g.visible
               for _, s in obs.at.shards for g in s.generations):
            self.counters["arm with committed > visible"] += 1
        self.tell(f"read arm #{number} → cut {describe_cut(view.cut_key)}; "
                  f"observed PKs {sorted(view.observed_pks)}")
        self._arm_agrees(view, obs, cut, f"read arm #{number}")
        self.live[number] = Live(number, view, obs, cut)
        return number

    def _members(self, live: Live, what: str, wide: bool = False) -> frozenset[int]:
        """impl membership of every PK under ``live``'s cut, held to the model's.

        ``wide``: the probe keys are of another integer width (H12).  Membership is a
        function of the tier and the cut, so a cut already held to the model at this
        version (by the invariant, after the last move) answers what it answered then:
        a check right after the invariant asks neither side again."""
        if not wide and live.checked == self.version:
            return live.members
        got = self.backend.check(PKS, live.view, wide=wide)
        want = mread.membership(self.design, live.cut, self.state, PKS, same_width=not wide)
        if got != want:
            self.fail(Disagreement, f"{what}: impl members {sorted(got)} ≠ model members "
                      f"{sorted(want)} under cut {describe_cut(live.view.cut_key)}")  # type: ignore[type-var]
        if not wide:
            live.checked, live.members = self.version, got
        return got

    def _sound(self, live: Live, members: Iterable[int], what: str) -> None:
        over = sorted(set(members) - live.view.observed_pks)
        if over:
            base = self.state.base_rows()
            pk = over[0]
            fate = (f"base row {pk}→{base[pk]!r} would vanish" if pk in base
                    else "no base row today, but any base row for it would vanish")
            self.counters["violation"] += 1
            self.fail(SoundnessViolation,
                      f"{what} under cut #{live.number} ({describe_cut(live.view.cut_key)}) "
                      f"claims PK {pk}, arm #{live.number} never observed it: {fate}")

    def check_all_live(self) -> None:
        """Every outstanding cut: membership agrees with the model, and is sound.

        Membership is a function of the tier and the cut, so a cut already held
        to the model at this version (no move since) is not asked again.
        """
        for live in list(self.live.values()):
            if live.checked == self.version:
                continue
            what = f"after step {len(self.story)}, check"
            self._sound(live, self._members(live, what), what)

    def check(self, number: int, consume: bool, wide: bool = False) -> None:
        """A supersession check of every PK under arm ``number``'s cut (``wide``: with
        probe keys of another integer width, H12)."""
        self.script.append(("check", number, consume, wide) if wide else ("check", number, consume))
        live = self.live[number]
        what = f"check #{number}"
        members = self._members(live, what, wide)
        if wide:
            self.counters["check with keys of another width"] += 1
        self.tell(f"check under cut #{number}{' (consumed)' if consume else ''}"
                  f"{' with Int32 keys' if wide else ''} → members {sorted(members)}")
        self._sound(live, members, what)
        self._witness(live)
        for s in tightness(self.design, live.obs, live.cut, self.state):
            self.event(f"under-count: {s.reason}")
            self.counters[f"shortfall: {s.reason}"] += 1
        base = mread.check_base(self.design, live.obs, self.state)
        if (live.view.observed_pks & set(base)) - members:
            self.undercounts += 1
            self.counters["under-count"] += 1
        if consume:
            del self.live[number]

    def _witness(self, live: Live) -> None:
        for label in live.since:
            self.counters[f"{label} between arm and check"] += 1
            if label in ("frozen tail published", "tombstone tail published"):
                self.counters[f"{label} after the arm"] += 1
        for sid, s in live.obs.at.shards:
            now = self.state.shard(sid)
            g = now.generation(s.active.number) if now is not None else None
            if s.active.visible == 0 and g is not None and g.committed > 0:
                self.counters["arm on an empty active memtable"] += 1
            if s.active.visible and g is not None and g.committed > s.active.visible:
                self.counters["cut inside a memtable"] += 1
                self.event("cut inside a memtable")
                break
        self.counters["check"] += 1

    def window(self, anchor: int, before: Sequence[WindowOp],
               after: Sequence[WindowOp], write: int | None) -> int:
        """The hazard macro: moves → read arm → moves while it is outstanding → check.

        A move is ``(kind, offset, more)``: its first key is ``(anchor + offset) % 6``
        and a put or delete adds one row per entry of ``more`` at that key + 0 or + 3.
        Offsets 0 and 3 stay on the anchor's shard (the moves cohere; the shrinker
        drives offsets to 0 and ``more`` to empty: one-row batches).  The checks are
        not thinned: the invariants run after every sub-move exactly as after a rule.
        Returns the number of events told.
        """
        told = len(self.story)

        def moves(ops: Sequence[WindowOp], counter: str | None) -> None:
            for kind, off, more in ops:
                if self.apply(kind, batch_keys((anchor + off) % len(PKS), more)):
                    if counter:
                        self.counters[counter] += 1
                    self.agree(full=False)
                    self.check_all_live()

        moves(before, None)
        number = self.arm(None if write is None else (anchor + write) % len(PKS))
        self.agree(full=False)
        self.check_all_live()
        moves(after, "move between window arm and check")
        self.check(number, True, "wide_probe" in self.hazard.unlocks)
        return len(self.story) - told

    def two_phase(self, ops: Sequence[tuple[str, int | Sequence[int]]]) -> None:
        """Arm → writes landing in between → base read → check → merge, both sides."""
        self.script.append(("two_phase", tuple(ops)))
        obs = mread.observe(self.state)
        cut = mread.capture(self.design, obs, self.capture)
        self.arms += 1
        number = self.arms
        live = Live(number, obs=obs, cut=cut, view=None)  # type: ignore[arg-type]
        self.tell(f"two-phase read #{number}: arm")
        self.live[number] = live

        def between() -> None:
            self.context = f"  ↳ between two-phase arm #{number} and its check: "
            try:
                for kind, pk in ops:
                    if self.apply(kind, pk, outstanding=True):
                        self.counters["write between two-phase arm and check"] += 1
            finally:
                self.context = ""

        try:
            r = self.backend.two_phase(self.design.value, self.capture.value, between)
        finally:
            del self.live[number]
        live.view = r.arm
        self._arm_agrees(r.arm, obs, cut, f"two-phase read #{number}")
        want = mread.two_phase(self.design, obs, cut, self.state)
        sup = set(r.base) - set(want.base_kept)
        self.tell(f"two-phase read #{number}: check → base rows dropped {sorted(r.superseded)}")
        if r.superseded != sup:
            self.fail(Disagreement, f"two-phase read #{number}: impl dropped base rows "
                      f"{sorted(r.superseded)} ≠ model {sorted(sup)}")
        rows = sorted([*want.fresh.items(), *want.base_kept.items()])
        if sorted(r.rows) != rows:
            self.fail(Disagreement, f"two-phase read #{number}: impl rows {sorted(r.rows)} "
                      f"≠ model rows {rows}")
        self._sound(live, r.superseded, f"two-phase read #{number}")
        self._witness(live)
        if want.duplicates:
            self.undercounts += 1
            self.counters["under-count"] += 1
            self.event("two-phase duplicate (under-count)")

    # ------------------------------------------------------------ invariants

    def agree(self, *, full: bool = True) -> None:
        """impl's shards, stats and scan equal the model's (once per version: reads change
        neither side, so after an arm or a check there is nothing new to compare).

        ``full=False`` (the search, between its steps) compares the full scan, base table
        included, only after a compaction or a crash, the moves that change the base or
        replay the WAL; every arm compares the fresh tier's rows anyway, and the end of
        every test case compares the full scan.  ``replay`` (shrinking, regressions)
        compares everything after every step.
        """
        if self._agreed == self.version and (not full or self._scanned == self.version):
            return
        b = self.backend
        ids = [sid for sid, _ in self.state.shards]
        if b.shards() != ids:
            self.fail(Disagreement, f"shards: impl {b.shards()} ≠ model {ids}")
        for sid, s in self.state.shards:
            got, want = b.stats(sid), model_stats(s)
            if got != want:
                self.fail(Disagreement, f"stats of {sid}: impl {got} ≠ model {want}")
        if full or self._base_moved:
            got_rows, want_rows = b.scan(), mread.scan(self.state, with_base=True)
            if got_rows != want_rows:
                self.fail(Disagreement, f"scan: impl {got_rows} ≠ model {want_rows}")
            self._scanned, self._base_moved = self.version, False
        self._agreed = self.version

    def close(self) -> None:
        self.backend.close()


def replay(design: Design, hazard: Hazard, steps: Sequence[tuple[Any, ...]],
           backend: BackendFactory = impl_backend) -> Harness:
    """Run a committed story: ``("put", pk)``, ``("arm",)``, ``("check", arm, consume)``…

    Invariants run after every step, as in the machine; a ``Finding`` propagates.
    """
    h = Harness(design, hazard, backend)
    try:
        for s in steps:
            run_step(h, s)
            h.agree()
            h.check_all_live()
        return h
    finally:
        h.close()


def run_step(h: Harness, s: tuple[Any, ...]) -> None:
    """One step of a committed story (``Harness.script``'s format), without the invariants."""
    if s[0] == "arm":
        h.arm(*s[1:])
    elif s[0] == "check":
        h.check(*s[1:])
    elif s[0] == "two_phase":
        h.two_phase(s[1])
    else:
        h.apply(s[0], s[1] if len(s) > 1 else 0)


# ---------------------------------------------------------------------------
# The Hypothesis machine, one class per (design, hazard, backend).
# ---------------------------------------------------------------------------

pks = st.integers(min_value=0, max_value=len(PKS) - 1)
shard_pks = st.integers(min_value=0, max_value=len(SHARDS) - 1)  # a PK standing for its shard

# Compound arguments are drawn as few choices from weighted alphabets: Hypothesis's cost
# is per choice, and a window move drawn as (kind, offset, list of more rows) took five
# or six.  Each alphabet lists its values simplest first (the shrinker drives a choice
# toward index 0) and repeats a value by its weight; the weights are those the nested
# strategies had, so the search leans where it leaned before.
#
# No alphabet holds 100 values or more (``weighted`` refuses): now and then Hypothesis
# draws an integer from the constants in the source of the project's loaded modules,
# and it only collects those of magnitude >= 100.  A wider choice would then depend on
# which modules a process has imported (pytest's workers import more than
# ``asofcut verify``'s), and a seeded cell would not be the same run everywhere.

#: the offset of a window move's first key from the anchor: the anchor's shard (0 or 3)
#: two times in three
OFFSET_WEIGHTS: dict[int, int] = {0: 4, 3: 4, 1: 1, 2: 1, 4: 1, 5: 1}
#: the weight of one sequence of "more rows" per length, as a list strategy drew it: more
#: rows of a batch are steps from its first key (0 repeats the key, the last row wins; 3
#: is the shard's other key), so every key of a batch routes to one shard
MORE_WEIGHTS: dict[int, tuple[int, ...]] = {
    2: (8, 2, 1),  # up to two more rows (deletes, window moves): half are one-row batches
    3: (13, 4, 1, 1),  # up to three more (puts): lengths 0..3 drawn .39, .24, .12, .24
}
#: the widest alphabet one choice may draw from (see above)
MAX_ALPHABET = 99

T = TypeVar("T")


def weighted(values: Iterable[tuple[T, int]]) -> st.SearchStrategy[T]:
    """One choice among ``values`` (in shrink order), each repeated ``weight`` times."""
    alphabet = tuple(v for v, w in values for _ in range(w))
    if len(alphabet) > MAX_ALPHABET:
        raise ValueError(f"an alphabet of {len(alphabet)} values; at most {MAX_ALPHABET} "
                         "keep a seeded run independent of the modules a process loaded")
    return st.sampled_from(alphabet)


def more_rows(max_more: int) -> st.SearchStrategy[tuple[int, ...]]:
    """Up to ``max_more`` more rows of a batch: every sequence, shortest first, weighted."""
    return weighted((m, MORE_WEIGHTS[max_more][n]) for n in range(max_more + 1)
                    for m in itertools.product(SAME_SHARD_STEPS, repeat=n))


def _batch(max_rows: int) -> st.SearchStrategy[tuple[int, ...]]:
    """1..max_rows keys on one shard (two choices); shrinks toward a one-row batch of key 0."""
    return st.tuples(pks, more_rows(max_rows - 1)).map(lambda t: batch_keys(t[0], t[1]))


put_keys = _batch(MAX_PUT_ROWS)
delete_keys = _batch(MAX_DELETE_KEYS)
#: a window move's offset (window and scenario-template rules)
move_offsets = weighted(OFFSET_WEIGHTS.items())
#: the key of the write placed between an arm's two reads, as an offset, or None (one in three)
write_offsets = weighted([(None, 6), *OFFSET_WEIGHTS.items()])


def window_moves(kinds: Sequence[str]) -> st.SearchStrategy[WindowOp]:
    """A window move ``(kind, offset, more)``: three choices (kinds in ``kinds``' order,
    repeats weigh)."""
    return st.tuples(st.sampled_from(kinds), move_offsets, more_rows(MAX_DELETE_KEYS - 1))


class FreshTierMachine(RuleBasedStateMachine):
    """Drives a backend and the model in lock step (see the module docstring)."""

    design: ClassVar[Design] = Design.EXACT_CUT
    hazard: ClassVar[Hazard] = HAZARDS["baseline"]
    backend_factory: ClassVar[BackendFactory] = staticmethod(impl_backend)
    #: aggregated over every test case of this class (non-vacuity, matrix report)
    COUNTERS: ClassVar[Counter[str]]
    first_failure: ClassVar[float | None]
    first_failure_case: ClassVar[int]  # how many test cases it took to find the first failure
    last_failure_steps: ClassVar[int]
    last_failure_script: ClassVar[list[Step]]

    arms = Bundle("arms")

    def __init__(self) -> None:
        super().__init__()
        self.h = Harness(self.design, self.hazard, type(self).backend_factory)
        self.h.noting = True
        self.steps = 0

    def _run(self, fn: Callable[[], Any]) -> Any:
        self.steps += 1
        try:
            return fn()
        except Finding:
            cls = type(self)
            if cls.first_failure is None:
                cls.first_failure = time.perf_counter()
                cls.first_failure_case = cls.COUNTERS["test cases"] + 1
            cls.last_failure_steps = len(self.h.story)
            cls.last_failure_script = list(self.h.script)
            if should_note() and cls.backend_factory is impl_backend:
                # the shrunk story as a plain pytest file (stateful_tests.repro)
                from stateful_tests.repro import render

                try:
                    note(render(self.design, self.hazard, self.h.script))
                except Exception as e:  # noqa: BLE001 - never mask the finding itself
                    note(f"(no standalone repro: {type(e).__name__}: {e})")
            raise

    # -------------------------------------------------------------- writes

    @rule(keys=put_keys)
    def put(self, keys: tuple[int, ...]) -> None:
        if not self._run(lambda: self.h.apply("put", keys)):
            event("no-op: put to a gated new shard")

    @rule(keys=delete_keys)
    def delete(self, keys: tuple[int, ...]) -> None:
        if not self._run(lambda: self.h.apply("delete", keys)):
            event("no-op: delete to a gated new shard")

    @precondition(lambda self: "publish" in self.h.backend.capabilities)
    @precondition(lambda self: self.h.state.config.lagged and bool(self.h.state.shards))
    @rule(shard=shard_pks)
    def publish(self, shard: int) -> None:
        self._run(lambda: self.h.apply("publish", shard))

    @precondition(lambda self: "freeze" in self.h.backend.capabilities)
    @precondition(lambda self: bool(self.h.state.shards))
    @rule(shard=shard_pks)
    def freeze(self, shard: int) -> None:
        self._run(lambda: self.h.apply("freeze", shard))

    @precondition(lambda self: "flush" in self.h.backend.capabilities)
    @precondition(lambda self: bool(self.h.state.shards))
    @rule(shard=shard_pks)
    def flush(self, shard: int) -> None:
        self._run(lambda: self.h.apply("flush", shard))

    @precondition(lambda self: "release" in self.h.backend.capabilities)
    @precondition(lambda self: not self.h.state.config.release_at_flush)
    @precondition(lambda self: bool(self.h.state.shards))
    @rule(shard=shard_pks)
    def release(self, shard: int) -> None:
        self._run(lambda: self.h.apply("release", shard))

    @precondition(lambda self: "compact" in self.h.backend.capabilities)
    @precondition(lambda self: bool(self.h.state.shards))
    @rule()
    def compact(self) -> None:
        self._run(lambda: self.h.apply("compact", 0))

    @precondition(lambda self: "crash_reopen" in self.h.backend.capabilities)
    @precondition(lambda self: bool(self.h.state.shards))
    @rule()
    def crash_and_reopen(self) -> None:
        self._run(lambda: self.h.apply("crash", 0))

    # --------------------------------------------------------------- reads

    @precondition(lambda self: "arm" in self.h.backend.capabilities)
    @precondition(lambda self: len(self.h.live) < MAX_LIVE)
    @rule(target=arms, write_pk=st.none() | pks)
    def read_arm(self, write_pk: int | None) -> int:
        number: int = self._run(lambda: self.h.arm(write_pk))
        return number

    @precondition(lambda self: "check" in self.h.backend.capabilities)
    @rule(arm=consumes(arms))
    def check_and_forget(self, arm: int) -> None:
        self._run(lambda: self.h.check(arm, True))

    @precondition(lambda self: "check" in self.h.backend.capabilities)
    @rule(arm=arms)
    def check_and_keep(self, arm: int) -> None:
        self._run(lambda: self.h.check(arm, False))

    @precondition(lambda self: "two_phase" in self.h.backend.capabilities)
    @rule(ops=st.lists(st.tuples(st.sampled_from(WRITE_KINDS), put_keys), max_size=3))
    def two_phase_read(self, ops: list[tuple[str, tuple[int, ...]]]) -> None:
        self._run(lambda: self.h.two_phase(ops))

    # ---------------------------------------------------------- invariants

    @invariant()
    def impl_agrees_with_model(self) -> None:
        self._run(lambda: self.h.agree(full=False))
        self.steps -= 1

    @invariant()
    def every_outstanding_cut_is_sound(self) -> None:
        self._run(self.h.check_all_live)
        self.steps -= 1

    def teardown(self) -> None:
        type(self).COUNTERS.update(self.h.counters)
        type(self).COUNTERS["steps"] += self.steps
        type(self).COUNTERS["test cases"] += 1
        try:
            self._run(self.h.agree)  # the full scan, base included, at the end of the case
        finally:
            self.h.close()


HAZARD_WEIGHT = 3  # each move of the column's scenario appears this many times more
WINDOW_COPIES = 2  # the macro is listed this many times among the rules (its frequency)
#: the columns whose violation needs a longer pattern search this many times the
#: budget's steps, at least twice the steps to the first failure of the worst of 10
#: seeds (``run_cell(design, hazard, seed=s).counters["steps"]``, s = 0..9): H7 (a
#: 5-move pattern ending in a crash) 1,435; H13 1,181; H9 (pinned_cut: a durable write
#: and a pending one of one key, the arm, a crash, a write of a key the arm never saw,
#: helped by its scenario template) 435.  Every other column finds each violation
#: in 10 of 10 seeds within one budget (``asofcut matrix --seeds 10 --expected
#: VIOLATION``).  A violating cell stops at its first failure, so only the passing
#: cells pay it all.
COLUMN_EXAMPLES: dict[str, float] = {"H13": 2.0, "H7": 3.0, "H9": 2.0}
#: columns whose pattern the random window rarely composes get their hand-written
#: scenario's kinds, in order, as one more rule with random keys.  H9: a durable write
#: and a pending one of the same key, the arm, a crash, a write of the shard's other
#: key.  H8: a put and a freeze of one shard, the arm on its empty active memtable, a
#: put of the shard's other key (without it 30 of 30 seeds still find as_of_cut/FTW x H8,
#: at twice the median time: 0.3 s, not 0.15; a one-choice alphabet once missed a seed).
TEMPLATE_COLUMNS: frozenset[str] = frozenset({"H8", "H9"})


def alphabets(h: Hazard) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Column ``h``'s window alphabets (before the arm, after it).

    Baseline writes, plus the kinds of move in the column's hand-written
    scenario (``Hazard.scenario``: its events before and after the arm), each
    ``HAZARD_WEIGHT`` times: the search leans toward the moves the hazard is
    about, in random order and with random PKs.  Only kinds are borrowed; the
    gates still decide, move by move, what may run while a cut is outstanding.
    """
    before = ["put", "delete", "freeze", "flush"]
    after = ["put", "delete"]
    options = impl_options(h)
    if options["visibility"] == "lagged":
        before.append("publish")
        after.append("publish")
    if options["release"] == "explicit":
        before.append("release")
    before += list(dict.fromkeys(kind for kind, _ in h.scenario.before)) * HAZARD_WEIGHT
    after += list(dict.fromkeys(kind for kind, _ in h.scenario.after)) * HAZARD_WEIGHT
    return tuple(before), tuple(after)


def _window_rule(kinds: tuple[tuple[str, ...], tuple[str, ...]]) -> Callable[..., None]:
    """A hazard-window rule over ``kinds`` (random kinds and offsets, state-independent)."""
    op_before, op_after = window_moves(kinds[0]), window_moves(kinds[1])

    @precondition(lambda self: len(self.h.live) < MAX_LIVE)
    @rule(anchor=pks, before=st.lists(op_before, max_size=4),
          after=st.lists(op_after, max_size=3),
          write=write_offsets)
    def hazard_window(self: FreshTierMachine, anchor: int, before: list[WindowOp],
                      after: list[WindowOp], write: int | None) -> None:
        told: int = self._run(lambda: self.h.window(anchor, before, after, write))
        self.steps += told - 1  # one step per event, as for the single-move rules

    return hazard_window


def _shard_move_rule(name: str, move: str) -> Callable[..., None]:
    """A rule making ``move`` (a ``MOVES`` key) on a shard, when the backend offers ``name``."""

    @precondition(lambda self: name in self.h.backend.capabilities)
    @precondition(lambda self: bool(self.h.state.shards))
    @rule(shard=shard_pks)
    def shard_move(self: FreshTierMachine, shard: int) -> None:
        self._run(lambda: self.h.apply(move, shard))

    shard_move.__name__ = shard_move.__qualname__ = name  # how Hypothesis prints the step
    return shard_move


def _column_rules(h: Hazard) -> dict[str, Any]:
    """Rules only some columns have (added by ``machine_for``, so the other columns'
    rule sets, and hence their seeded runs, stay exactly as they are)."""
    out: dict[str, Any] = {}
    if impl_options(h).get("durability") == "after_visible":
        out["sync"] = _shard_move_rule("sync", "sync")
    if "flush_fails" in h.unlocks:
        out["fail_flush"] = _shard_move_rule("fail_flush", "fail flush")
    if "wide_probe" in h.unlocks:

        @precondition(lambda self: "check" in self.h.backend.capabilities)
        @rule(arm=FreshTierMachine.arms)
        def check_with_other_width(self: FreshTierMachine, arm: int) -> None:
            self._run(lambda: self.h.check(arm, False, True))

        out["check_with_other_width"] = check_with_other_width
    if h.name in TEMPLATE_COLUMNS:
        kinds = ([k for k, _ in h.scenario.before], [k for k, _ in h.scenario.after])
        n = len(kinds[0]) + len(kinds[1])

        @precondition(lambda self: len(self.h.live) < MAX_LIVE)
        @rule(anchor=pks, offsets=st.lists(move_offsets, min_size=n, max_size=n))
        def scenario_template(self: FreshTierMachine, anchor: int, offsets: list[int]) -> None:
            ops = [(k, off, ()) for k, off in zip([*kinds[0], *kinds[1]], offsets, strict=True)]
            told: int = self._run(lambda: self.h.window(
                anchor, ops[:len(kinds[0])], ops[len(kinds[0]):], None))
            self.steps += told - 1

        out["scenario_template"] = scenario_template
    return out


def default_settings(**overrides: Any) -> settings:
    """The active profile, with what every machine needs (no deadline: disk I/O)."""
    return settings(
        settings.default,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        **overrides,
    )


def machine_for(
    design: Design | str,
    hazard: Hazard | str = "baseline",
    backend: BackendFactory = impl_backend,
) -> type[FreshTierMachine]:
    """The machine class of one matrix cell (fresh counters each call)."""
    d = Design(design)
    h = HAZARDS[hazard] if isinstance(hazard, str) else hazard
    namespace: dict[str, Any] = {
        "design": d,
        "hazard": h,
        "backend_factory": staticmethod(backend),
        "COUNTERS": Counter(),
        "first_failure": None,
        "first_failure_case": 0,
        "last_failure_steps": 0,
        "last_failure_script": [],
    }
    for i in range(WINDOW_COPIES):
        namespace[f"hazard_window_{i}"] = _window_rule(alphabets(h))
    namespace.update(_column_rules(h))
    cls = cast(type[FreshTierMachine],
               type(f"{d.value}__{h.name}", (FreshTierMachine,), namespace))
    factor = COLUMN_EXAMPLES.get(h.name, 1.0)
    cls.TestCase.settings = default_settings(
        max_examples=round(settings().max_examples * factor))
    return cls
