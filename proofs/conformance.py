"""Conformance of the z3 step relation (``proofs/encode.py``) with the model.

The proofs hold for whatever ``encode.transition`` happens to contain, so this
module holds it against ``model/`` state by state.  A *world* is a concrete
model state of one shard ``s`` plus everything the encoding keeps about it:
which batch is the row under test R (by its WAL position: the encoding follows
the physical write, which a replay renumbers), and the read arm's ghost (its
observation, the state its count N was read at, whether it read its SSTable
list early).  :func:`abstract` maps a world onto the encoding's ``State``
fields, and :func:`check_step` asks z3, for one world and one event:

* **admits**: the encoded step from ``abstract(w)`` can reach
  ``abstract(w')``, where ``w'`` is what the model does;
* **nothing else**: it can reach no other value of the fields that mean
  something in ``w'`` (:data:`MEANINGFUL`; e.g. R's append index means
  nothing before R is written).

The encoding's nondeterministic choices are pinned to the concrete fact each
one abstracts (:func:`pins`): ``pick`` — the new batch is R; ``fl`` — the
oldest flushable frozen generation's batch count; ``ocx`` — the exact cut's
count for the generation R lands in; ``dl`` — the new batch is a delete;
``rix`` — R's (reused, H9) WAL position lies in the model's pinned cut.

The knobs (``encode`` "Knobs") are the setups' (:data:`SETUPS`): the model's
``durable_after_visible`` and ``flush_skip``, and ``pap`` (publish after a
put, built from the model's put and publish); the two-instant arm (H15) is an
arm event, like the capture variants.  A crash that loses R (H9, H14) makes
the world forget it (``r`` None), as the encoding does; the arm's reading of
R is kept in the world (``seen_r``), since a reused position names another
write, and ``rin`` is read from the model's pinned cut itself.

With the choices pinned the step is a function, so "admits and nothing
else" is exactly "computes the model's successor".
An event the model ignores (its precondition fails) must be a no-op or have
no successor in z3.

:func:`check_admitted` does the same for the check: at every world whose cut
is complete, each design's ``encode.admitted`` agrees with ``model.read.admitted``
on R.  The arm's capture (``A, N``, the exact cut's ``xa, xn, oc, ep_a``) and
its observation of R are fields of ``abstract`` and so are compared at every
step after the arm.

What the model has no word for is built here from model pieces, and named:
``manifest`` (the arm reads its SSTable list early, H5a) is
:func:`observe_skewed`; the check's stale SSTable list (``stale``) is not
modelled and is pinned off.  The encoding runs with no assumption (the widest
relation); an assumption only removes steps.

:data:`NARROWER` lists the one place the encoding is deliberately narrower
than the model, and the exploration asserts exactly that much: ``read_n`` (the
after-scan capture) re-reads N only while the arm's generation is still the
active one.  A narrower relation can only lose counterexamples, and the only
column that reads N late (H1) is a counterexample column already.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import z3

from model import state as ms
from model.designs import Capture, Design
from model.read import Cut, Observation, admitted, capture, observe, wal_ranges
from model.state import IN_MEMORY, State, Status

from . import encode as e

SHARD = "s"

#: model status → the encoding's row status code
STATUS_CODE: dict[Status, int] = {
    Status.ACTIVE: e.MEM, Status.FROZEN: e.MEM, Status.RETAINED: e.RET,
    Status.SSTABLE: e.SST, Status.COMPACTED: e.GONE,
}

#: the fields that mean something, by situation (others are don't-care)
ALWAYS = ("sx", "ep", "cur", "cg", "ac", "av", "nfl", "rs", "armed", "man_taken", "nread",
          "nw", "nd", "hf", "nsk")
ROW = ("rg", "ri", "ra", "gc", "gv", "rw", "rt")  # once R is written
ROW_MEM = ("below",)  # while R is unflushed and would be replayed
GHOST = ("obs", "sx_a", "A", "N", "ep_a", "xa", "xn", "nw_a", "pin_r")  # once the arm ran
GHOST_ROW = ("oc", "rin")  # once the arm ran and R is written
MANIFEST = ("man_r",)  # once the arm read its SSTable list early

#: where the encoding is narrower than the model, on purpose (module docstring)
NARROWER = {
    "read_n": "after_scan (and the two-instant arm) re-read only while the arm's generation "
              "is active (H1 and H15 are counterexample columns; a narrower relation loses "
              "none they need)",
}

Value = int | bool


# --------------------------------------------------------------------------
# Worlds
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """A model state plus the row under test and the arm's ghost."""

    state: State
    r: int | None = None  # WAL position of R's batch in shard s; None: not yet written
    arm: Observation | None = None
    n_at: State | None = None  # after_scan: the state N was re-read at
    nread: bool = True  # the cut is complete (after_scan: N re-read)
    manifest: State | None = None  # the state the arm read its SSTable list at
    cap: Capture = Capture.VISIBLE_COUNT  # how the arm takes N (chosen by the arm event)
    #: the arm read R (kept, not recomputed: a crash may free R's WAL position, H9,
    #: and a later write there is another write; a lost R is forgotten: ``r`` None)
    seen_r: bool = False
    recount: bool = False  # the arm reads its counts at a second instant (H15)


#: the arm event's token for the two-instant arm (its capture: the visible count)
TWO_INSTANTS = "two_instants"


@dataclass(frozen=True)
class Setup:
    """A tier configuration (the arm's capture variant is the arm event's).

    ``pap``: puts (not deletes) are published at once, as the state machine's
    H13 column runs the tier; the model has no such knob, so a put there is the
    model's put followed by its publish.
    """

    config: ms.Config
    pap: bool = False
    #: the knob events explored here (elsewhere ``sync`` and ``fail flush`` are no-ops
    #: of the model: two setups check that z3 agrees, the rest skip them for speed)
    knob_events: tuple[str, ...] = ()
    #: the arm's variants explored here (capture values, or ``TWO_INSTANTS``); ``()``: all
    arms: tuple[str, ...] = ()

    @property
    def grace0(self) -> bool:
        return self.config.release_at_flush


#: one event of the conformance alphabet: (name, pk(s) or the arm's capture, batch is R)
Ev = tuple[str, object, bool]


def observe_skewed(manifest: State, at: State) -> Observation:
    """An arm that listed its SSTables at ``manifest`` and took memtable refs at ``at``."""
    listed = {(sid, g.number) for sid, s in manifest.shards for g in s.generations
              if g.status in (Status.SSTABLE, Status.RETAINED)}
    seen = frozenset(r for r in ms.rows(at)
                     if (r.status in IN_MEMORY and r.visible)
                     or (r.status is Status.SSTABLE and (r.id.shard, r.id.generation) in listed))
    return Observation(at, seen)


def _locate(st: State, wal: int | None) -> tuple[ms.Generation, int] | None:
    sh = st.shard(SHARD)
    if sh is None or wal is None:
        return None
    for g in sh.generations:
        if wal in g.wal:
            return g, g.wal.index(wal)
    return None


def _exact(w: World) -> ms.Shard | None:
    return w.arm.at.shard(SHARD) if w.arm is not None else None


def _capture(d: Design, w: World) -> Cut:
    """The model's cut of ``d`` for the world's arm (its capture, its second instant)."""
    assert w.arm is not None
    return capture(d, w.arm, w.cap, later=w.n_at, recount=w.recount and w.n_at is not None)


def exact_count(w: World, generation: int) -> int:
    """The exact cut's observed count for ``generation`` (what the scan read of it)."""
    assert w.arm is not None
    c = _capture(Design.EXACT_CUT, w).get(SHARD)
    if c is None:
        return 0
    n = c.observed_count(generation)
    at = w.arm.at.shard(SHARD)
    g = at.generation(generation) if at is not None else None
    if w.manifest is not None and g is not None and g.status is Status.SSTABLE:
        # an SSTable the early list missed was not read
        then = w.manifest.shard(SHARD)
        was = then.generation(generation) if then is not None else None
        if was is None or was.status not in (Status.SSTABLE, Status.RETAINED):
            return 0
    return n


@functools.lru_cache(maxsize=1 << 16)
def abstract(w: World, setup: Setup) -> tuple[dict[str, Value], frozenset[str]]:
    """The encoding's ``State`` for ``w`` (don't-cares filled with 0), and its meaningful fields."""
    v: dict[str, Value] = {f: 0 for f in ("rg", "ri", "gc", "gv", "below", "A", "N", "ep_a",
                                         "xa", "xn", "oc")}
    v.update(ra=False, obs=False, sx_a=False, man_r=False, rw=0, nw_a=0, rin=False,
             pin_r=False, rt=False)
    sh = w.state.shard(SHARD)
    # pinned_cut's WAL positions: the next one to hand out (1-based), R's own (R is
    # followed by its position: ``w.r``), and the arm's horizon and reading of R;
    # ``nd``: positions up to it are durable (H9)
    v["nw"] = sh.next_wal if sh is not None else 1
    v["nd"] = sh.durable_wal if sh is not None else 0
    if sh is None:
        v.update(sx=False, ep=1, cur=1, cg=1, hf=1, ac=0, av=0, nfl=0, nsk=0)
        replayable: list[ms.Generation] = []
    else:
        act = sh.active
        # replay starts past the newest flushed generation (hf); below the oldest
        # flushable frozen one (cg) every unflushed generation's flush failed (H14)
        hf = 1 + max((g.number for g in sh.generations
                      if g.status not in (Status.ACTIVE, Status.FROZEN)), default=0)
        flushable = [g for g in sh.generations if _flushable(sh, g)]
        replayable = [g for g in sh.generations if g.status is Status.FROZEN
                      and g.number >= hf]
        v.update(sx=True, ep=sh.epoch, cur=act.number, ac=act.committed, av=act.visible,
                 cg=min((g.number for g in flushable), default=act.number), hf=hf,
                 nfl=sum(g.committed for g in flushable),
                 nsk=sum(g.committed for g in replayable if g.number in sh.failed))
    meaningful = set(ALWAYS)
    loc = _locate(w.state, w.r)
    v["rs"] = e.NONE if loc is None else STATUS_CODE[loc[0].status]
    if loc is not None:
        g, i = loc
        assert w.r is not None  # located by it
        v.update(rg=g.number, ri=i, ra=g.status is Status.ACTIVE, gc=g.committed, gv=g.visible,
                 rw=w.r, rt=g.batches[i][0][1] is ms.TOMBSTONE)
        meaningful |= set(ROW)
        if v["rs"] == e.MEM and g.number >= v["hf"]:
            v["below"] = sum(f.committed for f in replayable if f.number < g.number)
            meaningful |= set(ROW_MEM)
    v["armed"] = w.arm is not None
    v["nread"] = w.nread
    if w.arm is not None:
        at = w.arm.at.shard(SHARD)
        asof = _capture(Design.AS_OF_CUT, w).get(SHARD)
        v.update(sx_a=at is not None,
                 A=asof.active_generation if asof else 0,
                 N=asof.active_batch_count if asof else 0,
                 ep_a=at.epoch if at else 1,
                 xa=at.active.number if at else 1,
                 obs=w.seen_r)
        v["xn"] = exact_count(w, int(v["xa"])) if at else 0
        then = _locate(w.arm.at, w.r)
        v.update(nw_a=at.next_wal if at is not None else 1,
                 pin_r=then is None or then[0].status is not Status.COMPACTED)
        meaningful |= set(GHOST)
        if loc is not None:
            # the pinned cut's positions (the model's, at the instant it took them)
            v.update(oc=exact_count(w, loc[0].number), rin=_in_pinned_cut(w))
            meaningful |= set(GHOST_ROW)
    v["man_taken"] = w.manifest is not None
    if w.manifest is not None:
        then = _locate(w.manifest, w.r)
        v["man_r"] = then is not None and then[0].status in (Status.RETAINED, Status.SSTABLE)
        meaningful |= set(MANIFEST)
    return v, frozenset(meaningful)


# --------------------------------------------------------------------------
# The world's events
# --------------------------------------------------------------------------


def _plain_put(st: State, batch: ms.Batch, *, lagged: bool) -> State:
    """``put`` without auto-freeze, under the given visibility."""
    plain = replace(st, config=replace(st.config, lagged=lagged, max_memtable_batches=None))
    return replace(ms.put(plain, SHARD, batch), config=st.config)


def enabled(w: World, setup: Setup, name: str) -> bool:
    """Ghost events run once, in order; tier events always (the model decides no-ops)."""
    if name == "arm":
        return w.arm is None
    if name == "manifest":
        return w.arm is None and w.manifest is None
    if name == "read_n":
        return w.arm is not None and not w.nread
    return True


def world_step(w: World, setup: Setup, ev: Ev) -> list[tuple[str, World]]:
    """The model's move as a list of (encoding op, world after it): one op, or
    ``put`` + ``freeze`` when the put auto-froze the memtable."""
    name, pk, is_r = ev
    st = w.state
    if name in ("put", "delete"):
        keys = pk if isinstance(pk, tuple) else (pk,)  # a tuple: a multi-row batch
        batch: ms.Batch = tuple((k, ms.TOMBSTONE if name == "delete" else f"v-{k}")
                                for k in keys)
        sh = st.shard(SHARD)
        r = (sh.next_wal if sh else 1) if is_r else w.r
        moved = replace(w, r=r, seen_r=False) if is_r else w
        # the encoding's put commits without publishing (the lagged tier); an
        # immediate put is that put and a publish, and an auto-freeze a freeze.
        # Under ``pap`` (lagged) a put of rows is the model's put and its publish.
        # Under ``pap`` (lagged) a put of rows, and under durable_after_visible
        # (immediate) every write, is published at once by the encoding's put.
        plain = _plain_put(st, batch, lagged=True)
        at_once = (setup.pap and name == "put") or st.config.durable_after_visible
        if at_once:
            plain = ms.publish(plain, SHARD)
        steps = [("put", replace(moved, state=plain))]
        mid = _plain_put(st, batch, lagged=st.config.lagged)
        if not st.config.lagged and mid != plain:
            steps.append(("publish", replace(moved, state=mid)))
        after = ms.put(st, SHARD, batch)
        if setup.pap and name == "put":
            after = ms.publish(after, SHARD)
        if at_once:
            mid = plain
        if after != mid:
            steps.append(("freeze", replace(moved, state=after)))
        return steps
    if name == "arm":
        arm = (observe(st) if w.manifest is None else observe_skewed(w.manifest, st))
        sx = st.shard(SHARD) is not None
        two = pk == TWO_INSTANTS
        cap = Capture.VISIBLE_COUNT if two else Capture(str(pk))
        nread = (cap is not Capture.AFTER_SCAN and not two) or not sx
        seen = w.r is not None and any(r.id.shard == SHARD and r.wal == w.r for r in arm.seen)
        return [("arm", replace(w, arm=arm, nread=nread, cap=cap, seen_r=seen, recount=two))]
    if name == "read_n":
        return [("read_n", replace(w, n_at=st, nread=True))]
    if name == "manifest":
        return [("manifest", replace(w, manifest=st))]
    fn = {"publish": ms.publish, "freeze": ms.freeze, "flush": ms.flush,
          "release": ms.release, "compact": ms.compact, "crash": ms.crash,
          "sync": ms.sync, "fail flush": ms.fail_flush}[name]
    nxt = replace(w, state=fn(st, SHARD))
    if name == "crash" and w.r is not None and _locate(nxt.state, w.r) is None:
        nxt = replace(nxt, r=None, seen_r=False)  # R was lost (H9, H14): forgotten
    return [(name.replace(" ", "_"), nxt)]


def pins(w: World, after: World, setup: Setup, op: str) -> dict[str, int | bool]:
    """The encoding's choices for this step, pinned to the facts they abstract."""
    pick = op == "put" and w.r is None and after.r is not None
    fl = 0
    if op in ("flush", "fail_flush"):
        sh = w.state.shard(SHARD)
        frozen = [g for g in sh.generations if _flushable(sh, g)] if sh else []
        fl = frozen[0].committed if frozen else 0
    ocx = 0
    loc = _locate(after.state, after.r)
    if after.arm is not None and loc is not None:
        ocx = exact_count(after, loc[0].number)
    dl = rix = False
    if op == "put":
        sh = after.state.shard(SHARD)
        new = _locate(after.state, sh.next_wal - 1) if sh is not None else None
        dl = new is not None and new[0].batches[new[1]][0][1] is ms.TOMBSTONE
        if pick and after.arm is not None:
            rix = _in_pinned_cut(after)
    return {"pick": pick, "fl": fl, "ocx": ocx, "dl": dl, "rix": rix}


def _in_pinned_cut(w: World) -> bool:
    """R's WAL position lies in the model's pinned cut (whichever write held it then)."""
    c = _model_cut(Design.PINNED_CUT, w).get(SHARD)
    return c is not None and w.r is not None and any(lo <= w.r < hi for lo, hi in c.wal_ranges)


def _flushable(sh: ms.Shard, g: ms.Generation) -> bool:
    """A frozen generation whose flush did not fail (the model's flush takes the oldest)."""
    return g.status is Status.FROZEN and g.number not in sh.failed


# --------------------------------------------------------------------------
# Asking z3
# --------------------------------------------------------------------------

FIELDS = [f.name for f in e.fields(e.State)]


@dataclass(frozen=True)
class Failure:
    """One case where the encoding and the model part ways."""

    what: str
    events: tuple[Ev, ...]
    setup: Setup
    detail: str

    def __str__(self) -> str:
        evs = ", ".join(f"{n}({pk})" if n == "arm" else f"{n} {pk}{'=R' if r else ''}"
                        if n in ("put", "delete") else n for n, pk, r in self.events)
        c = self.setup.config
        return (f"{self.what} after [{evs}] (lagged={c.lagged}, grace0={self.setup.grace0}, "
                f"durable_after_visible={c.durable_after_visible}, flush_skip={c.flush_skip}, "
                f"pap={self.setup.pap}): {self.detail}")


@functools.cache
def _val(x: Value) -> z3.ExprRef:
    return z3.BoolVal(x) if isinstance(x, bool) else z3.IntVal(x)


def _subst(term: z3.ExprRef, frm: list[z3.ExprRef], to: list[z3.ExprRef]) -> z3.ExprRef:
    """``z3.substitute`` without its per-pair Python checks (the pairs are built here)."""
    n = len(frm)
    a_from, a_to = (z3.Ast * n)(), (z3.Ast * n)()
    for i in range(n):
        a_from[i], a_to[i] = frm[i].as_ast(), to[i].as_ast()
    ctx = term.ctx
    return z3.z3._to_expr_ref(z3.Z3_substitute(ctx.ref(), term.as_ast(), n, a_from, a_to), ctx)


#: a step's concrete configuration: (capture, grace0, two, dav, skip, pap)
CfgKey = tuple[Capture, bool, bool, bool, bool, bool]
CHOICES = [f.name for f in e.fields(e.Step) if f.name != "op"]


def cfg_key(setup: Setup, cap: Capture, two: bool) -> CfgKey:
    """The encoding's ``Config`` for one step of a world under ``setup``."""
    c = setup.config
    return (cap, setup.grace0, two, c.durable_after_visible, c.flush_skip, setup.pap)


def _cfg_values(key: CfgKey) -> list[z3.ExprRef]:
    cap, grace0, two, dav, skip, pap = key
    # in ``Config`` field order: cap, grace0, stale (the check's list: pinned off), knobs
    return [_val(e.CAP[cap]), _val(grace0), _val(False), _val(two), _val(dav), _val(skip),
            _val(pap)]


@functools.cache
def _stepper(bugs: frozenset[e.Bug], op: str, key: CfgKey,
             ) -> tuple[z3.Solver, list[z3.ExprRef], list[z3.ExprRef], list[z3.ExprRef]]:
    """An incremental solver holding the encoded step for one op and configuration
    (the check's stale list pinned off), with its state, successor and choice constants."""
    consts, term = e._template(frozenset(), bugs)
    n, m = len(FIELDS), len(e.fields(e.Step))
    s_c, t_c = consts[:n], consts[n:2 * n]
    step_c, cfg_c = consts[2 * n:2 * n + m], consts[2 * n + m:]
    fixed = z3.substitute(term, (step_c[0], _val(e.OP[op])),
                          *zip(cfg_c, _cfg_values(key), strict=True))
    solver = z3.Solver()
    solver.add(z3.simplify(fixed))
    return solver, s_c, t_c, step_c[1:]


@functools.cache
def _fixed(bugs: frozenset[e.Bug], op: str, key: CfgKey) -> z3.BoolRef:
    return _stepper(bugs, op, key)[0].assertions()[0]


@functools.cache
def _t_names(bugs: frozenset[e.Bug], op: str, key: CfgKey) -> dict[str, str]:
    return {c.decl().name(): f for c, f in zip(_stepper(bugs, op, key)[2], FIELDS,
                                                strict=True)}


_INT = r"(\d+|\(- \d+\))"
_NAME = r"([^\s()]+)"
_ATOM = re.compile(rf"\(= {_NAME} {_INT}\)|\(= {_INT} {_NAME}\)|\(not {_NAME}\)|{_NAME}")


def _parse(term: z3.BoolRef, t_names: dict[str, str]) -> dict[str, Value] | None:
    """Read ``(and (= t.f c) t.g (not t.h) ...)`` (every successor field fixed) into
    values, else None.  Parsed from the s-expression: one call into z3, not hundreds."""
    text = term.sexpr()
    if text.startswith("(and "):
        text = text[5:-1]
    out: dict[str, Value] = {}
    pos = 0
    for m in _ATOM.finditer(text):
        if text[pos:m.start()].strip():
            return None
        pos = m.end()
        eq, neg, pos_name = m.group(1) or m.group(4), m.group(5), m.group(6)
        if eq is not None:
            if eq not in t_names:
                return None
            raw = m.group(2) or m.group(3)
            out[t_names[eq]] = -int(raw[3:-1]) if raw.startswith("(-") else int(raw)
        elif (neg or pos_name) in t_names:
            out[t_names[neg or pos_name]] = neg is None
        else:
            return None
    if text[pos:].strip():
        return None
    return out if len(out) == len(t_names) else None


def successors(bugs: frozenset[e.Bug], s: dict[str, Value], op: str,
               choice: dict[str, int | bool], key: CfgKey,
               keep: Iterable[str]) -> list[dict[str, Value]]:
    """The values of the fields ``keep`` the encoded step reaches from ``s`` (up to two).

    The step with ``s`` and the choices substituted usually simplifies to
    ``False`` or to one value per field; anything else goes to the solver.
    """
    solver, s_c, t_c, ch = _stepper(bugs, op, key)
    keep = list(keep)
    to = [_val(s[f]) for f in FIELDS] + [_val(choice[k]) for k in CHOICES]
    term = z3.simplify(_subst(_fixed(bugs, op, key), [*s_c, *ch], to))
    if z3.is_false(term):
        return []
    parsed = _parse(term, _t_names(bugs, op, key))
    if parsed is not None:
        return [{f: parsed[f] for f in keep}]
    t_of = dict(zip(FIELDS, t_c, strict=True))
    found: list[dict[str, Value]] = []
    solver.push()
    try:
        solver.add(term)
        while len(found) < 2 and solver.check() == z3.sat:
            m = solver.model()
            got: dict[str, Value] = {}
            for f in keep:
                x = m.eval(t_of[f], model_completion=True)
                got[f] = z3.is_true(x) if z3.is_bool(x) else x.as_long()  # type: ignore[attr-defined]
            found.append(got)
            solver.add(z3.Or([t_of[f] != _val(got[f]) for f in keep]))
    finally:
        solver.pop()
    return found


def check_step(bugs: frozenset[e.Bug], w: World, setup: Setup, ev: Ev,
               trace: tuple[Ev, ...], moves: Counter[str] | None = None,
               ) -> tuple[list[World], list[Failure]]:
    """One model event against the encoding: the world it leads to (none if the
    branch ends), and any failure."""
    cur = w
    for op, nxt in world_step(w, setup, ev):
        s, _ = abstract(cur, setup)
        full, keep = abstract(nxt, setup)
        want = {f: full[f] for f in keep}
        got = successors(bugs, s, op, pins(cur, nxt, setup, op),
                         cfg_key(setup, nxt.cap, nxt.recount), keep)
        narrower = op == "read_n" and _arm_gen_left(cur)
        if nxt == cur:  # the model ignores the event: z3 does nothing, or cannot move
            ok, what = got in ([], [want]), f"{op} (a no-op in the model)"
        elif narrower:  # NARROWER: exactly "cannot move"
            ok, what = got == [], f"{op} (narrower than the model)"
        else:
            ok, what = got == [want], op
        if not ok:
            return [], [Failure(what, (*trace, ev), setup, _diff(want, got))]
        if moves is not None:
            moves[f"{op} (no-op)" if nxt == cur else f"{op} (narrower)" if narrower else op] += 1
        if narrower:
            return [], []
        cur = nxt
    return [cur], []


def _arm_gen_left(w: World) -> bool:
    """The arm's generation is no longer the active one (or the epoch changed)."""
    assert w.arm is not None
    at, now = w.arm.at.shard(SHARD), w.state.shard(SHARD)
    if at is None or now is None:
        return False
    return now.active.number != at.active.number or now.epoch != at.epoch


def _diff(want: dict[str, Value], got: list[dict[str, Value]]) -> str:
    if not got:
        return "z3 has no successor"
    if len(got) > 1:
        return f"z3 has several successors, e.g. {got[0]} and {got[1]}"
    bad = {f: (want.get(f), got[0][f]) for f in got[0] if want.get(f) != got[0][f]}
    return "field (model, z3): " + ", ".join(f"{f} {a}≠{b}" for f, (a, b) in sorted(bad.items()))


@functools.cache
def _admit_template(design: Design, bugs: frozenset[e.Bug], cap: Capture, grace0: bool,
                    ) -> tuple[list[z3.ExprRef], z3.BoolRef]:
    """``encode.admitted`` over placeholder state constants (built once, then substituted)."""
    s = e.State.fresh("@adm")
    cfg = e.Config(z3.IntVal(e.CAP[cap]), z3.BoolVal(grace0),
                   *(z3.BoolVal(False) for _ in e.fields(e.Config)[2:]))
    return s.values(), e.admitted(e.Variant(design, bugs), s, cfg, frozenset())


def check_admitted(bugs: frozenset[e.Bug], w: World, setup: Setup,
                   trace: tuple[Ev, ...]) -> list[Failure]:
    """At a complete cut, each design's z3 check admits R iff the model's does."""
    if w.arm is None or not w.nread or w.r is None:
        return []
    loc = _locate(w.state, w.r)
    if loc is None:
        return []
    s, _ = abstract(w, setup)
    to = [_val(s[f]) for f in FIELDS]
    out = []
    for d in Design:
        cut = _model_cut(d, w, setup)
        model = any(r.wal == w.r and r.id.shard == SHARD for r in admitted(d, cut, w.state))
        consts, tmpl = _admit_template(d, bugs, w.cap, setup.grace0)
        term = z3.simplify(_subst(tmpl, consts, to))
        if not (z3.is_true(term) or z3.is_false(term)):
            out.append(Failure(f"check[{d.value}]", trace, setup, f"not concrete: {term}"))
        elif z3.is_true(term) != model:
            out.append(Failure(f"check[{d.value}]", trace, setup,
                               f"model admits R: {model}, z3: {z3.is_true(term)}"))
    return out


def _model_cut(d: Design, w: World, setup: Setup | None = None) -> Cut:
    assert w.arm is not None
    cut = _capture(d, w)
    if d not in (Design.EXACT_CUT, Design.PINNED_CUT) or w.manifest is None:
        return cut
    # the exact and pinned cuts record what their (skewed) scan read: not an
    # SSTable its early list missed
    unread = {r.wal for r in ms.rows(w.arm.at) if r.id.shard == SHARD
              and r.status is Status.SSTABLE and r not in w.arm.seen}
    entries = []
    for sid, sc in cut.shards:
        if sid == SHARD and d is Design.EXACT_CUT:
            sc = replace(sc, observed=tuple((g, exact_count(w, g)) for g, _ in sc.observed))
        elif sid == SHARD:
            kept = (p for lo, hi in sc.wal_ranges for p in range(lo, hi) if p not in unread)
            sc = replace(sc, wal_ranges=wal_ranges(kept))
        entries.append((sid, sc))
    return replace(cut, shards=tuple(entries))


# --------------------------------------------------------------------------
# Exploration
# --------------------------------------------------------------------------

TIER_EVENTS = ("publish", "freeze", "flush", "release", "compact", "crash")
KNOB_EVENTS = ("sync", "fail flush")
GHOST_EVENTS = ("manifest", "arm", "read_n")

#: the knob setups' arm: the correct one.  The H8 and H15 arms (an inclusive position,
#: a second instant) differ from it only where counts lag: the lagged setups run them
ONE_ARM = (Capture.VISIBLE_COUNT.value,)
OLD_ARMS = tuple(c.value for c in (Capture.VISIBLE_COUNT, Capture.LEN, Capture.AFTER_SCAN))

#: the bounded alphabet's configurations: visibility × release, then one per knob of
#: the H9, H13 and H14 columns, each where its hazard is reachable within the bound
#: (a failed flush needs two frozen generations: one batch per memtable)
SETUPS = (*(
    Setup(ms.Config(lagged=lagged, release_at_flush=grace0), arms=() if lagged else OLD_ARMS)
    for lagged in (False, True) for grace0 in (True, False)),
    Setup(ms.Config(durable_after_visible=True), knob_events=KNOB_EVENTS, arms=ONE_ARM),
    Setup(ms.Config(lagged=True), pap=True, arms=ONE_ARM),
    Setup(ms.Config(flush_skip=True, release_at_flush=False, max_memtable_batches=1),
          knob_events=KNOB_EVENTS, arms=ONE_ARM),
)


#: the knob-free setups where every ghost event and capture runs and publish is explicit
LAGGED_SETUPS = tuple(s for s in SETUPS[:4] if s.config.lagged)
#: the bound of the exhaustive exploration (``tests/test_conformance_z3_model.py``)
DEPTH = 4


def _setups(pred: Callable[[Setup], bool]) -> tuple[Setup, ...]:
    return tuple(s for s in SETUPS if pred(s))


#: where a planted bug can make the encoding part from the model, and how deep its
#: shortest witness is: a bug in a knob's transition shows only in the setups with
#: that knob on (elsewhere the transition never runs).  Every other bug: the lagged
#: knob-free setups (both releases), ``DEPTH`` events; the exhaustive test with no bug
#: covers every setup.
SEARCH: dict[e.Bug, tuple[int, tuple[Setup, ...]]] = {
    # put, freeze, flush, arm, compact before R is merged after the pin
    e.Bug.PIN_NO_MERGED: (5, LAGGED_SETUPS[:1]),
    # two frozen generations, a failed flush, a flush, then the crash
    e.Bug.CRASH_REPLAYS_SKIPPED: (5, _setups(lambda s: s.config.flush_skip)),
    e.Bug.FAIL_FLUSH_FLUSHES: (DEPTH, _setups(lambda s: s.config.flush_skip)),
    e.Bug.SYNC_NOOP: (DEPTH, _setups(lambda s: s.config.durable_after_visible)),
    e.Bug.CRASH_REPLAYS_PENDING: (DEPTH, _setups(lambda s: s.config.durable_after_visible)),
    e.Bug.PUT_PUBLISH_IGNORES_FROZEN: (DEPTH, _setups(lambda s: s.pap)),
}


def search_space(bug: e.Bug) -> tuple[int, tuple[Setup, ...]]:
    """``(depth, setups)`` to explore for ``bug`` (``SEARCH``, else the default)."""
    return SEARCH.get(bug, (DEPTH, LAGGED_SETUPS))


def alphabet(w: World, setup: Setup, pk: object) -> Iterator[Ev]:
    """The events the exploration tries at ``w``: a put that is or is not R, and the rest.

    A delete differs from a put only where puts are published at once (``pap``):
    elsewhere only the generated traces use it."""
    yield ("put", pk, False)
    if w.r is None:
        yield ("put", pk, True)
    if setup.pap and w.r is None:  # only a delete waits for a publish there: R's
        yield ("delete", pk, True)
    for name in (*TIER_EVENTS, *setup.knob_events, *GHOST_EVENTS):
        if not enabled(w, setup, name):
            continue
        if name == "arm":
            arms = setup.arms or (*(cap.value for cap in e.CAPTURES), TWO_INSTANTS)
            yield from ((name, arm, False) for arm in arms)
        else:
            yield (name, None, False)


@dataclass
class Stats:
    """What an exploration covered."""

    worlds: int = 0  # distinct worlds reached
    steps: int = 0  # (world, event) pairs checked
    checks: int = 0  # worlds whose complete cut was checked for every design
    moves: Counter[str] = field(default_factory=Counter)  # encoding op → model moves checked


def explore(bugs: frozenset[e.Bug] = frozenset(), depth: int = 4,
            setups: Iterable[Setup] = SETUPS, *, stop_at_failure: bool = False,
            ) -> tuple[Stats, list[Failure]]:
    """Every world reachable in ``depth`` events from an empty tier, under every setup.

    Breadth first over all setups at once, so the shallowest failure of any
    setup comes first.  Worlds are deduplicated; each new world is checked
    against every event of the alphabet and, where its cut is complete,
    against every design's check.
    """
    stats = Stats()
    failures: list[Failure] = []
    frontier: list[tuple[Setup, World, tuple[Ev, ...]]] = [
        (setup, World(ms.initial(config=setup.config)), ()) for setup in setups]
    seen = {(setup, w) for setup, w, _ in frontier}
    for level in range(depth + 1):
        nxt: list[tuple[Setup, World, tuple[Ev, ...]]] = []
        for setup, w, trace in frontier:
            stats.worlds += 1
            if w.arm is not None and w.nread and w.r is not None:
                stats.checks += 1
                failures += check_admitted(bugs, w, setup, trace)
                if failures and stop_at_failure:
                    return stats, failures
            if level == depth:
                continue
            for ev in alphabet(w, setup, "k"):
                after, fails = check_step(bugs, w, setup, ev, trace, stats.moves)
                stats.steps += 1
                failures += fails
                if failures and stop_at_failure:
                    return stats, failures
                for a in after:
                    if (setup, a) not in seen:
                        seen.add((setup, a))
                        nxt.append((setup, a, (*trace, ev)))
        frontier = nxt
    return stats, failures


def run_trace(bugs: frozenset[e.Bug], setup: Setup, events: Iterable[Ev],
              ) -> tuple[int, list[Failure]]:
    """Check one event sequence step by step (events not enabled are skipped)."""
    w = World(ms.initial(config=setup.config))
    trace: tuple[Ev, ...] = ()
    n = 0
    for ev in events:
        if not enabled(w, setup, ev[0]) or (ev[2] and w.r is not None):
            continue
        after, fails = check_step(bugs, w, setup, ev, trace)
        trace = (*trace, ev)
        n += 1
        if after:
            fails += check_admitted(bugs, after[0], setup, trace)
        if fails:
            return n, fails
        if not after:
            return n, []
        w = after[0]
    return n, []
