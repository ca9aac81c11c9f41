"""Hypothesis profiles for the state machines: ``dev``, ``ci``, ``nightly``.

Selected by ``HYPOTHESIS_PROFILE``; when unset, ``CI=true`` selects ``ci`` and
anything else ``dev``.  ``stateful_tests/conftest.py`` loads them.

The matrix does not read them: a cell runs under ``GATE``, a ``Budget``
counted in rule steps and seeded, so its verdict is the same under every
profile (``matrix.run_cell``).  The profiles govern the other property tests.

Why each knob:

* every profile: ``deadline=None`` (each step touches the disk, so timing is
  noise) and no ``explain`` phase (on Python 3.11 it traces every line of a
  replay; it costs more than generation and shrinking together and the
  numbered story already says what happened);
* ``ci``: derandomized, no example database, ``print_blob`` so a CI failure of
  a property test can be replayed with ``@reproduce_failure``;
* ``nightly``: long runs that remember failures in the shared example
  database (``exampledb``: a directory by default).

``ASOFCUT_DB=URL`` (a Redis URL or a directory) points whichever profile is
loaded at that shared database, so ``pytest`` replays first what ``asofcut
fuzz`` workers saved there (randomized: Hypothesis allows no database with
``derandomize``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings

from stateful_tests import exampledb

PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
#: what every profile shares, as a parent ``settings`` (typed, unlike a ``**kwargs`` dict)
COMMON = settings(
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)


@dataclass(frozen=True)
class Budget:
    """How long one matrix cell searches: counted in rule steps, seeded, the same everywhere.

    A cell runs chunks of ``chunk_examples`` test cases, chunk ``i`` under
    Hypothesis seed ``base + i`` with no example database, until a failure or
    until ``steps`` rule steps have run.  Nothing in it depends on the loaded
    profile or the environment, so a cell's verdict is a function of the code
    alone: that is what lets the gate assert it.  Random exploration gives other
    seeds (``asofcut matrix --seeds N``) or other budgets (``asofcut fuzz``).
    """

    steps: int
    #: small chunks keep the overshoot past ``steps`` small (at most one chunk)
    chunk_examples: int = 10
    step_count: int = 25  # ``stateful_step_count``: rule steps per test case at most


#: the gate's budget (``test_matrix.py``, ``asofcut verify``): every violating
#: cell is found well inside it on every seed tried (``asofcut matrix --seeds 10``)
GATE = Budget(steps=1200)


def register() -> None:
    """Register the three profiles (idempotent)."""
    settings.register_profile("dev", COMMON, max_examples=40, stateful_step_count=25)
    settings.register_profile(
        "ci",
        COMMON,
        max_examples=60,
        stateful_step_count=25,
        derandomize=True,
        database=None,
        print_blob=True,
    )
    settings.register_profile(
        "nightly",
        COMMON,
        max_examples=2000,
        stateful_step_count=60,
        database=exampledb.open_database(),
    )


def selected() -> str:
    """The profile name: ``HYPOTHESIS_PROFILE``, else ``ci`` under ``CI=true``, else ``dev``."""
    name = os.environ.get("HYPOTHESIS_PROFILE")
    if name:
        return name
    return "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"


def load(name: str | None = None) -> str:
    """Register and load ``name`` (default: ``selected()``); return the name loaded."""
    register()
    chosen = name or selected()
    shared = exampledb.from_env()
    if shared is not None:
        settings.register_profile(
            chosen, settings.get_profile(chosen), derandomize=False, database=shared)
    settings.load_profile(chosen)
    return chosen
