"""Every shrunk counterexample the matrix found, replayed as a plain test.

Each story is the machine's shrunk failing example (``asofcut matrix -v``,
ci profile), transcribed step for step into ``machine.replay``'s vocabulary.
It must still be caught for the design that failed, and must be clean for
``exact_cut`` — the same events on impl and model, nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from model.designs import Design
from stateful_tests.hazards import HAZARDS
from stateful_tests.machine import SoundnessViolation, replay

Story = list[tuple[Any, ...]]

#: (hazard, design that failed, steps, the PK the check wrongly claimed)
FOUND: list[tuple[str, str, Story, int]] = [
    # 1. delete s0 [0] (new shard s0)  2. two-phase arm  3. ↳ put s0 [3]  4. check drops 0, 3
    ("baseline", "live_tier", [("delete", 0), ("two_phase", [("put", 3)])], 3),
    # 1. delete s1 [4]  2. arm → s1: WalPositionCut(2)  3. delete s1 [1]: claims 1
    ("baseline", "wal_position_map", [("delete", 4), ("arm",), ("delete", 1)], 1),
    # 1. delete s0 [0]  2. ↳ between scan and capture: put s0 [3]  3. arm → AsOfCut(1, 2)
    ("H1", "fresh_tier_watermark", [("delete", 0), ("arm", 3)], 3),
    # lagged: 1. delete s0 [0] (invisible)  2. two-phase arm → AsOfCut(1, 1) (len)  3. drops 0
    ("H2", "as_of_cut", [("delete", 0), ("two_phase", [])], 0),
    # lagged: 1. put s0 [0]  2. two-phase arm → AsOfCut(1, 1)  3. ↳ publish s0  4. drops 0
    ("H2", "fresh_tier_watermark", [("put", 0), ("two_phase", [("publish", 0)])], 0),
    # lagged: 1. delete s0 [0]  2. freeze (unpublished tail)  3. arm → AsOfCut(2, 0)  4. drops 0
    ("H3", "as_of_cut", [("delete", 0), ("freeze", 0), ("two_phase", [])], 0),
]


@pytest.mark.parametrize(("hazard", "design", "story", "pk"), FOUND,
                         ids=[f"{d}-{h}" for h, d, _, _ in FOUND])
def test_counterexample_is_still_caught(hazard: str, design: str, story: Story, pk: int) -> None:
    with pytest.raises(SoundnessViolation, match=f"claims PK {pk}, arm #1 never observed it"):
        replay(Design(design), HAZARDS[hazard], story)


@pytest.mark.parametrize(("hazard", "design", "story", "pk"), FOUND,
                         ids=[f"{d}-{h}" for h, d, _, _ in FOUND])
def test_counterexample_is_clean_under_exact_cut(
    hazard: str, design: str, story: Story, pk: int
) -> None:
    h = replay(Design.EXACT_CUT, HAZARDS[hazard], story)
    assert len(h.story) >= len(story)  # every step ran, none raised
    assert h.counters["violation"] == 0
