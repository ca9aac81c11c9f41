"""The matrix's columns as the state machine runs them, read from ``model.hazards``.

The hazard table itself (what each column lifts, its impl options, its gates,
its witness, its shortest scenario) is ``model.hazards.HAZARDS``: this module
only turns a row into what the machine and the matrix need.

* ``impl_options`` / ``model_config``: the row's ``options`` over the
  machine's defaults (a memtable auto-freezes at 3 batches; a flushed
  memtable stays in memory until an explicit release), as impl
  ``MemWalOptions`` keywords and as the model's ``Config``.  ``OPTION_TO_CONFIG``
  is the one translation between the two vocabularies.
* ``expected``: a cell's expected verdict, derived from the model: the model's
  verdict on the column's scenario, joined with the baseline scenario's (a
  column is the baseline plus one hazard).  Nothing here hard-codes which
  design fails where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from model.designs import Capture, Design
from model.events import run
from model.hazards import HAZARDS, Hazard
from model.invariants import soundness, tightness
from model.read import Cut, Observation, capture, observe, split_view, two_phase
from model.state import Config, State, initial

__all__ = ["DESIGNS", "GATES", "HAZARDS", "Hazard", "expected", "expectation_table",
           "impl_options", "model_arm", "model_config", "scenario_verdict", "splits_arm"]

GATES = frozenset({"new_shard", "release", "compact", "crash", "freeze_invisible",
                   "between_reads", "flush_fails", "wide_probe"})

#: the machine's tier, before a column's options
MACHINE_DEFAULTS: dict[str, Any] = {"visibility": "immediate", "release": "explicit",
                                    "max_memtable_batches": 3}

#: impl option → (model ``Config`` field, how its value translates)
OPTION_TO_CONFIG: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "visibility": ("lagged", lambda v: v == "lagged"),
    "release": ("release_at_flush", lambda v: v == "at_flush"),
    "max_memtable_batches": ("max_memtable_batches", lambda v: v),
    "durability": ("durable_after_visible", lambda v: v == "after_visible"),
    "flush_failure": ("flush_skip", lambda v: v == "skip"),
    "pk_hash_bits": ("pk_hash_bits", lambda v: v),
    "memtable_pk_index": ("memtable_pk_index", lambda v: v),
    "probe_key_types": ("probe_key_types", lambda v: v),
}
#: options of the arm, not of the tier (the model takes them as arguments)
ARM_OPTIONS = frozenset({"arm_sources", "arm_visibility"})

DESIGNS: tuple[Design, ...] = tuple(Design)

#: the solver's words → the machine's words
PROOF_TO_MACHINE_VERDICT = {"proved (induction)": "sound", "no cex ≤ K": "sound",
                            "cex": "VIOLATION", "under-count": "under-count"}


def impl_options(h: Hazard) -> dict[str, Any]:
    """``MemWalOptions`` keywords for the machine's tier under column ``h``."""
    return {**MACHINE_DEFAULTS, **dict(h.options)}


def model_config(options: dict[str, Any], base: Config | None = None) -> Config:
    """The model's ``Config`` for impl ``options`` (arm options are not the tier's)."""
    fields = {OPTION_TO_CONFIG[k][0]: OPTION_TO_CONFIG[k][1](v)
              for k, v in options.items() if k not in ARM_OPTIONS}
    return replace(base or Config(), **fields)


def splits_arm(options: Mapping[str, Any]) -> bool:
    """Whether the arm's two reads are H5a's or H15's (the SSTable list, or the counts read
    again, after the scan), rather than H1's (the count read after the scan)."""
    return (options.get("arm_sources") == "manifest_first"
            or options.get("arm_visibility") == "two_instants")


def model_arm(design: Design, variant: Capture, options: Mapping[str, Any], t0: State,
              later: State | None) -> tuple[Observation, Cut]:
    """The model's read arm at ``t0`` under the column's arm options; ``later`` is the tier
    after moves landed between the arm's two reads (None: none did).

    ``arm_sources="manifest_first"`` (H5a) lists the SSTables at ``t0`` and the
    memtables at ``later``; otherwise the arm reads ``t0``, and ``later`` is where
    H1's count, or H15's recount (``arm_visibility="two_instants"``), is read.
    """
    if later is not None and options.get("arm_sources") == "manifest_first":
        obs, later = observe(split_view(t0, later)), None
    else:
        obs = observe(t0)
    return obs, capture(design, obs, variant, later,
                        recount=options.get("arm_visibility") == "two_instants")


def scenario_verdict(h: Hazard, design: Design) -> str:
    """``VIOLATION``, ``under-count`` or ``sound``: the model's word on ``h``'s scenario.

    Row level (an admitted row the arm never read; an observed row not
    admitted) and PK level (a base row dropped whose key the arm never
    delivered; a base row kept next to a delivered key), the latter being what
    hash membership (H10) and probe types (H12) change.
    """
    sc = h.scenario
    t0 = run(initial(sc.base, model_config(dict(h.options))), sc.before)
    mid = run(t0, sc.during)
    arm, cut = model_arm(design, h.capture, dict(h.options), t0, mid if sc.during else None)
    t1 = run(mid, sc.after)
    pk = two_phase(design, arm, cut, t1, same_width=sc.probe_width == "same")
    if soundness(design, arm, cut, t1) or pk.missing:
        return "VIOLATION"
    if tightness(design, arm, cut, t1) or pk.duplicates:
        return "under-count"
    return "sound"


_RANK = {"sound": 0, "under-count": 1, "VIOLATION": 2}


def expected(design: Design, hazard: Hazard) -> str:
    """The cell's expected verdict: worst of the baseline's and the hazard's scenario."""
    base = scenario_verdict(HAZARDS["baseline"], design)
    own = scenario_verdict(hazard, design)
    return max(base, own, key=_RANK.__getitem__)


def expectation_table() -> dict[tuple[str, str], str]:
    """(design, hazard) → expected verdict, for every cell: the one place it is stated."""
    return {(d.value, h.name): expected(d, h) for h in HAZARDS.values() for d in DESIGNS}
