"""``asofcut fuzz``: many workers, one example database.

A campaign runs the design × hazard matrix's cells (``matrix.run_cell``) in
N worker processes for a time budget, with fresh random seeds, all sharing
one Hypothesis example database (``stateful_tests.exampledb``): a Redis
server when ``--db redis://…`` names one, so workers on many machines pool
what they find, or a directory on one machine.

How it is built, and why:

* **Short runs, many of them.**  Hypothesis reads the database only when a
  run starts (the ``reuse`` phase replays the cell's saved failures first).
  So a worker runs a cell for ``--examples`` test cases, then moves on to the
  next cell; a failure saved by one worker reaches every other worker within
  one run of that cell.  Worker *i* starts at cell ``i·C/N`` of the ``C``
  selected cells and walks them round-robin, so N workers cover N different
  cells at first and every cell again and again.
* **A failed cell retires** from the worker that saw it fail: its failure is
  saved, and every later run would only replay it (Hypothesis stops at the
  first failure).  Each other worker still replays it once, when its round
  reaches the cell, then retires it too; the budget goes to the cells that
  have not failed yet.  A worker whose cells have all failed finishes early.
* **Failures are saved when found.**  Hypothesis writes a failing example to
  the database the moment it fails, before shrinking (and moves a replaced
  one to the cell's secondary corpus, which a replay reads too).  A worker
  killed mid-run — SIGKILL, a lost machine — loses its counters, never a
  saved failure; the campaign reports the dead worker and goes on.
* **Shrinking is optional** (``--no-shrink``): a worker that does not
  shrink moves on at once; the saved example is shrunk by whichever later run
  replays it with shrinking (``pytest``, ``asofcut matrix --db``, a worker).
* **Replay** (``--replay``): generation disabled (phases ``explicit`` and
  ``reuse`` only), every selected cell once: it fails exactly where the
  database holds a failure that still fails, and passes vacuously elsewhere.
* **New vs replayed.**  A failing run is *replayed* when the cell had saved
  examples before it started and the run failed within that many test cases
  (the reuse phase runs them first), else *new*.  The summary gives, per
  failing cell, when it was first found and when another worker first
  replayed it: the propagation delay.
* **One pipe per worker** (not a shared queue): a worker killed while
  writing breaks only its own pipe, never the others' reports.
* **A start barrier.**  The budget starts when every worker has imported
  and opened the database, so 1 and 2 workers get the same working time
  (``bench/fuzz_scaling.py`` compares their examples per second).

A run *surprises* when it contradicts the model's expectation
(``hazards.expectation_table``): a violation or an under-count in a cell
expected sound, or any impl/model mismatch or crash.  A cell expected to
violate that a short run did not break is no surprise (the budget is random);
``asofcut matrix`` is the gate for that.  Exit status: 1 on a surprise or a
worker that died, 2 on bad arguments, else 0.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from hypothesis import Phase

#: test cases per run: short, so a saved failure reaches the other workers soon
RUN_EXAMPLES = 50
#: no ``target`` (the machines call no ``target()``), no ``explain`` (profiles.py: too slow)
FUZZ_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
#: generation disabled: only what the database holds is run
REPLAY_PHASES = (Phase.explicit, Phase.reuse)
#: the profile the workers load for its step count (the database and examples are the
#: campaign's): dev's 25-step stories keep a run short; nightly's 60 cost ~2.5× CPU per example
PROFILE = "dev"
#: after the budget, a run in progress (typically a shrink) may finish for this long
GRACE_SECONDS = 120.0
#: how long a worker that said goodbye may take to exit
EXIT_SECONDS = 30.0
#: verdicts that mean the run failed (``matrix.Cell.verdict``)
FAILING = frozenset({"VIOLATION", "MISMATCH", "ERROR"})
#: forkserver where the platform has it (a clean child, no inherited threads), else spawn
START_METHOD = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


@dataclass(frozen=True)
class Plan:
    """What every worker is told (picklable: it crosses the process boundary)."""

    cells: tuple[tuple[str, str], ...]
    workers: int
    seconds: float
    db: str | None  # a URL; None: exampledb's default directory
    examples: int = RUN_EXAMPLES
    profile: str = PROFILE
    seed: int = 0
    replay: bool = False
    shrink: bool = True  # False: save failures as found (a later replay with shrinking shrinks)

    def cells_of(self, index: int) -> list[tuple[str, str]]:
        """Worker ``index``'s cells, in its order (replay: a disjoint share, once each)."""
        if self.replay:
            return list(self.cells[index :: self.workers])
        start = index * len(self.cells) // self.workers
        return list(self.cells[start:] + self.cells[:start])


@dataclass(frozen=True)
class Run:
    """One run of one cell by one worker, as the worker reports it."""

    worker: int
    design: str
    hazard: str
    verdict: str
    label: str
    expected: str
    examples: int
    seconds: float
    cpu: float  # the worker process's CPU seconds for the run (the load's share of it)
    started: float  # wall clock (time.time()), comparable across workers
    found_at: float | None  # wall clock of the first failing test case
    saved_before: int  # the cell's saved examples when the run started
    cases_to_failure: int  # test cases up to and including the first failing one
    message: str

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING

    @property
    def replayed(self) -> bool:
        return self.failed and 0 < self.saved_before and self.cases_to_failure <= self.saved_before

    @property
    def surprise(self) -> bool:
        """Contradicts the model's expectation (see the module docstring)."""
        if self.verdict in ("MISMATCH", "ERROR"):
            return True
        if self.verdict == "VIOLATION":
            return self.expected != "VIOLATION"
        return self.verdict == "under-count" and self.expected == "sound"


@dataclass
class Worker:
    """The parent's view of one worker process."""

    index: int
    process: Any  # multiprocessing's process object (its type depends on the context)
    conn: Connection
    pid: int | None = None
    ready: bool = False
    finished: bool = False  # said goodbye
    ended: str = ""  # how it ended when it did not say goodbye (killed, crashed, stopped)
    runs: list[Run] = field(default_factory=list)


@dataclass
class Summary:
    """A campaign's outcome."""

    plan: Plan
    runs: list[Run]
    seconds: float  # from the start barrier to the last worker's end
    ended: dict[int, str]  # worker → how it ended abnormally

    @property
    def examples(self) -> int:
        return sum(r.examples for r in self.runs)

    @property
    def rate(self) -> float:
        """Examples per wall second, all workers together."""
        return self.examples / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu(self) -> float:
        return sum(r.cpu for r in self.runs)

    @property
    def cores(self) -> float:
        """CPU seconds per wall second: the cores the workers really got (load shows here)."""
        return self.cpu / self.seconds if self.seconds > 0 else 0.0

    @property
    def failures(self) -> list[Run]:
        return [r for r in self.runs if r.failed]

    @property
    def surprises(self) -> list[Run]:
        return [r for r in self.runs if r.surprise]

    @property
    def died(self) -> dict[int, str]:
        return {w: how for w, how in self.ended.items() if not how.startswith("stopped")}

    def propagation(self) -> dict[tuple[str, str], tuple[Run, Run | None]]:
        """Per failing cell: its first new failure, and the first replay by another worker."""
        out: dict[tuple[str, str], tuple[Run, Run | None]] = {}
        for r in sorted(self.failures, key=lambda r: r.found_at or r.started):
            key = (r.design, r.hazard)
            if key not in out:
                if not r.replayed:
                    out[key] = (r, None)
            elif out[key][1] is None and r.replayed and r.worker != out[key][0].worker:
                out[key] = (out[key][0], r)
        return out

    def render(self) -> str:
        p = self.plan
        fails = self.failures
        new = [r for r in fails if not r.replayed]
        lines = [
            f"cells {len({(r.design, r.hazard) for r in self.runs})} of {len(p.cells)}, "
            f"runs {len(self.runs)}, examples {self.examples} "
            f"({self.rate:.1f}/s over {self.seconds:.1f} s, {p.workers} worker(s) "
            f"on {self.cores:.2f} cores)",
            f"failures {len(fails)}: new {len(new)}, replayed {len(fails) - len(new)}, "
            f"in {len({(r.design, r.hazard) for r in fails})} cell(s)",
        ]
        for (d, h), (first, replay) in self.propagation().items():
            line = f"  {d} × {h}: {first.label} found by w{first.worker}"
            if replay is not None and first.found_at and replay.found_at:
                line += (f", replayed by w{replay.worker} "
                         f"{replay.found_at - first.found_at:.1f} s later")
            lines.append(line)
        earlier: dict[tuple[str, str], list[Run]] = {}
        for r in fails:
            if (r.design, r.hazard) not in self.propagation():
                earlier.setdefault((r.design, r.hazard), []).append(r)
        for (d, h), runs in earlier.items():
            who = ", ".join(sorted({f"w{r.worker}" for r in runs}))
            lines.append(f"  {d} × {h}: {runs[0].label} saved before, replayed by {who}")
        for w, how in sorted(self.ended.items()):
            lines.append(f"worker w{w} {how}")
        if self.surprises:
            lines.append(f"SURPRISES {len(self.surprises)} (off the model's expectation):")
            for r in self.surprises:
                lines.append(f"--- w{r.worker} {r.design} × {r.hazard}: {r.label} "
                             f"(expected {r.expected})\n{r.message}")
        else:
            lines.append("no surprise: every failure is one the model predicts")
        return "\n".join(lines)


# ---------------------------------------------------------------- the worker


def _run_one(index: int, design: str, hazard: str, plan: Plan, db: Any,
             seed: int | None, expected: str) -> Run:
    from hypothesis import settings

    from stateful_tests import exampledb
    from stateful_tests.matrix import run_cell

    phases: tuple[Phase, ...] = REPLAY_PHASES if plan.replay else FUZZ_PHASES
    if not plan.shrink:
        phases = tuple(p for p in phases if p is not Phase.shrink)
    run_settings = settings(settings.default, max_examples=plan.examples, phases=phases)
    saved_before = exampledb.saved(db, design, hazard)
    started = time.time()
    if plan.replay and not saved_before:  # Hypothesis would refuse a run with nothing to run
        return Run(index, design, hazard, "sound", "nothing saved", expected, 0, 0.0, 0.0,
                   started, None, 0, 0, "")
    cpu = time.process_time()
    cell = run_cell(design, hazard, run_settings=run_settings, seed=seed, database=db)
    cpu = time.process_time() - cpu
    found = started + cell.first_failure if cell.first_failure is not None else None
    return Run(index, design, hazard, cell.verdict, cell.label, expected,
               cell.counters["test cases"], cell.total, cpu, started, found, saved_before,
               cell.cases_to_failure, cell.message)


def _worker(index: int, conn: Connection, plan: Plan) -> None:
    """One worker process: load, open the database, wait for the start, run cells."""
    from stateful_tests import exampledb, profiles
    from stateful_tests.hazards import expectation_table

    profiles.load(plan.profile)
    db = exampledb.open_database(plan.db)
    want = expectation_table()
    rng = random.Random(f"{plan.seed}/{index}")
    conn.send(("ready", index, os.getpid()))
    deadline: float = conn.recv()
    queue = deque(plan.cells_of(index))
    first = True
    while queue and (first or plan.replay or time.time() < deadline):
        d, h = queue.popleft()
        seed = None if plan.replay else rng.getrandbits(64)
        run = _run_one(index, d, h, plan, db, seed, want[(d, h)])
        conn.send(("run", run))
        if not (plan.replay or run.failed):  # a failed cell retires (module docstring)
            queue.append((d, h))
        first = False
    conn.send(("done", index))


# ---------------------------------------------------------------- the parent

Printer = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


def campaign(plan: Plan, out: Printer = _print) -> Summary:
    """Run ``plan``'s workers to the end of the budget; return what they reported."""
    ctx = mp.get_context(START_METHOD)
    workers: list[Worker] = []
    for i in range(plan.workers):
        mine, theirs = ctx.Pipe(duplex=True)
        # every concrete context has Process; typeshed's BaseContext does not say so
        proc = ctx.Process(  # type: ignore[attr-defined]
            target=_worker, args=(i, theirs, plan), name=f"asofcut-fuzz-w{i}")
        proc.start()
        theirs.close()
        workers.append(Worker(i, proc, mine))
    go: float | None = None
    try:
        go = _loop(workers, plan, out)
    finally:
        for w in workers:
            if w.finished:
                w.process.join(timeout=EXIT_SECONDS)  # it said goodbye: let it exit
            if w.process.is_alive():
                w.process.terminate()
                w.ended = w.ended or "stopped after the grace period"
            w.process.join()
    end = max((r.started + r.seconds for w in workers for r in w.runs), default=go or 0.0)
    return Summary(
        plan,
        [r for w in workers for r in w.runs],
        max(0.0, end - go) if go is not None else 0.0,
        {w.index: w.ended for w in workers if w.ended},
    )


def _loop(workers: list[Worker], plan: Plan, out: Printer) -> float | None:
    """Serve the workers' pipes until each has said goodbye or ended; return the start time."""
    by_conn = {w.conn: w for w in workers}
    go: float | None = None
    stop_at = float("inf")
    while any(not (w.finished or w.ended) for w in workers):
        open_conns = [w.conn for w in workers if not (w.finished or w.ended)]
        timeout = max(0.0, stop_at - time.time()) if stop_at < float("inf") else 1.0
        for conn in wait(open_conns, timeout=timeout):
            w = by_conn[conn]  # type: ignore[index]
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                w.ended = _how_it_ended(w)
                out(f"[w{w.index}] {w.ended} after {len(w.runs)} run(s); "
                    "what it saved stays in the database")
                continue
            _handle(w, msg, go, out)
        if go is None and all(w.ready or w.ended for w in workers):
            go = time.time()
            stop_at = go + plan.seconds + GRACE_SECONDS
            for w in workers:
                if w.ready and not w.ended:
                    w.conn.send(go + plan.seconds)
        if time.time() >= stop_at:
            break
    return go


def _handle(w: Worker, msg: tuple[Any, ...], go: float | None, out: Printer) -> None:
    kind = msg[0]
    if kind == "ready":
        w.ready, w.pid = True, msg[2]
        out(f"[w{w.index}] ready, pid {w.pid}")
    elif kind == "run":
        r: Run = msg[1]
        w.runs.append(r)
        tag = (" replayed" if r.replayed else " new") if r.failed else ""
        fails = sum(x.failed for x in w.runs)
        at = r.started + r.seconds - (go or r.started)
        out(f"[w{w.index} +{at:.1f}s] {r.design} × {r.hazard}: {r.label}{tag}"
            f"{' SURPRISE' if r.surprise else ''} — runs {len(w.runs)}, "
            f"examples {sum(x.examples for x in w.runs)}, failures {fails}")
    elif kind == "done":
        w.finished = True


def _how_it_ended(w: Worker) -> str:
    w.process.join(timeout=10)
    code = w.process.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"ended with exit code {code}" if code is not None else "stopped answering"


# ---------------------------------------------------------------- the command


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value

    return parse


def parse_plan(argv: Sequence[str]) -> Plan:
    from hypothesis import settings
    from hypothesis.errors import InvalidArgument

    from model.designs import Design
    from stateful_tests import exampledb, profiles
    from stateful_tests.hazards import DESIGNS, HAZARDS

    p = argparse.ArgumentParser(prog="asofcut fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=_positive(int), default=os.cpu_count() or 1,
                   help="worker processes (default: one per core)")
    p.add_argument("--db", default=os.environ.get(exampledb.ENV),
                   help="redis://host:port/N or a directory "
                   f"(default: ${exampledb.ENV}, else {exampledb.DEFAULT_DIRECTORY})")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=_positive(float), default=10.0,
                        help="time budget (default 10); a run in progress then finishes")
    budget.add_argument("--seconds", type=_positive(float), help="time budget in seconds")
    p.add_argument("--design", action="append", choices=[d.value for d in Design],
                   help="only this design (repeatable; default: all)")
    p.add_argument("--hazard", action="append", choices=list(HAZARDS),
                   help="only this hazard column (repeatable; default: all)")
    p.add_argument("--examples", type=_positive(int), default=RUN_EXAMPLES,
                   help="test cases per run of a cell")
    p.add_argument("--profile", default=PROFILE, help="dev / ci / nightly (its step count)")
    p.add_argument("--seed", type=int, default=None, help="base seed (default: random)")
    p.add_argument("--replay", action="store_true",
                   help="generation disabled: replay the database once per cell")
    p.add_argument("--no-shrink", dest="shrink", action="store_false",
                   help="save failures as found; a later run that replays them shrinks them")
    args = p.parse_args(list(argv))
    profiles.register()
    try:
        settings.get_profile(args.profile)
    except InvalidArgument:
        p.error(f"--profile {args.profile!r}: no such profile (dev, ci, nightly)")
    designs = args.design or [d.value for d in DESIGNS]
    hazards = args.hazard or list(HAZARDS)
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    return Plan(
        cells=tuple((d, h) for h in hazards for d in designs),
        workers=args.workers,
        seconds=args.seconds if args.seconds is not None else args.minutes * 60,
        db=args.db,
        examples=args.examples,
        profile=args.profile,
        seed=seed,
        replay=args.replay,
        shrink=args.shrink,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from stateful_tests import exampledb

    plan = parse_plan(list(argv or []))
    try:
        exampledb.open_database(plan.db, check=True)
    except exampledb.DatabaseError as e:
        print(f"asofcut fuzz: {e}", file=sys.stderr)
        return 2
    mode = "replay (generation disabled)" if plan.replay else f"{plan.seconds:g} s budget"
    _print(f"asofcut fuzz: {plan.workers} worker(s), {len(plan.cells)} cell(s), {mode}, "
           f"database {exampledb.shown(plan.db)}, seed {plan.seed}")
    try:
        summary = campaign(plan)
    except KeyboardInterrupt:
        print("asofcut fuzz: interrupted", file=sys.stderr)
        return 130
    _print(summary.render())
    return 1 if summary.surprises or summary.died else 0
